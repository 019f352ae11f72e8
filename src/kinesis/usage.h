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
#include <vector>

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
  // Counts one acknowledged batch, acknowledged at now_ms.
  void Record(std::span<const Put> puts, int64_t now_ms);

  // Calls fn(key, records, last_ms) for every key with records counted since
  // the previous drain: how many, and when the last was acknowledged. This is
  // how the registry learns which detectors are alive without a second
  // per-record hook on the put path. Do not call Record from fn.
  void DrainActivity(
      const std::function<void(std::string_view key, uint64_t records, int64_t last_ms)>& fn);

  // The usage.json document as of now_ms.
  std::string SnapshotJson(int64_t now_ms) const;

 private:
  struct Row {
    std::string key;
    uint64_t records = 0;
    uint64_t bytes = 0;
    int64_t last_ms = 0;
    uint64_t drained_records = 0;  // records at the previous DrainActivity
  };
  // Open addressing with linear probing over a table sized for kMaxKeys at
  // half load: one probe into a flat array per record on the put path (this
  // runs for every acknowledged record), no allocation once a key is known.
  struct Slot {
    uint64_t hash = 0;
    uint32_t row = 0;  // index into rows_ plus one; 0 = empty
  };
  static constexpr size_t kSlots = 262'144;  // power of two, > 2 * kMaxKeys
  Row& RowFor(std::string_view key);         // requires mu_

  const int64_t start_ms_;
  mutable std::mutex mu_;
  std::vector<Slot> slots_;  // guarded by mu_; allocated at the first record
  std::vector<Row> rows_;    // guarded by mu_
  uint32_t other_row_ = 0;   // guarded by mu_; row of "(other)" plus one
};

}  // namespace muon::kinesis
