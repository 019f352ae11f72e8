#include "plan/report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

namespace muon::plan {

namespace {

std::string Money(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  // Thousands separators for readability.
  std::string s(buf);
  size_t dot = s.find('.');
  size_t start = s[0] == '-' ? 1 : 0;
  for (int i = static_cast<int>(dot) - 3; i > static_cast<int>(start); i -= 3) s.insert(i, ",");
  return "$" + s;
}

std::string Pad(const std::string& s, size_t width, bool right = false) {
  if (s.size() >= width) return s;
  return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

std::string Num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

std::string FormatText(const PlanResult& plan, const Recommendation& rec, const PriceTable& prices) {
  const Profile& p = plan.profile;
  std::ostringstream out;
  out << "muonpipe plan: " << p.region << ", " << p.horizon_months << " months, "
      << Num(p.DetectorsInMonth(0)) << " detectors in month 1 -> "
      << Num(p.DetectorsInMonth(p.horizon_months - 1)) << " in month " << p.horizon_months << ", "
      << Num(p.bytes_per_second_per_detector) << " B/s and " << Num(p.records_per_second_per_detector)
      << " records/s per detector, " << Num(p.live_fraction * 100) << "% live.\n";
  out << "Prices: " << plan.price_origin << "\n\n";

  out << Pad("design", 22) << Pad("month 1", 13, true) << Pad("month " + std::to_string(p.horizon_months), 13, true)
      << Pad("total", 15, true) << Pad("latency", 10, true) << "  status\n";
  for (const DesignResult& d : plan.designs) {
    out << Pad(d.id, 22) << Pad(Money(d.monthly_totals.front()), 13, true)
        << Pad(Money(d.monthly_totals.back()), 13, true) << Pad(Money(d.total), 15, true)
        << Pad(Num(std::round(d.latency_seconds)) + " s", 10, true) << "  "
        << (d.feasible ? (d.id == rec.design_id ? "RECOMMENDED" : "ok") : "ruled out: " + d.violations.front())
        << "\n";
  }
  out << "\n";
  for (const DesignResult& d : plan.designs) out << "  " << Pad(d.id, 20) << DesignTitle(d.spec) << "\n";

  if (const DesignResult* best = FindDesign(plan, rec.design_id)) {
    out << "\nWhere the money goes in " << best->id << " (horizon totals):\n";
    std::map<std::string, double> by_item;
    for (const LineItem& li : best->items) by_item[li.service + ": " + li.item] += li.cost;
    std::vector<std::pair<std::string, double>> sorted(by_item.begin(), by_item.end());
    std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.second > b.second; });
    for (const auto& [name, cost] : sorted) out << "  " << Pad(Money(cost), 13, true) << "  " << name << "\n";
  }

  out << "\nRecommendation\n";
  for (const std::string& r : rec.reasons) out << "  - " << r << "\n";

  out << "\nBreak-even fleet sizes (steady monthly cost, same per-detector usage)\n";
  if (rec.break_evens.empty()) out << "  none between 1 and " << Num(kMaxBreakEvenDetectors) << " detectors\n";
  for (const BreakEven& b : rec.break_evens) {
    out << "  - " << b.cheaper_above << " becomes cheaper than " << b.cheaper_below << " at "
        << Num(b.detectors) << " detectors\n";
  }
  if (!rec.recommendation_changes.empty()) {
    out << "  The cheapest design that meets the constraints changes as the fleet grows:\n";
    for (const BreakEven& b : rec.recommendation_changes) {
      out << "  - from " << Num(b.detectors) << " detectors: "
          << (b.cheaper_above.empty() ? "no design meets the constraints" : b.cheaper_above)
          << " (was " << (b.cheaper_below.empty() ? "none" : b.cheaper_below) << ")\n";
    }
  }

  if (!rec.aggregation.empty()) {
    out << "\nSensitivity to record size (" << rec.design_id << "'s ingest path, horizon totals)\n";
    for (const SensitivityRow& r : rec.aggregation) {
      out << "  " << Pad(r.label, 36) << Pad(Money(r.total), 15, true)
          << (r.feasible ? "" : "  ruled out: " + r.note) << "\n";
    }
  }
  if (!rec.retention.empty()) {
    out << "\nSensitivity to retention (" << rec.design_id << ", horizon totals";
    out << (p.retention_days > 0 ? ", deleted after " + Num(p.retention_days) + " days" : ", kept") << ")\n";
    for (const SensitivityRow& r : rec.retention) {
      out << "  " << Pad(r.label, 36)
          << (r.feasible ? Pad(Money(r.total), 15, true) : Pad("n/a", 15, true))
          << (r.note.empty() ? "" : "  " + r.note) << "\n";
    }
  }
  if (!rec.registry_options.empty()) {
    out << "\nRegistry options (RDS PostgreSQL, " << Num(p.registry_storage_gb) << " GB gp3, secret; per month)\n";
    for (const RegistryOption& o : rec.registry_options) {
      out << "  " << Pad(o.instance_class, 16) << "single-AZ " << Pad(Money(o.single_az_monthly), 10, true)
          << "   Multi-AZ " << Pad(Money(o.multi_az_monthly), 10, true) << "\n";
    }
  }
  int unconfirmed = 0;
  for (const auto& [k, price] : prices.prices()) unconfirmed += price.confirmed ? 0 : 1;
  out << "\n" << unconfirmed << " of " << prices.prices().size()
      << " prices in the table are not confirmed against AWS (see the table's notes); load current ones with "
         "--offer-file. Every line item: --json. Deploy: --emit cloudformation.\n";
  return out.str();
}

std::string FormatJson(const PlanResult& plan, const Recommendation& rec) {
  nlohmann::ordered_json j;
  j["region"] = plan.profile.region;
  j["horizon_months"] = plan.profile.horizon_months;
  j["price_table"] = plan.price_origin;
  j["recommended"] = rec.design_id;
  j["reasons"] = rec.reasons;
  nlohmann::ordered_json designs = nlohmann::ordered_json::array();
  for (const DesignResult& d : plan.designs) {
    nlohmann::ordered_json dj;
    dj["id"] = d.id;
    dj["title"] = DesignTitle(d.spec);
    dj["feasible"] = d.feasible;
    dj["violations"] = d.violations;
    dj["notes"] = d.notes;
    dj["latency_seconds"] = d.latency_seconds;
    dj["archive_class"] = ArchiveClassName(d.storage.archive);
    dj["total"] = d.total;
    dj["monthly_totals"] = d.monthly_totals;
    designs.push_back(dj);
  }
  j["designs"] = designs;
  nlohmann::ordered_json be = nlohmann::ordered_json::array();
  for (const BreakEven& b : rec.break_evens) {
    be.push_back({{"cheaper_below", b.cheaper_below}, {"cheaper_above", b.cheaper_above}, {"detectors", b.detectors}});
  }
  j["break_evens"] = be;
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const DesignResult& d : plan.designs) {
    for (const LineItem& li : d.items) {
      nlohmann::ordered_json lj;
      lj["design"] = li.design;
      lj["month"] = li.month + 1;
      lj["service"] = li.service;
      lj["item"] = li.item;
      lj["quantity"] = li.quantity;
      lj["unit"] = li.unit;
      lj["unit_price"] = li.unit_price;
      lj["cost"] = li.cost;
      items.push_back(std::move(lj));
    }
  }
  j["line_items"] = items;
  return j.dump(2) + "\n";
}

}  // namespace muon::plan
