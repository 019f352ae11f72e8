#include "kinesis/service.h"

#include <openssl/rand.h>
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "base/base64.h"
#include "base/json_writer.h"
#include "base/log.h"
#include "base/metrics.h"
#include "kinesis/api_error.h"
#include "kinesis/hash_key.h"
#include "kinesis/iterator.h"
#include "kinesis/sequence_number.h"
#include "kinesis/usage.h"

namespace muon::kinesis {
namespace {

using nlohmann::json;

constexpr size_t kMaxRecordBytes = 1024 * 1024;           // Data, per record (default)
constexpr size_t kMaxPutRecordsBytes = 5 * 1024 * 1024;   // Data + keys, per PutRecords
constexpr size_t kMaxPutRecordsEntries = 500;
constexpr size_t kMaxGetRecordsBytes = 10 * 1024 * 1024;
constexpr int kMaxGetRecordsLimit = 10000;
constexpr int kMinRetentionHours = 24;
constexpr int kMaxRetentionHours = 8760;
constexpr int kMaxTagsPerStream = 50;
constexpr int kCatalogVersion = 1;

// Token bucket for the optional per-shard write limits.
struct Bucket {
  double tokens = 0;
  int64_t last_ms = 0;
  // Takes n tokens if available, refilling at rate/s up to rate.
  bool Take(double n, double rate, int64_t now_ms) {
    if (last_ms == 0) {
      tokens = rate;
    } else {
      tokens = std::min(rate, tokens + rate * static_cast<double>(now_ms - last_ms) / 1000.0);
    }
    last_ms = now_ms;
    if (tokens < n) return false;
    tokens -= n;
    return true;
  }
};

struct Shard {
  uint32_t index = 0;
  HashRange range;
  std::string log_id;
  std::shared_ptr<streamlog::ShardLog> log;
  std::mutex throttle_mu;
  Bucket bytes;    // guarded by throttle_mu
  Bucket records;  // guarded by throttle_mu

  std::string Id() const { return fmt::format("shardId-{:012d}", index); }
};

struct Stream {
  std::string name;
  std::string arn;
  uint64_t incarnation = 0;  // creation time, Unix ns
  bool on_demand = false;
  int max_record_kib = 1024;
  std::vector<HashRange> ranges;
  std::vector<std::unique_ptr<Shard>> shards;

