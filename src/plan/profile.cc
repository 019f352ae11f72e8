#include "plan/profile.h"

#include <cmath>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

namespace muon::plan {

std::string_view ArchiveClassName(ArchiveClass c) {
  switch (c) {
    case ArchiveClass::kAuto: return "auto";
    case ArchiveClass::kNone: return "none";
    case ArchiveClass::kStandardIa: return "standard_ia";
    case ArchiveClass::kGlacierIr: return "glacier_ir";
    case ArchiveClass::kDeepArchive: return "deep_archive";
  }
  return "?";
}

Result<ArchiveClass> ParseArchiveClass(std::string_view name) {
  for (ArchiveClass c : {ArchiveClass::kAuto, ArchiveClass::kNone, ArchiveClass::kStandardIa,
                         ArchiveClass::kGlacierIr, ArchiveClass::kDeepArchive}) {
    if (ArchiveClassName(c) == name) return c;
  }
  return Status::InvalidArgument("archive class '" + std::string(name) +
                                 "' is unknown; use auto, none, standard_ia, glacier_ir or "
                                 "deep_archive");
}

double Profile::DetectorsInMonth(int month) const {
  double n = detectors * std::pow(1 + growth_percent_per_month / 100, month) +
             detectors_added_per_month * month;
  // A tiny epsilon keeps 100.0000000001 (floating growth) from becoming 101.
  return std::ceil(n - 1e-9);
}

double Profile::RawRecordBytes() const {
  return bytes_per_second_per_detector / records_per_second_per_detector;
}

namespace {

Status RangeError(const std::string& key, double v, const std::string& allowed) {
  std::ostringstream s;
  s << "profile field '" << key << "' is " << v << "; it must be " << allowed;
  return Status::InvalidArgument(s.str());
}

}  // namespace

Status Profile::Validate() const {
  auto check = [](const char* key, double v, double lo, double hi, const char* allowed) -> Status {
    if (!std::isfinite(v) || v < lo || v > hi) return RangeError(key, v, allowed);
    return Status::Ok();
  };
  MUON_RETURN_IF_ERROR(check("horizon_months", horizon_months, 1, 120, "between 1 and 120"));
  MUON_RETURN_IF_ERROR(check("fleet.detectors", detectors, 0, 1e7, "between 0 and 10,000,000"));
  MUON_RETURN_IF_ERROR(check("fleet.detectors_added_per_month", detectors_added_per_month, 0, 1e6, "between 0 and 1,000,000"));
  MUON_RETURN_IF_ERROR(check("fleet.growth_percent_per_month", growth_percent_per_month, 0, 100, "between 0 and 100"));
  MUON_RETURN_IF_ERROR(check("data.bytes_per_second_per_detector", bytes_per_second_per_detector, 1e-6, 1e9, "greater than 0"));
  MUON_RETURN_IF_ERROR(check("data.records_per_second_per_detector", records_per_second_per_detector, 1e-9, 1e6, "greater than 0"));
  if (RawRecordBytes() > 1048576) {
    return RangeError("data.records_per_second_per_detector", records_per_second_per_detector,
                      "high enough that a record (bytes/s ÷ records/s) is at most 1 MiB, the "
                      "Kinesis record limit");
  }
  MUON_RETURN_IF_ERROR(check("data.aggregate_bytes", aggregate_bytes, 1, 1024000, "between 1 and 1,024,000 (the Firehose record limit)"));
  MUON_RETURN_IF_ERROR(check("data.live_fraction", live_fraction, 0, 1, "between 0 and 1"));
  MUON_RETURN_IF_ERROR(check("data.compression_ratio", compression_ratio, 0.001, 1, "between 0.001 and 1 (stored bytes / raw bytes)"));
  MUON_RETURN_IF_ERROR(check("data.batch_files_per_detector_per_day", batch_files_per_detector_per_day, 0.001, 86400, "between 0.001 and 86400"));
  MUON_RETURN_IF_ERROR(check("live.max_latency_seconds", max_latency_seconds, 0, 1e9, "0 (no requirement) or more"));
  MUON_RETURN_IF_ERROR(check("live.stream_retention_hours", stream_retention_hours, 24, 8760, "between 24 and 8760"));
  MUON_RETURN_IF_ERROR(check("live.extra_consumers", extra_consumers, 0, 20, "between 0 and 20"));
  MUON_RETURN_IF_ERROR(check("live.shard_headroom", shard_headroom, 0.1, 1, "between 0.1 and 1"));
  MUON_RETURN_IF_ERROR(check("live.firehose_buffer_seconds", firehose_buffer_seconds, 0, 900, "between 0 and 900 (Firehose's range)"));
  MUON_RETURN_IF_ERROR(check("live.firehose_buffer_mib", firehose_buffer_mib, 1, 128, "between 1 and 128 (Firehose's range)"));
  if (partition_by_detector && firehose_buffer_mib < 64) {
    return RangeError("live.firehose_buffer_mib", firehose_buffer_mib,
                      "at least 64 when live.partition_by_detector is true (Firehose requires it "
                      "with dynamic partitioning)");
  }
  MUON_RETURN_IF_ERROR(check("retention.hot_days", hot_days, 0, 36500, "between 0 and 36500"));
  MUON_RETURN_IF_ERROR(check("retention.retention_days", retention_days, 0, 36500, "0 (keep) or between 1 and 36500"));
  if (archive_class == ArchiveClass::kStandardIa && hot_days < 30) {
    return RangeError("retention.hot_days", hot_days,
                      "at least 30 with archive_class = \"standard_ia\" (S3 lifecycle rules "
                      "cannot move objects to Standard-IA before 30 days)");
  }
  MUON_RETURN_IF_ERROR(check("analysts.read_gb_per_month", analyst_read_gb_per_month, 0, 1e9, "0 or more"));
  MUON_RETURN_IF_ERROR(check("analysts.archive_read_fraction", analyst_archive_read_fraction, 0, 1, "between 0 and 1"));
  MUON_RETURN_IF_ERROR(check("analysts.egress_fraction", analyst_egress_fraction, 0, 1, "between 0 and 1"));
  MUON_RETURN_IF_ERROR(check("registry.storage_gb", registry_storage_gb, 20, 65536, "between 20 and 65536 (RDS gp3 range)"));
  MUON_RETURN_IF_ERROR(check("self_hosted.bytes_per_second_per_instance", self_hosted_bytes_per_second_per_instance, 1, 1e12, "greater than 0"));
  MUON_RETURN_IF_ERROR(check("self_hosted.ebs_base_gb", self_hosted_ebs_base_gb, 1, 65536, "between 1 and 65536"));
  if (region.empty()) return Status::InvalidArgument("profile field 'region' is empty; e.g. ap-southeast-2");
  return Status::Ok();
}

namespace {

enum class Kind { kNumber, kInteger, kBool, kString, kArchiveClass };

struct Field {
  const char* section;  // "" for top level
  const char* key;
  Kind kind;
  std::function<void(Profile&, const toml::node&)> set;
};

template <typename T>
std::function<void(Profile&, const toml::node&)> Setter(T Profile::*member) {
  return [member](Profile& p, const toml::node& n) {
    if constexpr (std::is_same_v<T, double>) p.*member = *n.value<double>();
    else if constexpr (std::is_same_v<T, int>) p.*member = static_cast<int>(*n.value<int64_t>());
    else if constexpr (std::is_same_v<T, bool>) p.*member = *n.value<bool>();
    else if constexpr (std::is_same_v<T, std::string>) p.*member = *n.value<std::string>();
  };
}

const std::vector<Field>& Fields() {
  static const std::vector<Field> kFields = {
      {"", "region", Kind::kString, Setter(&Profile::region)},
      {"", "horizon_months", Kind::kInteger, Setter(&Profile::horizon_months)},
      {"fleet", "detectors", Kind::kNumber, Setter(&Profile::detectors)},
      {"fleet", "detectors_added_per_month", Kind::kNumber, Setter(&Profile::detectors_added_per_month)},
      {"fleet", "growth_percent_per_month", Kind::kNumber, Setter(&Profile::growth_percent_per_month)},
      {"data", "bytes_per_second_per_detector", Kind::kNumber, Setter(&Profile::bytes_per_second_per_detector)},
      {"data", "records_per_second_per_detector", Kind::kNumber, Setter(&Profile::records_per_second_per_detector)},
      {"data", "aggregate_bytes", Kind::kNumber, Setter(&Profile::aggregate_bytes)},
      {"data", "live_fraction", Kind::kNumber, Setter(&Profile::live_fraction)},
      {"data", "compression_ratio", Kind::kNumber, Setter(&Profile::compression_ratio)},
      {"data", "batch_files_per_detector_per_day", Kind::kNumber, Setter(&Profile::batch_files_per_detector_per_day)},
      {"live", "max_latency_seconds", Kind::kNumber, Setter(&Profile::max_latency_seconds)},
      {"live", "stream_retention_hours", Kind::kNumber, Setter(&Profile::stream_retention_hours)},
      {"live", "extra_consumers", Kind::kInteger, Setter(&Profile::extra_consumers)},
      {"live", "shard_headroom", Kind::kNumber, Setter(&Profile::shard_headroom)},
      {"live", "firehose_buffer_seconds", Kind::kNumber, Setter(&Profile::firehose_buffer_seconds)},
      {"live", "firehose_buffer_mib", Kind::kNumber, Setter(&Profile::firehose_buffer_mib)},
      {"live", "partition_by_detector", Kind::kBool, Setter(&Profile::partition_by_detector)},
      {"live", "allow_quota_increases", Kind::kBool, Setter(&Profile::allow_quota_increases)},
      {"retention", "hot_days", Kind::kNumber, Setter(&Profile::hot_days)},
      {"retention", "archive_class", Kind::kArchiveClass, nullptr},
      {"retention", "retention_days", Kind::kNumber, Setter(&Profile::retention_days)},
      {"analysts", "read_gb_per_month", Kind::kNumber, Setter(&Profile::analyst_read_gb_per_month)},
      {"analysts", "archive_read_fraction", Kind::kNumber, Setter(&Profile::analyst_archive_read_fraction)},
      {"analysts", "egress_fraction", Kind::kNumber, Setter(&Profile::analyst_egress_fraction)},
      {"registry", "instance_class", Kind::kString, Setter(&Profile::registry_instance_class)},
      {"registry", "multi_az", Kind::kBool, Setter(&Profile::registry_multi_az)},
      {"registry", "storage_gb", Kind::kNumber, Setter(&Profile::registry_storage_gb)},
      {"self_hosted", "instance_type", Kind::kString, Setter(&Profile::self_hosted_instance_type)},
      {"self_hosted", "bytes_per_second_per_instance", Kind::kNumber, Setter(&Profile::self_hosted_bytes_per_second_per_instance)},
      {"self_hosted", "ebs_base_gb", Kind::kNumber, Setter(&Profile::self_hosted_ebs_base_gb)},
  };
  return kFields;
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kNumber: return "a number";
    case Kind::kInteger: return "an integer";
    case Kind::kBool: return "true or false";
    case Kind::kString: case Kind::kArchiveClass: return "a quoted string";
  }
  return "?";
}

bool KindMatches(Kind k, const toml::node& n) {
  switch (k) {
    case Kind::kNumber: return n.is_number();
    case Kind::kInteger: return n.is_integer();
    case Kind::kBool: return n.is_boolean();
    case Kind::kString: case Kind::kArchiveClass: return n.is_string();
  }
  return false;
}

std::string Line(const toml::node& n) {
  return std::to_string(n.source().begin.line);
}

}  // namespace

