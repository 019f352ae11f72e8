#include "base/metrics.h"

#include <fmt/format.h>

namespace muon {

const std::array<double, Histogram::kBuckets>& Histogram::Bounds() {
  static const std::array<double, kBuckets> bounds = [] {
    std::array<double, kBuckets> b{};
    double v = 50e-6;
    for (auto& x : b) {
      x = v;
      v *= 2;
    }
    return b;
  }();
  return bounds;
}

void Histogram::Observe(double seconds) {
  const auto& b = Bounds();
  int i = 0;
  while (i < kBuckets && seconds > b[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

Counter* MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const std::string& labels) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  f.help = help;
  f.type = "counter";
  auto& slot = f.counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                 const std::string& labels) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  f.help = help;
  f.type = "gauge";
  auto& slot = f.gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

Histogram* MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const std::string& labels) {
  std::lock_guard lock(mu_);
  Family& f = families_[name];
  f.help = help;
  f.type = "histogram";
  auto& slot = f.histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>();
  return slot.get();
}

namespace {
std::string Braced(const std::string& labels, const std::string& extra = "") {
  std::string all = labels;
  if (!extra.empty()) all += (all.empty() ? "" : ",") + extra;
  return all.empty() ? "" : "{" + all + "}";
}
}  // namespace

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
    for (const auto& [l, c] : f.counters) out += fmt::format("{}{} {}\n", name, Braced(l), c->Value());
    for (const auto& [l, g] : f.gauges) out += fmt::format("{}{} {}\n", name, Braced(l), g->Value());
    for (const auto& [l, h] : f.histograms) {
      uint64_t cumulative = 0;
      const auto& bounds = Histogram::Bounds();
      for (int i = 0; i < Histogram::kBuckets; ++i) {
        cumulative += h->BucketCount(i);
        out += fmt::format("{}_bucket{} {}\n", name,
                           Braced(l, fmt::format("le=\"{:g}\"", bounds[i])), cumulative);
      }
      cumulative += h->BucketCount(Histogram::kBuckets);
      out += fmt::format("{}_bucket{} {}\n", name, Braced(l, "le=\"+Inf\""), cumulative);
      out += fmt::format("{}_sum{} {:.6f}\n", name, Braced(l), h->Sum());
      out += fmt::format("{}_count{} {}\n", name, Braced(l), h->Count());
    }
  }
  return out;
}

MetricsRegistry* MetricsRegistry::Global() {
  static MetricsRegistry* r = new MetricsRegistry();
  return r;
}

}  // namespace muon
