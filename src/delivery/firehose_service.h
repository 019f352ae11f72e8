// The Firehose API (JSON 1.1, target prefix Firehose_20150804) over delivery
// streams. The wire contract is botocore's firehose model.
//
// Delivery streams are kept in a catalogue (DIR/streams.json, replaced
// atomically); each stream's checkpoints live in DIR/state/<name>-<incarnation>/.
// A Direct PUT stream buffers its records in its own streamlog ShardLog (in
// `buffers`): PutRecord(Batch) is answered only once the records are synced
// there, and delivery reads them back like any other source. A
// KinesisStreamAsSource stream reads the Kinesis stream's shards from LATEST
// at creation.
//
// Only Extended S3 (and plain S3) destinations exist. Streams are ACTIVE as
// soon as CreateDeliveryStream returns. DescribeDeliveryStream adds a
// muonpipe extension member, DeliveryStreamDescription.MuonpipeDelivery, with
// the delivery lag and counters (SDKs ignore it; docs/firehose.md).
//
// Thread safety: Call may run concurrently from any number of threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "auth/authorizer.h"
#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "kinesis/service.h"
#include "objectstore/object_store.h"
#include "streamlog/log_store.h"

namespace muon::delivery {

struct FirehoseOptions {
  std::string region = "ap-southeast-2";
  std::string account_id = "000000000000";
  int max_delivery_streams = 5000;
  // Run each stream's delivery on its own thread. Off in tests, which call
  // StepAll instead.
  bool background_delivery = true;
  // One budget for the objects all delivery streams are building
  // (delivery/memory_budget.h).
  uint64_t delivery_memory_bytes = 128ull << 20;
};

using Reply = kinesis::Reply;

class FirehoseService {
 public:
  virtual ~FirehoseService() = default;

  // Loads the catalogue from `dir` and resumes delivery of every stream.
  // `buffers` holds Direct PUT buffer logs; `kinesis` may be null (then
  // KinesisStreamAsSource is refused). Every pointer must outlive the service.
  static Result<std::unique_ptr<FirehoseService>> Open(const std::string& dir,
                                                       const FirehoseOptions& options,
                                                       streamlog::LogStore* buffers,
                                                       kinesis::KinesisService* kinesis,
                                                       objectstore::ObjectStore* store, Env* env,
                                                       Clock* clock,
                                                       const auth::Authorizer* authorizer);

  // Runs one operation ("PutRecordBatch", ...) for an authenticated caller.
  // `reply` runs exactly once, possibly on another thread.
  virtual void Call(std::string_view operation, std::string body, const auth::Caller& caller,
                    Reply reply) = 0;

  // One delivery pass over every stream (for tests without background delivery).
  virtual void StepAll() = 0;

  // Stops delivery threads (the pass under way finishes). Idempotent.
  virtual void Close() = 0;

  virtual size_t DeliveryStreamCount() const = 0;
};

}  // namespace muon::delivery