Result<Profile> ParseProfileToml(std::string_view text, const std::string& origin, Profile base) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(origin + ":" + std::to_string(e.source().begin.line) + ": " +
                                   std::string(e.description()) + "; fix the TOML syntax");
  }
  Profile p = std::move(base);
  auto apply = [&](const std::string& section, const std::string& key,
                   const toml::node& value) -> Status {
    std::string name = section.empty() ? key : section + "." + key;
    for (const Field& f : Fields()) {
      if (f.section != section || f.key != key) continue;
      if (!KindMatches(f.kind, value)) {
        return Status::InvalidArgument(origin + ":" + Line(value) + ": field '" + name +
                                       "' must be " + KindName(f.kind));
      }
      if (f.kind == Kind::kArchiveClass) {
        auto c = ParseArchiveClass(*value.value<std::string>());
        if (!c.ok()) {
          return Status::InvalidArgument(origin + ":" + Line(value) + ": field '" + name + "': " +
                                         c.status().message());
        }
        p.archive_class = *c;
      } else {
        f.set(p, value);
      }
      return Status::Ok();
    }
    return Status::InvalidArgument(origin + ":" + Line(value) + ": unknown field '" + name +
                                   "'; see docs/plan.md for the profile fields");
  };
  for (const auto& [k, v] : root) {
    std::string key(k.str());
    if (const toml::table* t = v.as_table()) {
      for (const auto& [k2, v2] : *t) MUON_RETURN_IF_ERROR(apply(key, std::string(k2.str()), v2));
    } else {
      MUON_RETURN_IF_ERROR(apply("", key, v));
    }
  }
  Status s = p.Validate();
  if (!s.ok()) return s.WithContext(origin);
  return p;
}

