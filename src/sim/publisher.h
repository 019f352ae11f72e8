// Publisher: sends aggregated records with PutRecords, retrying what failed.
//
// Contract: a record the service acknowledged (an entry without ErrorCode in a
// PutRecords reply) is never sent again; a record that failed, alone or with
// its whole call, goes back to the head of the queue and is resent after an
// exponential back-off with full jitter. A call whose reply never arrived is
// resent whole, so the service may hold such a record twice; consumers
// de-duplicate on (det, seq) (docs/records.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "sim/aggregator.h"

namespace muon::sim {

// One PutRecords reply entry: empty error_code means acknowledged.
struct PutRecordsEntryResult {
  std::string error_code;
  std::string error_message;
};

// The wire, behind an interface so tests can fail calls and entries.
class RecordSender {
 public:
  virtual ~RecordSender() = default;
  // Sends the records in one PutRecords call. On OK, returns exactly one
  // entry per record, in order. Errors: kUnavailable, kDeadlineExceeded and
  // kResourceExhausted are transient (throttling, 5xx, connection lost);
  // anything else is fatal and its message says what to fix.
  virtual Result<std::vector<PutRecordsEntryResult>> PutRecords(
      const std::vector<const KinesisRecord*>& records) = 0;
};

// Whether a failed call (by its Status) or entry (by its ErrorCode) may succeed
// if sent again. The one place failures are classified.
bool IsRetryable(const Status& status);
bool IsRetryableEntryError(std::string_view error_code);

struct PublisherOptions {
  size_t max_batch_records = 500;               // PutRecords limit
  size_t max_batch_bytes = 5 * 1024 * 1024;     // data + partition keys, PutRecords limit
  int64_t base_backoff_ns = 100'000'000;
  int64_t max_backoff_ns = 5'000'000'000;
  uint64_t jitter_seed = 1;
};

struct PublisherStats {
  uint64_t calls = 0;            // PutRecords calls made
  uint64_t failed_calls = 0;     // calls that failed whole (transient)
  uint64_t records_acked = 0;
  uint64_t lines_acked = 0;
  uint64_t bytes_acked = 0;      // record data bytes
  uint64_t records_retried = 0;  // records put back for another attempt
  uint64_t throttled = 0;        // throttling replies (whole call or entries)
};

// Not thread-safe.
class Publisher {
 public:
  Publisher(RecordSender* sender, const Clock* clock, PublisherOptions options);

  void Enqueue(KinesisRecord record);

  // Makes at most one PutRecords call: none when the queue is empty or a
  // back-off is pending (see next_attempt_ns). Returns a non-OK Status only for
  // a fatal failure; the records involved stay queued.
  Status Pump();

  bool idle() const { return queue_.empty(); }
  bool backing_off() const;
  // Clock::MonotonicNanos() before which Pump sends nothing.
  int64_t next_attempt_ns() const { return next_attempt_ns_; }
  size_t queued_records() const { return queue_.size(); }
  uint64_t queued_lines() const;
  const PublisherStats& stats() const { return stats_; }
  // The most recent transient failure, for progress reports.
  const std::string& last_error() const { return last_error_; }

 private:
  void BackOff();

  RecordSender* sender_;
  const Clock* clock_;
  PublisherOptions options_;
  std::deque<KinesisRecord> queue_;
  std::mt19937_64 jitter_;
  int attempt_ = 0;  // consecutive attempts that failed, whole or in part
  int64_t next_attempt_ns_ = 0;
  PublisherStats stats_;
  std::string last_error_;
};

}  // namespace muon::sim
