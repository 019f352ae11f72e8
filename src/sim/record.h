// The canonical muon record (docs/records.md): one JSON object per line, one
// muon event or one housekeeping sample per line. This header formats lines;
// the layout itself is specified once, in docs/records.md.
//
//   {"v":1,"det":"MD-0001","seq":N,"t_ns":T,"kind":"muon","zenith_deg":..,
//    "azimuth_deg":..,"edep_mev":..,"hits":[{"ch":..,"dt_ns":..,"adc":..},..]}
//   {"v":1,"det":"MD-0001","seq":N,"t_ns":T,"kind":"housekeeping","temp_c":..,
//    "pressure_hpa":..,"hv_v":..,"interval_ns":..,"triggers":..,"muons":..,"dead_ns":..}
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace muon::sim {

inline constexpr int kRecordVersion = 1;
// No canonical line (without its '\n') is longer than this.
inline constexpr size_t kMaxLineBytes = 4096;
inline constexpr int kMaxHits = 64;
inline constexpr int kMaxChannel = 1023;
inline constexpr int kMaxAdc = 4095;

struct Hit {
  uint16_t channel = 0;  // 0..kMaxChannel
  int32_t dt_ns = 0;     // relative to the line's t_ns, -1000..1000
  uint16_t adc = 0;      // 0..kMaxAdc
};

struct MuonEvent {
  double zenith_deg = 0;   // [0, 90)
  double azimuth_deg = 0;  // [0, 360), clockwise from geographic north
  double edep_mev = 0;     // >= 0
  std::vector<Hit> hits;   // 1..kMaxHits, sorted by (dt_ns, channel)
};

struct Housekeeping {
  double temp_c = 0;        // -40..85
  double pressure_hpa = 0;  // 300..1100
  double hv_v = 0;          // 0..3000
  // Counters cover (previous housekeeping t_ns, this t_ns]; interval_ns is that span.
  uint64_t interval_ns = 0;
  uint64_t triggers = 0;  // hardware triggers in the interval (>= muons)
  uint64_t muons = 0;     // muon lines emitted in the interval
  uint64_t dead_ns = 0;   // time the detector could not trigger (<= interval_ns)
};

struct LineHeader {
  std::string_view detector_id;  // e.g. "MD-0001"; JSON-safe (letters, digits, '-', '_', '.')
  uint64_t seq = 0;
  int64_t t_ns = 0;
};

// Append one line, without the trailing '\n'. Floating-point fields are
// rounded to the precision docs/records.md gives, keeping them in range.
void AppendMuonLine(const LineHeader& header, const MuonEvent& event, std::string* out);
void AppendHousekeepingLine(const LineHeader& header, const Housekeeping& sample,
                            std::string* out);

// True when id may be used as a detector id: 1..64 of [A-Za-z0-9_.-].
bool IsValidDetectorId(std::string_view id);

}  // namespace muon::sim
