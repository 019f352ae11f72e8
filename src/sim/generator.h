// A simulated muon detector: produces canonical record lines (sim/record.h) in
// virtual time. Muon events arrive as a Poisson process whose rate is chosen so
// that the detector's output averages `target_bytes_per_second`; a
// housekeeping sample follows every `housekeeping_interval_ns`.
//
// Deterministic: the same options give the same lines. Not thread-safe; one
// generator per detector, owned by one thread.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sim/record.h"

namespace muon::sim {

struct GeneratorOptions {
  std::string detector_id = "MD-0001";
  uint64_t seed = 1;
  double target_bytes_per_second = 1024;  // counting each line's '\n'
  int64_t housekeeping_interval_ns = 10'000'000'000;
  // Wall-clock time (ns since the Unix epoch) the detector starts; no line is
  // stamped at or before it.
  int64_t start_ns = 0;
  // seq of the first line. Real detectors persist their counter; the simulator
  // starts at the run's start time in microseconds so a restart never reuses
  // a (detector, seq) pair while it emits fewer than 10^6 lines/s.
  uint64_t first_seq = 0;
};

struct Line {
  uint64_t seq = 0;
  int64_t t_ns = 0;
  std::string text;  // without '\n'
};

class DetectorGenerator {
 public:
  explicit DetectorGenerator(GeneratorOptions options);

  // Appends to *out, in seq order, every line stamped before until_ns that has
  // not been produced yet. seq rises by one per line; t_ns strictly increases.
  void GenerateUntil(int64_t until_ns, std::vector<Line>* out);

  const std::string& detector_id() const { return options_.detector_id; }
  double muon_rate_hz() const { return muon_rate_hz_; }
  uint64_t next_seq() const { return next_seq_; }

 private:
  MuonEvent MakeMuon(std::mt19937_64& rng) const;
  Housekeeping MakeHousekeeping(int64_t t_ns);
  int64_t NextMuonGap();
  int64_t Stamp(int64_t t_ns);

  GeneratorOptions options_;
  std::mt19937_64 rng_;
  double muon_rate_hz_ = 0;
  uint64_t next_seq_ = 0;
  int64_t last_t_ns_ = 0;
  int64_t next_muon_ns_ = 0;
  int64_t next_housekeeping_ns_ = 0;
  int64_t last_housekeeping_ns_ = 0;
  uint64_t muons_since_housekeeping_ = 0;
  // Slow drifts, advanced once per housekeeping sample.
  double temp_offset_c_ = 0;
  double pressure_hpa_ = 1013.25;
  double base_temp_c_ = 20;
};

// Zenith angle in degrees drawn from pdf ∝ cos²θ sinθ on [0°, 90°) by inverse
// transform: the CDF is F(θ) = 1 − cos³θ, so θ = acos((1 − u)^(1/3)).
double SampleZenithDeg(std::mt19937_64& rng);
// F(θ) = 1 − cos³θ for θ in degrees.
double ZenithCdf(double zenith_deg);

// "MD-0001" for index 0 (at least four digits).
std::string SimDetectorId(int index);

}  // namespace muon::sim
