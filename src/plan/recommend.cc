#include "plan/recommend.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace muon::plan {

namespace {

std::string Money(double v) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(2);
  s << "$" << v;
  return s.str();
}

std::string Num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Fleet sizes to probe: every size to 100, then steps of ~2% up to the maximum. Crossings found
// between two probes are narrowed to the exact size by bisection.
std::vector<double> ProbeSizes() {
  std::vector<double> sizes;
  for (double n = 1; n <= 100; ++n) sizes.push_back(n);
  for (double n = 102; n <= kMaxBreakEvenDetectors; n = std::ceil(n * 1.02)) sizes.push_back(n);
  return sizes;
}

}  // namespace

const DesignResult* FindDesign(const PlanResult& plan, const std::string& id) {
  for (const DesignResult& d : plan.designs) {
    if (d.id == id) return &d;
  }
  return nullptr;
}

Result<SteadyCost> SteadyMonthlyCost(const DesignSpec& spec, const Profile& profile,
                                     const PriceTable& prices, double n) {
  Profile p = profile;
  p.detectors = n;
  p.detectors_added_per_month = 0;
  p.growth_percent_per_month = 0;
  p.horizon_months = 1;
  p.archive_class = ArchiveClass::kNone;
  MUON_ASSIGN_OR_RETURN(DesignResult r, PriceDesign(spec, p, prices));
  return SteadyCost{r.total, r.feasible};
}

namespace {

// First size in (lo, hi] where f flips from false to true, given f(lo) false and f(hi) true.
template <typename F>
Result<double> Bisect(double lo, double hi, F f) {
  while (hi - lo > 1) {
    double mid = std::floor((lo + hi) / 2);
    MUON_ASSIGN_OR_RETURN(bool v, f(mid));
    (v ? hi : lo) = mid;
  }
  return hi;
}

Result<std::optional<BreakEven>> PairBreakEven(const DesignSpec& a, const DesignSpec& b,
                                               const Profile& p, const PriceTable& prices,
                                               const std::vector<double>& sizes) {
  // true when b is strictly cheaper than a at n
  auto b_cheaper = [&](double n) -> Result<bool> {
    MUON_ASSIGN_OR_RETURN(SteadyCost ca, SteadyMonthlyCost(a, p, prices, n));
    MUON_ASSIGN_OR_RETURN(SteadyCost cb, SteadyMonthlyCost(b, p, prices, n));
    return cb.monthly < ca.monthly - 1e-9;
  };
  MUON_ASSIGN_OR_RETURN(bool start, b_cheaper(sizes.front()));
  double prev = sizes.front();
  for (size_t i = 1; i < sizes.size(); ++i) {
    MUON_ASSIGN_OR_RETURN(bool v, b_cheaper(sizes[i]));
    if (v != start) {
      auto flipped = [&](double n) -> Result<bool> {
        MUON_ASSIGN_OR_RETURN(bool x, b_cheaper(n));
        return x != start;
      };
      MUON_ASSIGN_OR_RETURN(double at, Bisect(prev, sizes[i], flipped));
      BreakEven be;
      be.detectors = at;
      be.cheaper_below = start ? DesignId(b) : DesignId(a);
      be.cheaper_above = start ? DesignId(a) : DesignId(b);
      return std::optional<BreakEven>(be);
    }
    prev = sizes[i];
  }
  return std::optional<BreakEven>();
}

// The cheapest feasible design at fleet size n ("" if none).
Result<std::string> CheapestAt(const Profile& p, const PriceTable& prices, double n) {
  std::string best;
  double best_cost = 0;
  for (const DesignSpec& spec : AllDesigns()) {
    MUON_ASSIGN_OR_RETURN(SteadyCost c, SteadyMonthlyCost(spec, p, prices, n));
    if (!c.feasible) continue;
    if (best.empty() || c.monthly < best_cost - 1e-9) {
      best = DesignId(spec);
      best_cost = c.monthly;
    }
  }
  return best;
}

}  // namespace

