// Firehose's S3 prefixes: `!{namespace:value}` expressions in Prefix and
// ErrorOutputPrefix, evaluated per delivered object.
//
// Expressions:
//   !{timestamp:PATTERN}        the approximate arrival time of the oldest
//                               record in the object, UTC, formatted with a
//                               Java DateTimeFormatter pattern (letters y u M
//                               d D H h m s S a E; 'quoted' text is literal)
//   !{firehose:random-string}   11 characters [a-z0-9]; muonpipe derives them
//                               from the object's source range, so a re-put
//                               after a crash gets the same name
//   !{firehose:error-output-type}  the failure class (ErrorOutputPrefix only)
//   !{partitionKeyFromQuery:KEY}   a key of the MetadataExtractionQuery
//
// Validity rules (Firehose's, checked by ValidatePrefixes):
//   - "!{" appears only as the start of a well-formed expression;
//   - Prefix cannot use !{firehose:error-output-type};
//   - ErrorOutputPrefix cannot use partitionKeyFromQuery;
//   - an ErrorOutputPrefix with expressions uses error-output-type at least once;
//   - a Prefix with expressions needs an ErrorOutputPrefix;
//   - partitionKeyFromQuery needs dynamic partitioning, and dynamic
//     partitioning needs a Prefix using at least one partitionKeyFromQuery key,
//     each defined by the query, and an ErrorOutputPrefix;
//   - partitionKeyFromLambda is refused (muonpipe runs no Lambda functions);
//   - either prefix is at most 1024 characters.
// Defaults (ResolvePrefixes): with dynamic partitioning off, a Prefix without
// a timestamp expression gets !{timestamp:yyyy/MM/dd/HH/} appended (so no
// Prefix means "yyyy/MM/dd/HH/"); a missing ErrorOutputPrefix means
// Prefix + "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH/}".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace muon::delivery {

// What the expressions of one object evaluate to.
struct PrefixValues {
  int64_t timestamp_ms = 0;
  std::string random_string;
  std::string error_output_type;
  std::map<std::string, std::string> partition_keys;
};

class PrefixTemplate {
 public:
  static Result<PrefixTemplate> Parse(std::string_view text);

  std::string Expand(const PrefixValues& values) const;

  bool has_expressions() const { return has_expressions_; }
  bool has_timestamp() const { return has_timestamp_; }
  bool has_error_output_type() const { return has_error_output_type_; }
  const std::vector<std::string>& partition_keys() const { return partition_keys_; }
  const std::string& text() const { return text_; }

 private:
  enum class Kind { kLiteral, kTimestamp, kRandom, kErrorType, kPartitionKey };
  struct Part {
    Kind kind;
    std::string value;  // literal text, timestamp pattern or key
  };
  std::string text_;
  std::vector<Part> parts_;
  bool has_expressions_ = false;
  bool has_timestamp_ = false;
  bool has_error_output_type_ = false;
  std::vector<std::string> partition_keys_;
};

// Formats ms (Unix, UTC) with a Java DateTimeFormatter pattern; InvalidArgument
// for letters muonpipe does not support.
Result<std::string> FormatTimestamp(std::string_view pattern, int64_t ms);

Status ValidatePrefixes(std::string_view prefix, std::string_view error_prefix,
                        bool dynamic_partitioning, const std::vector<std::string>& query_keys);

struct ResolvedPrefixes {
  PrefixTemplate success;
  PrefixTemplate error;
};
// The templates actually evaluated, after Firehose's defaults. Validates first.
Result<ResolvedPrefixes> ResolvePrefixes(std::string_view prefix, std::string_view error_prefix,
                                         bool dynamic_partitioning,
                                         const std::vector<std::string>& query_keys);

}  // namespace muon::delivery
