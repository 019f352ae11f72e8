#include "plan/model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace muon::plan {

std::string DesignId(const DesignSpec& spec) {
  std::string base;
  switch (spec.ingest) {
    case Ingest::kKdsProvisioned: base = "kds-provisioned"; break;
    case Ingest::kKdsOnDemand: base = "kds-on-demand"; break;
    case Ingest::kFirehoseDirect: base = "firehose-direct"; break;
    case Ingest::kBatchOnly: return "batch-only";
    case Ingest::kSelfHosted: return "self-hosted-ec2";
  }
  return spec.aggregated ? base + "-agg" : base;
}

std::string DesignTitle(const DesignSpec& spec) {
  std::string base;
  switch (spec.ingest) {
    case Ingest::kKdsProvisioned: base = "Kinesis provisioned + Firehose + S3"; break;
    case Ingest::kKdsOnDemand: base = "Kinesis on-demand + Firehose + S3"; break;
    case Ingest::kFirehoseDirect: base = "Firehose Direct PUT + S3"; break;
    case Ingest::kBatchOnly: return "Batch only: gateways upload files to S3";
    case Ingest::kSelfHosted: return "Self-hosted muonpipe on EC2 + EBS, S3 archive";
  }
  return base + (spec.aggregated ? ", aggregated records" : ", one record per reading");
}

std::vector<DesignSpec> AllDesigns() {
  return {{Ingest::kKdsProvisioned, false}, {Ingest::kKdsProvisioned, true},
          {Ingest::kKdsOnDemand, false},    {Ingest::kKdsOnDemand, true},
          {Ingest::kFirehoseDirect, false}, {Ingest::kFirehoseDirect, true},
          {Ingest::kBatchOnly, false},      {Ingest::kSelfHosted, false}};
}

namespace {

constexpr double kMiB = 1048576.0;
constexpr double kKinesisPutUnitBytes = 25 * kKiB;
constexpr double kFirehoseBillingBytes = 5 * kKiB;
constexpr double kOnDemandBillingBytes = kKiB;
// S3 lifecycle does not transition objects smaller than this by default (since September 2024),
// and Standard-IA / Glacier IR bill each object as at least this size.
constexpr double kMinTransitionObjectBytes = 128 * kKiB;
// Each Deep Archive object carries 8 KiB billed as Standard and 32 KiB billed as Deep Archive.
constexpr double kDeepArchiveStandardOverhead = 8 * kKiB;
constexpr double kDeepArchiveOverhead = 32 * kKiB;

std::string Fmt(double v, int precision = 0) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(precision);
  s << v;
  return s.str();
}

double RoundUpTo(double bytes, double unit) { return std::ceil(bytes / unit - 1e-12) * unit; }

// One month's traffic for a design.
struct Flows {
  double detectors = 0;
  double record_bytes = 0;       // size of each record sent live
  double live_bytes_s = 0;       // fleet, live path
  double live_records_s = 0;
  double live_bytes_month = 0;
  double live_records_month = 0;
  double batch_bytes_month = 0;
  double live_objects = 0;       // objects delivered to S3 by Firehose / muonpipe
  double batch_objects = 0;      // files uploaded by gateways
};

bool HasLivePath(Ingest ingest) { return ingest != Ingest::kBatchOnly; }

Flows MonthFlows(const DesignSpec& spec, const Profile& p, int month) {
  Flows f;
  f.detectors = p.DetectorsInMonth(month);
  double fleet_bytes_s = f.detectors * p.bytes_per_second_per_detector;
  double live_fraction = HasLivePath(spec.ingest) ? p.live_fraction : 0;
  f.record_bytes = spec.aggregated ? std::max(p.aggregate_bytes, p.RawRecordBytes())
                                   : p.RawRecordBytes();
  f.live_bytes_s = fleet_bytes_s * live_fraction;
  f.live_records_s = f.live_bytes_s / f.record_bytes;
  f.live_bytes_month = f.live_bytes_s * kSecondsPerMonth;
  f.live_records_month = f.live_records_s * kSecondsPerMonth;
  f.batch_bytes_month = fleet_bytes_s * (1 - live_fraction) * kSecondsPerMonth;
  if (f.live_bytes_month > 0) {
    // Firehose (and muonpipe's delivery) flush a buffer when it reaches the size or the interval,
    // whichever comes first; with dynamic partitioning each detector's partition flushes alone.
    double partitions = p.partition_by_detector ? f.detectors : 1;
    double interval = std::max(p.firehose_buffer_seconds, 5.0);
    double bytes_per_partition = f.live_bytes_month / partitions;
    double flushes = std::max(kSecondsPerMonth / interval,
                              bytes_per_partition / (p.firehose_buffer_mib * kMiB));
    f.live_objects = std::ceil(partitions * flushes - 1e-9);
  }
  if (f.batch_bytes_month > 0) {
    f.batch_objects =
        std::ceil(f.detectors * p.batch_files_per_detector_per_day * kDaysPerMonth - 1e-9);
  }
  return f;
}

