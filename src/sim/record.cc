#include "sim/record.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace muon::sim {
namespace {

// Rounds to `decimals` places, then keeps the printed value inside [lo, hi_exclusive):
// 89.996 would otherwise print as "90.00", outside the zenith range.
double RoundInto(double v, int decimals, double lo, double hi_exclusive) {
  const double scale = std::pow(10.0, decimals);
  double r = std::round(v * scale) / scale;
  if (r < lo) r = lo;
  if (r >= hi_exclusive) r = hi_exclusive - 1.0 / scale;
  return r;
}

void AppendHeader(const LineHeader& h, std::string_view kind, std::string* out) {
  fmt::format_to(std::back_inserter(*out), R"({{"v":{},"det":"{}","seq":{},"t_ns":{},"kind":"{}")",
                 kRecordVersion, h.detector_id, h.seq, h.t_ns, kind);
}

}  // namespace

void AppendMuonLine(const LineHeader& header, const MuonEvent& e, std::string* out) {
  AppendHeader(header, "muon", out);
  double azimuth = std::fmod(e.azimuth_deg, 360.0);
  if (azimuth < 0) azimuth += 360.0;
  azimuth = std::round(azimuth * 100.0) / 100.0;
  if (azimuth >= 360.0) azimuth -= 360.0;
  fmt::format_to(std::back_inserter(*out), R"(,"zenith_deg":{:.2f},"azimuth_deg":{:.2f},"edep_mev":{:.2f},"hits":[)",
                 RoundInto(e.zenith_deg, 2, 0.0, 90.0), azimuth,
                 RoundInto(e.edep_mev, 2, 0.0, 1e9));
  const size_t n = std::min<size_t>(e.hits.size(), kMaxHits);
  for (size_t i = 0; i < n; ++i) {
    const Hit& h = e.hits[i];
    fmt::format_to(std::back_inserter(*out), R"({}{{"ch":{},"dt_ns":{},"adc":{}}})",
                   i == 0 ? "" : ",", h.channel, h.dt_ns, h.adc);
  }
  out->append("]}");
}

void AppendHousekeepingLine(const LineHeader& header, const Housekeeping& s, std::string* out) {
  AppendHeader(header, "housekeeping", out);
  fmt::format_to(std::back_inserter(*out),
                 R"(,"temp_c":{:.2f},"pressure_hpa":{:.2f},"hv_v":{:.1f},"interval_ns":{},)"
                 R"("triggers":{},"muons":{},"dead_ns":{}}})",
                 RoundInto(s.temp_c, 2, -40.0, 85.01), RoundInto(s.pressure_hpa, 2, 300.0, 1100.01),
                 RoundInto(s.hv_v, 1, 0.0, 3000.1), s.interval_ns, s.triggers, s.muons,
                 std::min(s.dead_ns, s.interval_ns));
}

bool IsValidDetectorId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
  });
}

}  // namespace muon::sim
