#include "delivery/delivery_stream.h"

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/json_writer.h"
#include "base/log.h"
#include "base/metrics.h"
#include "delivery/compress.h"
#include "delivery/metadata_query.h"
#include "delivery/prefix.h"

namespace muon::delivery {
namespace {

using nlohmann::json;

constexpr std::string_view kPartitioningFailed = "partitioning-failed";

std::string Sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(digest), len);
}

std::string UuidOf(std::string_view digest) {
  std::string hex;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) hex.push_back('-');
    hex += fmt::format("{:02x}", static_cast<unsigned char>(digest[i]));
  }
  return hex;
}

std::string RandomStringOf(std::string_view digest) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (size_t i = 16; i < 27; ++i) out.push_back(kAlphabet[static_cast<unsigned char>(digest[i]) % 36]);
  return out;
}

// Records read from a source: their data back to back in one buffer (reused
// from batch to batch) and where each one starts.
struct Records {
  struct Meta {
    uint64_t seq = 0;
    int64_t arrival_ms = 0;
    size_t offset = 0;
    size_t size = 0;
  };
  std::string data;
  std::vector<Meta> metas;

  bool empty() const { return metas.empty(); }
  size_t size() const { return metas.size(); }
  std::string_view Data(size_t i) const {
    return std::string_view(data).substr(metas[i].offset, metas[i].size);
  }
  void Add(const streamlog::Record& r) {
    metas.push_back({r.seq, r.arrival_ms, data.size(), r.data.size()});
    data += r.data;
  }
};

// One object of a batch, built and waiting to be put.
struct OutObject {
  std::string key;
  std::string data;
  uint64_t records = 0;
  uint64_t source_bytes = 0;
  uint64_t error_records = 0;
  bool put = false;
};

struct Batch {
  uint64_t from = 0;
  uint64_t to = 0;
  DestinationConfig config;
  Records records;              // released once the objects are built
  int64_t last_arrival_ms = 0;             // of the batch's newest record
  bool records_loaded = false;  // false after a restart until re-read
  bool intent_written = false;
  std::vector<OutObject> objects;
  bool built = false;
  bool puts_done = false;
};

struct ShardState {
  SourceShard src;
  std::string checkpoint_path;
  uint64_t delivered = 0;  // first seq not delivered
  uint64_t next_read = 0;  // first seq not in the buffer or batch
  Records buffer;
  std::optional<Batch> batch;
  int attempts = 0;
  int64_t next_attempt_mono = 0;
  Compressor compressor;
  std::vector<std::string> pool;  // spare object buffers, largest first
  // Published for Stats (read on other threads).
  std::atomic<uint64_t> delivered_pub{0};
  std::atomic<int64_t> oldest_ms_pub{0};  // oldest undelivered arrival we hold, 0 if none
};

class DeliveryStreamImpl final : public DeliveryStream {
 public:
  DeliveryStreamImpl(const DeliveryStreamOptions& options, const DestinationConfig& config,
                     objectstore::ObjectStore* store, Env* env, Clock* clock)
      : options_(options), store_(store), env_(env), clock_(clock), config_(config) {
    if (options_.metrics) {
      auto* m = MetricsRegistry::Global();
      std::string labels = fmt::format("delivery_stream=\"{}\"", options_.name);
      m_records_ = m->GetCounter("muonpipe_firehose_delivered_records_total",
                                 "Records delivered into objects", labels);
      m_bytes_ = m->GetCounter("muonpipe_firehose_delivered_bytes_total",
                               "Source bytes delivered into objects", labels);
      m_objects_ = m->GetCounter("muonpipe_firehose_delivered_objects_total",
                                 "Objects written by delivery", labels);
      m_retries_ = m->GetCounter("muonpipe_firehose_delivery_retries_total",
                                 "Failed delivery attempts that will be retried", labels);
      m_errors_ = m->GetCounter("muonpipe_firehose_error_records_total",
                                "Records written under the ErrorOutputPrefix", labels);
      m_lag_ = m->GetGauge("muonpipe_firehose_delivery_lag_ms",
                           "Age of the oldest record not yet delivered", labels);
    }
  }
  ~DeliveryStreamImpl() override { Stop(); }

