// The cost model: prices each alternative design month by month over the profile's horizon.
//
// Every cost is a line item quantity × unit_price (tiered prices: the tier breakdown is folded
// into unit_price = cost / quantity). The arithmetic of each item is in docs/plan.md so that a
// user can check any figure by hand. Nothing here does I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "plan/prices.h"
#include "plan/profile.h"

namespace muon::plan {

enum class Ingest { kKdsProvisioned, kKdsOnDemand, kFirehoseDirect, kBatchOnly, kSelfHosted };

struct DesignSpec {
  Ingest ingest = Ingest::kKdsProvisioned;
  bool aggregated = false;  // devices send profile.aggregate_bytes records instead of raw ones
};

std::string DesignId(const DesignSpec& spec);  // "kds-provisioned-agg", "batch-only", ...
std::string DesignTitle(const DesignSpec& spec);
// All alternatives the planner compares, in display order.
std::vector<DesignSpec> AllDesigns();

struct LineItem {
  std::string design;
  int month = 0;  // 0-based
  std::string service;
  std::string item;
  double quantity = 0;
  std::string unit;
  double unit_price = 0;
  double cost = 0;
};

// The S3 lifecycle chosen for a design: Standard for hot_days, then `archive` (kNone: stay in
// Standard) until retention_days.
struct StoragePlan {
  ArchiveClass archive = ArchiveClass::kNone;
  double hot_days = 0;
  double retention_days = 0;
  bool transitions_skipped_small_objects = false;  // mean object < 128 KiB: S3 won't transition
};

struct DesignResult {
  DesignSpec spec;
  std::string id;
  bool feasible = true;
  std::vector<std::string> violations;  // why not feasible, one sentence each
  std::vector<std::string> notes;       // sizing facts worth telling (shard counts, quotas)
  double latency_seconds = 0;           // measurement to first availability, live path
  StoragePlan storage;
  int max_shards = 0;  // provisioned designs: the most shards any month needed
  std::vector<LineItem> items;
  std::vector<double> monthly_totals;  // horizon_months entries
  double total = 0;
};

struct PlanResult {
  Profile profile;
  std::string price_origin;
  std::vector<DesignResult> designs;  // in AllDesigns() order
};

// Prices `spec` over the horizon. With archive_class kAuto, every lifecycle option is priced
// and the cheapest valid one kept. Errors: a price or quota the model needs is missing.
Result<DesignResult> PriceDesign(const DesignSpec& spec, const Profile& profile,
                                 const PriceTable& prices);
Result<PlanResult> PriceAll(const Profile& profile, const PriceTable& prices);

// Billing constants (AWS's units).
inline constexpr double kHoursPerMonth = 730;
inline constexpr double kSecondsPerMonth = kHoursPerMonth * 3600;  // 2,628,000
inline constexpr double kDaysPerMonth = kHoursPerMonth / 24;       // 30.41666...
inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
inline constexpr double kKiB = 1024.0;

}  // namespace muon::plan
