// Ingest figures per partition key (by muonpipe's record convention the
// partition key is the detector id: docs/records.md), for the cost planner
// (`muonpipe plan --from-data-dir`) and the fleet views. Thread-safe.
//
// The snapshot is the usage.json document of docs/plan.md, schema
// "muonpipe.usage.v1": averages since the tracker started.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace muon::kinesis {

class UsageTracker {
 public:
  // At most this many distinct keys are tracked; further keys are counted
  // under "(other)" so memory stays bounded whatever clients send.
  static constexpr size_t kMaxKeys = 100'000;

  explicit UsageTracker(int64_t start_ms) : start_ms_(start_ms) {}

  struct Put {
    std::string_view key;
    uint64_t bytes;
  };
  // Counts one acknowledged batch.
  void Record(std::span<const Put> puts);

  // The usage.json document as of now_ms.
  std::string SnapshotJson(int64_t now_ms) const;

 private:
  struct Totals {
    uint64_t records = 0;
    uint64_t bytes = 0;
  };
  // Lets find() take a string_view: no allocation per record on the put path.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  const int64_t start_ms_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Totals, KeyHash, std::equal_to<>> by_key_;  // guarded by mu_
};

}  // namespace muon::kinesis