  Status Load(std::vector<SourceShard> shards) {
    MUON_RETURN_IF_ERROR(env_->CreateDirs(options_.state_dir));
    for (auto& src : shards) {
      auto s = std::make_unique<ShardState>();
      s->checkpoint_path = JoinPath(options_.state_dir, src.id + ".checkpoint");
      s->src = std::move(src);
      if (env_->FileExists(s->checkpoint_path)) {
        MUON_ASSIGN_OR_RETURN(std::string text, env_->ReadFile(s->checkpoint_path));
        json j = json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("delivered")) {
          return Status::Corruption(fmt::format("{}: not a delivery checkpoint", s->checkpoint_path));
        }
        s->delivered = j["delivered"].get<uint64_t>();
        s->next_read = s->delivered;
        if (j.contains("pending")) {
          const json& p = j["pending"];
          Batch b;
          b.from = p.at("from").get<uint64_t>();
          b.to = p.at("to").get<uint64_t>();
          MUON_ASSIGN_OR_RETURN(b.config, DestinationConfig::FromJson(p.at("config").dump()));
          b.intent_written = true;
          s->batch = std::move(b);
          s->next_read = s->batch->to;
        }
      } else {
        s->delivered = options_.start_at_end ? s->src.log->EndSeq() : s->src.log->TrimSeq();
        s->next_read = s->delivered;
        MUON_RETURN_IF_ERROR(WriteCheckpoint(*s));
      }
      s->delivered_pub = s->delivered;
      shards_.push_back(std::move(s));
    }
    return Status::Ok();
  }

  bool Step() override {
    bool worked = false;
    for (auto& s : shards_) worked |= StepShard(*s);
    if (m_lag_) m_lag_->Set(LagMs());
    return worked;
  }

  void Start() override {
    std::lock_guard lock(thread_mu_);
    if (!threads_.empty()) return;
    stopping_ = false;
    // Shards are independent, so up to one worker per core delivers them in
    // parallel (compression is the cost); worker w owns shards w, w+n, ...
    size_t n = std::min<size_t>(shards_.size(),
                                std::max(1u, std::thread::hardware_concurrency()));
    for (size_t w = 0; w < n; ++w) threads_.emplace_back([this, w, n] { Run(w, n); });
  }

  void Stop() override {
    {
      std::lock_guard lock(thread_mu_);
      stopping_ = true;
    }
    thread_cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  void Wake() override {
    {
      std::lock_guard lock(thread_mu_);
      ++wake_epoch_;
    }
    thread_cv_.notify_all();
  }

  Status UpdateDestination(const DestinationConfig& config) override {
    MUON_RETURN_IF_ERROR(Validate(config));
    std::lock_guard lock(config_mu_);
    config_ = config;
    return Status::Ok();
  }

  DestinationConfig Destination() const override {
    std::lock_guard lock(config_mu_);
    return config_;
  }

  DeliveryStats Stats() const override {
    DeliveryStats st;
    st.delivered_records = records_.load();
    st.delivered_bytes = bytes_.load();
    st.delivered_objects = objects_.load();
    st.error_records = error_records_.load();
    st.retries = retries_.load();
    st.lag_ms = LagMs();
    std::lock_guard lock(error_mu_);
    st.last_error = last_error_;
    return st;
  }

 private:
  void Run(size_t worker, size_t workers) {
    uint64_t seen_epoch = 0;
    while (true) {
      bool worked = false;
      for (size_t i = worker; i < shards_.size(); i += workers) worked |= StepShard(*shards_[i]);
      if (worker == 0 && m_lag_) m_lag_->Set(LagMs());
      std::unique_lock lock(thread_mu_);
      if (stopping_) return;
      if (worked) continue;
      // Real time only paces polling; what is due is decided by clock_.
      thread_cv_.wait_for(lock, std::chrono::milliseconds(50),
                          [&] { return stopping_ || wake_epoch_ != seen_epoch; });
      seen_epoch = wake_epoch_;
      if (stopping_) return;
    }
  }

  int64_t LagMs() const {
    int64_t now = clock_->NowMillis(), lag = 0;
    for (const auto& s : shards_) {
      int64_t oldest = s->oldest_ms_pub.load();
      if (oldest == 0) {
        uint64_t d = s->delivered_pub.load();
        if (d < s->src.log->EndSeq()) {
          auto r = s->src.log->Read(d, 1, 1);
          if (r.ok() && !r->records.empty()) oldest = r->records[0].arrival_ms;
        }
      }
      if (oldest > 0) lag = std::max(lag, now - oldest);
    }
    return lag;
  }

  void SetError(const Status& s, const ShardState& shard) {
    std::lock_guard lock(error_mu_);
    last_error_ = fmt::format("shard {}: {}", shard.src.id, s.ToString());
  }
  void ClearError() {
    std::lock_guard lock(error_mu_);
    last_error_.clear();
  }

  void Backoff(ShardState& s, const Status& why) {
    ++s.attempts;
    int64_t ms = options_.min_backoff_ms;
    for (int i = 1; i < s.attempts && ms < options_.max_backoff_ms; ++i) ms *= 2;
    ms = std::min(ms, options_.max_backoff_ms);
    s.next_attempt_mono = clock_->MonotonicNanos() + ms * 1'000'000;
    retries_ += 1;
    if (m_retries_) m_retries_->Add();
    SetError(why, s);
    log::warn("firehose {}: delivery from {} failed (attempt {}), retrying in {} ms: {}",
              options_.name, s.src.id, s.attempts, ms, why.ToString());
  }

  Status WriteCheckpoint(const ShardState& s) {
    std::string text = fmt::format("{{\"delivered\":{}", s.delivered);
    if (s.batch) {
      text += fmt::format(",\"pending\":{{\"from\":{},\"to\":{},\"config\":{}}}", s.batch->from,
                          s.batch->to, s.batch->config.ToJson());
    }
    text += "}\n";
    return env_->WriteFileAtomic(s.checkpoint_path, text);
  }

  bool StepShard(ShardState& s) {
    if (s.batch) {
      if (clock_->MonotonicNanos() < s.next_attempt_mono) return false;
      return Deliver(s);
    }
    DestinationConfig config = Destination();
    const size_t limit = static_cast<size_t>(config.size_mib) << 20;
    bool worked = false;
    bool caught_up = false;  // read everything the log held
    size_t read_now = 0;
    if (s.buffer.data.capacity() == 0) {
      s.buffer.data = TakeBuffer(s);
      s.buffer.data.reserve(limit);
    }
    while (s.buffer.data.size() < limit && read_now < options_.max_read_bytes_per_step) {
      size_t want =
          std::min(limit - s.buffer.data.size(), options_.max_read_bytes_per_step - read_now);
      // Reads of at most 1 MiB keep the log's read buffers small and reused.
      auto r = s.src.log->Read(s.next_read, 100'000, std::min<size_t>(want, 1u << 20));
      if (!r.ok()) {
        SetError(r.status(), s);
        caught_up = true;
        break;
      }
      if (r->records.empty()) {
        caught_up = true;
        break;
      }
      for (auto& rec : r->records) {
        if (s.buffer.empty()) s.oldest_ms_pub = std::max<int64_t>(rec.arrival_ms, 1);
        read_now += rec.data.size();
        s.buffer.Add(rec);
      }
      s.next_read = r->next_seq;
      worked = true;
    }
    if (s.buffer.empty()) return worked;
    // A backlog (more records than one Step reads) fills the buffer up to the
    // size hint before the interval may cut it, so catching up writes full
    // objects rather than one per Step.
    bool due = s.buffer.data.size() >= limit ||
               (caught_up && clock_->NowMillis() - s.buffer.metas.front().arrival_ms >=
                                 static_cast<int64_t>(config.interval_s) * 1000);
    if (!due) return worked;
    Batch b;
    b.from = s.delivered;
    b.to = s.next_read;
    b.config = std::move(config);
    b.records = std::move(s.buffer);
    b.records_loaded = true;
    s.buffer = Records{};
    s.batch = std::move(b);
    Deliver(s);
    return true;
  }

  // Re-reads a recorded batch's records after a restart.
  Status LoadBatch(ShardState& s) {
    Batch& b = *s.batch;
    b.records = Records{};
    b.records.data = TakeBuffer(s);
    uint64_t seq = b.from;
    while (seq < b.to) {
      MUON_ASSIGN_OR_RETURN(streamlog::ReadResult r, s.src.log->Read(seq, 100'000, 64u << 20));
      if (r.records.empty()) break;
      for (auto& rec : r.records) {
        if (rec.seq >= b.to) break;
        b.records.Add(rec);
      }
      seq = r.next_seq;
    }
    if (!b.records.empty() && b.records.metas.front().seq > b.from) {
      log::warn("firehose {}: records {}..{} of {} were trimmed from the source before delivery",
                options_.name, b.from, b.records.metas.front().seq - 1, s.src.id);
    }
    b.records_loaded = true;
    if (!b.records.empty()) {
      s.oldest_ms_pub = std::max<int64_t>(b.records.metas.front().arrival_ms, 1);
    }
    return Status::Ok();
  }

  bool Deliver(ShardState& s) {
    Batch& b = *s.batch;
    if (!b.intent_written) {
      if (Status st = WriteCheckpoint(s); !st.ok()) {
        Backoff(s, st.WithContext("recording the batch"));
        return true;
      }
      b.intent_written = true;
    }
    if (!b.records_loaded) {
      if (Status st = LoadBatch(s); !st.ok()) {
        Backoff(s, st.WithContext("re-reading the batch"));
        return true;
      }
    }
    if (!b.built) {
      if (Status st = Build(s, b); !st.ok()) {
        // Only a bug or an impossible configuration gets here; keep the data.
        Backoff(s, st.WithContext("building objects"));
        return true;
      }
      b.built = true;
    }
    if (!b.puts_done) {
      for (auto& o : b.objects) {
        if (o.put) continue;
        // As on Firehose, no Content-Encoding: clients must not undo the
        // compression on download (the key's suffix names it).
        objectstore::PutOptions po;
        auto r = store_->Put(b.config.bucket, o.key, o.data, po);
        if (!r.ok()) {
          Backoff(s, r.status().WithContext(fmt::format("putting {}", o.key)));
          return true;
        }
        o.put = true;
      }
      b.puts_done = true;
    }
    uint64_t old_delivered = s.delivered;
    std::optional<Batch> done = std::move(s.batch);
    s.batch.reset();
    s.delivered = done->to;
    if (Status st = WriteCheckpoint(s); !st.ok()) {
      s.delivered = old_delivered;
      s.batch = std::move(done);
      Backoff(s, st.WithContext("advancing the checkpoint"));
      return true;
    }
    s.attempts = 0;
    s.delivered_pub = s.delivered;
    s.oldest_ms_pub =
        s.buffer.empty() ? 0 : std::max<int64_t>(s.buffer.metas.front().arrival_ms, 1);
    uint64_t recs = 0, bytes = 0, errors = 0;
    for (const auto& o : done->objects) {
      recs += o.records;
      bytes += o.source_bytes;
      errors += o.error_records;
    }
    records_ += recs;
    bytes_ += bytes;
    objects_ += done->objects.size();
    error_records_ += errors;
    if (m_records_) {
      m_records_->Add(recs);
      m_bytes_->Add(bytes);
      m_objects_->Add(done->objects.size());
      m_errors_->Add(errors);
    }
    ClearError();
    for (auto& o : done->objects) ReturnBuffer(s, std::move(o.data));
    if (s.src.trim_delivered && done->last_arrival_ms > 0) {
      if (Status st = s.src.log->TrimBefore(done->last_arrival_ms); !st.ok()) {
        log::warn("firehose {}: trimming delivered records: {}", options_.name, st.ToString());
      }
    }
    return true;
  }

  // Groups the batch's records by partition, then names and compresses one
  // object per group. Deterministic in (options_, shard id, batch).
  Status Build(ShardState& s, Batch& b) {
    const std::string& shard_id = s.src.id;
    const DestinationConfig& c = b.config;
    std::optional<MetadataQuery> query;
    std::vector<std::string> keys;
    if (c.dynamic_partitioning && !c.metadata_query.empty()) {
      MUON_ASSIGN_OR_RETURN(MetadataQuery q, MetadataQuery::Parse(c.metadata_query));
      keys = q.Keys();
      query = std::move(q);
    }
    MUON_ASSIGN_OR_RETURN(ResolvedPrefixes prefixes,
                          ResolvePrefixes(c.prefix, c.error_prefix, c.dynamic_partitioning, keys));
    struct Group {
      bool error = false;
      std::map<std::string, std::string> partition;
      int64_t first_arrival_ms = 0;
      std::vector<uint32_t> members;  // record indices, in seq order
      size_t bytes = 0;               // object size before compression
      uint64_t source_bytes = 0;
      std::string error_lines;        // the error group's JSON lines
    };
    // By partition; "" holds the errors, every other key starts with '='.
    std::map<std::string, Group> groups;
    for (uint32_t i = 0; i < b.records.size(); ++i) {
      const Records::Meta& rec = b.records.metas[i];
      const std::string_view data = b.records.Data(i);
      std::string group_key = "=";
      std::string reason;
      std::map<std::string, std::string> partition;
      if (query) {
        auto values = query->Evaluate(data);
        if (!values.ok()) {
          reason = values.status().message();
        } else {
          partition = std::move(values).value();
          for (const auto& [k, v] : partition) group_key += fmt::format("{}={}\x1f", k, v);
        }
      }
      Group& g = groups[reason.empty() ? group_key : std::string()];
      if (g.members.empty()) {
        g.first_arrival_ms = rec.arrival_ms;
        g.partition = std::move(partition);
        g.error = !reason.empty();
      }
      g.members.push_back(i);
      g.source_bytes += data.size();
      if (g.error) {
        JsonWriter w(&g.error_lines);
        w.BeginObject();
        w.Key("attemptsMade");
        w.Int(1);
        w.Key("arrivalTimestamp");
        w.Int(rec.arrival_ms);
        w.Key("errorCode");
        w.String("DynamicPartitioning.MetadataExtractionFailed");
        w.Key("errorMessage");
        w.String(reason);
        w.Key("rawData");
        w.Base64String(data);
        w.EndObject();
        g.error_lines.push_back('\n');
      } else {
        g.bytes += data.size() + (c.append_delimiter ? 1 : 0);
      }
    }
    b.objects.clear();
    for (auto& [group_key, g] : groups) {
      std::string digest = Sha256(fmt::format("{}\n{}\n{}\n{}\n{}\n{}\n{}", options_.name,
                                              options_.incarnation, shard_id, b.from, b.to,
                                              c.version, group_key));
      PrefixValues v;
      v.timestamp_ms = g.first_arrival_ms;
      v.random_string = RandomStringOf(digest);
      v.partition_keys = g.partition;
      if (g.error) v.error_output_type = std::string(kPartitioningFailed);
      std::string prefix = g.error ? prefixes.error.Expand(v) : prefixes.success.Expand(v);
      MUON_ASSIGN_OR_RETURN(std::string when,
                            FormatTimestamp("yyyy-MM-dd-HH-mm-ss", g.first_arrival_ms));
      OutObject o;
      o.key = fmt::format("{}{}-{}-{}-{}{}", prefix, options_.name, c.version, when,
                          UuidOf(digest), CompressionSuffix(c.compression));
      // The object's bytes before compression: the batch buffer itself when
      // it is exactly that (one partition, no delimiter), else assembled.
      std::string plain;
      std::string_view content;
      if (g.error) {
        plain = std::move(g.error_lines);
        content = plain;
      } else if (!c.append_delimiter && g.members.size() == b.records.size()) {
        content = b.records.data;
      } else {
        plain = TakeBuffer(s);
        plain.reserve(g.bytes);
        for (uint32_t i : g.members) {
          plain += b.records.Data(i);
          if (c.append_delimiter) plain.push_back('\n');
        }
        content = plain;
      }
      o.data = TakeBuffer(s);
      MUON_RETURN_IF_ERROR(s.compressor.Compress(c.compression, content, &o.data));
      ReturnBuffer(s, std::move(plain));
      o.records = g.members.size();
      o.source_bytes = g.source_bytes;
      if (g.error) o.error_records = g.members.size();
      b.objects.push_back(std::move(o));
    }
    // The objects hold the data now; keep only what the checkpoint needs.
    if (!b.records.empty()) b.last_arrival_ms = b.records.metas.back().arrival_ms;
    ReturnBuffer(s, std::move(b.records.data));
    b.records = Records{};
    return Status::Ok();
  }

  // Large buffers are reused from batch to batch: a fresh 100 MiB string costs
  // more in page faults than filling it does.
  static std::string TakeBuffer(ShardState& s) {
    if (s.pool.empty()) return {};
    std::string b = std::move(s.pool.back());
    s.pool.pop_back();
    b.clear();
    return b;
  }
  static void ReturnBuffer(ShardState& s, std::string b) {
    if (b.capacity() < (1u << 20)) return;
    s.pool.push_back(std::move(b));
    std::sort(s.pool.begin(), s.pool.end(),
              [](const std::string& x, const std::string& y) { return x.capacity() > y.capacity(); });
    if (s.pool.size() > 2) s.pool.pop_back();
  }

  const DeliveryStreamOptions options_;
  objectstore::ObjectStore* const store_;
  Env* const env_;
  Clock* const clock_;

  mutable std::mutex config_mu_;
  DestinationConfig config_;  // guarded by config_mu_

  // Touched only by the thread running Step (the vector itself is fixed after Load).
  std::vector<std::unique_ptr<ShardState>> shards_;

  std::atomic<uint64_t> records_{0}, bytes_{0}, objects_{0}, error_records_{0}, retries_{0};
  mutable std::mutex error_mu_;
  std::string last_error_;  // guarded by error_mu_

  std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool stopping_ = false;     // guarded by thread_mu_
  uint64_t wake_epoch_ = 0;   // guarded by thread_mu_
  std::vector<std::thread> threads_;  // guarded by thread_mu_

  Counter* m_records_ = nullptr;
  Counter* m_bytes_ = nullptr;
  Counter* m_objects_ = nullptr;
  Counter* m_retries_ = nullptr;
  Counter* m_errors_ = nullptr;
  Gauge* m_lag_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<DeliveryStream>> DeliveryStream::Open(const DeliveryStreamOptions& options,
                                                             const DestinationConfig& config,
                                                             std::vector<SourceShard> shards,
                                                             objectstore::ObjectStore* store,
                                                             Env* env, Clock* clock) {
  MUON_RETURN_IF_ERROR(Validate(config));
  auto d = std::make_unique<DeliveryStreamImpl>(options, config, store, env, clock);
  MUON_RETURN_IF_ERROR(d->Load(std::move(shards)));
  return std::unique_ptr<DeliveryStream>(std::move(d));
}

}  // namespace muon::delivery
