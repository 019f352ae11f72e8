// Test-only: checks a line against every rule of docs/records.md.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace muon::sim::testing {

// Empty when `line` is a valid canonical line, else what is wrong.
inline std::string CheckCanonicalLine(const std::string& line) {
  using nlohmann::json;
  if (line.find('\n') != std::string::npos) return "line holds a newline";
  if (line.size() > 4096) return "line longer than 4096 bytes";
  json j = json::parse(line, nullptr, false);
  if (!j.is_object()) return "not a JSON object";
  auto uint_field = [&](const char* k) { return j.contains(k) && j[k].is_number_unsigned(); };
  auto num_in = [&](const char* k, double lo, double hi, bool hi_open) {
    if (!j.contains(k) || !j[k].is_number()) return false;
    const double v = j[k].get<double>();
    return v >= lo && (hi_open ? v < hi : v <= hi);
  };
  if (!j.contains("v") || j["v"] != 1) return "v is not 1";
  if (!j.contains("det") || !j["det"].is_string() || j["det"].get<std::string>().empty()) {
    return "det missing";
  }
  if (!uint_field("seq")) return "seq missing or not an unsigned integer";
  if (!j.contains("t_ns") || !j["t_ns"].is_number_integer()) return "t_ns not an integer";
  if (!j.contains("kind") || !j["kind"].is_string()) return "kind missing";
  const std::string kind = j["kind"];
  if (kind == "muon") {
    // Direction is null for detectors that cannot reconstruct it.
    auto null_or = [&](const char* k) { return j.contains(k) && j[k].is_null(); };
    if (!null_or("zenith_deg") && !num_in("zenith_deg", 0, 90, true)) {
      return "zenith_deg out of [0, 90)";
    }
    if (!null_or("azimuth_deg") && !num_in("azimuth_deg", 0, 360, true)) {
      return "azimuth_deg out of [0, 360)";
    }
    if (!num_in("edep_mev", 0, 1e6, false)) return "edep_mev negative or missing";
    if (!j.contains("hits") || !j["hits"].is_array()) return "hits not an array";
    const json& hits = j["hits"];
    if (hits.empty() || hits.size() > 64) return "hits count out of 1..64";
    for (const json& h : hits) {
      if (!h.is_object() || !h.contains("ch") || !h["ch"].is_number_unsigned() ||
          h["ch"].get<int>() > 1023) {
        return "hit ch out of 0..1023";
      }
      if (!h.contains("dt_ns") || !h["dt_ns"].is_number_integer() ||
          std::abs(h["dt_ns"].get<int>()) > 1000) {
        return "hit dt_ns out of -1000..1000";
      }
      if (!h.contains("adc") || !h["adc"].is_number_unsigned() || h["adc"].get<int>() > 4095) {
        return "hit adc out of 0..4095";
      }
    }
    return "";
  }
  if (kind == "housekeeping") {
    if (!num_in("temp_c", -40, 85, false)) return "temp_c out of range";
    if (!num_in("pressure_hpa", 300, 1100, false)) return "pressure_hpa out of range";
    if (!num_in("hv_v", 0, 3000, false)) return "hv_v out of range";
    for (const char* k : {"interval_ns", "triggers", "muons", "dead_ns"}) {
      if (!uint_field(k)) return std::string(k) + " not an unsigned integer";
    }
    if (j["triggers"].get<uint64_t>() < j["muons"].get<uint64_t>()) return "triggers < muons";
    if (j["dead_ns"].get<uint64_t>() > j["interval_ns"].get<uint64_t>()) {
      return "dead_ns > interval_ns";
    }
    return "";
  }
  return "unknown kind '" + kind + "'";
}

}  // namespace muon::sim::testing
