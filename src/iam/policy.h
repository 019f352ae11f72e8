// IAM policy documents in AWS's grammar (Version 2012-10-17), parsed once and
// validated the way IAM validates them, so that a document IAM rejects as
// MalformedPolicyDocument is rejected here too, with the offending field named
// ("Statement[1].Condition.NumericLessThan.aws:MultiFactorAuthAge: ...").
//
// What parsing checks (docs/roles.md lists every rule and the choices made):
//  - top level: Version ("2012-10-17" or "2008-10-17"; missing means
//    2008-10-17, under which policy variables are literal text, as on AWS),
//    Id, Statement (one object or an array of them); nothing else;
//  - no JSON object repeats a key (a second "Effect" is an error, never a
//    silent override);
//  - each statement: Effect "Allow" or "Deny"; exactly one of Action and
//    NotAction; for identity policies exactly one of Resource and NotResource
//    and no Principal; for resource policies (trust policies) exactly one of
//    Principal and NotPrincipal and at most one of Resource and NotResource;
//    Sids unique within the document;
//  - actions are "*" or "service:pattern"; resources are "*" or ARNs with six
//    colon-separated parts; condition keys carry a "vendor:" prefix;
//  - condition operators are known, with at most one ForAnyValue:/ForAllValues:
//    qualifier and an IfExists suffix (not on Null); values of Numeric*, Date*,
//    Bool, BinaryEquals, IpAddress and Null are parsed now and must be valid;
//  - policy variables (${key}, ${key, 'default'}, ${*}, ${?}, ${$}) are
//    well-formed wherever they may appear (Resource, NotResource, the values of
//    String* and Arn* conditions).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace muon::iam {

enum class Effect { kAllow, kDeny };

// Identity policies are attached to users, groups and roles; resource policies
// (here: role trust policies) name the principals they apply to.
enum class PolicyKind { kIdentity, kResource };

// The base comparison of a condition operator. Negated operators
// (StringNotEquals, NotIpAddress, ArnNotLike, ...) are the positive base with
// ConditionClause::negated set.
enum class ConditionOp {
  kStringEquals,
  kStringEqualsIgnoreCase,
  kStringLike,
  kNumericEquals,
  kNumericLessThan,
  kNumericLessThanEquals,
  kNumericGreaterThan,
  kNumericGreaterThanEquals,
  kDateEquals,
  kDateLessThan,
  kDateLessThanEquals,
  kDateGreaterThan,
  kDateGreaterThanEquals,
  kBool,
  kBinaryEquals,
  kIpAddress,
  kArnEquals,
  kArnLike,
  kNull,
};

enum class SetQualifier { kNone, kForAnyValue, kForAllValues };

// An IPv4 or IPv6 network: address bytes (4 or 16 used) and prefix length.
struct IpNetwork {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};
  int prefix_len = 0;
};

// One value of a condition, as written and as parsed for its operator.
struct ConditionValue {
  std::string text;
  double number = 0;         // Numeric*
  int64_t epoch_millis = 0;  // Date*
  bool boolean = false;      // Bool, Null
  IpNetwork network;         // IpAddress
  std::string binary;        // BinaryEquals: the base64-decoded bytes
};

// One "operator: {key: values}" pair of a Condition element.
struct ConditionClause {
  std::string operator_text;  // as written, e.g. "ForAllValues:StringLikeIfExists"
  ConditionOp op = ConditionOp::kStringEquals;
  bool negated = false;
  bool if_exists = false;
  SetQualifier qualifier = SetQualifier::kNone;
  std::string key;  // as written, e.g. "aws:MultiFactorAuthPresent"
  std::vector<ConditionValue> values;
};

// Principal or NotPrincipal of a resource policy. "*" sets any; otherwise the
// lists by type ("AWS", "Service", "Federated", "CanonicalUser").
struct PrincipalSpec {
  bool any = false;
  std::vector<std::pair<std::string, std::string>> entries;  // (type, value)
};

struct Statement {
  int index = 0;  // position in the document's Statement list
  std::string sid;
  Effect effect = Effect::kAllow;
  bool not_action = false;
  std::vector<std::string> actions;
  bool has_resource = false;  // resource policies may omit it
  bool not_resource = false;
  std::vector<std::string> resources;
  bool has_principal = false;
  bool not_principal = false;
  PrincipalSpec principal;
  std::vector<ConditionClause> conditions;  // all must hold
};

struct Policy {
  std::string version;  // "2012-10-17" or "2008-10-17"
  std::string id;
  std::vector<Statement> statements;
  // Policy variables are substituted only under 2012-10-17.
  bool variables_enabled() const { return version == "2012-10-17"; }
};

// Parses and validates a policy document. InvalidArgument names the field and
// the problem; the message is safe to show the author of the document.
Result<Policy> ParsePolicy(std::string_view json, PolicyKind kind = PolicyKind::kIdentity);

// Condition operator names as AWS spells them, for validation and docs.
Result<ConditionClause> ParseConditionOperator(std::string_view name);

// Date values as IAM accepts them: W3C/ISO 8601 ("2026-11-28",
// "2026-11-28T02:11Z", "2026-11-28T02:11:31Z", "2026-11-28T02:11:31.250+10:00")
// or whole seconds since the epoch ("1764296000"). Milliseconds since epoch.
std::optional<int64_t> ParseIamDate(std::string_view text);

// "203.0.113.0/24", "2001:db8::/32", or a bare address (a /32 or /128).
std::optional<IpNetwork> ParseIpNetwork(std::string_view text);

// Decimal integers and floating-point numbers ("10", "-1.5", "2e3").
std::optional<double> ParseIamNumber(std::string_view text);

}  // namespace muon::iam
