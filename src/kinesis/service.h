// The Kinesis Data Streams API (JSON 1.1, target prefix Kinesis_20131202) on
// top of streamlog. The wire contract is botocore's kinesis service model.
//
// Streams and their shards are kept in a catalogue file (streams.json, replaced
// atomically); each shard's records live in one streamlog ShardLog. Streams are
// ACTIVE as soon as CreateStream returns (AWS passes through CREATING first;
// waiters see ACTIVE on their first poll).
//
// Thread safety: Call may run concurrently from any number of threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/authorizer.h"
#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "kinesis/usage.h"
#include "streamlog/log_store.h"

namespace muon::kinesis {

struct KinesisOptions {
  std::string region = "ap-southeast-2";
  std::string account_id = "000000000000";
  // Per-shard write limits as on AWS (1 MiB/s and 1,000 records/s), answered
  // with ProvisionedThroughputExceededException. Off by default.
  bool enforce_shard_limits = false;
  int64_t iterator_ttl_ms = 5 * 60 * 1000;
  int max_shards = 500;        // account-wide shard quota (LimitExceededException)
  int on_demand_shards = 4;    // shards an ON_DEMAND stream starts with
};

// The reply to one call: HTTP status and JSON body (an error body has __type).
using Reply = std::function<void(int http_status, std::string body)>;

class KinesisService {
 public:
  virtual ~KinesisService() = default;

  // Loads the catalogue from `dir` (created if missing) and opens every
  // shard's log in `logs`. `logs`, `env`, `clock` and `authorizer` must outlive
  // the service.
  static Result<std::unique_ptr<KinesisService>> Open(const std::string& dir,
                                                      const KinesisOptions& options,
                                                      streamlog::LogStore* logs, Env* env,
                                                      Clock* clock,
                                                      const auth::Authorizer* authorizer);

  // Runs one operation ("PutRecords", ...) for an authenticated caller. `reply`
  // runs exactly once, possibly on another thread (after a group commit).
  virtual void Call(std::string_view operation, std::string body, const auth::Caller& caller,
                    Reply reply) = 0;

  // Deletes whole segments older than each stream's retention period.
  virtual Status EnforceRetention() = 0;

  // Streams and shard counts, for metrics and the console.
  virtual size_t StreamCount() const = 0;

  // A stream's shards as in-process readers see them: its ARN, incarnation
  // and, per shard in index order, the shard id and its log. NotFound if the
  // stream does not exist. Readers must not append to the logs.
  struct StreamShards {
    std::string arn;
    uint64_t incarnation = 0;
    std::vector<std::pair<std::string, std::shared_ptr<streamlog::ShardLog>>> shards;
  };
  virtual Result<StreamShards> ShardsOf(std::string_view stream_name) const = 0;

  // Ingest per partition key (detector) since the service opened, as the
  // usage.json document the cost planner reads (kinesis/usage.h).
  virtual std::string UsageJson() const = 0;
  // Partition keys (detectors) with records acknowledged since the previous
  // call: fn(key, records, last acknowledged at, Unix ms). See
  // UsageTracker::DrainActivity.
  virtual void DrainActivity(
      const std::function<void(std::string_view key, uint64_t records, int64_t last_ms)>& fn) = 0;
};

}  // namespace muon::kinesis
