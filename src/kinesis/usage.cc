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

void UsageTracker::Record(std::span<const Put> puts) {
  std::lock_guard lock(mu_);
  for (const auto& p : puts) {
    auto it = by_key_.find(p.key);
    if (it == by_key_.end()) {
      std::string key = by_key_.size() < kMaxKeys ? std::string(p.key) : "(other)";
      it = by_key_.try_emplace(std::move(key)).first;
    }
    it->second.records += 1;
    it->second.bytes += p.bytes;
  }
}

std::string UsageTracker::SnapshotJson(int64_t now_ms) const {
  std::vector<std::pair<std::string, Totals>> rows;
  {
    std::lock_guard lock(mu_);
    rows.assign(by_key_.begin(), by_key_.end());
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
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
  for (const auto& [key, t] : rows) {
    w.BeginObject();
    w.Key("id");
    w.String(key);
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