class Builder {
 public:
  Builder(const PriceTable& prices, DesignResult* r) : prices_(prices), r_(r) {}

  Status Add(int month, const std::string& service, const std::string& item, double quantity,
             std::string_view price_key) {
    MUON_ASSIGN_OR_RETURN(const Price* price, prices_.Get(price_key));
    AddWithPrice(month, service, item, quantity, *price);
    return Status::Ok();
  }

  void AddWithPrice(int month, const std::string& service, const std::string& item,
                    double quantity, const Price& price) {
    if (quantity <= 0) return;
    LineItem li;
    li.design = r_->id;
    li.month = month;
    li.service = service;
    li.item = item;
    li.quantity = quantity;
    li.unit = price.unit;
    li.cost = price.CostOf(quantity);
    li.unit_price = li.cost / quantity;
    r_->items.push_back(std::move(li));
  }

 private:
  const PriceTable& prices_;
  DesignResult* r_;
};

double Overlap(double a, double b, double c, double d) {
  return std::max(0.0, std::min(b, d) - std::max(a, c));
}

struct Cohort {
  double gb = 0;
  double objects = 0;
};

std::string_view StorageKey(ArchiveClass c) {
  switch (c) {
    case ArchiveClass::kStandardIa: return "s3.standard_ia_storage";
    case ArchiveClass::kGlacierIr: return "s3.glacier_ir_storage";
    case ArchiveClass::kDeepArchive: return "s3.deep_archive_storage";
    default: return "s3.standard_storage";
  }
}

std::string_view TransitionKey(ArchiveClass c) {
  switch (c) {
    case ArchiveClass::kStandardIa: return "s3.transition_standard_ia";
    case ArchiveClass::kGlacierIr: return "s3.transition_glacier_ir";
    default: return "s3.transition_deep_archive";
  }
}

double MinimumDays(ArchiveClass c) {
  switch (c) {
    case ArchiveClass::kStandardIa: return 30;
    case ArchiveClass::kGlacierIr: return 90;
    case ArchiveClass::kDeepArchive: return 180;
    default: return 0;
  }
}

std::string ClassTitle(ArchiveClass c) {
  switch (c) {
    case ArchiveClass::kStandardIa: return "Standard-IA";
    case ArchiveClass::kGlacierIr: return "Glacier Instant Retrieval";
    case ArchiveClass::kDeepArchive: return "Glacier Deep Archive";
    default: return "Standard";
  }
}

