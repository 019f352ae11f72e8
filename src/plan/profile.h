// The usage profile: how the fleet will be used, the input to the cost model.
//
// Sources, later overriding earlier: defaults below < a TOML profile file < measured usage
// (usage.json from a data dir or a server) < command-line flags. docs/plan.md documents every
// field with its TOML key.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace muon::plan {

enum class ArchiveClass { kAuto, kNone, kStandardIa, kGlacierIr, kDeepArchive };

std::string_view ArchiveClassName(ArchiveClass c);  // "auto", "none", "standard_ia", ...
Result<ArchiveClass> ParseArchiveClass(std::string_view name);

struct Profile {
  std::string region = "ap-southeast-2";
  int horizon_months = 12;

  // [fleet]
  double detectors = 100;                 // in month 0
  double detectors_added_per_month = 0;   // linear growth
  double growth_percent_per_month = 0;    // compound growth on top

  // [data]
  double bytes_per_second_per_detector = 1024;
  double records_per_second_per_detector = 1;  // as produced, before any aggregation
  double aggregate_bytes = 5120;               // record size of the "aggregated" designs
  double live_fraction = 1.0;                  // share of bytes sent live; the rest comes in batches
  double compression_ratio = 1.0;              // stored bytes / ingested bytes (GZIP on delivery)
  double batch_files_per_detector_per_day = 1;

  // [live]
  double max_latency_seconds = 300;  // live latency asked for; 0: none (batch-only then qualifies)
  double stream_retention_hours = 24;
  int extra_consumers = 0;         // stream readers besides Firehose
  double shard_headroom = 0.8;     // use at most this share of each per-shard limit
  double firehose_buffer_seconds = 60;
  double firehose_buffer_mib = 64;
  bool partition_by_detector = false;  // Firehose dynamic partitioning on detector id
  bool allow_quota_increases = false;  // else default quotas are hard constraints

  // [retention]
  double hot_days = 30;  // days in S3 Standard before the archive transition
  ArchiveClass archive_class = ArchiveClass::kAuto;
  double retention_days = 0;  // total days kept; 0: kept beyond the horizon

  // [analysts]
  double analyst_read_gb_per_month = 0;
  double analyst_archive_read_fraction = 0;  // share of reads that hit the archive class
  double analyst_egress_fraction = 1.0;      // share of reads that leave AWS to the internet

  // [registry]
  std::string registry_instance_class = "db.t4g.micro";
  bool registry_multi_az = false;
  double registry_storage_gb = 20;

  // [self_hosted]
  std::string self_hosted_instance_type = "t4g.medium";
  // Ingest one instance sustains; an assumption until bench/RESULTS.md has a measured figure.
  double self_hosted_bytes_per_second_per_instance = 10 * 1048576.0;
  double self_hosted_ebs_base_gb = 50;

  // Detectors in month m (0-based): ceil(d0 * (1 + g/100)^m + added * m).
  double DetectorsInMonth(int month) const;
  // Record size as produced: bytes/s / records/s.
  double RawRecordBytes() const;

  // Checks ranges; errors name the field (by its TOML key), the value and the allowed range.
  Status Validate() const;
};

// Parses a TOML profile on top of `base`. Unknown sections or keys are errors (they are usually
// typos). `origin` names the file in errors.
Result<Profile> ParseProfileToml(std::string_view text, const std::string& origin,
                                 Profile base = {});

// Measured usage (usage.json, schema in docs/plan.md).
struct MeasuredUsage {
  double detector_count = 0;
  double records_per_second_per_detector = 0;
  double bytes_per_second_per_detector = 0;
  double mean_record_bytes = 0;
  double live_fraction = -1;  // < 0: not measured
  double window_seconds = 0;
};

Result<MeasuredUsage> ParseUsageJson(std::string_view json_text, const std::string& origin);
// Replaces the profile's fleet size and per-detector rates with the measured ones.
void ApplyMeasuredUsage(const MeasuredUsage& usage, Profile* profile);

}  // namespace muon::plan
