// Reading the audit log's files (audit_log.h) directly: the CloudTrail
// LookupEvents API and `muonpipe audit` both read through here. Readers never
// write; they may run while an AuditLog appends (they see complete lines).
//
// A line that does not end in '\n' (a torn tail after a crash) or does not
// parse as a record is skipped and counted, never fatal.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/event.h"
#include "base/env.h"
#include "base/status.h"

namespace muon::audit {

// What LookupEvents returns of a record, and the record itself.
struct StoredEvent {
  std::string json;  // the line as written (CloudTrailEvent)
  int64_t event_time = 0;  // Unix seconds
  std::string event_id;
  std::string event_name;
  std::string event_source;
  std::string event_type;
  std::string username;  // UsernameOf(userIdentity)
  std::string access_key_id;
  std::string error_code;
  bool read_only = false;
  std::vector<Resource> resources;
};

// LookupEvents' attribute keys, as CloudTrail names them.
inline constexpr std::string_view kLookupAttributeKeys[] = {
    "EventId", "EventName", "ReadOnly",  "Username",
    "ResourceType", "ResourceName", "EventSource", "AccessKeyId"};
bool IsLookupAttributeKey(std::string_view key);

struct Filter {
  std::optional<int64_t> start_time;  // Unix seconds, inclusive
  std::optional<int64_t> end_time;    // Unix seconds, inclusive
  // Every pair must match (CloudTrail accepts one; several are ANDed here).
  // ResourceName matches a resource's ARN or its last name part (bucket,
  // key, stream name, site id).
  std::vector<std::pair<std::string, std::string>> attributes;
};

// Parses one line; nullopt when it is not a record.
std::optional<StoredEvent> ParseStoredEvent(std::string_view line);
bool Matches(const StoredEvent& event, const Filter& filter);

struct Page {
  std::vector<StoredEvent> events;  // newest first
  std::string next_token;           // empty: no more
  uint64_t skipped_lines = 0;       // torn or unreadable lines passed over
};

// Up to max_results matching records, newest first, starting after
// `next_token` (from a previous Page with the same filter). InvalidArgument
// for a token this reader did not issue.
Result<Page> LookupEvents(Env* env, const std::string& dir, const Filter& filter,
                          int max_results, std::string_view next_token);

// Every matching record, oldest first; `fn` returns false to stop.
// `skipped_lines`, when given, counts torn or unreadable lines.
Status ScanEvents(Env* env, const std::string& dir, const Filter& filter,
                  const std::function<bool(const StoredEvent&)>& fn,
                  uint64_t* skipped_lines = nullptr);

}  // namespace muon::audit
