// Renders a plan for people (a comparison table and the recommendation) and for programs (JSON
// line items).
#pragma once

#include <string>

#include "plan/model.h"
#include "plan/prices.h"
#include "plan/recommend.h"

namespace muon::plan {

std::string FormatText(const PlanResult& plan, const Recommendation& rec, const PriceTable& prices);

// {"region", "horizon_months", "price_table", "recommended", "designs": [{id, title, feasible,
//  violations, notes, latency_seconds, total, monthly_totals}], "break_evens": [...],
//  "line_items": [{design, month, service, item, quantity, unit, unit_price, cost}]}
std::string FormatJson(const PlanResult& plan, const Recommendation& rec);

}  // namespace muon::plan
