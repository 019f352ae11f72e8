#include "sim/publisher.h"

#include <gtest/gtest.h>

#include "sim/fake_sender_test_util.h"

namespace muon::sim {
namespace {

using testing::FakeSender;

KinesisRecord Record(int detector, uint64_t seq, size_t bytes = 100) {
  KinesisRecord r;
  r.partition_key = "MD-" + std::to_string(detector);
  r.data = std::string(bytes - 1, 'x') + "\n";
  r.first_seq = r.last_seq = seq;
  r.lines = 1;
  return r;
}

// Pumps until idle, moving the fake clock past every back-off.
void Drain(Publisher& p, FakeClock& clock, int max_calls = 1000) {
  for (int i = 0; i < max_calls && !p.idle(); ++i) {
    if (p.backing_off()) clock.Set(p.next_attempt_ns());
    ASSERT_TRUE(p.Pump().ok());
  }
  ASSERT_TRUE(p.idle());
}

TEST(PublisherTest, BatchesRespectRecordAndByteLimits) {
  FakeClock clock;
  FakeSender sender;
  Publisher p(&sender, &clock, {});
  for (int i = 0; i < 1200; ++i) p.Enqueue(Record(i % 7, i));
  Drain(p, clock);
  ASSERT_EQ(sender.calls.size(), 3u);
  EXPECT_EQ(sender.calls[0].size(), 500u);
  EXPECT_EQ(sender.calls[1].size(), 500u);
  EXPECT_EQ(sender.calls[2].size(), 200u);

  FakeSender big_sender;
  Publisher big(&big_sender, &clock, {});
  for (int i = 0; i < 12; ++i) big.Enqueue(Record(1, i, 1024 * 1024 - 8));
  Drain(big, clock);
  for (const auto& call : big_sender.calls) EXPECT_LE(call.size(), 5u);  // 5 MiB per call
  EXPECT_EQ(big_sender.acked.size(), 12u);
}

TEST(PublisherTest, ResendsOnlyFailedEntries) {
  FakeClock clock;
  FakeSender sender;
  // First call: entries 1, 3 and 4 are throttled or fail; later calls succeed.
  sender.entry_error = [](int call, size_t i) -> std::string {
    if (call == 0 && i == 1) return "ProvisionedThroughputExceededException";
    if (call == 0 && (i == 3 || i == 4)) return "InternalFailure";
    return "";
  };
  Publisher p(&sender, &clock, {});
  for (int i = 0; i < 6; ++i) p.Enqueue(Record(1, i));
  ASSERT_TRUE(p.Pump().ok());
  EXPECT_TRUE(p.backing_off());
  EXPECT_TRUE(p.Pump().ok());  // backing off: no call
  EXPECT_EQ(sender.calls.size(), 1u);
  Drain(p, clock);
  ASSERT_EQ(sender.calls.size(), 2u);
  const std::vector<std::pair<std::string, uint64_t>> resent = {{"MD-1", 1}, {"MD-1", 3}, {"MD-1", 4}};
  EXPECT_EQ(sender.calls[1], resent);
  EXPECT_EQ(sender.acked.size(), 6u);
  for (const auto& [key, times] : sender.acked) EXPECT_EQ(times, 1) << key.second;
  EXPECT_EQ(p.stats().records_acked, 6u);
  EXPECT_EQ(p.stats().records_retried, 3u);
  EXPECT_EQ(p.stats().throttled, 1u);
}

TEST(PublisherTest, NeverLosesOrDuplicatesAcknowledgedRecordsUnderRandomFailures) {
  FakeClock clock;
  FakeSender sender;
  std::mt19937_64 rng(99);
  sender.call_error = [&](int) {
    return rng() % 5 == 0 ? Status::Unavailable("connection reset") : Status::Ok();
  };
  sender.entry_error = [&](int, size_t) -> std::string {
    return rng() % 4 == 0 ? "ProvisionedThroughputExceededException" : "";
  };
  Publisher p(&sender, &clock, {.max_batch_records = 50});
  for (int i = 0; i < 2000; ++i) p.Enqueue(Record(i % 13, i));
  Drain(p, clock, 100000);
  EXPECT_EQ(sender.acked.size(), 2000u);
  for (const auto& [key, times] : sender.acked) ASSERT_EQ(times, 1) << key.second;
  EXPECT_EQ(p.stats().records_acked, 2000u);
  EXPECT_GT(p.stats().failed_calls, 0u);
}

TEST(PublisherTest, WholeCallFailureRequeuesInOrderWithGrowingBackoff) {
  FakeClock clock;
  FakeSender sender;
  sender.call_error = [](int call) {
    return call < 4 ? Status::ResourceExhausted("LimitExceededException") : Status::Ok();
  };
  PublisherOptions options{.base_backoff_ns = 100'000'000, .max_backoff_ns = 1'000'000'000};
  Publisher p(&sender, &clock, options);
  for (int i = 0; i < 3; ++i) p.Enqueue(Record(1, i));
  int64_t total_wait = 0;
  while (!p.idle()) {
    if (p.backing_off()) {
      const int64_t wait = p.next_attempt_ns() - clock.MonotonicNanos();
      EXPECT_LE(wait, options.max_backoff_ns);
      total_wait += wait;
      clock.Set(p.next_attempt_ns());
    }
    ASSERT_TRUE(p.Pump().ok());
  }
  ASSERT_EQ(sender.calls.size(), 5u);
  for (const auto& call : sender.calls) EXPECT_EQ(call, sender.calls[0]);
  EXPECT_EQ(p.stats().failed_calls, 4u);
  EXPECT_EQ(p.stats().throttled, 4u);
  EXPECT_LE(total_wait, 100'000'000 + 200'000'000 + 400'000'000 + 800'000'000);
}

TEST(PublisherTest, FatalErrorsStopAndKeepRecordsQueued) {
  FakeClock clock;
  FakeSender sender;
  sender.call_error = [](int) { return Status::NotFound("stream 'x' does not exist"); };
  Publisher p(&sender, &clock, {});
  p.Enqueue(Record(1, 1));
  Status s = p.Pump();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(p.queued_records(), 1u);

  FakeSender kms;
  kms.entry_error = [](int, size_t) { return std::string("KMSAccessDeniedException"); };
  Publisher q(&kms, &clock, {});
  q.Enqueue(Record(1, 1));
  EXPECT_EQ(q.Pump().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(q.queued_records(), 1u);
}

TEST(PublisherTest, Classification) {
  EXPECT_TRUE(IsRetryable(Status::Unavailable("x")));
  EXPECT_TRUE(IsRetryable(Status::ResourceExhausted("x")));
  EXPECT_TRUE(IsRetryable(Status::DeadlineExceeded("x")));
  EXPECT_FALSE(IsRetryable(Status::PermissionDenied("x")));
  EXPECT_FALSE(IsRetryable(Status::NotFound("x")));
  EXPECT_TRUE(IsRetryableEntryError("ProvisionedThroughputExceededException"));
  EXPECT_TRUE(IsRetryableEntryError("InternalFailure"));
  EXPECT_TRUE(IsRetryableEntryError("KMSThrottlingException"));
  EXPECT_FALSE(IsRetryableEntryError("KMSDisabledException"));
}

}  // namespace
}  // namespace muon::sim
