// streamlog: durable, sharded, append-only record logs.
//
// A LogStore owns a directory holding many ShardLogs (one per Kinesis shard).
// Each ShardLog is a sequence of segment files of checksummed records (layout:
// segment.h and docs/streamlog.md). Appends are acknowledged only after the
// bytes are on stable storage: one background committer fdatasyncs every file
// written since its last pass, so many concurrent appends share one sync
// (group commit).
//
// Positions: within a ShardLog every record gets a sequence number `seq`, a
// uint64 that increases by one per record, starting at 0 for a new log. A seq
// is never reused for a record that was acknowledged or that any reader saw,
// across crashes and restarts.
//
// Visibility: readers see only committed (synced) records, so nothing a reader
// saw can be lost by a crash.
//
// Thread safety: all methods are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"

namespace muon::streamlog {

// What a caller appends.
struct AppendEntry {
  std::string_view partition_key;
  // The 128-bit hash key the record was routed by, as 16 big-endian bytes.
  std::array<uint8_t, 16> hash_key{};
  std::string_view data;
};

struct AppendResult {
  uint64_t first_seq = 0;     // the entries got first_seq, first_seq+1, ...
  int64_t arrival_ms = 0;     // the arrival time given to every entry of the batch
};

// A record read back.
struct Record {
  uint64_t seq = 0;
  int64_t arrival_ms = 0;  // Unix ms; non-decreasing with seq within a log
  std::string partition_key;
  std::array<uint8_t, 16> hash_key{};
  std::string data;
};

struct ReadResult {
  std::vector<Record> records;
  // The seq to read from next time (last returned + 1, or from_seq if none).
  uint64_t next_seq = 0;
  // Committed end of the log when the read ran: the seq the next append gets.
  uint64_t end_seq = 0;
  // Arrival time of the newest committed record (0 if the log is empty).
  int64_t last_arrival_ms = 0;
};

// A record seen in place by ShardLog::Scan. The views (and hash_key) point
// into the log's read buffer: valid only during the visit that receives them.
struct RecordView {
  uint64_t seq = 0;
  int64_t arrival_ms = 0;  // Unix ms; non-decreasing with seq within a log
  std::string_view partition_key;
  const uint8_t* hash_key = nullptr;  // 16 bytes, big-endian
  std::string_view data;
};

// Return true to consume the record and go on, false to stop before it.
using RecordVisitor = std::function<bool(const RecordView&)>;

struct ScanResult {
  // The seq to scan from next time: the last consumed record + 1, the record
  // the visitor refused, or from_seq (raised to the trim point) if none.
  uint64_t next_seq = 0;
  // Committed end of the log when the scan began: the seq the next append gets.
  uint64_t end_seq = 0;
  // Arrival time of the newest committed record (0 if the log is empty).
  int64_t last_arrival_ms = 0;
  // Records consumed (visits that returned true) and the sum of their data sizes.
  size_t records = 0;
  size_t bytes = 0;
};

using AppendCallback = std::function<void(Result<AppendResult>)>;

class ShardLog {
 public:
  virtual ~ShardLog() = default;

  // Appends the entries as one batch with consecutive seqs. `done` runs once,
  // on the committer thread (or inline on immediate failure), after the batch
  // is durable (OK) or has failed (not acknowledged; none of it will ever be
  // visible). `done` must not block for long.
  virtual void Append(std::span<const AppendEntry> entries, AppendCallback done) = 0;

  // Blocking form of Append, for tests and tools.
  Result<AppendResult> AppendSync(std::span<const AppendEntry> entries);

  // Visits committed records in seq order, each in place, starting at
  // from_seq: at most max_records, stopping before the total data size would
  // exceed max_bytes (at least one record is offered if any is available),
  // and never past the committed end sampled when the scan began (end_seq).
  // from_seq below the trim point starts at the oldest retained record;
  // from_seq at or beyond the end visits none. When `visit` returns false the
  // scan stops without consuming that record: next_seq is its seq.
  // `visit` runs on the calling thread with no lock of the log held (it may
  // call this log); it must not keep the views past its return.
  // An error (I/O, or Corruption for bytes that are not the committed records
  // they should be) may come after some records were already visited: those
  // were consumed, and the caller decides what they mean.
  virtual Result<ScanResult> Scan(uint64_t from_seq, size_t max_records, size_t max_bytes,
                                  const RecordVisitor& visit) const = 0;

  // Scan that copies the records out: same selection, next_seq, end_seq and
  // last_arrival_ms. On error nothing is returned.
  Result<ReadResult> Read(uint64_t from_seq, size_t max_records, size_t max_bytes) const;

  // The seq of the first committed record with arrival_ms >= ms, or the end seq
  // if none.
  virtual Result<uint64_t> SeqAtOrAfterTime(int64_t ms) const = 0;

  // Oldest retained seq (== end when empty) and committed end (next seq).
  virtual uint64_t TrimSeq() const = 0;
  virtual uint64_t EndSeq() const = 0;
  virtual int64_t LastArrivalMs() const = 0;
  virtual uint64_t SizeBytes() const = 0;

  // Deletes whole segments whose newest record arrived before cutoff_ms. The
  // active segment is never deleted.
  virtual Status TrimBefore(int64_t cutoff_ms) = 0;
};

struct LogStoreOptions {
  // Roll to a new segment once the active one reaches this size.
  uint64_t segment_bytes = 64ull << 20;
  // When false, appends are acknowledged before fdatasync (tests only; never the default).
  bool sync = true;
  // A commit pass syncs up to this many files at once (one per shard written
  // since the last pass). The file system folds concurrent fdatasyncs into one
  // journal commit, so a pass costs about one sync instead of one per shard.
  int sync_parallelism = 4;
};

class LogStore {
 public:
  virtual ~LogStore() = default;

  // Opens (creating if needed) the store rooted at `dir`, recovering every log
  // in it: torn or corrupt tails are detected by checksum and cut. `env` and
  // `clock` must outlive the store.
  static Result<std::unique_ptr<LogStore>> Open(const std::string& dir,
                                                const LogStoreOptions& options, Env* env,
                                                Clock* clock);

  // Log ids are caller-chosen names matching [A-Za-z0-9_.-]{1,255}; each log
  // lives in the directory <dir>/<id>/.
  virtual Result<std::shared_ptr<ShardLog>> CreateLog(const std::string& id) = 0;  // AlreadyExists
  virtual Result<std::shared_ptr<ShardLog>> GetLog(const std::string& id) = 0;     // NotFound
  virtual std::vector<std::string> ListLogs() const = 0;
  // Removes the log and its files. Holders of the shared_ptr may finish their
  // calls; appends after deletion fail with NotFound.
  virtual Status DeleteLog(const std::string& id) = 0;

  // Waits for in-flight appends to commit and stops the committer.
  virtual void Close() = 0;
};

}  // namespace muon::streamlog
