#include "streamlog/log_store.h"

#include <algorithm>
#include <cstring>
#include <future>
#include <map>

#include "base/log.h"
#include "streamlog/shard_log.h"

namespace muon::streamlog {

Result<AppendResult> ShardLog::AppendSync(std::span<const AppendEntry> entries) {
  std::promise<Result<AppendResult>> promise;
  auto future = promise.get_future();
  Append(entries, [&promise](Result<AppendResult> r) { promise.set_value(std::move(r)); });
  return future.get();
}

Result<ReadResult> ShardLog::Read(uint64_t from_seq, size_t max_records, size_t max_bytes) const {
  ReadResult out;
  auto copy = [&out](const RecordView& v) {
    Record& r = out.records.emplace_back();
    r.seq = v.seq;
    r.arrival_ms = v.arrival_ms;
    r.partition_key.assign(v.partition_key);
    std::memcpy(r.hash_key.data(), v.hash_key, r.hash_key.size());
    r.data.assign(v.data);
    return true;
  };
  MUON_ASSIGN_OR_RETURN(ScanResult scan, Scan(from_seq, max_records, max_bytes, copy));
  out.next_seq = scan.next_seq;
  out.end_seq = scan.end_seq;
  out.last_arrival_ms = scan.last_arrival_ms;
  return out;
}

namespace {

bool ValidLogId(std::string_view id) {
  if (id.empty() || id.size() > 255 || id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

class LogStoreImpl final : public LogStore {
 public:
  LogStoreImpl(std::string dir, const LogStoreOptions& options, Env* env, Clock* clock)
      : dir_(std::move(dir)),
        options_(options),
        env_(env),
        clock_(clock),
        committer_(options.sync, options.sync_parallelism) {}
  ~LogStoreImpl() override { Close(); }

  Status Open() {
    MUON_RETURN_IF_ERROR(env_->CreateDirs(dir_));
    MUON_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir_));
    for (const std::string& name : names) {
      const std::string path = JoinPath(dir_, name);
      if (!ValidLogId(name) || !env_->ListDir(path).ok()) continue;  // not a log directory
      auto shard = MakeShard(name);
      MUON_RETURN_IF_ERROR(shard->Recover().WithContext("recovering log " + path));
      logs_.emplace(name, std::move(shard));
    }
    committer_.Start();
    return Status::Ok();
  }

  Result<std::shared_ptr<ShardLog>> CreateLog(const std::string& id) override {
    if (!ValidLogId(id)) {
      return Status::InvalidArgument("log id '" + id + "' must match [A-Za-z0-9_.-]{1,255}");
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return Status::FailedPrecondition("log store " + dir_ + " is closed");
    if (logs_.count(id)) return Status::AlreadyExists("log '" + id + "' exists");
    const std::string path = JoinPath(dir_, id);
    // Leftovers of a deletion interrupted by a crash.
    if (env_->FileExists(path)) MUON_RETURN_IF_ERROR(env_->RemoveTree(path));
    MUON_RETURN_IF_ERROR(env_->CreateDir(path));
    if (options_.sync) MUON_RETURN_IF_ERROR(env_->SyncDir(dir_));
    auto shard = MakeShard(id);
    MUON_RETURN_IF_ERROR(shard->Recover().WithContext("creating log " + path));
    logs_.emplace(id, shard);
    return std::shared_ptr<ShardLog>(std::move(shard));
  }

  Result<std::shared_ptr<ShardLog>> GetLog(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = logs_.find(id);
    if (it == logs_.end()) return Status::NotFound("log '" + id + "' does not exist");
    return std::shared_ptr<ShardLog>(it->second);
  }

  std::vector<std::string> ListLogs() const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> ids;
    ids.reserve(logs_.size());
    for (const auto& [id, log] : logs_) ids.push_back(id);
    return ids;
  }

  Status DeleteLog(const std::string& id) override {
    std::shared_ptr<ShardLogImpl> shard;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = logs_.find(id);
      if (it == logs_.end()) return Status::NotFound("log '" + id + "' does not exist");
      shard = std::move(it->second);
      logs_.erase(it);
    }
    shard->MarkDeleted();
    MUON_RETURN_IF_ERROR(env_->RemoveTree(shard->dir()));
    return options_.sync ? env_->SyncDir(dir_) : Status::Ok();
  }

  void Close() override {
    std::vector<std::shared_ptr<ShardLogImpl>> shards;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return;
      closed_ = true;
      for (const auto& [id, log] : logs_) shards.push_back(log);
    }
    for (const auto& s : shards) s->Shutdown(Status::FailedPrecondition("log store is closed"));
    committer_.Stop();
    // Batches appended before Shutdown whose notification came too late.
    committer_.RunPass(std::move(shards));
  }

 private:
  std::shared_ptr<ShardLogImpl> MakeShard(const std::string& id) {
    return std::make_shared<ShardLogImpl>(id, JoinPath(dir_, id), options_, env_, clock_,
                                          &committer_);
  }

  const std::string dir_;
  const LogStoreOptions options_;
  Env* const env_;
  Clock* const clock_;
  Committer committer_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<ShardLogImpl>> logs_;  // guarded by mu_
  bool closed_ = false;                                        // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<LogStore>> LogStore::Open(const std::string& dir,
                                                 const LogStoreOptions& options, Env* env,
                                                 Clock* clock) {
  if (options.segment_bytes < kSegmentHeaderSize) {
    return Status::InvalidArgument("segment_bytes must be at least " +
                                   std::to_string(kSegmentHeaderSize));
  }
  auto store = std::make_unique<LogStoreImpl>(dir, options, env, clock);
  MUON_RETURN_IF_ERROR(store->Open().WithContext("opening stream log " + dir));
  return std::unique_ptr<LogStore>(std::move(store));
}

}  // namespace muon::streamlog
