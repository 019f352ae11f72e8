#include "sim/generator.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

namespace muon::sim {
namespace {

constexpr double kDegPerRad = 180.0 / std::numbers::pi;
constexpr int64_t kNsPerSecond = 1'000'000'000;

// The simulated telescope: four planes of 16 scintillator strips (X1, Y1 on top,
// X2, Y2 50 cm below), channels plane * 16 + strip, strips 4 cm wide.
constexpr int kPlanes = 4;
constexpr int kStripsPerPlane = 16;
constexpr double kStripWidthCm = 4.0;
constexpr double kPlaneGapCm = 50.0;
constexpr double kLightSpeedCmPerNs = 29.98;
constexpr int kPedestalAdc = 50;
constexpr double kAdcPerMev = 100.0;
constexpr double kMipMevPerPlane = 2.0;  // 1 cm of plastic scintillator at normal incidence
constexpr double kNoiseTriggerHz = 0.3;  // triggers that never become muon lines
constexpr int64_t kDeadNsPerTrigger = 10'000;

}  // namespace

double SampleZenithDeg(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  const double u = u01(rng);  // [0, 1): 1 - u is in (0, 1], so θ is in [0, 90°)
  return std::acos(std::cbrt(1.0 - u)) * kDegPerRad;
}

double ZenithCdf(double zenith_deg) {
  if (zenith_deg <= 0) return 0;
  if (zenith_deg >= 90) return 1;
  const double c = std::cos(zenith_deg / kDegPerRad);
  return 1.0 - c * c * c;
}

std::string SimDetectorId(int index) { return fmt::format("MD-{:04d}", index + 1); }

DetectorGenerator::DetectorGenerator(GeneratorOptions options)
    : options_(std::move(options)),
      rng_(options_.seed),
      next_seq_(options_.first_seq),
      last_t_ns_(options_.start_ns) {
  // Calibrate the muon rate on a private stream of events, so the main stream
  // (and thus the output for a seed) does not depend on the calibration size.
  std::mt19937_64 calibration_rng(options_.seed ^ 0x9e3779b97f4a7c15ull);
  const LineHeader header{options_.detector_id, options_.first_seq + 1'000'000,
                          options_.start_ns + 3600 * kNsPerSecond};
  constexpr int kSamples = 512;
  double muon_bytes = 0;
  std::string line;
  for (int i = 0; i < kSamples; ++i) {
    line.clear();
    AppendMuonLine(header, MakeMuon(calibration_rng), &line);
    muon_bytes += static_cast<double>(line.size() + 1);
  }
  muon_bytes /= kSamples;
  line.clear();
  Housekeeping typical{.temp_c = 21.37, .pressure_hpa = 1013.25, .hv_v = 1450.3,
                       .interval_ns = static_cast<uint64_t>(options_.housekeeping_interval_ns),
                       .triggers = 42, .muons = 40, .dead_ns = 420'000};
  AppendHousekeepingLine(header, typical, &line);
  const double hk_seconds =
      static_cast<double>(options_.housekeeping_interval_ns) / kNsPerSecond;
  const double hk_bytes_per_second = static_cast<double>(line.size() + 1) / hk_seconds;
  muon_rate_hz_ =
      std::max(0.01, (options_.target_bytes_per_second - hk_bytes_per_second) / muon_bytes);

  std::uniform_real_distribution<double> u01(0.0, 1.0);
  base_temp_c_ = 15.0 + 10.0 * u01(rng_);
  pressure_hpa_ = 1005.0 + 15.0 * u01(rng_);
  next_muon_ns_ = options_.start_ns + NextMuonGap();
  last_housekeeping_ns_ = options_.start_ns;
  next_housekeeping_ns_ = options_.start_ns + options_.housekeeping_interval_ns;
}

int64_t DetectorGenerator::NextMuonGap() {
  std::exponential_distribution<double> gap(muon_rate_hz_);
  return std::max<int64_t>(1, static_cast<int64_t>(gap(rng_) * kNsPerSecond));
}

int64_t DetectorGenerator::Stamp(int64_t t_ns) {
  last_t_ns_ = std::max(t_ns, last_t_ns_ + 1);
  return last_t_ns_;
}

void DetectorGenerator::GenerateUntil(int64_t until_ns, std::vector<Line>* out) {
  for (;;) {
    const bool housekeeping_next = next_housekeeping_ns_ <= next_muon_ns_;
    const int64_t t = housekeeping_next ? next_housekeeping_ns_ : next_muon_ns_;
    if (t >= until_ns) return;
    Line line;
    line.seq = next_seq_++;
    line.t_ns = Stamp(t);
    const LineHeader header{options_.detector_id, line.seq, line.t_ns};
    if (housekeeping_next) {
      AppendHousekeepingLine(header, MakeHousekeeping(line.t_ns), &line.text);
      next_housekeeping_ns_ += options_.housekeeping_interval_ns;
    } else {
      AppendMuonLine(header, MakeMuon(rng_), &line.text);
      ++muons_since_housekeeping_;
      next_muon_ns_ += NextMuonGap();
    }
    out->push_back(std::move(line));
  }
}

MuonEvent DetectorGenerator::MakeMuon(std::mt19937_64& rng) const {
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  std::normal_distribution<double> gauss(0.0, 1.0);
  MuonEvent e;
  e.zenith_deg = SampleZenithDeg(rng);
  e.azimuth_deg = 360.0 * u01(rng);
  const double theta = e.zenith_deg / kDegPerRad;
  const double phi = e.azimuth_deg / kDegPerRad;
  const double cos_theta = std::max(std::cos(theta), 0.05);
  // Path length through each plane grows as 1/cosθ (capped: grazing tracks
  // leave the strip).
  const double path_factor = std::min(1.0 / cos_theta, 3.0);
  const double offset_cm = kPlaneGapCm * std::tan(theta);
  const double x_top = kStripsPerPlane * u01(rng);
  const double y_top = kStripsPerPlane * u01(rng);
  const double x_bottom = x_top + offset_cm * std::sin(phi) / kStripWidthCm;
  const double y_bottom = y_top + offset_cm * std::cos(phi) / kStripWidthCm;
  const double bottom_dt = kPlaneGapCm / (kLightSpeedCmPerNs * cos_theta);
  const double positions[kPlanes] = {x_top, y_top, x_bottom, y_bottom};

  double edep = 0;
  auto add_hit = [&](int plane, int strip, double dt, double mev) {
    strip = std::clamp(strip, 0, kStripsPerPlane - 1);
    const int adc = std::clamp(static_cast<int>(kPedestalAdc + mev * kAdcPerMev), 0, kMaxAdc);
    const int jitter = static_cast<int>(std::lround(gauss(rng) * 0.7));
    e.hits.push_back({static_cast<uint16_t>(plane * kStripsPerPlane + strip),
                      std::clamp(static_cast<int>(std::lround(dt)) + jitter, -1000, 1000),
                      static_cast<uint16_t>(adc)});
    edep += static_cast<double>(adc - kPedestalAdc) / kAdcPerMev;
  };
  for (int plane = 0; plane < kPlanes; ++plane) {
    const double dt = plane < 2 ? 0.0 : bottom_dt;
    // Energy loss fluctuates with a long upper tail (Landau-like).
    const double mev = kMipMevPerPlane * path_factor * std::exp(0.35 * gauss(rng));
    const int strip = static_cast<int>(std::floor(positions[plane]));
    // A track near a strip edge shares its light with the neighbour.
    const double frac = positions[plane] - std::floor(positions[plane]);
    if (frac < 0.15 || frac > 0.85) {
      const int neighbour = frac < 0.15 ? strip - 1 : strip + 1;
      const double share = 0.2 + 0.3 * u01(rng);
      add_hit(plane, strip, dt, mev * (1 - share));
      if (neighbour >= 0 && neighbour < kStripsPerPlane) add_hit(plane, neighbour, dt, mev * share);
    } else {
      add_hit(plane, strip, dt, mev);
    }
  }
  if (u01(rng) < 0.05) {  // an uncorrelated noise hit
    const int plane = static_cast<int>(u01(rng) * kPlanes);
    add_hit(plane, static_cast<int>(u01(rng) * kStripsPerPlane), -20 + 60 * u01(rng),
            0.3 * u01(rng));
  }
  std::sort(e.hits.begin(), e.hits.end(), [](const Hit& a, const Hit& b) {
    return a.dt_ns != b.dt_ns ? a.dt_ns < b.dt_ns : a.channel < b.channel;
  });
  e.edep_mev = edep;
  return e;
}

Housekeeping DetectorGenerator::MakeHousekeeping(int64_t t_ns) {
  std::normal_distribution<double> gauss(0.0, 1.0);
  std::poisson_distribution<int> noise(kNoiseTriggerHz *
                                       static_cast<double>(options_.housekeeping_interval_ns) /
                                       kNsPerSecond);
  // Temperature: a daily cycle plus a mean-reverting random walk; pressure: a
  // slow bounded random walk. Both change little between samples.
  temp_offset_c_ = 0.995 * temp_offset_c_ + 0.05 * gauss(rng_);
  pressure_hpa_ = std::clamp(pressure_hpa_ + 0.05 * gauss(rng_), 970.0, 1040.0);
  const double day_fraction =
      static_cast<double>(t_ns % (86400 * kNsPerSecond)) / (86400.0 * kNsPerSecond);
  Housekeeping s;
  s.temp_c = base_temp_c_ + 3.0 * std::sin(2 * std::numbers::pi * day_fraction) + temp_offset_c_;
  s.pressure_hpa = pressure_hpa_;
  s.hv_v = 1450.0 + 0.4 * gauss(rng_);
  s.interval_ns = static_cast<uint64_t>(t_ns - last_housekeeping_ns_);
  s.muons = muons_since_housekeeping_;
  s.triggers = muons_since_housekeeping_ + static_cast<uint64_t>(noise(rng_));
  s.dead_ns = s.triggers * kDeadNsPerTrigger;
  last_housekeeping_ns_ = t_ns;
  muons_since_housekeeping_ = 0;
  return s;
}

}  // namespace muon::sim
