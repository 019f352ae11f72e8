#include "registry/live_status.h"

#include <vector>

namespace muon::registry {

void LiveStatus::OnIngest(std::string_view detector_id, uint64_t records, int64_t at_nanos) {
  std::lock_guard lock(mu_);
  AddLocked(detector_id, records, at_nanos);
}

void LiveStatus::AddLocked(std::string_view detector_id, uint64_t records, int64_t at_nanos) {
  auto it = pending_.find(detector_id);
  if (it == pending_.end()) {
    if (pending_.size() >= kMaxDetectors) return;
    it = pending_.emplace(std::string(detector_id), Pending{}).first;
  }
  it->second.records += records;
  it->second.last_nanos = std::max(it->second.last_nanos, at_nanos);
}

Result<int> LiveStatus::Sweep() {
  const int64_t now = clock_->NowNanos();
  std::unordered_map<std::string, Pending, Hash, std::equal_to<>> batch;
  int64_t window = 0;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
    window = last_sweep_nanos_ > 0 ? now - last_sweep_nanos_ : 0;
  }
  std::vector<Activity> activity;
  activity.reserve(batch.size());
  for (const auto& [id, p] : batch) activity.push_back({id, p.records, p.last_nanos});
  std::vector<std::string> unknown;
  auto moves = registry_->ApplyLiveStatus(activity, now, &unknown);
  std::lock_guard lock(mu_);
  if (!moves.ok()) {
    for (auto& [id, p] : batch) {  // keep for the next sweep
      Pending& q = pending_[id];
      q.records += p.records;
      q.last_nanos = std::max(q.last_nanos, p.last_nanos);
    }
    return moves.status();
  }
  last_sweep_nanos_ = now;
  for (const std::string& id : unknown) {  // not detectors (yet): no figures
    batch.erase(id);
    figures_.erase(id);
  }
  for (auto& [id, f] : figures_) f.records_per_second = 0;
  for (const auto& [id, p] : batch) {
    auto it = figures_.find(id);
    if (it == figures_.end()) {
      if (figures_.size() >= kMaxDetectors) continue;
      it = figures_.emplace(id, Figures{}).first;
    }
    it->second.records += p.records;
    it->second.last_nanos = std::max(it->second.last_nanos, p.last_nanos);
    it->second.records_per_second =
        window > 0 ? static_cast<double>(p.records) * 1e9 / static_cast<double>(window) : 0;
  }
  return moves;
}

std::optional<LiveStatus::Figures> LiveStatus::Of(std::string_view detector_id) const {
  std::lock_guard lock(mu_);
  auto it = figures_.find(detector_id);
  if (it == figures_.end()) return std::nullopt;
  return it->second;
}

}  // namespace muon::registry