// Prices S3 storage for the monthly cohorts under one lifecycle. Each month's data is treated as
// written at mid-month (t0 = m + 0.5, in months); a cohort is in Standard over [t0, t0 + hot) and
// in the archive class over [t0 + hot, t0 + retention); month k bills the overlap with [k, k+1).
Status PriceStorage(const std::vector<Cohort>& cohorts, const Profile& p, ArchiveClass archive,
                    const PriceTable& prices, Builder& b, StoragePlan* plan) {
  const int horizon = p.horizon_months;
  const double hot = p.hot_days / kDaysPerMonth;
  const double keep = p.retention_days > 0 ? p.retention_days / kDaysPerMonth
                                           : std::numeric_limits<double>::infinity();
  plan->archive = archive;
  plan->hot_days = p.hot_days;
  plan->retention_days = p.retention_days;
  std::vector<double> standard_gbm(horizon, 0), archive_gbm(horizon, 0), transitions(horizon, 0),
      early_gbm(horizon, 0);
  for (size_t m = 0; m < cohorts.size(); ++m) {
    const Cohort& c = cohorts[m];
    if (c.gb <= 0) continue;
    double t0 = m + 0.5;
    bool moves = archive != ArchiveClass::kNone && keep > hot;
    if (moves && c.objects > 0 && c.gb * kGiB / c.objects < kMinTransitionObjectBytes) {
      moves = false;
      plan->transitions_skipped_small_objects = true;
    }
    double standard_end = moves ? t0 + hot : t0 + keep;
    double archive_gb = c.gb, standard_extra_gb = 0;
    if (moves && archive == ArchiveClass::kDeepArchive) {
      archive_gb += c.objects * kDeepArchiveOverhead / kGiB;
      standard_extra_gb = c.objects * kDeepArchiveStandardOverhead / kGiB;
    }
    for (int k = 0; k < horizon; ++k) {
      standard_gbm[k] += c.gb * Overlap(t0, standard_end, k, k + 1);
      if (moves) {
        double in_archive = Overlap(t0 + hot, t0 + keep, k, k + 1);
        archive_gbm[k] += archive_gb * in_archive;
        standard_gbm[k] += standard_extra_gb * in_archive;
      }
    }
    if (moves) {
      double at = std::floor(t0 + hot);
      if (at < horizon) transitions[static_cast<int>(at)] += c.objects;
      double archived_days = (keep - hot) * kDaysPerMonth;
      double minimum = MinimumDays(archive);
      if (std::isfinite(keep) && archived_days < minimum) {
        double deleted_at = std::floor(t0 + keep);
        if (deleted_at < horizon) {
          early_gbm[static_cast<int>(deleted_at)] +=
              archive_gb * (minimum - archived_days) / kDaysPerMonth;
        }
      }
    }
  }
  for (int k = 0; k < horizon; ++k) {
    MUON_RETURN_IF_ERROR(b.Add(k, "S3", "Standard storage", standard_gbm[k], "s3.standard_storage"));
    if (archive == ArchiveClass::kNone) continue;
    std::string title = ClassTitle(archive);
    MUON_RETURN_IF_ERROR(b.Add(k, "S3", title + " storage", archive_gbm[k], StorageKey(archive)));
    MUON_RETURN_IF_ERROR(b.Add(k, "S3", "lifecycle transitions to " + title, transitions[k] / 1000,
                               TransitionKey(archive)));
    MUON_RETURN_IF_ERROR(b.Add(k, "S3", title + " minimum duration (" +
                                            Fmt(MinimumDays(archive)) + " days) charge",
                               early_gbm[k], StorageKey(archive)));
  }
  return Status::Ok();
}

Status PriceAnalystReads(const std::vector<Cohort>& cohorts, const Profile& p,
                         const StoragePlan& storage, const PriceTable& prices, Builder& b) {
  if (p.analyst_read_gb_per_month <= 0) return Status::Ok();
  double gb = 0, objects = 0;
  for (int k = 0; k < p.horizon_months; ++k) {
    gb += cohorts[k].gb;
    objects += cohorts[k].objects;
    if (objects <= 0) continue;
    double object_bytes = gb * kGiB / objects;
    bool archived = storage.archive != ArchiveClass::kNone &&
                    !storage.transitions_skipped_small_objects;
    double archive_gb = archived ? p.analyst_read_gb_per_month * p.analyst_archive_read_fraction : 0;
    double standard_gb = p.analyst_read_gb_per_month - archive_gb;
    MUON_RETURN_IF_ERROR(b.Add(k, "S3", "GET requests (Standard)",
                               std::ceil(standard_gb * kGiB / object_bytes) / 1000, "s3.standard_get"));
    if (archive_gb > 0) {
      double gets = std::ceil(archive_gb * kGiB / object_bytes) / 1000;
      switch (storage.archive) {
        case ArchiveClass::kStandardIa:
          MUON_RETURN_IF_ERROR(b.Add(k, "S3", "GET requests (Standard-IA)", gets, "s3.standard_ia_get"));
          MUON_RETURN_IF_ERROR(b.Add(k, "S3", "Standard-IA retrieval", archive_gb, "s3.standard_ia_retrieval"));
          break;
        case ArchiveClass::kGlacierIr:
          MUON_RETURN_IF_ERROR(b.Add(k, "S3", "GET requests (Glacier IR)", gets, "s3.glacier_ir_get"));
          MUON_RETURN_IF_ERROR(b.Add(k, "S3", "Glacier IR retrieval", archive_gb, "s3.glacier_ir_retrieval"));
          break;
        default:
          MUON_RETURN_IF_ERROR(b.Add(k, "S3", "Deep Archive restore requests", gets, "s3.deep_archive_restore_requests"));
          MUON_RETURN_IF_ERROR(b.Add(k, "S3", "Deep Archive restore (standard)", archive_gb, "s3.deep_archive_retrieval"));
          break;
      }
    }
    MUON_RETURN_IF_ERROR(b.Add(k, "Data transfer", "out to the internet",
                               p.analyst_read_gb_per_month * p.analyst_egress_fraction,
                               "data_transfer.out_internet"));
  }
  return Status::Ok();
}

