#include "sim/publisher.h"

#include <algorithm>

#include <fmt/format.h>

namespace muon::sim {

bool IsRetryable(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

bool IsRetryableEntryError(std::string_view error_code) {
  // PutRecords documents ProvisionedThroughputExceededException and
  // InternalFailure per entry; KMS throttling is transient too. Other KMS
  // errors (access denied, key disabled or missing) need an operator.
  return error_code.find("KMS") == std::string_view::npos ||
         error_code == "KMSThrottlingException";
}

Publisher::Publisher(RecordSender* sender, const Clock* clock, PublisherOptions options)
    : sender_(sender), clock_(clock), options_(options), jitter_(options.jitter_seed) {}

void Publisher::Enqueue(KinesisRecord record) { queue_.push_back(std::move(record)); }

bool Publisher::backing_off() const { return clock_->MonotonicNanos() < next_attempt_ns_; }

uint64_t Publisher::queued_lines() const {
  uint64_t n = 0;
  for (const KinesisRecord& r : queue_) n += r.lines;
  return n;
}

void Publisher::BackOff() {
  // Full jitter: uniform in [0, min(max, base * 2^attempt)].
  const int shift = std::min(attempt_, 30);
  const int64_t ceiling = std::min(options_.max_backoff_ns, options_.base_backoff_ns << shift);
  std::uniform_int_distribution<int64_t> pick(0, ceiling);
  ++attempt_;
  next_attempt_ns_ = clock_->MonotonicNanos() + pick(jitter_);
}

Status Publisher::Pump() {
  if (queue_.empty() || backing_off()) return Status::Ok();

  size_t count = 0;
  size_t bytes = 0;
  while (count < queue_.size() && count < options_.max_batch_records) {
    const KinesisRecord& r = queue_[count];
    const size_t size = r.data.size() + r.partition_key.size();
    if (count > 0 && bytes + size > options_.max_batch_bytes) break;
    bytes += size;
    ++count;
  }
  std::vector<KinesisRecord> batch(std::make_move_iterator(queue_.begin()),
                                   std::make_move_iterator(queue_.begin() + count));
  queue_.erase(queue_.begin(), queue_.begin() + count);
  std::vector<const KinesisRecord*> pointers;
  pointers.reserve(batch.size());
  for (const KinesisRecord& r : batch) pointers.push_back(&r);

  ++stats_.calls;
  auto result = sender_->PutRecords(pointers);
  if (result.ok() && result->size() != batch.size()) {
    result = Status::Unavailable(fmt::format("PutRecords answered {} entries for {} records",
                                             result->size(), batch.size()));
  }
  if (!result.ok()) {
    // Nothing in the batch is known to be acknowledged: all of it goes back,
    // in order, ahead of newer records.
    queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()),
                  std::make_move_iterator(batch.end()));
    if (!IsRetryable(result.status())) return result.status();
    ++stats_.failed_calls;
    stats_.records_retried += batch.size();
    if (result.status().code() == StatusCode::kResourceExhausted) ++stats_.throttled;
    last_error_ = result.status().message();
    BackOff();
    return Status::Ok();
  }

  std::vector<KinesisRecord> failed;
  Status fatal;
  for (size_t i = 0; i < batch.size(); ++i) {
    const PutRecordsEntryResult& entry = (*result)[i];
    if (entry.error_code.empty()) {
      ++stats_.records_acked;
      stats_.lines_acked += batch[i].lines;
      stats_.bytes_acked += batch[i].data.size();
      continue;
    }
    if (!IsRetryableEntryError(entry.error_code) && fatal.ok()) {
      fatal = Status::FailedPrecondition(fmt::format(
          "PutRecords rejected a record of {}: {}: {}", batch[i].partition_key, entry.error_code,
          entry.error_message));
    }
    if (entry.error_code == "ProvisionedThroughputExceededException") ++stats_.throttled;
    last_error_ = entry.error_code;
    failed.push_back(std::move(batch[i]));
  }
  if (failed.empty()) {
    attempt_ = 0;
    return Status::Ok();
  }
  stats_.records_retried += failed.size();
  queue_.insert(queue_.begin(), std::make_move_iterator(failed.begin()),
                std::make_move_iterator(failed.end()));
  if (!fatal.ok()) return fatal;
  BackOff();
  return Status::Ok();
}

}  // namespace muon::sim
