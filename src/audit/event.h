// One audit record: a CloudTrail-shaped event (docs/audit.md), serialised as
// one JSON object on one line ("JSON lines"). The field names and values are
// CloudTrail's, so tools that read CloudTrail records read these.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/authorizer.h"

namespace muon::audit {

inline constexpr std::string_view kEventVersion = "1.08";
inline constexpr std::string_view kApiCall = "AwsApiCall";
inline constexpr std::string_view kConsoleSignIn = "AwsConsoleSignIn";

struct UserIdentity {
  // "IAMUser", "AssumedRole", "Root" (the bootstrap administrator) or
  // "Unknown" (a request whose authentication failed).
  std::string type;
  std::string principal_id;
  std::string arn;
  std::string account_id;
  std::string access_key_id;
  std::string user_name;  // IAM user name; empty for roles and unknown callers
  // Set for temporary credentials (STS sessions, console sign-ins).
  bool temporary = false;
  bool mfa_authenticated = false;
  std::optional<int64_t> creation_date;  // Unix seconds
  // For AssumedRole: the role behind the session.
  std::string session_issuer_arn;
  std::string session_issuer_name;
};

struct Resource {
  std::string arn;
  std::string type;  // "AWS::S3::Object", "AWS::Kinesis::Stream", ...
};

struct Event {
  int64_t event_time_nanos = 0;
  UserIdentity user;
  std::string event_source;  // "kinesis.amazonaws.com", ...
  std::string event_name;    // "PutRecords", ...
  std::string region;
  std::string source_ip;
  std::string user_agent;
  // Small: the resource the call was about, as (name, value) string pairs.
  std::vector<std::pair<std::string, std::string>> request_parameters;
  std::vector<Resource> resources;
  std::string error_code;  // empty: the call was allowed / succeeded
  std::string error_message;
  std::string request_id;
  std::string event_id;  // a random UUID
  bool read_only = false;
  std::string event_type = std::string(kApiCall);
  // AwsConsoleSignIn records: {"ConsoleLogin": "Success"/"Failure"} and
  // {"MFAUsed": "Yes"/"No"}.
  std::vector<std::pair<std::string, std::string>> response_elements;
  std::vector<std::pair<std::string, std::string>> additional_event_data;
};

// The event as one line of JSON, newline not included.
std::string ToJson(const Event& event);

// "2026-11-28T05:00:00Z" (UTC, whole seconds, as CloudTrail writes eventTime).
std::string IsoTime(int64_t unix_seconds);
// The inverse of IsoTime; nullopt when `text` is not of that form.
std::optional<int64_t> ParseIsoTime(std::string_view text);

// "kinesis.amazonaws.com" for "kinesis", "registry.muonpipe" for "registry"
// (and for "muonpipe", the registry's signing name), "admin.muonpipe" for
// "admin" (muonpipe's own APIs have sources under .muonpipe; docs/audit.md).
std::string EventSourceOf(std::string_view service);
// Get*, List*, Describe*, Head*, Lookup* and Export* calls change nothing.
bool IsReadOnly(std::string_view event_name);
// Resource ARN to CloudTrail's resource type ("" when it names none, e.g. "*").
std::string ResourceTypeOf(std::string_view arn);
// The requestParameters a resource ARN gives: bucketName/key, streamName,
// deliveryStreamName, or resource (the ARN itself).
std::vector<std::pair<std::string, std::string>> RequestParametersOf(std::string_view arn);

struct IdentityOptions {
  std::string account_id = "000000000000";
  // Principals recorded as type "Root" (the bootstrap administrator).
  std::vector<std::string> root_arns;
  // The principal's unique id (AIDA..., AROA...:SESSION) when a directory of
  // identities knows it; without one, principalId is the access key id.
  std::function<std::string(std::string_view principal_arn)> principal_id_of;
};

// Who the caller is, in CloudTrail's words, from the principal ARN
// (arn:aws:iam::ACCT:user/PATH/NAME, arn:aws:sts::ACCT:assumed-role/ROLE/SESSION).
UserIdentity IdentityOf(const auth::Caller& caller, const IdentityOptions& options);

// The name a LookupEvents "Username" attribute matches: the IAM user name, or
// the session name of an assumed role.
std::string UsernameOf(const UserIdentity& user);

}  // namespace muon::audit