Result<DesignResult> PriceWithArchive(const DesignSpec& spec, const Profile& p,
                                      const PriceTable& prices, ArchiveClass archive) {
  DesignResult r;
  r.spec = spec;
  r.id = DesignId(spec);
  Builder b(prices, &r);
  const double headroom = p.shard_headroom;
  const double consumers = 1 + p.extra_consumers;
  const bool kds = spec.ingest == Ingest::kKdsProvisioned || spec.ingest == Ingest::kKdsOnDemand;
  const bool firehose = kds || spec.ingest == Ingest::kFirehoseDirect;
  std::vector<Cohort> cohorts(p.horizon_months);
  double peak_bytes_s = 0, peak_records_s = 0, record_bytes = 0;

  for (int m = 0; m < p.horizon_months; ++m) {
    Flows f = MonthFlows(spec, p, m);
    record_bytes = f.record_bytes;
    peak_bytes_s = std::max(peak_bytes_s, f.live_bytes_s);
    peak_records_s = std::max(peak_records_s, f.live_records_s);
    if (spec.ingest == Ingest::kKdsProvisioned && f.live_bytes_s > 0) {
      MUON_ASSIGN_OR_RETURN(double in_bytes, prices.QuotaValue("kinesis.shard_write_bytes_per_second"));
      MUON_ASSIGN_OR_RETURN(double in_records, prices.QuotaValue("kinesis.shard_write_records_per_second"));
      MUON_ASSIGN_OR_RETURN(double out_bytes, prices.QuotaValue("kinesis.shard_read_bytes_per_second"));
      double shards = std::max({1.0, std::ceil(f.live_bytes_s / (in_bytes * headroom) - 1e-9),
                                std::ceil(f.live_records_s / (in_records * headroom) - 1e-9),
                                std::ceil(f.live_bytes_s * consumers / (out_bytes * headroom) - 1e-9)});
      r.max_shards = std::max(r.max_shards, static_cast<int>(shards));
      MUON_RETURN_IF_ERROR(b.Add(m, "Kinesis Data Streams", "shard hours (" + Fmt(shards) + " shards)",
                                 shards * kHoursPerMonth, "kinesis.shard_hour"));
      double units = f.live_records_month * std::ceil(f.record_bytes / kKinesisPutUnitBytes - 1e-12);
      MUON_RETURN_IF_ERROR(b.Add(m, "Kinesis Data Streams", "PUT payload units (25 KB each)",
                                 units / 1e6, "kinesis.put_payload_units"));
      if (p.stream_retention_hours > 24) {
        MUON_RETURN_IF_ERROR(b.Add(m, "Kinesis Data Streams", "extended retention",
                                   shards * kHoursPerMonth, "kinesis.extended_retention_shard_hour"));
      }
    }
    if (spec.ingest == Ingest::kKdsOnDemand && f.live_bytes_s > 0) {
      double billed_gb = f.live_records_month * RoundUpTo(f.record_bytes, kOnDemandBillingBytes) / kGiB;
      MUON_RETURN_IF_ERROR(b.Add(m, "Kinesis Data Streams", "on-demand stream hours",
                                 kHoursPerMonth, "kinesis.on_demand_stream_hour"));
      MUON_RETURN_IF_ERROR(b.Add(m, "Kinesis Data Streams", "on-demand data in (records rounded up to 1 KB)",
                                 billed_gb, "kinesis.on_demand_data_in"));
      MUON_RETURN_IF_ERROR(b.Add(m, "Kinesis Data Streams", "on-demand data out (" + Fmt(consumers) + " consumer(s))",
                                 billed_gb * consumers, "kinesis.on_demand_data_out"));
      if (p.stream_retention_hours > 24) {
        MUON_RETURN_IF_ERROR(b.Add(m, "Kinesis Data Streams", "on-demand extended retention",
                                   billed_gb * (p.stream_retention_hours - 24) / kHoursPerMonth,
                                   "kinesis.on_demand_extended_retention"));
      }
    }
    if (firehose && f.live_bytes_s > 0) {
      double billed_gb = f.live_records_month * RoundUpTo(f.record_bytes, kFirehoseBillingBytes) / kGiB;
      MUON_RETURN_IF_ERROR(b.Add(m, "Firehose", std::string(kds ? "ingestion from Kinesis" : "Direct PUT ingestion") +
                                                    " (records rounded up to 5 KB)",
                                 billed_gb, "firehose.ingest"));
      if (p.partition_by_detector) {
        MUON_RETURN_IF_ERROR(b.Add(m, "Firehose", "dynamic partitioning (GB processed)",
                                   f.live_bytes_month / kGiB, "firehose.dynamic_partitioning"));
        MUON_RETURN_IF_ERROR(b.Add(m, "Firehose", "dynamic partitioning (objects delivered)",
                                   f.live_objects / 1000, "firehose.dynamic_partitioning_objects"));
      }
    }
    if (spec.ingest == Ingest::kSelfHosted && f.live_bytes_s > 0) {
      double instances = std::max(1.0, std::ceil(f.live_bytes_s / p.self_hosted_bytes_per_second_per_instance - 1e-9));
      MUON_RETURN_IF_ERROR(b.Add(m, "EC2", p.self_hosted_instance_type + " hours (" + Fmt(instances) + " instance(s))",
                                 instances * kHoursPerMonth, "ec2." + p.self_hosted_instance_type));
      double ebs_gb = instances * p.self_hosted_ebs_base_gb +
                      f.live_bytes_s * p.stream_retention_hours * 3600 / kGiB;
      MUON_RETURN_IF_ERROR(b.Add(m, "EBS", "gp3 volume (stream log for the retention period)",
                                 ebs_gb, "ebs.gp3_storage"));
    }
    MUON_RETURN_IF_ERROR(b.Add(m, "S3", spec.ingest == Ingest::kSelfHosted ? "PUT requests (muonpipe delivery)"
                                                                           : "PUT requests (Firehose delivery)",
                               f.live_objects / 1000, "s3.standard_put"));
    MUON_RETURN_IF_ERROR(b.Add(m, "S3", "PUT requests (batch uploads)", f.batch_objects / 1000,
                               "s3.standard_put"));
    cohorts[m].gb = (f.live_bytes_month + f.batch_bytes_month) * p.compression_ratio / kGiB;
    cohorts[m].objects = f.live_objects + f.batch_objects;

    if (spec.ingest != Ingest::kSelfHosted) {
      std::string az = p.registry_multi_az ? "multi_az" : "single_az";
      MUON_RETURN_IF_ERROR(b.Add(m, "RDS", "PostgreSQL " + p.registry_instance_class +
                                               (p.registry_multi_az ? " Multi-AZ" : " single-AZ") + " hours",
                                 kHoursPerMonth, "rds.postgres." + p.registry_instance_class + "." + az));
      MUON_RETURN_IF_ERROR(b.Add(m, "RDS", "gp3 storage", p.registry_storage_gb, "rds.gp3_storage." + az));
      MUON_RETURN_IF_ERROR(b.Add(m, "Secrets Manager", "registry password secret", 1, "secretsmanager.secret"));
    }
  }
  MUON_RETURN_IF_ERROR(PriceStorage(cohorts, p, archive, prices, b, &r.storage));
  MUON_RETURN_IF_ERROR(PriceAnalystReads(cohorts, p, r.storage, prices, b));

  // Latency from a reading to its first availability on the live path.
  double window = record_bytes / p.bytes_per_second_per_detector;
  switch (spec.ingest) {
    case Ingest::kKdsProvisioned: case Ingest::kKdsOnDemand: case Ingest::kSelfHosted:
      r.latency_seconds = window + 1;
      break;
    case Ingest::kFirehoseDirect:
      r.latency_seconds = window + std::max(p.firehose_buffer_seconds, 5.0);
      break;
    case Ingest::kBatchOnly:
      r.latency_seconds = 86400 / p.batch_files_per_detector_per_day;
      break;
  }
  if (p.max_latency_seconds > 0 && p.live_fraction > 0 && r.latency_seconds > p.max_latency_seconds) {
    r.violations.push_back("live latency is about " + Fmt(r.latency_seconds) + " s, more than the " +
                           Fmt(p.max_latency_seconds) + " s asked for");
  }
  auto quota = [&](const char* key, double need, const std::string& what) -> Status {
    MUON_ASSIGN_OR_RETURN(double limit, prices.QuotaValue(key));
    if (need > limit) {
      std::string msg = what + " needs " + Fmt(need) + ", above the default quota of " + Fmt(limit) +
                        " (" + key + ")";
      if (p.allow_quota_increases) {
        r.notes.push_back(msg + "; request a quota increase before deploying");
      } else {
        r.violations.push_back(msg + "; set live.allow_quota_increases = true if you will request an increase");
      }
    }
    return Status::Ok();
  };
  if (spec.ingest == Ingest::kKdsProvisioned && r.max_shards > 0) {
    MUON_RETURN_IF_ERROR(quota("kinesis.account_shards", r.max_shards, "the stream"));
    r.notes.push_back("up to " + std::to_string(r.max_shards) + " shard(s), sized at " +
                      Fmt(headroom * 100) + "% of the per-shard limits");
  }
  if (spec.ingest == Ingest::kKdsOnDemand) {
    MUON_RETURN_IF_ERROR(quota("kinesis.on_demand_stream_write_bytes_per_second", peak_bytes_s, "peak write (bytes/s)"));
  }
  if (spec.ingest == Ingest::kFirehoseDirect) {
    MUON_RETURN_IF_ERROR(quota("firehose.direct_put_bytes_per_second", peak_bytes_s, "Direct PUT (bytes/s)"));
    MUON_RETURN_IF_ERROR(quota("firehose.direct_put_records_per_second", peak_records_s, "Direct PUT (records/s)"));
  }
  if (firehose) {
    MUON_ASSIGN_OR_RETURN(double max_record, prices.QuotaValue("firehose.max_record_bytes"));
    if (record_bytes > max_record) {
      r.violations.push_back("records of " + Fmt(record_bytes) + " bytes exceed Firehose's " +
                             Fmt(max_record) + "-byte record limit");
    }
  }
  if (spec.aggregated && p.aggregate_bytes <= p.RawRecordBytes()) {
    r.notes.push_back("aggregation has no effect: readings are already " + Fmt(p.RawRecordBytes()) +
                      " bytes, at least data.aggregate_bytes");
  }
  if (r.storage.transitions_skipped_small_objects) {
    r.notes.push_back("objects average under 128 KB, which S3 lifecycle does not transition; they stay in Standard "
                      "(raise live.firehose_buffer_seconds or batch file sizes)");
  }
  r.feasible = r.violations.empty();
  r.monthly_totals.assign(p.horizon_months, 0);
  for (const LineItem& li : r.items) r.monthly_totals[li.month] += li.cost;
  for (double t : r.monthly_totals) r.total += t;
  return r;
}

}  // namespace