  mutable std::mutex mu;
  int retention_hours = 24;                // guarded by mu
  std::map<std::string, std::string> tags;  // guarded by mu
};

std::string ShardIdOf(uint32_t index) { return fmt::format("shardId-{:012d}", index); }

std::optional<uint32_t> ParseShardId(std::string_view id) {
  constexpr std::string_view kPrefix = "shardId-";
  if (id.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view digits = id.substr(kPrefix.size());
  if (digits.empty() || digits.size() > 12) return std::nullopt;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

bool ValidStreamName(std::string_view n) {
  if (n.empty() || n.size() > 128) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// Length in Unicode code points, as AWS counts string lengths.
size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

double EpochSeconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

// A JSON 1.1 timestamp: epoch seconds as a number, or an ISO-8601 string.
std::optional<int64_t> TimestampMillis(const json& v) {
  if (v.is_number()) return static_cast<int64_t>(std::llround(v.get<double>() * 1000.0));
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    std::tm tm{};
    double frac = 0;
    int consumed = 0;
    if (sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) == 6) {
      tm.tm_year -= 1900;
      tm.tm_mon -= 1;
      const char* rest = s.c_str() + consumed;
      if (*rest == '.') frac = std::strtod(rest, nullptr);
      return static_cast<int64_t>(timegm(&tm)) * 1000 + static_cast<int64_t>(frac * 1000);
    }
  }
  return std::nullopt;
}

// Reads an optional integer member `key` bounded to [lo, hi] into *out (left
// as it was when absent); `field` is the member's name in AWS's messages.
std::optional<ApiError> BoundedInt(const json& req, const char* key, const char* field,
                                   int64_t lo, int64_t hi, int64_t* out) {
  if (!req.contains(key)) return std::nullopt;
  if (!req[key].is_number_integer()) {
    return ApiError::Serialization(fmt::format("{} must be an integer", key));
  }
  int64_t v = req[key];
  if (v < lo || v > hi) {
    return ValidationError(std::to_string(v), field,
                           fmt::format("Member must have value between {} and {}", lo, hi));
  }
  *out = v;
  return std::nullopt;
}

class KinesisServiceImpl final : public KinesisService {
 public:
  KinesisServiceImpl(std::string dir, KinesisOptions options, streamlog::LogStore* logs, Env* env,
                     Clock* clock, const auth::Authorizer* authorizer,
                     std::array<uint8_t, 32> iterator_key)
      : dir_(std::move(dir)),
        options_(std::move(options)),
        logs_(logs),
        env_(env),
        clock_(clock),
        authorizer_(authorizer),
        iterators_(iterator_key),
        usage_(clock->NowMillis()) {
    auto* m = MetricsRegistry::Global();
    records_in_ = m->GetCounter("muonpipe_kinesis_records_in_total",
                                "Records acknowledged by PutRecord(s)");
    bytes_in_ = m->GetCounter("muonpipe_kinesis_bytes_in_total", "Data bytes acknowledged");
    records_out_ = m->GetCounter("muonpipe_kinesis_records_out_total",
                                 "Records returned by GetRecords");
    failed_records_ = m->GetCounter("muonpipe_kinesis_failed_records_total",
                                    "Records refused in PutRecords results");
  }

  Status Load();

  void Call(std::string_view operation, std::string body, const auth::Caller& caller,
            Reply reply) override;
  Status EnforceRetention() override;
  std::string UsageJson() const override { return usage_.SnapshotJson(clock_->NowMillis()); }
  void DrainActivity(const std::function<void(std::string_view, uint64_t, int64_t)>& fn) override {
    usage_.DrainActivity(fn);
  }
  Result<StreamShards> ShardsOf(std::string_view stream_name) const override {
    std::shared_lock lock(streams_mu_);
    auto it = streams_.find(std::string(stream_name));
    if (it == streams_.end()) {
      return Status::NotFound(fmt::format("stream {} does not exist", stream_name));
    }
    StreamShards out;
    out.arn = it->second->arn;
    out.incarnation = it->second->incarnation;
    for (const auto& shard : it->second->shards) out.shards.emplace_back(shard->Id(), shard->log);
    return out;
  }
  size_t StreamCount() const override {
    std::shared_lock lock(streams_mu_);
    return streams_.size();
  }

 private:
  using Outcome = std::variant<std::string, ApiError>;  // JSON body or error

  static void Finish(const Reply& reply, Outcome outcome) {
    if (auto* e = std::get_if<ApiError>(&outcome)) {
      reply(e->http_status, e->ToJson());
    } else {
      reply(200, std::move(std::get<std::string>(outcome)));
    }
  }

  std::string Arn(std::string_view name) const {
    return fmt::format("arn:aws:kinesis:{}:{}:stream/{}", options_.region, options_.account_id,
                       name);
  }
  std::optional<ApiError> Authorize(const auth::Caller& caller, std::string_view op,
                                    std::string_view stream) const {
    Status s = authorizer_->Authorize(caller, fmt::format("kinesis:{}", op),
                                      stream.empty() ? std::string("*") : Arn(stream));
    if (s.ok()) return std::nullopt;
    return ApiError::AccessDenied(s.message());
  }

  std::shared_ptr<Stream> Find(std::string_view name) const {
    std::shared_lock lock(streams_mu_);
    auto it = streams_.find(std::string(name));
    return it == streams_.end() ? nullptr : it->second;
  }
  ApiError NotFound(std::string_view name) const {
    return ApiError::ResourceNotFound(
        fmt::format("Stream {} under account {} not found.", name, options_.account_id));
  }

  // Resolves StreamName / StreamARN from a request.
  std::variant<std::string, ApiError> StreamNameOf(const json& req) const;
  std::variant<std::shared_ptr<Stream>, ApiError> StreamOf(const json& req,
                                                           const auth::Caller& caller,
                                                           std::string_view op) const;

  Status SaveCatalog();  // requires catalog_mu_
  Result<std::shared_ptr<Stream>> Materialise(const std::string& name, uint64_t incarnation,
                                              int shard_count, bool on_demand, bool create_logs);

  Outcome CreateStream(const json& req, const auth::Caller& caller);
  Outcome DeleteStream(const json& req, const auth::Caller& caller);
  Outcome ListStreams(const json& req, const auth::Caller& caller);
  Outcome DescribeStream(const json& req, const auth::Caller& caller, bool summary);
  Outcome ListShards(const json& req, const auth::Caller& caller);
  Outcome ChangeRetention(const json& req, const auth::Caller& caller, bool increase);
  Outcome AddTags(const json& req, const auth::Caller& caller);
  Outcome ListTags(const json& req, const auth::Caller& caller);
  Outcome GetShardIterator(const json& req, const auth::Caller& caller);
  Outcome GetRecords(std::string& body, const auth::Caller& caller);
  void PutRecords(std::string& body, const auth::Caller& caller, bool single, Reply reply);

  void WriteShardJson(JsonWriter& w, const Stream& s, const Shard& shard) const;
  void WriteStreamSummaryFields(JsonWriter& w, const Stream& s) const;

  const std::string dir_;
  const KinesisOptions options_;
  streamlog::LogStore* const logs_;
  Env* const env_;
  Clock* const clock_;
  const auth::Authorizer* const authorizer_;
  const IteratorCodec iterators_;
  UsageTracker usage_;

  // Serialises changes to the set of streams and their persisted metadata.
  std::mutex catalog_mu_;
  mutable std::shared_mutex streams_mu_;
  std::map<std::string, std::shared_ptr<Stream>> streams_;  // guarded by streams_mu_
  std::atomic<int> total_shards_{0};

  Counter* records_in_;
  Counter* bytes_in_;
  Counter* records_out_;
  Counter* failed_records_;
};

std::string LogIdOf(const std::string& name, uint64_t incarnation, uint32_t index) {
  return fmt::format("{}-{}-{:06d}", name, incarnation, index);
}

Result<std::shared_ptr<Stream>> KinesisServiceImpl::Materialise(const std::string& name,
                                                                uint64_t incarnation,
                                                                int shard_count, bool on_demand,
                                                                bool create_logs) {
  auto s = std::make_shared<Stream>();
  s->name = name;
  s->arn = Arn(name);
  s->incarnation = incarnation;
  s->on_demand = on_demand;
  s->ranges = SplitKeySpace(shard_count);
  for (int i = 0; i < shard_count; ++i) {
    auto shard = std::make_unique<Shard>();
    shard->index = static_cast<uint32_t>(i);
    shard->range = s->ranges[i];
    shard->log_id = LogIdOf(name, incarnation, shard->index);
    auto log = create_logs ? logs_->CreateLog(shard->log_id) : logs_->GetLog(shard->log_id);
    if (!log.ok() && !create_logs && log.status().code() == StatusCode::kNotFound) {
      // The catalogue names a shard whose log never got created (crash during
      // CreateStream before any put was acknowledged): an empty log is right.
      log = logs_->CreateLog(shard->log_id);
    }
    if (!log.ok()) return log.status().WithContext(fmt::format("stream {} shard {}", name, i));
    shard->log = std::move(log).value();
    s->shards.push_back(std::move(shard));
  }
  return s;
}

Status KinesisServiceImpl::Load() {
  MUON_RETURN_IF_ERROR(env_->CreateDirs(dir_));
  std::string path = JoinPath(dir_, "streams.json");
  std::set<std::string> live_logs;
  if (env_->FileExists(path)) {
    MUON_ASSIGN_OR_RETURN(std::string text, env_->ReadFile(path));
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("streams")) {
      return Status::Corruption(fmt::format("{}: not a muonpipe stream catalogue", path));
    }
    if (doc.value("version", 0) > kCatalogVersion) {
      return Status::FailedPrecondition(fmt::format(
          "{} was written by a newer muonpipe (catalogue version {}); upgrade muonpipe", path,
          doc.value("version", 0)));
    }
    for (const auto& e : doc["streams"]) {
      std::string name = e.at("name");
      auto s = Materialise(name, e.at("incarnation").get<uint64_t>(), e.at("shard_count").get<int>(),
                           e.value("mode", "PROVISIONED") == "ON_DEMAND", false);
      if (!s.ok()) return s.status();
      (*s)->retention_hours = e.value("retention_hours", 24);
      (*s)->max_record_kib = e.value("max_record_kib", 1024);
      if (e.contains("tags")) (*s)->tags = e["tags"].get<std::map<std::string, std::string>>();
      for (const auto& shard : (*s)->shards) live_logs.insert(shard->log_id);
      total_shards_ += static_cast<int>((*s)->shards.size());
      streams_[name] = std::move(s).value();
    }
  }
  // Logs no stream names are left from a DeleteStream or CreateStream cut
  // short by a crash; nothing in them was acknowledged under a live stream.
  for (const auto& id : logs_->ListLogs()) {
    if (!live_logs.count(id)) {
      log::info("kinesis: removing orphaned shard log {}", id);
      MUON_RETURN_IF_ERROR(logs_->DeleteLog(id));
    }
  }
  return Status::Ok();
}

Status KinesisServiceImpl::SaveCatalog() {
  json doc;
  doc["version"] = kCatalogVersion;
  doc["streams"] = json::array();
  {
    std::shared_lock lock(streams_mu_);
    for (const auto& [name, s] : streams_) {
      std::lock_guard slock(s->mu);
      doc["streams"].push_back({{"name", name},
                                {"incarnation", s->incarnation},
                                {"shard_count", s->shards.size()},
                                {"mode", s->on_demand ? "ON_DEMAND" : "PROVISIONED"},
                                {"retention_hours", s->retention_hours},
                                {"max_record_kib", s->max_record_kib},
                                {"tags", s->tags}});
    }
  }
  return env_->WriteFileAtomic(JoinPath(dir_, "streams.json"), doc.dump(2));
}

std::variant<std::string, ApiError> KinesisServiceImpl::StreamNameOf(const json& req) const {
  std::string name, arn_name;
  if (req.contains("StreamName")) {
    if (!req["StreamName"].is_string()) return ApiError::Serialization("StreamName must be a string");
    name = req["StreamName"];
    if (!ValidStreamName(name)) {
      return ValidationError(name, "streamName",
                             "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ "
                             "and have length between 1 and 128");
    }
  }
  if (req.contains("StreamARN")) {
    if (!req["StreamARN"].is_string()) return ApiError::Serialization("StreamARN must be a string");
    std::string arn = req["StreamARN"];
    auto slash = arn.find(":stream/");
    if (arn.rfind("arn:aws", 0) != 0 || slash == std::string::npos) {
      return ValidationError(arn, "streamARN",
                             "Member must satisfy regular expression pattern: "
                             "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+");
    }
    arn_name = arn.substr(slash + 8);
    if (arn != Arn(arn_name)) {
      return ApiError::ResourceNotFound(fmt::format("Stream {} not found.", arn));
    }
  }
  if (name.empty() && arn_name.empty()) {
    return ApiError::InvalidArgument("Either StreamName or StreamARN should be provided.");
  }
  if (!name.empty() && !arn_name.empty() && name != arn_name) {
    return ApiError::InvalidArgument("StreamARN and StreamName refer to different streams.");
  }
  return name.empty() ? arn_name : name;
}

std::variant<std::shared_ptr<Stream>, ApiError> KinesisServiceImpl::StreamOf(
    const json& req, const auth::Caller& caller, std::string_view op) const {
  auto name = StreamNameOf(req);
  if (auto* e = std::get_if<ApiError>(&name)) return *e;
  const std::string& n = std::get<std::string>(name);
  if (auto denied = Authorize(caller, op, n)) return *denied;
  auto s = Find(n);
  if (!s) return NotFound(n);
  return s;
}

void KinesisServiceImpl::Call(std::string_view op, std::string body, const auth::Caller& caller,
                              Reply reply) {
  if (op == "PutRecords" || op == "PutRecord") {
    PutRecords(body, caller, op == "PutRecord", std::move(reply));
    return;
  }
  if (op == "GetRecords") {
    Finish(reply, GetRecords(body, caller));
    return;
  }
  json req = json::parse(body.empty() ? std::string_view("{}") : std::string_view(body), nullptr,
                         false);
  if (req.is_discarded() || !req.is_object()) {
    Finish(reply, ApiError::Serialization("The request body is not a JSON object."));
    return;
  }
  Outcome out;
  if (op == "CreateStream") {
    out = CreateStream(req, caller);
  } else if (op == "DeleteStream") {
    out = DeleteStream(req, caller);
  } else if (op == "ListStreams") {
    out = ListStreams(req, caller);
  } else if (op == "DescribeStream") {
    out = DescribeStream(req, caller, false);
  } else if (op == "DescribeStreamSummary") {
    out = DescribeStream(req, caller, true);
  } else if (op == "ListShards") {
    out = ListShards(req, caller);
  } else if (op == "GetShardIterator") {
    out = GetShardIterator(req, caller);
  } else if (op == "IncreaseStreamRetentionPeriod") {
    out = ChangeRetention(req, caller, true);
  } else if (op == "DecreaseStreamRetentionPeriod") {
    out = ChangeRetention(req, caller, false);
  } else if (op == "AddTagsToStream") {
    out = AddTags(req, caller);
  } else if (op == "ListTagsForStream") {
    out = ListTags(req, caller);
  } else {
    out = ApiError::UnknownOperation(
        fmt::format("Operation {} is not supported by this endpoint.", op));
  }
  Finish(reply, std::move(out));
}

KinesisServiceImpl::Outcome KinesisServiceImpl::CreateStream(const json& req,
                                                              const auth::Caller& caller) {
  auto name_or = StreamNameOf(req);
  if (auto* e = std::get_if<ApiError>(&name_or)) return *e;
  std::string name = std::get<std::string>(name_or);
  if (auto denied = Authorize(caller, "CreateStream", name)) return *denied;

  bool on_demand = false;
  if (req.contains("StreamModeDetails")) {
    const auto& m = req["StreamModeDetails"];
    std::string mode = m.is_object() ? m.value("StreamMode", "") : "";
    if (mode == "ON_DEMAND") {
      on_demand = true;
    } else if (mode != "PROVISIONED") {
      return ValidationError(mode, "streamModeDetails.streamMode",
                             "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]");
    }
  }
  int shard_count = 0;
  if (req.contains("ShardCount")) {
    if (!req["ShardCount"].is_number_integer()) {
      return ApiError::Serialization("ShardCount must be an integer");
    }
    int64_t n = req["ShardCount"];
    if (n < 1) {
      return ValidationError(std::to_string(n), "shardCount",
                             "Member must have value greater than or equal to 1");
    }
    if (on_demand) {
      return ApiError::InvalidArgument("ShardCount must not be given for an ON_DEMAND stream.");
    }
    if (n > options_.max_shards) {
      return ApiError::LimitExceeded(fmt::format(
          "This request would exceed the shard limit for the account {} in {}. Current shard "
          "count for the account: {}. Limit: {}.",
          options_.account_id, options_.region, total_shards_.load(), options_.max_shards));
    }
    shard_count = static_cast<int>(n);
  } else if (on_demand) {
    shard_count = options_.on_demand_shards;
  } else {
    return ApiError::InvalidArgument("ShardCount is required for a PROVISIONED stream.");
  }
  int max_kib = 1024;
  if (req.contains("MaxRecordSizeInKiB")) {
    if (!req["MaxRecordSizeInKiB"].is_number_integer()) {
      return ApiError::Serialization("MaxRecordSizeInKiB must be an integer");
    }
    int64_t k = req["MaxRecordSizeInKiB"];
    if (k < 1024 || k > 10240) {
      return ValidationError(std::to_string(k), "maxRecordSizeInKiB",
                             "Member must have value between 1024 and 10240");
    }
    max_kib = static_cast<int>(k);
  }
  std::map<std::string, std::string> tags;
  if (req.contains("Tags")) {
    if (!req["Tags"].is_object()) return ApiError::Serialization("Tags must be a map");
    for (auto& [k, v] : req["Tags"].items()) {
      if (!v.is_string()) return ApiError::Serialization("Tag values must be strings");
      tags[k] = v.get<std::string>();
    }
    if (tags.empty() || tags.size() > kMaxTagsPerStream) {
      return ApiError::InvalidArgument("A stream has between 1 and 50 tags.");
    }
  }

  std::lock_guard lock(catalog_mu_);
  if (Find(name)) {
    return ApiError::ResourceInUse(fmt::format("Stream {} under account {} already exists.", name,
                                               options_.account_id));
  }
  if (total_shards_ + shard_count > options_.max_shards) {
    return ApiError::LimitExceeded(fmt::format(
        "This request would exceed the shard limit for the account {} in {}. Current shard "
        "count for the account: {}. Limit: {}.",
        options_.account_id, options_.region, total_shards_.load(), options_.max_shards));
  }
  // The incarnation must differ from any earlier stream of the same name.
  uint64_t incarnation = static_cast<uint64_t>(clock_->NowNanos());
  auto s = Materialise(name, incarnation, shard_count, on_demand, true);
  if (!s.ok()) return ApiError::FromStatus(s.status());
  (*s)->tags = std::move(tags);
  (*s)->max_record_kib = max_kib;
  {
    std::unique_lock wlock(streams_mu_);
    streams_[name] = *s;
  }
  total_shards_ += shard_count;
  Status saved = SaveCatalog();
  if (!saved.ok()) {
    std::unique_lock wlock(streams_mu_);
    streams_.erase(name);
    total_shards_ -= shard_count;
    for (const auto& shard : (*s)->shards) (void)logs_->DeleteLog(shard->log_id);
    return ApiError::FromStatus(saved);
  }
  log::info("kinesis: created stream {} with {} shards ({})", name, shard_count,
            on_demand ? "ON_DEMAND" : "PROVISIONED");
  return std::string();
}

KinesisServiceImpl::Outcome KinesisServiceImpl::DeleteStream(const json& req,
                                                              const auth::Caller& caller) {
  auto s_or = StreamOf(req, caller, "DeleteStream");
  if (auto* e = std::get_if<ApiError>(&s_or)) return *e;
  auto s = std::get<std::shared_ptr<Stream>>(s_or);
  std::lock_guard lock(catalog_mu_);
  {
    std::unique_lock wlock(streams_mu_);
    auto it = streams_.find(s->name);
    if (it == streams_.end() || it->second != s) return NotFound(s->name);
    streams_.erase(it);
  }
  Status saved = SaveCatalog();
  if (!saved.ok()) {
    std::unique_lock wlock(streams_mu_);
    streams_[s->name] = s;
    return ApiError::FromStatus(saved);
  }
  total_shards_ -= static_cast<int>(s->shards.size());
  for (const auto& shard : s->shards) {
    Status d = logs_->DeleteLog(shard->log_id);
    if (!d.ok()) log::warn("kinesis: deleting {}: {} (removed at next start)", shard->log_id, d.ToString());
  }
  log::info("kinesis: deleted stream {}", s->name);
  return std::string();
}

void KinesisServiceImpl::WriteStreamSummaryFields(JsonWriter& w, const Stream& s) const {
  w.Key("StreamName");
  w.String(s.name);
  w.Key("StreamARN");
  w.String(s.arn);
  w.Key("StreamStatus");
  w.String("ACTIVE");
  w.Key("StreamModeDetails");
  w.BeginObject();
  w.Key("StreamMode");
  w.String(s.on_demand ? "ON_DEMAND" : "PROVISIONED");
  w.EndObject();
  w.Key("StreamCreationTimestamp");
  w.Double(EpochSeconds(static_cast<int64_t>(s.incarnation / 1'000'000)));
}

KinesisServiceImpl::Outcome KinesisServiceImpl::ListStreams(const json& req,
                                                             const auth::Caller& caller) {
  if (auto denied = Authorize(caller, "ListStreams", "")) return *denied;
  int64_t limit = 100;
  if (auto e = BoundedInt(req, "Limit", "limit", 1, 10000, &limit)) return *e;
  std::string after;
  if (req.contains("ExclusiveStartStreamName") && req["ExclusiveStartStreamName"].is_string()) {
    after = req["ExclusiveStartStreamName"];
  }
  if (req.contains("NextToken")) {
    if (!req["NextToken"].is_string()) return ApiError::Serialization("NextToken must be a string");
    auto t = Base64UrlDecode(req["NextToken"].get<std::string>());
    if (!t || t->rfind("ls:", 0) != 0) return ApiError::InvalidArgument("Invalid NextToken.");
    after = t->substr(3);
  }
  std::vector<std::shared_ptr<Stream>> page;
  bool more = false;
  {
    std::shared_lock lock(streams_mu_);
    for (auto it = after.empty() ? streams_.begin() : streams_.upper_bound(after);
         it != streams_.end(); ++it) {
      if (static_cast<int64_t>(page.size()) == limit) {
        more = true;
        break;
      }
      page.push_back(it->second);
    }
  }
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("StreamNames");
  w.BeginArray();
  for (const auto& s : page) w.String(s->name);
  w.EndArray();
  w.Key("HasMoreStreams");
  w.Bool(more);
  if (more) {
    w.Key("NextToken");
    w.String(Base64UrlEncode("ls:" + page.back()->name));
  }
  w.Key("StreamSummaries");
  w.BeginArray();
  for (const auto& s : page) {
    w.BeginObject();
    WriteStreamSummaryFields(w, *s);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

void KinesisServiceImpl::WriteShardJson(JsonWriter& w, const Stream& s, const Shard& shard) const {
  w.BeginObject();
  w.Key("ShardId");
  w.String(shard.Id());
  w.Key("HashKeyRange");
  w.BeginObject();
  w.Key("StartingHashKey");
  w.String(FormatUInt128(shard.range.start));
  w.Key("EndingHashKey");
  w.String(FormatUInt128(shard.range.end));
  w.EndObject();
  w.Key("SequenceNumberRange");
  w.BeginObject();
  w.Key("StartingSequenceNumber");
  w.String(SequenceNumber{s.incarnation, shard.index, 0}.ToString());
  w.EndObject();
  w.EndObject();
}

KinesisServiceImpl::Outcome KinesisServiceImpl::DescribeStream(const json& req,
                                                                const auth::Caller& caller,
                                                                bool summary) {
  auto s_or = StreamOf(req, caller, summary ? "DescribeStreamSummary" : "DescribeStream");
  if (auto* e = std::get_if<ApiError>(&s_or)) return *e;
  const auto& s = *std::get<std::shared_ptr<Stream>>(s_or);
  int retention;
  {
    std::lock_guard lock(s.mu);
    retention = s.retention_hours;
  }
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key(summary ? "StreamDescriptionSummary" : "StreamDescription");
  w.BeginObject();
  WriteStreamSummaryFields(w, s);
  w.Key("RetentionPeriodHours");
  w.Int(retention);
  w.Key("EnhancedMonitoring");
  w.Raw(R"([{"ShardLevelMetrics":[]}])");
  w.Key("EncryptionType");
  w.String("NONE");
  if (summary) {
    w.Key("OpenShardCount");
    w.Uint(s.shards.size());
    w.Key("ConsumerCount");
    w.Int(0);
    w.Key("MaxRecordSizeInKiB");
    w.Int(s.max_record_kib);
  } else {
    int64_t limit = 100;
    if (auto e = BoundedInt(req, "Limit", "limit", 1, 10000, &limit)) return *e;
    int64_t start = 0;
    if (req.contains("ExclusiveStartShardId") && req["ExclusiveStartShardId"].is_string()) {
      auto idx = ParseShardId(req["ExclusiveStartShardId"].get<std::string>());
      start = idx ? static_cast<int64_t>(*idx) + 1 : 0;
    }
    w.Key("Shards");
    w.BeginArray();
    int64_t n = 0;
    int64_t i = start;
    for (; i < static_cast<int64_t>(s.shards.size()) && n < limit; ++i, ++n) {
      WriteShardJson(w, s, *s.shards[i]);
    }
    w.EndArray();
    w.Key("HasMoreShards");
    w.Bool(i < static_cast<int64_t>(s.shards.size()));
  }
  w.EndObject();
  w.EndObject();
  return out;
}

KinesisServiceImpl::Outcome KinesisServiceImpl::ListShards(const json& req,
                                                            const auth::Caller& caller) {
  std::string name;
  int64_t start = 0;
  if (req.contains("NextToken")) {
    if (!req["NextToken"].is_string()) return ApiError::Serialization("NextToken must be a string");
    auto t = Base64UrlDecode(req["NextToken"].get<std::string>());
    if (!t) return ApiError::InvalidArgument("Invalid NextToken.");
    json tok = json::parse(*t, nullptr, false);
    if (tok.is_discarded() || !tok.is_object() || !tok.contains("s") || !tok.contains("i") ||
        !tok.contains("t")) {
      return ApiError::InvalidArgument("Invalid NextToken.");
    }
    if (clock_->NowMillis() - tok["t"].get<int64_t>() > 300'000) {
      return ApiError::ExpiredNextToken("The NextToken has expired.");
    }
    name = tok["s"];
    start = tok["i"];
    // AWS documents NextToken and StreamName as exclusive, yet botocore's
    // list_shards paginator repeats StreamName on every page; accept the pair
    // when they name the same stream.
    if (req.contains("StreamName") || req.contains("StreamARN")) {
      auto n = StreamNameOf(req);
      if (std::holds_alternative<ApiError>(n) || std::get<std::string>(n) != name) {
        return ApiError::InvalidArgument(
            "NextToken and StreamName cannot be provided together.");
      }
    }
  } else {
    auto n = StreamNameOf(req);
    if (auto* e = std::get_if<ApiError>(&n)) return *e;
    name = std::get<std::string>(n);
  }
  if (auto denied = Authorize(caller, "ListShards", name)) return *denied;
  auto s = Find(name);
  if (!s) return NotFound(name);
  int64_t limit = 1000;
  if (auto e = BoundedInt(req, "MaxResults", "maxResults", 1, 10000, &limit)) return *e;
  if (req.contains("ExclusiveStartShardId") && req["ExclusiveStartShardId"].is_string()) {
    auto idx = ParseShardId(req["ExclusiveStartShardId"].get<std::string>());
    if (idx) start = std::max<int64_t>(start, static_cast<int64_t>(*idx) + 1);
  }
  if (req.contains("ShardFilter")) {
    const auto& f = req["ShardFilter"];
    std::string type = f.is_object() ? f.value("Type", "") : "";
    static const std::set<std::string> kTypes = {"AFTER_SHARD_ID", "AT_TRIM_HORIZON",
                                                 "FROM_TRIM_HORIZON", "AT_LATEST",
                                                 "AT_TIMESTAMP", "FROM_TIMESTAMP"};
    if (!kTypes.count(type)) {
      return ValidationError(type, "shardFilter.type",
                             "Member must satisfy enum value set: [AFTER_SHARD_ID, "
                             "AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, "
                             "FROM_TIMESTAMP]");
    }
    if (type == "AFTER_SHARD_ID") {
      if (!f.contains("ShardId") || !f["ShardId"].is_string()) {
        return ApiError::InvalidArgument("ShardFilter AFTER_SHARD_ID requires ShardId.");
      }
      auto idx = ParseShardId(f["ShardId"].get<std::string>());
      if (idx) start = std::max<int64_t>(start, static_cast<int64_t>(*idx) + 1);
    }
    // Shards are never split or merged here, so every shard is open and the
    // other filter types select them all.
  }
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("Shards");
  w.BeginArray();
  int64_t i = start, n = 0;
  for (; i < static_cast<int64_t>(s->shards.size()) && n < limit; ++i, ++n) {
    WriteShardJson(w, *s, *s->shards[i]);
  }
  w.EndArray();
  if (i < static_cast<int64_t>(s->shards.size())) {
    json tok = {{"s", name}, {"i", i}, {"t", clock_->NowMillis()}};
    w.Key("NextToken");
    w.String(Base64UrlEncode(tok.dump()));
  }
  w.EndObject();
  return out;
}

KinesisServiceImpl::Outcome KinesisServiceImpl::ChangeRetention(const json& req,
                                                                 const auth::Caller& caller,
                                                                 bool increase) {
  const char* op = increase ? "IncreaseStreamRetentionPeriod" : "DecreaseStreamRetentionPeriod";
  if (!req.contains("RetentionPeriodHours") || !req["RetentionPeriodHours"].is_number_integer()) {
    return ValidationError("null", "retentionPeriodHours", "Member must not be null");
  }
  int64_t hours = req["RetentionPeriodHours"];
  auto s_or = StreamOf(req, caller, op);
  if (auto* e = std::get_if<ApiError>(&s_or)) return *e;
  auto s = std::get<std::shared_ptr<Stream>>(s_or);
  if (hours < kMinRetentionHours || hours > kMaxRetentionHours) {
    return ApiError::InvalidArgument(fmt::format(
        "Minimum allowed retention period is {} hours and maximum is {} hours. Requested "
        "retention period ({} hours) is outside these bounds.",
        kMinRetentionHours, kMaxRetentionHours, hours));
  }
  std::lock_guard lock(catalog_mu_);
  int before;
  {
    std::lock_guard slock(s->mu);
    before = s->retention_hours;
    if (increase && hours < before) {
      return ApiError::InvalidArgument(fmt::format(
          "Requested retention period ({} hours) for stream {} can not be shorter than existing "
          "retention period ({} hours). Use DecreaseRetentionPeriod API.",
          hours, s->name, before));
    }
    if (!increase && hours > before) {
      return ApiError::InvalidArgument(fmt::format(
          "Requested retention period ({} hours) for stream {} can not be longer than existing "
          "retention period ({} hours). Use IncreaseRetentionPeriod API.",
          hours, s->name, before));
    }
    s->retention_hours = static_cast<int>(hours);
  }
  Status saved = SaveCatalog();
  if (!saved.ok()) {
    std::lock_guard slock(s->mu);
    s->retention_hours = before;
    return ApiError::FromStatus(saved);
  }
  return std::string();
}

KinesisServiceImpl::Outcome KinesisServiceImpl::AddTags(const json& req,
                                                         const auth::Caller& caller) {
  if (!req.contains("Tags") || !req["Tags"].is_object() || req["Tags"].empty()) {
    return ValidationError("null", "tags", "Member must have length greater than or equal to 1");
  }
  auto s_or = StreamOf(req, caller, "AddTagsToStream");
  if (auto* e = std::get_if<ApiError>(&s_or)) return *e;
  auto s = std::get<std::shared_ptr<Stream>>(s_or);
  std::lock_guard lock(catalog_mu_);
  std::map<std::string, std::string> before;
  {
    std::lock_guard slock(s->mu);
    before = s->tags;
    auto after = before;
    for (auto& [k, v] : req["Tags"].items()) {
      if (!v.is_string()) return ApiError::Serialization("Tag values must be strings");
      if (k.empty() || Utf8Length(k) > 128 || Utf8Length(v.get<std::string>()) > 256) {
        return ApiError::InvalidArgument(
            "Tag keys are 1 to 128 characters and tag values at most 256 characters.");
      }
      after[k] = v.get<std::string>();
    }
    if (after.size() > kMaxTagsPerStream) {
      return ApiError::LimitExceeded(fmt::format(
          "Failed to add tags to stream {} under account {} because a given stream can have a "
          "maximum of {} tags.",
          s->name, options_.account_id, kMaxTagsPerStream));
    }
    s->tags = std::move(after);
  }
  Status saved = SaveCatalog();
  if (!saved.ok()) {
    std::lock_guard slock(s->mu);
    s->tags = std::move(before);
    return ApiError::FromStatus(saved);
  }
  return std::string();
}

KinesisServiceImpl::Outcome KinesisServiceImpl::ListTags(const json& req,
                                                          const auth::Caller& caller) {
  auto s_or = StreamOf(req, caller, "ListTagsForStream");
  if (auto* e = std::get_if<ApiError>(&s_or)) return *e;
  auto s = std::get<std::shared_ptr<Stream>>(s_or);
  int64_t limit = 50;
  if (auto e = BoundedInt(req, "Limit", "limit", 1, 50, &limit)) return *e;
  std::string after;
  if (req.contains("ExclusiveStartTagKey") && req["ExclusiveStartTagKey"].is_string()) {
    after = req["ExclusiveStartTagKey"];
  }
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("Tags");
  w.BeginArray();
  bool more = false;
  {
    std::lock_guard lock(s->mu);
    int64_t n = 0;
    for (auto it = after.empty() ? s->tags.begin() : s->tags.upper_bound(after);
         it != s->tags.end(); ++it) {
      if (n == limit) {
        more = true;
        break;
      }
      w.BeginObject();
      w.Key("Key");
      w.String(it->first);
      w.Key("Value");
      w.String(it->second);
      w.EndObject();
      ++n;
    }
  }
  w.EndArray();
  w.Key("HasMoreTags");
  w.Bool(more);
  w.EndObject();
  return out;
}

KinesisServiceImpl::Outcome KinesisServiceImpl::GetShardIterator(const json& req,
                                                                  const auth::Caller& caller) {
  if (!req.contains("ShardId") || !req["ShardId"].is_string()) {
    return ValidationError("null", "shardId", "Member must not be null");
  }
  if (!req.contains("ShardIteratorType") || !req["ShardIteratorType"].is_string()) {
    return ValidationError("null", "shardIteratorType", "Member must not be null");
  }
  std::string type = req["ShardIteratorType"];
  static const std::set<std::string> kTypes = {"AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER",
                                               "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"};
  if (!kTypes.count(type)) {
    return ValidationError(type, "shardIteratorType",
                           "Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, "
                           "AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]");
  }
  auto s_or = StreamOf(req, caller, "GetShardIterator");
  if (auto* e = std::get_if<ApiError>(&s_or)) return *e;
  auto s = std::get<std::shared_ptr<Stream>>(s_or);
  std::string shard_id = req["ShardId"];
  auto idx = ParseShardId(shard_id);
  if (!idx || *idx >= s->shards.size()) {
    return ApiError::ResourceNotFound(fmt::format("Shard {} in stream {} under account {} does not exist",
                                                  shard_id, s->name, options_.account_id));
  }
  const Shard& shard = *s->shards[*idx];
  uint64_t seq = 0;
  if (type == "TRIM_HORIZON") {
    seq = shard.log->TrimSeq();
  } else if (type == "LATEST") {
    seq = shard.log->EndSeq();
  } else if (type == "AT_TIMESTAMP") {
    if (!req.contains("Timestamp")) {
      return ApiError::InvalidArgument(
          "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current "
          "request has no timestamp parameter.");
    }
    auto ms = TimestampMillis(req["Timestamp"]);
    if (!ms) return ApiError::InvalidArgument("Timestamp is not a valid timestamp.");
    if (*ms > clock_->NowMillis()) {
      return ApiError::InvalidArgument(fmt::format(
          "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
          "timestampInMillis: {}, currentTimestampInMillis: {}",
          *ms, clock_->NowMillis()));
    }
    auto found = shard.log->SeqAtOrAfterTime(*ms);
    if (!found.ok()) return ApiError::FromStatus(found.status());
    seq = *found;
  } else {
    if (!req.contains("StartingSequenceNumber") || !req["StartingSequenceNumber"].is_string()) {
      return ApiError::InvalidArgument(fmt::format(
          "Must specify StartingSequenceNumber for iterator of type {}.", type));
    }
    std::string text = req["StartingSequenceNumber"];
    auto sn = SequenceNumber::Parse(text);
    if (!sn) {
      return ApiError::InvalidArgument(fmt::format(
          "StartingSequenceNumber {} used in GetShardIterator on shard {} in stream {} under "
          "account {} is invalid.",
          text, shard_id, s->name, options_.account_id));
    }
    if (sn->incarnation != s->incarnation || sn->shard_index != shard.index) {
      return ApiError::InvalidArgument(fmt::format(
          "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard "
          "with {} in stream {}.",
          ShardIdOf(sn->shard_index), shard_id, s->name));
    }
    seq = type == "AT_SEQUENCE_NUMBER" ? sn->seq : sn->seq + 1;
    if (sn->seq >= shard.log->EndSeq()) {
      return ApiError::InvalidArgument(fmt::format(
          "StartingSequenceNumber {} used in GetShardIterator on shard {} in stream {} under "
          "account {} is invalid because it did not come from this stream.",
          text, shard_id, s->name, options_.account_id));
    }
  }
  IteratorPosition pos{s->name, s->incarnation, shard.index, seq, clock_->NowMillis()};
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("ShardIterator");
  w.String(iterators_.Encode(pos));
  w.EndObject();
  return out;
}

// Parses body in place: simdjson needs SIMDJSON_PADDING readable bytes past
// the end, which the reserve provides without copying when capacity allows.
// The DOM API is used (not On Demand) because it picks the fastest kernel for
// the CPU at run time.
simdjson::simdjson_result<simdjson::dom::element> Parse(simdjson::dom::parser& parser,
                                                        std::string& body) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  return parser.parse(body.data(), body.size(), false);
}

KinesisServiceImpl::Outcome KinesisServiceImpl::GetRecords(std::string& body,
                                                            const auth::Caller& caller) {
  thread_local simdjson::dom::parser parser;
  std::string token;
  int64_t limit = kMaxGetRecordsLimit;
  {
    simdjson::dom::element doc;
    if (Parse(parser, body).get(doc)) {
      return ApiError::Serialization("The request body is not valid JSON.");
    }
    simdjson::dom::object obj;
    if (doc.get_object().get(obj)) return ApiError::Serialization("The request body is not a JSON object.");
    for (auto field : obj) {
      std::string_view key = field.key;
      if (key == "ShardIterator") {
        std::string_view v;
        if (field.value.get_string().get(v)) {
          return ApiError::Serialization("ShardIterator must be a string");
        }
        token = std::string(v);
      } else if (key == "Limit") {
        if (field.value.get_int64().get(limit)) {
          return ApiError::Serialization("Limit must be an integer");
        }
        if (limit < 1 || limit > kMaxGetRecordsLimit) {
          return ValidationError(std::to_string(limit), "limit",
                                 "Member must have value between 1 and 10000");
        }
      }
      // StreamARN and unknown members are ignored, as AWS ignores them here.
    }
  }
  if (token.empty()) return ValidationError("null", "shardIterator", "Member must not be null");
  auto pos = iterators_.Decode(token);
  if (!pos) return ApiError::InvalidArgument("Invalid ShardIterator.");
  int64_t now = clock_->NowMillis();
  if (now - pos->issued_ms > options_.iterator_ttl_ms) {
    return ApiError::ExpiredIterator(fmt::format(
        "Iterator expired. The iterator was created at time {} while right now it is {} which "
        "is further in the future than the tolerated delay of {} milliseconds.",
        pos->issued_ms, now, options_.iterator_ttl_ms));
  }
  if (auto denied = Authorize(caller, "GetRecords", pos->stream)) return *denied;
  auto s = Find(pos->stream);
  if (!s || s->incarnation != pos->incarnation || pos->shard_index >= s->shards.size()) {
    return ApiError::ResourceNotFound(fmt::format("Shard {} in stream {} under account {} does not exist",
                                                  ShardIdOf(pos->shard_index), pos->stream,
                                                  options_.account_id));
  }
  const Shard& shard = *s->shards[pos->shard_index];
  // Each record is written into the reply straight from the log's read
  // buffer (Scan), not copied out first.
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("Records");
  w.BeginArray();
  int64_t last_visited_arrival_ms = 0;
  auto scan = shard.log->Scan(
      pos->seq, static_cast<size_t>(limit), kMaxGetRecordsBytes,
      [&](const streamlog::RecordView& rec) {
        w.BeginObject();
        w.Key("SequenceNumber");
        w.String(SequenceNumber{s->incarnation, shard.index, rec.seq}.ToString());
        w.Key("ApproximateArrivalTimestamp");
        w.Double(EpochSeconds(rec.arrival_ms));
        w.Key("Data");
        w.Base64String(rec.data);
        w.Key("PartitionKey");
        w.String(rec.partition_key);
        w.EndObject();
        last_visited_arrival_ms = rec.arrival_ms;
        return true;
      });
  if (!scan.ok()) return ApiError::FromStatus(scan.status());
  const auto& r = *scan;
  w.EndArray();
  IteratorPosition next = *pos;
  next.seq = r.next_seq;
  next.issued_ms = now;
  w.Key("NextShardIterator");
  w.String(iterators_.Encode(next));
  w.Key("MillisBehindLatest");
  int64_t behind = 0;
  if (r.next_seq < r.end_seq && r.records > 0) {
    behind = std::max<int64_t>(0, r.last_arrival_ms - last_visited_arrival_ms);
  } else if (r.next_seq < r.end_seq) {
    behind = std::max<int64_t>(0, now - r.last_arrival_ms);
  }
  w.Int(behind);
  w.EndObject();
  records_out_->Add(r.records);
  return out;
}

// One PutRecord(s) call in flight: per-record results fill in as each shard's
// batch commits; the last shard to finish sends the reply.
struct PutCall {
  Reply reply;
  bool single = false;
  std::shared_ptr<Stream> stream;
  std::string arena;  // decoded data of every record, back to back
  struct Entry {
    size_t data_off = 0, data_len = 0;
    std::string_view partition_key;  // points into the request body
    UInt128 hash = 0;
    uint32_t shard = 0;
    // Results:
    uint64_t seq = 0;
    std::string error_code;
    std::string error_message;
  };
  std::vector<Entry> entries;
  std::string body;
  // Owns the partition keys' bytes, which entries' views point into; they are
  // read again when the records are acknowledged (usage figures).
  std::vector<std::string> keys;
  std::atomic<int> pending{0};
  std::mutex mu;  // guards entries' results across committer callbacks
  Status failure;  // guarded by mu; set when a shard's batch failed
};

void KinesisServiceImpl::PutRecords(std::string& body, const auth::Caller& caller, bool single,
                                    Reply reply) {
  thread_local simdjson::dom::parser parser;
  auto call = std::make_shared<PutCall>();
  call->single = single;
  call->body = std::move(body);
  const char* op = single ? "PutRecord" : "PutRecords";

  std::string name, arn;
  std::optional<ApiError> error;
  size_t total_bytes = 0;
  auto fail = [&](ApiError e) {
    if (!error) error = std::move(e);
  };

  // Parses one record object (PutRecords entry or the PutRecord body itself).
  auto parse_entry = [&](simdjson::dom::object obj, size_t index, bool top_level) -> bool {
    PutCall::Entry e;
    bool have_data = false, have_key = false;
    std::string_view explicit_hash;
    // Built only for error messages: formatting it per record costs throughput.
    auto field_prefix = [&] {
      return single ? std::string() : fmt::format("records.{}.member.", index + 1);
    };
    for (auto field : obj) {
      std::string_view key = field.key;
      if (key == "Data") {
        std::string_view b64;
        if (field.value.get_string().get(b64)) {
          fail(ApiError::Serialization("Data must be a base64-encoded string"));
          return false;
        }
        size_t start = call->arena.size();
        if (!Base64DecodeAppend(b64, &call->arena)) {
          fail(ApiError::Serialization(
              fmt::format("Base64 encoded value of {}data is not valid.", field_prefix())));
          return false;
        }
        e.data_off = start;
        e.data_len = call->arena.size() - start;
        have_data = true;
      } else if (key == "PartitionKey") {
        std::string_view pk;
        if (field.value.get_string().get(pk)) {
          fail(ApiError::Serialization("PartitionKey must be a string"));
          return false;
        }
        // A view into the parser's buffer: copied before the parser is reused.
        e.partition_key = pk;
        have_key = true;
      } else if (key == "ExplicitHashKey") {
        if (field.value.get_string().get(explicit_hash)) {
          fail(ApiError::Serialization("ExplicitHashKey must be a string"));
          return false;
        }
      } else if (top_level && key == "StreamName") {
        std::string_view v;
        if (field.value.get_string().get(v)) {
          fail(ApiError::Serialization("StreamName must be a string"));
          return false;
        }
        name = std::string(v);
      } else if (top_level && key == "StreamARN") {
        std::string_view v;
        if (field.value.get_string().get(v)) {
          fail(ApiError::Serialization("StreamARN must be a string"));
          return false;
        }
        arn = std::string(v);
      }
    }
    if (!have_data) {
      fail(ValidationError("null", field_prefix() + "data", "Member must not be null"));
      return false;
    }
    if (!have_key) {
      fail(ValidationError("null", field_prefix() + "partitionKey", "Member must not be null"));
      return false;
    }
    size_t key_len = Utf8Length(e.partition_key);
    if (key_len < 1 || key_len > 256) {
      fail(ValidationError(e.partition_key, field_prefix() + "partitionKey",
                           key_len < 1 ? "Member must have length greater than or equal to 1"
                                       : "Member must have length less than or equal to 256"));
      return false;
    }
    if (!explicit_hash.empty()) {
      auto h = ParseHashKey(explicit_hash);
      if (!h) {
        fail(ApiError::InvalidArgument(fmt::format(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, "
            "340282366920938463463374607431768211455]. Specified value was {}",
            explicit_hash)));
        return false;
      }
      e.hash = *h;
    } else {
      e.hash = HashKeyOfPartitionKey(e.partition_key);
    }
    total_bytes += e.data_len + e.partition_key.size();
    call->entries.push_back(e);
    return true;
  };

  // Partition keys are copied here (the parser's string buffer is reused).
  std::vector<std::string>& keys = call->keys;
  {
    simdjson::dom::element doc;
    simdjson::dom::object root;
    std::string& b = call->body;
    if (Parse(parser, b).get(doc) || doc.get_object().get(root)) {
      Finish(reply, ApiError::Serialization("The request body is not a JSON object."));
      return;
    }
    call->arena.reserve(b.size() * 3 / 4 + 64);
    if (single) {
      if (parse_entry(root, 0, true)) keys.emplace_back(call->entries.back().partition_key);
    } else {
      for (auto field : root) {
        std::string_view key = field.key;
        if (key == "Records") {
          simdjson::dom::array arr;
          if (field.value.get_array().get(arr)) {
            fail(ApiError::Serialization("Records must be a list"));
            break;
          }
          size_t i = 0;
          for (auto item : arr) {
            simdjson::dom::object o;
            if (item.get_object().get(o)) {
              fail(ApiError::Serialization("Records must hold objects"));
              break;
            }
            if (i >= kMaxPutRecordsEntries) {
              fail(ValidationError("[...]", "records",
                                   "Member must have length less than or equal to 500"));
              break;
            }
            if (!parse_entry(o, i, false)) break;
            keys.emplace_back(call->entries.back().partition_key);
            ++i;
          }
          if (error) break;
        } else if (key == "StreamName" || key == "StreamARN") {
          std::string_view v;
          if (field.value.get_string().get(v)) {
            fail(ApiError::Serialization(fmt::format("{} must be a string", key)));
            break;
          }
          (key == "StreamName" ? name : arn) = std::string(v);
        }
      }
      if (!error && call->entries.empty()) {
        fail(ValidationError("[]", "records",
                             "Member must have length greater than or equal to 1"));
      }
    }
  }
  if (error) {
    Finish(reply, *error);
    return;
  }
  for (size_t i = 0; i < keys.size(); ++i) call->entries[i].partition_key = keys[i];

  json ids;
  if (!name.empty()) ids["StreamName"] = name;
  if (!arn.empty()) ids["StreamARN"] = arn;
  auto s_or = StreamOf(ids, caller, op);
  if (auto* e = std::get_if<ApiError>(&s_or)) {
    Finish(reply, *e);
    return;
  }
  call->stream = std::get<std::shared_ptr<Stream>>(s_or);
  Stream& s = *call->stream;
  const size_t max_record = static_cast<size_t>(s.max_record_kib) * 1024;
  for (size_t i = 0; i < call->entries.size(); ++i) {
    const auto& e = call->entries[i];
    if (e.data_len > max_record) {
      Finish(reply, ValidationError("...", single ? "data" : fmt::format("records.{}.member.data", i + 1),
                                    fmt::format("Member must have length less than or equal to {}",
                                                max_record)));
      return;
    }
  }
  if (!single && total_bytes > kMaxPutRecordsBytes) {
    Finish(reply, ApiError::InvalidArgument(fmt::format(
                      "Records size exceeds 5 MB limit: the request carries {} bytes of data "
                      "and partition keys.",
                      total_bytes)));
    return;
  }

  // Group by shard, keeping request order within each shard.
  std::vector<std::vector<uint32_t>> by_shard(s.shards.size());
  int64_t now_ms = clock_->NowMillis();
  for (uint32_t i = 0; i < call->entries.size(); ++i) {
    auto& e = call->entries[i];
    e.shard = static_cast<uint32_t>(FindRange(s.ranges, e.hash));
    if (options_.enforce_shard_limits) {
      Shard& shard = *s.shards[e.shard];
      std::lock_guard lock(shard.throttle_mu);
      double bytes = static_cast<double>(e.data_len + e.partition_key.size());
      if (!shard.records.Take(1, 1000, now_ms) || !shard.bytes.Take(bytes, 1 << 20, now_ms)) {
        e.error_code = "ProvisionedThroughputExceededException";
        e.error_message = fmt::format(
            "Rate exceeded for shard {} in stream {} under account {}.", shard.Id(), s.name,
            options_.account_id);
        continue;
      }
    }
    by_shard[e.shard].push_back(i);
  }
  if (single && !call->entries[0].error_code.empty()) {
    Finish(reply, ApiError::Throughput(call->entries[0].error_message));
    return;
  }
  call->reply = std::move(reply);

  auto finish = [this](const std::shared_ptr<PutCall>& c) {
    const Stream& st = *c->stream;
    {
      std::vector<UsageTracker::Put> acked;
      acked.reserve(c->entries.size());
      for (const auto& e : c->entries) {
        if (e.error_code.empty()) acked.push_back({e.partition_key, e.data_len});
      }
      usage_.Record(acked, clock_->NowMillis());
    }
    if (c->single) {
      const auto& e = c->entries[0];
      if (!e.error_code.empty()) {
        Finish(c->reply, ApiError::InternalFailure(e.error_message));
        return;
      }
      records_in_->Add(1);
      bytes_in_->Add(e.data_len);
      std::string out;
      JsonWriter w(&out);
      w.BeginObject();
      w.Key("ShardId");
      w.String(ShardIdOf(e.shard));
      w.Key("SequenceNumber");
      w.String(SequenceNumber{st.incarnation, e.shard, e.seq}.ToString());
      w.Key("EncryptionType");
      w.String("NONE");
      w.EndObject();
      c->reply(200, std::move(out));
      return;
    }
    std::string out;
    out.reserve(c->entries.size() * 110 + 64);
    JsonWriter w(&out);
    int failed = 0;
    uint64_t ok_bytes = 0;
    for (const auto& e : c->entries) {
      if (!e.error_code.empty()) {
        ++failed;
      } else {
        ok_bytes += e.data_len;
      }
    }
    w.BeginObject();
    if (failed > 0) {
      w.Key("FailedRecordCount");
      w.Int(failed);
    }
    w.Key("Records");
    w.BeginArray();
    for (const auto& e : c->entries) {
      w.BeginObject();
      if (e.error_code.empty()) {
        w.Key("SequenceNumber");
        w.String(SequenceNumber{st.incarnation, e.shard, e.seq}.ToString());
        w.Key("ShardId");
        w.String(ShardIdOf(e.shard));
      } else {
        w.Key("ErrorCode");
        w.String(e.error_code);
        w.Key("ErrorMessage");
        w.String(e.error_message);
      }
      w.EndObject();
    }
    w.EndArray();
    w.Key("EncryptionType");
    w.String("NONE");
    w.EndObject();
    records_in_->Add(c->entries.size() - static_cast<size_t>(failed));
    bytes_in_->Add(ok_bytes);
    failed_records_->Add(static_cast<uint64_t>(failed));
    c->reply(200, std::move(out));
  };

  int groups = 0;
  for (const auto& g : by_shard) groups += !g.empty();
  if (groups == 0) {
    finish(call);
    return;
  }
  call->pending = groups;
  for (uint32_t shard_index = 0; shard_index < by_shard.size(); ++shard_index) {
    const auto& group = by_shard[shard_index];
    if (group.empty()) continue;
    std::vector<streamlog::AppendEntry> batch;
    batch.reserve(group.size());
    for (uint32_t i : group) {
      const auto& e = call->entries[i];
      streamlog::AppendEntry a;
      a.partition_key = e.partition_key;
      a.hash_key = ToBigEndian(e.hash);
      a.data = std::string_view(call->arena).substr(e.data_off, e.data_len);
      batch.push_back(a);
    }
    s.shards[shard_index]->log->Append(
        batch, [call, group, finish](Result<streamlog::AppendResult> r) {
          {
            std::lock_guard lock(call->mu);
            for (size_t k = 0; k < group.size(); ++k) {
              auto& e = call->entries[group[k]];
              if (r.ok()) {
                e.seq = r->first_seq + k;
              } else {
                e.error_code = "InternalFailure";
                e.error_message = "Internal service failure.";
              }
            }
            if (!r.ok()) log::error("kinesis: append failed: {}", r.status().ToString());
          }
          if (call->pending.fetch_sub(1) == 1) finish(call);
        });
  }
}

Status KinesisServiceImpl::EnforceRetention() {
  std::vector<std::shared_ptr<Stream>> all;
  {
    std::shared_lock lock(streams_mu_);
    for (const auto& [n, s] : streams_) all.push_back(s);
  }
  int64_t now = clock_->NowMillis();
  for (const auto& s : all) {
    int hours;
    {
      std::lock_guard lock(s->mu);
      hours = s->retention_hours;
    }
    for (const auto& shard : s->shards) {
      MUON_RETURN_IF_ERROR(shard->log->TrimBefore(now - int64_t{hours} * 3600 * 1000));
    }
  }
  return Status::Ok();
}

Result<std::array<uint8_t, 32>> LoadOrCreateKey(Env* env, const std::string& path) {
  std::array<uint8_t, 32> key{};
  if (env->FileExists(path)) {
    MUON_ASSIGN_OR_RETURN(std::string text, env->ReadFile(path));
    if (text.size() != key.size()) return Status::Corruption(path + ": iterator key has the wrong size");
    std::memcpy(key.data(), text.data(), key.size());
    return key;
  }
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return Status::Internal("no randomness for the iterator key");
  }
  MUON_RETURN_IF_ERROR(env->WriteFileAtomic(
      path, std::string_view(reinterpret_cast<const char*>(key.data()), key.size())));
  return key;
}

}  // namespace

Result<std::unique_ptr<KinesisService>> KinesisService::Open(const std::string& dir,
                                                             const KinesisOptions& options,
                                                             streamlog::LogStore* logs, Env* env,
                                                             Clock* clock,
                                                             const auth::Authorizer* authorizer) {
  MUON_RETURN_IF_ERROR(env->CreateDirs(dir));
  MUON_ASSIGN_OR_RETURN(auto key, LoadOrCreateKey(env, JoinPath(dir, "iterator.key")));
  auto svc = std::make_unique<KinesisServiceImpl>(dir, options, logs, env, clock, authorizer, key);
  MUON_RETURN_IF_ERROR(svc->Load());
  return std::unique_ptr<KinesisService>(std::move(svc));
}

}  // namespace muon::kinesis
