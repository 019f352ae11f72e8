// What a delivery stream delivers and how: the Extended S3 destination of a
// Firehose delivery stream, in muonpipe's own types. The API edge
// (firehose_service.cc) converts Firehose's JSON to and from this; the
// catalogue and checkpoints store it with ToJson/FromJson.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace muon::delivery {

// GZIP is Firehose's; ZSTD is muonpipe's own extension (docs/firehose.md).
enum class Compression { kUncompressed, kGzip, kZstd };

std::string_view CompressionName(Compression c);  // "UNCOMPRESSED", "GZIP", "ZSTD"
Result<Compression> ParseCompression(std::string_view name);
// ".gz", ".zst" or "".
std::string_view CompressionSuffix(Compression c);

struct DestinationConfig {
  std::string bucket;         // the bucket name (from the bucket ARN)
  std::string bucket_arn;     // arn:aws:s3:::NAME, as given
  std::string role_arn;
  std::string prefix;         // raw, with !{...} expressions
  std::string error_prefix;   // raw; "" when not given
  int size_mib = 5;           // BufferingHints.SizeInMBs, 1..128
  int interval_s = 300;       // BufferingHints.IntervalInSeconds, 0..900
  Compression compression = Compression::kUncompressed;
  bool append_delimiter = false;  // ProcessingConfiguration AppendDelimiterToRecord
  bool dynamic_partitioning = false;
  std::string metadata_query;     // MetadataExtractionQuery, e.g. "{detector: .detector}"
  std::string json_parsing_engine = "JQ-1.6";
  // Firehose's delivery stream version (1, then +1 per UpdateDestination);
  // part of every object name.
  int version = 1;

  std::string ToJson() const;
  static Result<DestinationConfig> FromJson(std::string_view json);
};

// Checks BufferingHints ranges, the prefix rules (prefix.h) and that the
// metadata query parses and names every partitionKeyFromQuery key used.
Status Validate(const DestinationConfig& c);

}  // namespace muon::delivery
