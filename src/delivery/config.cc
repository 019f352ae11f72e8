#include "delivery/config.h"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "delivery/metadata_query.h"
#include "delivery/prefix.h"

namespace muon::delivery {

using nlohmann::json;

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kUncompressed: return "UNCOMPRESSED";
    case Compression::kGzip: return "GZIP";
    case Compression::kZstd: return "ZSTD";
  }
  return "UNCOMPRESSED";
}

Result<Compression> ParseCompression(std::string_view name) {
  if (name == "UNCOMPRESSED") return Compression::kUncompressed;
  if (name == "GZIP") return Compression::kGzip;
  if (name == "ZSTD") return Compression::kZstd;
  return Status::InvalidArgument(fmt::format(
      "CompressionFormat '{}' is not supported (UNCOMPRESSED, GZIP, or ZSTD, a muonpipe "
      "extension)",
      name));
}

std::string_view CompressionSuffix(Compression c) {
  switch (c) {
    case Compression::kUncompressed: return "";
    case Compression::kGzip: return ".gz";
    case Compression::kZstd: return ".zst";
  }
  return "";
}

std::string DestinationConfig::ToJson() const {
  json j = {{"bucket", bucket},
            {"bucket_arn", bucket_arn},
            {"role_arn", role_arn},
            {"prefix", prefix},
            {"error_prefix", error_prefix},
            {"size_mib", size_mib},
            {"interval_s", interval_s},
            {"compression", CompressionName(compression)},
            {"append_delimiter", append_delimiter},
            {"dynamic_partitioning", dynamic_partitioning},
            {"metadata_query", metadata_query},
            {"json_parsing_engine", json_parsing_engine},
            {"version", version}};
  return j.dump();
}

Result<DestinationConfig> DestinationConfig::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corruption("destination configuration is not a JSON object");
  }
  try {
    DestinationConfig c;
    c.bucket = j.at("bucket");
    c.bucket_arn = j.value("bucket_arn", "");
    c.role_arn = j.value("role_arn", "");
    c.prefix = j.value("prefix", "");
    c.error_prefix = j.value("error_prefix", "");
    c.size_mib = j.value("size_mib", 5);
    c.interval_s = j.value("interval_s", 300);
    MUON_ASSIGN_OR_RETURN(c.compression, ParseCompression(j.value("compression", "UNCOMPRESSED")));
    c.append_delimiter = j.value("append_delimiter", false);
    c.dynamic_partitioning = j.value("dynamic_partitioning", false);
    c.metadata_query = j.value("metadata_query", "");
    c.json_parsing_engine = j.value("json_parsing_engine", "JQ-1.6");
    c.version = j.value("version", 1);
    return c;
  } catch (const json::exception& e) {
    return Status::Corruption(fmt::format("destination configuration: {}", e.what()));
  }
}

Status Validate(const DestinationConfig& c) {
  if (c.bucket.empty()) return Status::InvalidArgument("BucketARN must name a bucket");
  if (c.size_mib < 1 || c.size_mib > 128) {
    return Status::InvalidArgument(
        fmt::format("BufferingHints.SizeInMBs {} is outside 1..128", c.size_mib));
  }
  if (c.interval_s < 0 || c.interval_s > 900) {
    return Status::InvalidArgument(
        fmt::format("BufferingHints.IntervalInSeconds {} is outside 0..900", c.interval_s));
  }
  std::vector<std::string> keys;
  if (c.dynamic_partitioning && !c.metadata_query.empty()) {
    MUON_ASSIGN_OR_RETURN(MetadataQuery q, MetadataQuery::Parse(c.metadata_query));
    keys = q.Keys();
  }
  return ValidatePrefixes(c.prefix, c.error_prefix, c.dynamic_partitioning, keys);
}

}  // namespace muon::delivery
