// Live status from ingest. The registry does not know where data comes from:
// whatever ingests records (serve wires the Kinesis put path) reports to an
// IngestObserver, and LiveStatus turns those reports into each detector's last
// seen time, record counts and recent rate, and into status moves (silent past
// its threshold: offline, "no data since ..."; data again: active).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/clock.h"
#include "base/status.h"
#include "registry/registry.h"

namespace muon::registry {

class IngestObserver {
 public:
  virtual ~IngestObserver() = default;
  // `records` records of detector `detector_id` were acknowledged at
  // `at_nanos`. Thread-safe, cheap, never blocks on storage.
  virtual void OnIngest(std::string_view detector_id, uint64_t records, int64_t at_nanos) = 0;
};

class LiveStatus final : public IngestObserver {
 public:
  // At most this many detectors are followed in memory; reports of others are
  // dropped until the next Sweep (ids that are not in the registry are
  // forgotten at each Sweep).
  static constexpr size_t kMaxDetectors = 100'000;

  // `registry` and `clock` must outlive this.
  LiveStatus(Registry* registry, const Clock* clock) : registry_(registry), clock_(clock) {}

  void OnIngest(std::string_view detector_id, uint64_t records, int64_t at_nanos) override;

  // Writes what arrived since the last Sweep into the registry and applies
  // the status moves (Registry::ApplyLiveStatus). Call periodically from one
  // thread. Returns the number of status moves. On failure the reports are
  // kept for the next Sweep.
  Result<int> Sweep();

  struct Figures {
    int64_t last_nanos = 0;
    uint64_t records = 0;          // since this process started
    double records_per_second = 0;  // over the window between the last two sweeps
  };
  // What this process has seen of a detector; nullopt if nothing.
  std::optional<Figures> Of(std::string_view detector_id) const;

 private:
  struct Pending {
    uint64_t records = 0;
    int64_t last_nanos = 0;
  };
  void AddLocked(std::string_view detector_id, uint64_t records, int64_t at_nanos);  // requires mu_
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  Registry* const registry_;
  const Clock* const clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Pending, Hash, std::equal_to<>> pending_;  // guarded by mu_
  std::unordered_map<std::string, Figures, Hash, std::equal_to<>> figures_;  // guarded by mu_
  int64_t last_sweep_nanos_ = 0;                                             // guarded by mu_
};

}  // namespace muon::registry
