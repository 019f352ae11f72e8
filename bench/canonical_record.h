// The bench programs' record payloads, one generator for all of them so that
// their figures describe the same data.
//   json:   muonpipe's canonical record — one muon event as JSON, padded with
//           hits and spaces to exactly `size` bytes; compresses like real
//           detector data (about 5:1 with gzip level 1).
//   random: `size` random bytes, incompressible (the compressor's worst case).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace muon::bench {

inline bool IsPayloadName(std::string_view name) { return name == "json" || name == "random"; }

// Record number `i` of a run, exactly `size` bytes (size >= 64 for json).
inline std::string PayloadRecord(std::string_view payload, std::mt19937_64& rng, size_t size,
                                 uint64_t i) {
  std::string s;
  if (payload == "random") {
    s.resize(size);
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }
  std::uniform_real_distribution<double> angle(0, 90), az(0, 360), energy(0.1, 40);
  s = fmt::format(
      "{{\"detector\":\"mdet-{:04d}\",\"seq\":{},\"t_ns\":{},\"kind\":\"muon\","
      "\"zenith_deg\":{:.4f},\"azimuth_deg\":{:.4f},\"energy_gev\":{:.3f},\"hits\":[",
      rng() % 5000, i, 1'764'000'000'000'000'000ull + i * 997'331, angle(rng), az(rng),
      energy(rng));
  bool first = true;
  while (s.size() + 40 < size) {
    s += fmt::format("{}{{\"ch\":{},\"adc\":{}}}", first ? "" : ",", rng() % 64, rng() % 4096);
    first = false;
  }
  s += "]";
  while (s.size() + 1 < size) s += ' ';
  s += "}";
  return s;
}

}  // namespace muon::bench
