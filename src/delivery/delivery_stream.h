// DeliveryStream: moves records from durable source logs into objects, exactly
// once. The source is a set of streamlog ShardLogs — a Kinesis stream's shards,
// or the delivery stream's own buffer log for Direct PUT — and the sink an
// ObjectStore bucket.
//
// Per source shard, delivery is a loop of batches:
//   1. read records after the checkpoint, building the batch's objects as
//      they come (partition, delimit, compress in chunks: compress.h), until
//      the batch holds SizeInMBs MiB of records, its oldest record arrived
//      IntervalInSeconds ago, or the memory budget has no room for the next
//      chunk (memory_budget.h: the batch then closes early, smaller);
//   2. record the batch — its seq range [from, to) and the destination
//      configuration — in the shard's checkpoint file (the *intent*);
//   3. name the objects and put each one (from its compressed pieces); on
//      failure retry with exponential back-off, forever, keeping the data
//      (it stays in the source log);
//   4. advance the checkpoint to `to`, clear the intent and give the memory back.
// After a restart, a recorded batch is rebuilt from exactly [from, to).
// Every object's key, including its <id> and any !{firehose:random-string}, is
// a function of (stream, incarnation, shard, from, to, partition) and of the
// records, so after a crash the intent names exactly the range to re-read and
// re-putting it writes the same keys with the same bytes: a record is in
// exactly one object whatever happens between steps 2 and 4.
//
// Checkpoint file (<state_dir>/<shard id>.checkpoint, replaced atomically
// through Env::WriteFileAtomic), JSON:
//   {"delivered": N, "pending": {"from": A, "to": B, "config": {...}}}
// where N is the first seq not yet delivered and "pending" is present only
// between steps 2 and 4.
//
// Object keys: <evaluated prefix><stream>-<version>-YYYY-MM-DD-HH-MM-SS-<id>
// plus ".gz" or ".zst", the time being the arrival time (UTC) of the object's
// oldest record and <id> a UUID-shaped hash of the range and partition.
//
// Memory: every object being built, across all the streams sharing one
// MemoryBudget, counts against it (memory_budget.h says what is counted), so
// delivery memory does not grow with SizeInMBs x shards x streams.
//
// Threads: after Start, up to one worker per core delivers the shards (worker
// w owns shards w, w+n, ...), each worker with its own compressor.
// Thread safety: Step is called from one thread at a time and never while
// started (tests drive Step themselves); Stats, UpdateDestination and Wake
// may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "delivery/config.h"
#include "delivery/memory_budget.h"
#include "objectstore/object_store.h"
#include "streamlog/log_store.h"

namespace muon::delivery {

struct SourceShard {
  // Names the checkpoint file: [A-Za-z0-9_.-]+ ("shardId-000000000000").
  std::string id;
  std::shared_ptr<streamlog::ShardLog> log;
  // Delete delivered segments from the log (a Direct PUT buffer, which no
  // one else reads).
  bool trim_delivered = false;
};

struct DeliveryStreamOptions {
  std::string name;          // the delivery stream's name, part of every key
  uint64_t incarnation = 0;  // tells apart streams created under one name
  std::string state_dir;     // checkpoint files live here
  // A shard without a checkpoint starts at its end (Firehose reads a Kinesis
  // stream from LATEST) rather than its first record.
  bool start_at_end = false;
  int64_t min_backoff_ms = 100;
  int64_t max_backoff_ms = 60'000;
  // Bytes read from one shard per Step, so a Step stays short.
  size_t max_read_bytes_per_step = 8u << 20;
  // Labels for this stream's metrics; empty registers none.
  bool metrics = true;
  // Shared by every stream of a server (must outlive the stream); nullptr
  // gives the stream a budget of its own of kDefaultDeliveryMemoryBytes.
  MemoryBudget* memory_budget = nullptr;
};

inline constexpr uint64_t kDefaultDeliveryMemoryBytes = 128ull << 20;

struct DeliveryStats {
  uint64_t delivered_records = 0;
  uint64_t delivered_bytes = 0;  // source bytes, before delimiters and compression
  uint64_t delivered_objects = 0;
  uint64_t error_records = 0;    // records written under the ErrorOutputPrefix
  uint64_t retries = 0;          // failed attempts (put or checkpoint) that will be retried
  // Age of the oldest record not yet delivered (0 when all are delivered).
  int64_t lag_ms = 0;
  // The last failure, "" once an attempt succeeds after it.
  std::string last_error;
};

class DeliveryStream {
 public:
  virtual ~DeliveryStream() = default;

  // Loads each shard's checkpoint from options.state_dir (creating it).
  // `store`, `env` and `clock` must outlive the stream. The configuration
  // must pass Validate().
  static Result<std::unique_ptr<DeliveryStream>> Open(const DeliveryStreamOptions& options,
                                                      const DestinationConfig& config,
                                                      std::vector<SourceShard> shards,
                                                      objectstore::ObjectStore* store, Env* env,
                                                      Clock* clock);

  // One pass over every shard: reads what is available, delivers the batches
  // that are due and retries failed ones whose back-off has passed. Returns
  // true if it read or delivered anything.
  virtual bool Step() = 0;

  // Runs delivery on background workers until Stop (which waits for the
  // passes under way). Wake shortens their wait after new records arrive.
  virtual void Start() = 0;
  virtual void Stop() = 0;
  virtual void Wake() = 0;

  // Applies from the next batch on; a batch already recorded keeps the
  // configuration it was recorded with.
  virtual Status UpdateDestination(const DestinationConfig& config) = 0;
  virtual DestinationConfig Destination() const = 0;

  virtual DeliveryStats Stats() const = 0;
};

}  // namespace muon::delivery