Result<MeasuredUsage> ParseUsageJson(std::string_view json_text, const std::string& origin) {
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument(origin + ": not valid JSON (expected the usage.json object "
                                   "described in docs/plan.md)");
  }
  if (doc.value("schema", std::string()) != "muonpipe.usage.v1") {
    return Status::InvalidArgument(origin + ": \"schema\" must be \"muonpipe.usage.v1\"; this "
                                   "planner reads only that version");
  }
  auto num = [&](const nlohmann::json& obj, const char* key, const std::string& where) -> Result<double> {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number() || it->get<double>() < 0) {
      return Status::InvalidArgument(origin + ": " + where + key + " must be a number >= 0");
    }
    return it->get<double>();
  };
  MeasuredUsage u;
  MUON_ASSIGN_OR_RETURN(u.window_seconds, num(doc, "window_seconds", ""));
  if (u.window_seconds <= 0) {
    return Status::InvalidArgument(origin + ": window_seconds is 0; nothing was measured yet, "
                                   "let the server ingest for a while and retry");
  }
  auto dets = doc.find("detectors");
  if (dets == doc.end() || !dets->is_array()) {
    return Status::InvalidArgument(origin + ": \"detectors\" must be an array");
  }
  double records = 0, bytes = 0, live = 0, batch = 0;
  bool has_split = false;
  for (size_t i = 0; i < dets->size(); ++i) {
    const nlohmann::json& d = (*dets)[i];
    std::string where = "detectors[" + std::to_string(i) + "].";
    if (!d.is_object() || !d.contains("id") || !d["id"].is_string()) {
      return Status::InvalidArgument(origin + ": " + where + "id must be a string");
    }
    MUON_ASSIGN_OR_RETURN(double r, num(d, "records_per_second", where));
    MUON_ASSIGN_OR_RETURN(double b, num(d, "bytes_per_second", where));
    records += r;
    bytes += b;
    if (d.contains("live_bytes") || d.contains("batch_bytes")) {
      MUON_ASSIGN_OR_RETURN(double l, num(d, "live_bytes", where));
      MUON_ASSIGN_OR_RETURN(double bb, num(d, "batch_bytes", where));
      live += l;
      batch += bb;
      has_split = true;
    }
  }
  u.detector_count = doc.contains("detector_count") && doc["detector_count"].is_number()
                         ? doc["detector_count"].get<double>()
                         : static_cast<double>(dets->size());
  double n = static_cast<double>(dets->size());
  if (n == 0 || records <= 0 || bytes <= 0) {
    return Status::InvalidArgument(origin + ": no detector has sent data in the window; nothing "
                                   "to plan from yet");
  }
  u.records_per_second_per_detector = records / n;
  u.bytes_per_second_per_detector = bytes / n;
  u.mean_record_bytes = bytes / records;
  if (has_split && live + batch > 0) u.live_fraction = live / (live + batch);
  return u;
}

void ApplyMeasuredUsage(const MeasuredUsage& usage, Profile* profile) {
  profile->detectors = usage.detector_count;
  profile->bytes_per_second_per_detector = usage.bytes_per_second_per_detector;
  profile->records_per_second_per_detector = usage.records_per_second_per_detector;
  if (usage.live_fraction >= 0) profile->live_fraction = usage.live_fraction;
}

}  // namespace muon::plan
