#include "kinesis/usage.h"

#include <algorithm>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "base/json_writer.h"

namespace muon::kinesis {
namespace {

std::string Iso8601(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

UsageTracker::Row& UsageTracker::RowFor(std::string_view key) {
  if (slots_.empty()) slots_.resize(kSlots);
  const uint64_t hash = std::hash<std::string_view>{}(key);
  size_t i = hash & (kSlots - 1);
  while (true) {
    Slot& slot = slots_[i];
    if (slot.row == 0) break;
    if (slot.hash == hash && rows_[slot.row - 1].key == key) return rows_[slot.row - 1];
    i = (i + 1) & (kSlots - 1);
  }
  // A key not seen before: a new row while there is room, else "(other)"
  // (which never takes a slot, so the table stays at most half full).
  if (rows_.size() >= kMaxKeys) {
    if (other_row_ == 0) {
      rows_.push_back(Row{"(other)"});
      other_row_ = static_cast<uint32_t>(rows_.size());
    }
    return rows_[other_row_ - 1];
  }
  rows_.push_back(Row{std::string(key)});
  slots_[i] = Slot{hash, static_cast<uint32_t>(rows_.size())};
  return rows_.back();
}

void UsageTracker::Record(std::span<const Put> puts, int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (const auto& p : puts) {
    Row& row = RowFor(p.key);
    row.records += 1;
    row.bytes += p.bytes;
    row.last_ms = now_ms;
  }
}

void UsageTracker::DrainActivity(
    const std::function<void(std::string_view key, uint64_t records, int64_t last_ms)>& fn) {
  std::lock_guard lock(mu_);
  for (Row& row : rows_) {
    if (row.records == row.drained_records) continue;
    fn(row.key, row.records - row.drained_records, row.last_ms);
    row.drained_records = row.records;
  }
}

std::string UsageTracker::SnapshotJson(int64_t now_ms) const {
  std::vector<Row> rows;
  {
    std::lock_guard lock(mu_);
    rows = rows_;
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.key < b.key; });
  const double seconds = std::max<double>(1.0, static_cast<double>(now_ms - start_ms_) / 1000.0);
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("schema");
  w.String("muonpipe.usage.v1");
  w.Key("generated_at");
  w.String(Iso8601(now_ms));
  w.Key("window_start");
  w.String(Iso8601(start_ms_));
  w.Key("window_end");
  w.String(Iso8601(now_ms));
  w.Key("window_seconds");
  w.Double(seconds);
  w.Key("detector_count");
  w.Uint(rows.size());
  w.Key("detectors");
  w.BeginArray();
  for (const Row& t : rows) {
    w.BeginObject();
    w.Key("id");
    w.String(t.key);
    w.Key("records_per_second");
    w.Double(static_cast<double>(t.records) / seconds);
    w.Key("bytes_per_second");
    w.Double(static_cast<double>(t.bytes) / seconds);
    w.Key("mean_record_bytes");
    w.Double(t.records ? static_cast<double>(t.bytes) / static_cast<double>(t.records) : 0.0);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

}  // namespace muon::kinesis
