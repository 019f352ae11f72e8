// The recommendation: the cheapest design that meets the constraints, why, where it stops being
// the cheapest as the fleet grows, and how its cost moves with aggregation size and retention.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "plan/model.h"

namespace muon::plan {

struct BreakEven {
  std::string cheaper_below;  // design id cheaper for fleets smaller than `detectors`
  std::string cheaper_above;
  double detectors = 0;       // first fleet size at which cheaper_above is cheaper
};

struct SensitivityRow {
  std::string label;
  double total = 0;  // over the horizon
  bool feasible = true;
  std::string note;
};

struct RegistryOption {
  std::string instance_class;
  double single_az_monthly = 0;
  double multi_az_monthly = 0;
};

struct Recommendation {
  std::string design_id;  // empty when no design meets the constraints
  std::vector<std::string> reasons;
  // Pairwise break-evens on steady monthly cost, and where the recommendation itself changes.
  std::vector<BreakEven> break_evens;
  std::vector<BreakEven> recommendation_changes;
  std::vector<SensitivityRow> aggregation;
  std::vector<SensitivityRow> retention;
  std::vector<RegistryOption> registry_options;
};

// Fleet sizes are searched from 1 to kMaxBreakEvenDetectors.
inline constexpr double kMaxBreakEvenDetectors = 1e6;

const DesignResult* FindDesign(const PlanResult& plan, const std::string& id);
Result<Recommendation> Recommend(const PlanResult& plan, const PriceTable& prices);

// Steady monthly cost of `spec` for a fleet of n detectors (one month, no growth, storage of that
// month only), and whether it meets the constraints at that size.
struct SteadyCost {
  double monthly = 0;
  bool feasible = true;
};
Result<SteadyCost> SteadyMonthlyCost(const DesignSpec& spec, const Profile& profile,
                                     const PriceTable& prices, double n);

}  // namespace muon::plan
