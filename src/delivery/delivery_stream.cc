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

// One object of a batch as it is built: the compressed pieces made so far
// and the plain chunk being filled. `hold` covers the chunk (reserved at its
// compressed bound when it is opened) and the pieces (their capacity).
struct Group {
  explicit Group(MemoryBudget* budget) : hold(budget) {}
  bool error = false;
  std::map<std::string, std::string> partition;
  int64_t first_arrival_ms = 0;
  uint64_t records = 0;
  uint64_t source_bytes = 0;
  std::string chunk;               // plain bytes not yet compressed
  size_t chunk_capacity = 0;       // 0: no chunk open
  size_t chunk_reserved = 0;       // of hold, for the open chunk
  size_t next_chunk_bytes = kFirstChunkBytes;
  std::vector<std::string> pieces;
  BudgetHold hold;
  std::string key;  // named when the batch closes
  bool put = false;
};

// A batch: records [from, to) of one shard, built into one object per
// partition as they are read. Open (to not yet fixed) while it fills; closed
// once its range is fixed and its objects named.
struct Batch {
  uint64_t from = 0;
  uint64_t to = 0;
  DestinationConfig config;
  std::optional<MetadataQuery> query;
  std::map<std::string, Group> groups;  // by partition; "" holds the errors
  uint64_t records = 0;
  uint64_t source_bytes = 0;
  int64_t first_arrival_ms = 0;  // of the batch's oldest record
  int64_t last_arrival_ms = 0;   // of its newest
  bool closed = false;
  bool built = false;           // groups hold all of [from, to): false after a restart
  bool intent_written = false;
  bool priority = false;        // holds the budget's priority while it waits to be rebuilt
  bool puts_done = false;
};

struct ShardState {
  SourceShard src;
  std::string checkpoint_path;
  uint64_t delivered = 0;  // first seq not delivered
  uint64_t next_read = 0;  // first seq not in the batch
  std::optional<Batch> batch;
  int attempts = 0;
  int64_t next_attempt_mono = 0;
  // Published for Stats (read on other threads).
  std::atomic<uint64_t> delivered_pub{0};
  std::atomic<int64_t> oldest_ms_pub{0};  // oldest undelivered arrival we hold, 0 if none
};