Result<DesignResult> PriceDesign(const DesignSpec& spec, const Profile& profile,
                                 const PriceTable& prices) {
  MUON_RETURN_IF_ERROR(profile.Validate());
  if (profile.archive_class != ArchiveClass::kAuto) {
    return PriceWithArchive(spec, profile, prices, profile.archive_class);
  }
  std::optional<DesignResult> best;
  for (ArchiveClass c : {ArchiveClass::kNone, ArchiveClass::kStandardIa, ArchiveClass::kGlacierIr,
                         ArchiveClass::kDeepArchive}) {
    if (c == ArchiveClass::kStandardIa && profile.hot_days < 30) continue;
    MUON_ASSIGN_OR_RETURN(DesignResult r, PriceWithArchive(spec, profile, prices, c));
    // A class that nothing transitions into is the same as staying in Standard.
    if (c != ArchiveClass::kNone && r.storage.transitions_skipped_small_objects) continue;
    if (!best || r.total < best->total - 1e-9) best = std::move(r);
  }
  return std::move(*best);
}

Result<PlanResult> PriceAll(const Profile& profile, const PriceTable& prices) {
  PlanResult plan;
  plan.profile = profile;
  plan.price_origin = prices.origin();
  for (const DesignSpec& spec : AllDesigns()) {
    MUON_ASSIGN_OR_RETURN(DesignResult r, PriceDesign(spec, profile, prices));
    plan.designs.push_back(std::move(r));
  }
  return plan;
}

}  // namespace muon::plan