Result<Recommendation> Recommend(const PlanResult& plan, const PriceTable& prices) {
  const Profile& p = plan.profile;
  Recommendation rec;
  std::vector<const DesignResult*> order;
  for (const DesignResult& d : plan.designs) order.push_back(&d);
  std::stable_sort(order.begin(), order.end(),
                   [](const DesignResult* x, const DesignResult* y) { return x->total < y->total; });
  const DesignResult* best = nullptr;
  for (const DesignResult* d : order) {
    if (d->feasible) {
      best = d;
      break;
    }
  }
  if (best == nullptr) {
    rec.reasons.push_back("No design meets the constraints. Relax live.max_latency_seconds or set "
                          "live.allow_quota_increases = true; each design's reasons are listed above.");
  } else {
    rec.design_id = best->id;
    rec.reasons.push_back(DesignTitle(best->spec) + " (" + best->id + ") is the cheapest design that meets the "
                          "constraints: " + Money(best->total) + " over " + Num(p.horizon_months) +
                          " months, " + Money(best->monthly_totals.back()) + " in the last month.");
    for (const DesignResult* d : order) {
      if (d == best) continue;
      if (d->total < best->total && !d->feasible) {
        rec.reasons.push_back(d->id + " would cost " + Money(d->total) + " but is ruled out: " +
                              d->violations.front() + ".");
      }
    }
    for (const DesignResult* d : order) {
      if (d != best && d->feasible) {
        rec.reasons.push_back("The runner-up, " + d->id + ", costs " + Money(d->total) + " (" +
                              Money(d->total - best->total) + " more).");
        break;
      }
    }
    for (const std::string& n : best->notes) rec.reasons.push_back("Sizing: " + n + ".");
    const StoragePlan& s = best->storage;
    std::string lifecycle = s.archive == ArchiveClass::kNone || s.transitions_skipped_small_objects
                                ? "keep objects in S3 Standard"
                                : "keep objects in S3 Standard for " + Num(s.hot_days) + " days, then " +
                                      std::string(ArchiveClassName(s.archive));
    lifecycle += s.retention_days > 0 ? ", delete after " + Num(s.retention_days) + " days" : ", never expire";
    rec.reasons.push_back("Storage: " + lifecycle +
                          (p.archive_class == ArchiveClass::kAuto ? " (cheapest lifecycle priced)." : " (as asked)."));
    if (best->spec.ingest != Ingest::kSelfHosted) {
      rec.reasons.push_back("Registry: RDS PostgreSQL " + p.registry_instance_class +
                            (p.registry_multi_az ? " Multi-AZ" : " single-AZ (set registry.multi_az = true "
                                                                  "for a standby in a second zone)") + ".");
    }
  }

  // Break-evens on steady monthly cost.
  const std::vector<double> sizes = ProbeSizes();
  const std::pair<DesignSpec, DesignSpec> pairs[] = {
      {{Ingest::kKdsOnDemand, false}, {Ingest::kKdsProvisioned, false}},
      {{Ingest::kKdsOnDemand, true}, {Ingest::kKdsProvisioned, true}},
      {{Ingest::kFirehoseDirect, true}, {Ingest::kKdsProvisioned, true}},
      {{Ingest::kFirehoseDirect, true}, {Ingest::kSelfHosted, false}},
      {{Ingest::kKdsProvisioned, true}, {Ingest::kSelfHosted, false}},
  };
  for (const auto& [a, b] : pairs) {
    MUON_ASSIGN_OR_RETURN(std::optional<BreakEven> be, PairBreakEven(a, b, p, prices, sizes));
    if (be) rec.break_evens.push_back(*be);
  }
  MUON_ASSIGN_OR_RETURN(std::string current, CheapestAt(p, prices, sizes.front()));
  double prev = sizes.front();
  for (size_t i = 1; i < sizes.size(); ++i) {
    MUON_ASSIGN_OR_RETURN(std::string at, CheapestAt(p, prices, sizes[i]));
    if (at != current) {
      auto changed = [&](double n) -> Result<bool> {
        MUON_ASSIGN_OR_RETURN(std::string x, CheapestAt(p, prices, n));
        return x != current;
      };
      MUON_ASSIGN_OR_RETURN(double n, Bisect(prev, sizes[i], changed));
      MUON_ASSIGN_OR_RETURN(std::string next, CheapestAt(p, prices, n));
      rec.recommendation_changes.push_back({current, next, n});
      current = next;
    }
    prev = sizes[i];
  }

  if (best != nullptr) {
    // Aggregation sensitivity (the best design's ingest path, aggregated to each size).
    if (best->spec.ingest != Ingest::kBatchOnly) {
      for (double kib : {0.0, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0}) {
        Profile q = p;
        DesignSpec spec{best->spec.ingest, kib > 0};
        if (kib > 0) q.aggregate_bytes = kib * 1024;
        MUON_ASSIGN_OR_RETURN(DesignResult r, PriceDesign(spec, q, prices));
        SensitivityRow row;
        row.label = kib > 0 ? Num(kib) + " KiB records" : "one record per reading (" + Num(p.RawRecordBytes()) + " B)";
        row.total = r.total;
        row.feasible = r.feasible;
        if (!r.feasible) row.note = r.violations.front();
        rec.aggregation.push_back(row);
      }
    }
    for (double hot : {7.0, 30.0, 90.0, 365.0}) {
      for (ArchiveClass c : {ArchiveClass::kNone, ArchiveClass::kStandardIa, ArchiveClass::kGlacierIr,
                             ArchiveClass::kDeepArchive}) {
        if (c == ArchiveClass::kNone && hot != 30.0) continue;
        SensitivityRow row;
        row.label = c == ArchiveClass::kNone ? "Standard only"
                                              : "Standard " + Num(hot) + " d, then " + std::string(ArchiveClassName(c));
        if (c == ArchiveClass::kStandardIa && hot < 30) {
          row.feasible = false;
          row.note = "S3 cannot transition to Standard-IA before 30 days";
          rec.retention.push_back(row);
          continue;
        }
        Profile q = p;
        q.hot_days = hot;
        q.archive_class = c;
        MUON_ASSIGN_OR_RETURN(DesignResult r, PriceDesign(best->spec, q, prices));
        row.total = r.total;
        if (r.storage.transitions_skipped_small_objects) row.note = "objects under 128 KB stay in Standard";
        rec.retention.push_back(row);
      }
    }
  }

  for (const auto& [key, price] : prices.prices()) {
    const std::string prefix = "rds.postgres.";
    const std::string suffix = ".single_az";
    if (!key.starts_with(prefix) || !key.ends_with(suffix)) continue;
    RegistryOption o;
    o.instance_class = key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
    std::string multi = prefix + o.instance_class + ".multi_az";
    MUON_ASSIGN_OR_RETURN(const Price* single_storage, prices.Get("rds.gp3_storage.single_az"));
    MUON_ASSIGN_OR_RETURN(const Price* multi_storage, prices.Get("rds.gp3_storage.multi_az"));
    MUON_ASSIGN_OR_RETURN(const Price* secret, prices.Get("secretsmanager.secret"));
    o.single_az_monthly = price.CostOf(kHoursPerMonth) + single_storage->CostOf(p.registry_storage_gb) +
                          secret->CostOf(1);
    if (prices.Has(multi)) {
      o.multi_az_monthly = prices.Get(multi).value()->CostOf(kHoursPerMonth) +
                           multi_storage->CostOf(p.registry_storage_gb) + secret->CostOf(1);
    }
    rec.registry_options.push_back(o);
  }
  return rec;
}

}  // namespace muon::plan