class DeliveryStreamImpl final : public DeliveryStream {
 public:
  DeliveryStreamImpl(const DeliveryStreamOptions& options, const DestinationConfig& config,
                     objectstore::ObjectStore* store, Env* env, Clock* clock)
      : options_(options), store_(store), env_(env), clock_(clock), config_(config) {
    if (options_.memory_budget) {
      budget_ = options_.memory_budget;
    } else {
      own_budget_ = std::make_unique<MemoryBudget>(kDefaultDeliveryMemoryBytes);
      budget_ = own_budget_.get();
    }
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
      m_memory_ = m->GetGauge("muonpipe_firehose_delivery_memory_bytes",
                              "Record bytes held by delivery, of its memory budget", "");
    }
  }
  ~DeliveryStreamImpl() override {
    Stop();
    for (auto& s : shards_) {
      if (s->batch && s->batch->priority) budget_->EndPriority();
    }
  }

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
          b.closed = true;
          b.intent_written = true;
          s->batch = std::move(b);
          s->next_read = s->batch->to;
          budget_->BeginPriority();
          s->batch->priority = true;
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
    Compressor& c = CompressorOf(0);
    for (auto& s : shards_) worked |= StepShard(*s, c);
    if (m_lag_) {
      m_lag_->Set(LagMs());
      m_memory_->Set(static_cast<int64_t>(budget_->InUse()));
    }
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
    for (size_t w = 0; w < n; ++w) CompressorOf(w);
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
  // Workers own one Compressor each; Step (never run while started) uses the first.
  Compressor& CompressorOf(size_t worker) {
    std::lock_guard lock(compressors_mu_);
    while (compressors_.size() <= worker) compressors_.push_back(std::make_unique<Compressor>());
    return *compressors_[worker];
  }

  void Run(size_t worker, size_t workers) {
    Compressor& c = CompressorOf(worker);
    uint64_t seen_epoch = 0;
    while (true) {
      bool worked = false;
      for (size_t i = worker; i < shards_.size(); i += workers) worked |= StepShard(*shards_[i], c);
      if (worker == 0 && m_lag_) {
        m_lag_->Set(LagMs());
        m_memory_->Set(static_cast<int64_t>(budget_->InUse()));
      }
      if (!worked) c.Trim();  // an idle worker holds no compression buffer
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
          (void)s->src.log->Scan(d, 1, 1, [&oldest](const streamlog::RecordView& rec) {
            oldest = rec.arrival_ms;
            return true;
          });
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
    if (s.batch && s.batch->closed) {
      text += fmt::format(",\"pending\":{{\"from\":{},\"to\":{},\"config\":{}}}", s.batch->from,
                          s.batch->to, s.batch->config.ToJson());
    }
    text += "}\n";
    return env_->WriteFileAtomic(s.checkpoint_path, text);
  }

  // A new, empty batch from s.delivered with the destination as it is now.
  Status OpenBatch(ShardState& s) {
    Batch b;
    b.from = s.delivered;
    b.config = Destination();
    if (b.config.dynamic_partitioning && !b.config.metadata_query.empty()) {
      MUON_ASSIGN_OR_RETURN(MetadataQuery q, MetadataQuery::Parse(b.config.metadata_query));
      b.query = std::move(q);
    }
    s.batch = std::move(b);
    return Status::Ok();
  }

  bool StepShard(ShardState& s, Compressor& comp) {
    if (s.batch && s.batch->closed) {
      if (clock_->MonotonicNanos() < s.next_attempt_mono) return false;
      return Deliver(s, comp);
    }
    if (!s.batch) {
      if (Status st = OpenBatch(s); !st.ok()) {
        SetError(st, s);
        return false;
      }
    }
    Batch& b = *s.batch;
    if (b.records == 0 && !budget_->Fits(comp.PieceBound(b.config.compression, kFirstChunkBytes))) {
      // No memory for a first chunk: do not read records only to put them back.
      s.batch.reset();
      return false;
    }
    const size_t limit = static_cast<size_t>(b.config.size_mib) << 20;
    bool worked = false;
    bool caught_up = false;    // read everything the log held
    bool budget_full = false;  // the next record found no memory
    size_t read_now = 0;
    Status add_error;
    // Records are added straight from the log's buffer: nothing is copied per
    // record but into its chunk.
    const streamlog::RecordVisitor add = [&](const streamlog::RecordView& rec) {
      auto added = Add(b, rec.data, rec.arrival_ms, comp, /*force=*/false);
      if (!added.ok()) {
        add_error = added.status();
        return false;
      }
      if (!*added) {
        budget_full = true;
        return false;  // the record stays in the log for the next batch
      }
      if (b.records == 1) s.oldest_ms_pub = std::max<int64_t>(rec.arrival_ms, 1);
      read_now += rec.data.size();
      // Kept per record: a scan that fails part way has still added these.
      s.next_read = rec.seq + 1;
      worked = true;
      return true;
    };
    while (b.source_bytes < limit && read_now < options_.max_read_bytes_per_step) {
      size_t want = std::min(limit - b.source_bytes, options_.max_read_bytes_per_step - read_now);
      // Scans of at most 1 MiB keep the log's read buffers small and reused.
      auto r = s.src.log->Scan(s.next_read, 100'000, std::min<size_t>(want, 1u << 20), add);
      if (!add_error.ok()) {
        // Only a bug gets here; the records stay in the log.
        SetError(add_error, s);
        s.batch.reset();
        s.next_read = s.delivered;
        s.oldest_ms_pub = 0;
        return false;
      }
      if (!r.ok()) {
        SetError(r.status(), s);
        caught_up = true;
        break;
      }
      if (budget_full) break;
      if (r->records == 0) {
        caught_up = true;
        break;
      }
      s.next_read = r->next_seq;
    }
    if (b.records == 0) {
      s.batch.reset();  // holds no memory; the next one takes the destination afresh
      return worked;
    }
    // A backlog (more records than one Step reads) fills the batch up to the
    // size hint before the interval may cut it, so catching up writes full
    // objects rather than one per Step. Full memory cuts it at once.
    bool due = b.source_bytes >= limit || budget_full ||
               (caught_up && clock_->NowMillis() - b.first_arrival_ms >=
                                 static_cast<int64_t>(b.config.interval_s) * 1000);
    if (!due) return worked;
    b.to = s.next_read;
    if (Status st = Close(s, b, comp); !st.ok()) {
      SetError(st, s);
      s.batch.reset();
      s.next_read = s.delivered;
      s.oldest_ms_pub = 0;
      return false;
    }
    Deliver(s, comp);
    return true;
  }

  // Adds one record to its partition's object. False (and nothing added)
  // when its chunk needs memory the budget does not have; `force` takes it
  // regardless (a recorded batch being rebuilt).
  Result<bool> Add(Batch& b, std::string_view data, int64_t arrival_ms, Compressor& comp,
                   bool force) {
    const DestinationConfig& c = b.config;
    std::string group_key = "=";  // every partition's key starts with '='; errors are ""
    std::string reason;
    std::map<std::string, std::string> partition;
    if (b.query) {
      auto values = b.query->Evaluate(data);
      if (!values.ok()) {
        reason = values.status().message();
        group_key.clear();
      } else {
        partition = std::move(values).value();
        for (const auto& [k, v] : partition) group_key += fmt::format("{}={}\x1f", k, v);
      }
    }
    std::string line;  // an error record's JSON line
    if (!reason.empty()) {
      JsonWriter w(&line);
      w.BeginObject();
      w.Key("attemptsMade");
      w.Int(1);
      w.Key("arrivalTimestamp");
      w.Int(arrival_ms);
      w.Key("errorCode");
      w.String("DynamicPartitioning.MetadataExtractionFailed");
      w.Key("errorMessage");
      w.String(reason);
      w.Key("rawData");
      w.Base64String(data);
      w.EndObject();
      line.push_back('\n');
    }
    const bool delimit = reason.empty() && c.append_delimiter;
    const size_t n = reason.empty() ? data.size() + (delimit ? 1 : 0) : line.size();
    auto it = b.groups.find(group_key);
    const bool fresh = it == b.groups.end();
    if (fresh) it = b.groups.emplace(group_key, Group(budget_)).first;
    Group& g = it->second;
    // Chunk boundaries depend on the group's records alone, so rebuilding
    // the batch makes the same pieces.
    if (g.chunk_capacity != 0 && g.chunk.size() + n > g.chunk_capacity) {
      MUON_RETURN_IF_ERROR(Flush(g, c.compression, comp));
    }
    if (g.chunk_capacity == 0) {
      size_t capacity = std::max(g.next_chunk_bytes, n);
      size_t reserve = comp.PieceBound(c.compression, capacity);
      if (!g.hold.Grow(reserve, force)) {
        if (fresh) b.groups.erase(it);
        return false;
      }
      g.chunk_reserved = reserve;
      g.chunk_capacity = capacity;
      g.chunk.reserve(capacity);
      g.next_chunk_bytes = std::min(g.next_chunk_bytes * 2, kMaxChunkBytes);
    }
    if (reason.empty()) {
      g.chunk += data;
      if (delimit) g.chunk.push_back('\n');
    } else {
      g.chunk += line;
    }
    if (g.records == 0) {
      g.first_arrival_ms = arrival_ms;
      g.partition = std::move(partition);
      g.error = !reason.empty();
    }
    ++g.records;
    g.source_bytes += data.size();
    if (b.records == 0) b.first_arrival_ms = arrival_ms;
    ++b.records;
    b.source_bytes += data.size();
    b.last_arrival_ms = arrival_ms;
    return true;
  }

  // Compresses the group's open chunk into a piece and gives back the part
  // of its reservation the piece does not use.
  Status Flush(Group& g, Compression format, Compressor& comp) {
    std::string piece;
    if (format == Compression::kUncompressed) {
      piece = std::move(g.chunk);
    } else {
      MUON_RETURN_IF_ERROR(comp.CompressChunk(format, g.chunk, &piece));
    }
    g.chunk = std::string();
    g.chunk_capacity = 0;
    g.hold.Shrink(g.chunk_reserved - std::min(g.chunk_reserved, piece.capacity()));
    g.chunk_reserved = 0;
    g.pieces.push_back(std::move(piece));
    return Status::Ok();
  }

  // Fixes the batch: compresses every open chunk and names every object.
  // Deterministic in (options_, shard id, from, to, config, records).
  Status Close(ShardState& s, Batch& b, Compressor& comp) {
    const DestinationConfig& c = b.config;
    std::vector<std::string> keys;
    if (b.query) keys = b.query->Keys();
    MUON_ASSIGN_OR_RETURN(ResolvedPrefixes prefixes,
                          ResolvePrefixes(c.prefix, c.error_prefix, c.dynamic_partitioning, keys));
    for (auto& [group_key, g] : b.groups) {
      if (g.chunk_capacity != 0 && (!g.chunk.empty() || g.pieces.empty())) {
        MUON_RETURN_IF_ERROR(Flush(g, c.compression, comp));
      }
      std::string digest = Sha256(fmt::format("{}\n{}\n{}\n{}\n{}\n{}\n{}", options_.name,
                                              options_.incarnation, s.src.id, b.from, b.to,
                                              c.version, group_key));
      PrefixValues v;
      v.timestamp_ms = g.first_arrival_ms;
      v.random_string = RandomStringOf(digest);
      v.partition_keys = g.partition;
      if (g.error) v.error_output_type = std::string(kPartitioningFailed);
      std::string prefix = g.error ? prefixes.error.Expand(v) : prefixes.success.Expand(v);
      MUON_ASSIGN_OR_RETURN(std::string when,
                            FormatTimestamp("yyyy-MM-dd-HH-mm-ss", g.first_arrival_ms));
      g.key = fmt::format("{}{}-{}-{}-{}{}", prefix, options_.name, c.version, when,
                          UuidOf(digest), CompressionSuffix(c.compression));
    }
    b.closed = true;
    b.built = true;
    return Status::Ok();
  }

  // Rebuilds a batch recorded before a restart from its records in the log.
  Status Rebuild(ShardState& s, Batch& b, Compressor& comp) {
    b.groups.clear();
    b.records = 0;
    b.source_bytes = 0;
    if (b.config.dynamic_partitioning && !b.config.metadata_query.empty() && !b.query) {
      MUON_ASSIGN_OR_RETURN(MetadataQuery q, MetadataQuery::Parse(b.config.metadata_query));
      b.query = std::move(q);
    }
    uint64_t seq = b.from;
    uint64_t first_seq = b.to;
    Status add_error;
    const streamlog::RecordVisitor add = [&](const streamlog::RecordView& rec) {
      if (rec.seq >= b.to) return false;  // past a range trimmed from the log
      first_seq = std::min(first_seq, rec.seq);
      auto added = Add(b, rec.data, rec.arrival_ms, comp, /*force=*/true);  // forced: always added
      if (!added.ok()) add_error = added.status();
      return added.ok();
    };
    while (seq < b.to) {
      MUON_ASSIGN_OR_RETURN(streamlog::ScanResult r, s.src.log->Scan(seq, 100'000, 1u << 20, add));
      MUON_RETURN_IF_ERROR(add_error);
      if (r.records == 0) break;
      seq = r.next_seq;
    }
    if (b.records > 0 && first_seq > b.from) {
      log::warn("firehose {}: records {}..{} of {} were trimmed from the source before delivery",
                options_.name, b.from, first_seq - 1, s.src.id);
    }
    if (b.records > 0) s.oldest_ms_pub = std::max<int64_t>(b.first_arrival_ms, 1);
    return Close(s, b, comp);
  }

  bool Deliver(ShardState& s, Compressor& comp) {
    Batch& b = *s.batch;
    if (!b.intent_written) {
      if (Status st = WriteCheckpoint(s); !st.ok()) {
        Backoff(s, st.WithContext("recording the batch"));
        return true;
      }
      b.intent_written = true;
    }
    if (!b.built) {
      Status st = Rebuild(s, b, comp);
      if (b.priority) {
        budget_->EndPriority();
        b.priority = false;
      }
      if (!st.ok()) {
        b.groups.clear();
        Backoff(s, st.WithContext("re-reading the batch"));
        return true;
      }
    }
    if (!b.puts_done) {
      for (auto& [group_key, g] : b.groups) {
        if (g.put) continue;
        std::vector<std::string_view> pieces(g.pieces.begin(), g.pieces.end());
        // As on Firehose, no Content-Encoding: clients must not undo the
        // compression on download (the key's suffix names it).
        objectstore::PutOptions po;
        auto r = store_->PutPieces(b.config.bucket, g.key, pieces, po);
        if (!r.ok()) {
          Backoff(s, r.status().WithContext(fmt::format("putting {}", g.key)));
          return true;
        }
        g.put = true;
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
    s.oldest_ms_pub = 0;
    uint64_t recs = 0, bytes = 0, errors = 0;
    for (const auto& [group_key, g] : done->groups) {
      recs += g.records;
      bytes += g.source_bytes;
      if (g.error) errors += g.records;
    }
    records_ += recs;
    bytes_ += bytes;
    objects_ += done->groups.size();
    error_records_ += errors;
    if (m_records_) {
      m_records_->Add(recs);
      m_bytes_->Add(bytes);
      m_objects_->Add(done->groups.size());
      m_errors_->Add(errors);
    }
    ClearError();
    const int64_t last_arrival_ms = done->last_arrival_ms;
    done.reset();  // gives its memory back
    if (s.src.trim_delivered && last_arrival_ms > 0) {
      if (Status st = s.src.log->TrimBefore(last_arrival_ms); !st.ok()) {
        log::warn("firehose {}: trimming delivered records: {}", options_.name, st.ToString());
      }
    }
    return true;
  }

  const DeliveryStreamOptions options_;
  objectstore::ObjectStore* const store_;
  Env* const env_;
  Clock* const clock_;
  std::unique_ptr<MemoryBudget> own_budget_;  // when options_ gives none
  MemoryBudget* budget_ = nullptr;

  mutable std::mutex config_mu_;
  DestinationConfig config_;  // guarded by config_mu_

  // Touched only by the thread running Step (the vector itself is fixed after Load).
  std::vector<std::unique_ptr<ShardState>> shards_;

  std::mutex compressors_mu_;
  std::vector<std::unique_ptr<Compressor>> compressors_;  // guarded by compressors_mu_

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
  Gauge* m_memory_ = nullptr;
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
