#include "sim/simulator.h"

#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sim/fake_sender_test_util.h"
#include "sim/test_util.h"

namespace muon::sim {
namespace {

using nlohmann::json;
using testing::FakeSender;

constexpr int64_t kSecond = 1'000'000'000;

// Splits acknowledged record data into lines, checking each, and returns the
// seqs per detector in arrival order.
std::map<std::string, std::vector<uint64_t>> LinesByDetector(const FakeSender& sender) {
  std::map<std::string, std::vector<uint64_t>> seqs;
  for (const std::string& data : sender.stored) {
    size_t pos = 0;
    while (pos < data.size()) {
      const size_t eol = data.find('\n', pos);
      const std::string line = data.substr(pos, eol - pos);
      EXPECT_EQ(testing::CheckCanonicalLine(line), "") << line;
      json j = json::parse(line);
      seqs[j["det"]].push_back(j["seq"].get<uint64_t>());
      pos = eol + 1;
    }
  }
  return seqs;
}

TEST(SimulatorTest, AFleetMinuteArrivesWholeAtTheTargetRate) {
  FakeClock clock;
  FakeSleeper sleeper(&clock);
  FakeSender sender;
  SimOptions options;
  options.detectors = 20;
  options.rate_bytes = 1024;
  options.duration_ns = 60 * kSecond;
  options.seed = 5;
  std::vector<SimProgress> reports;
  SimSummary summary = RunSimulation(options, &sender, &clock, &sleeper, nullptr,
                                     [&](const SimProgress& p) { reports.push_back(p); });
  ASSERT_TRUE(summary.error.ok()) << summary.error.ToString();
  EXPECT_FALSE(summary.stopped);
  const SimProgress& f = summary.final;
  EXPECT_EQ(f.publisher.lines_acked, f.lines_generated);
  EXPECT_EQ(f.queued_records, 0u);
  const double bytes_per_detector_second = static_cast<double>(f.publisher.bytes_acked) / 60 / 20;
  EXPECT_NEAR(bytes_per_detector_second, 1024, 0.15 * 1024);
  EXPECT_GE(reports.size(), 12u);  // every 5 s, plus the final one

  auto seqs = LinesByDetector(sender);
  EXPECT_EQ(seqs.size(), 20u);
  for (const auto& [detector, list] : seqs) {
    for (size_t i = 1; i < list.size(); ++i) ASSERT_EQ(list[i], list[i - 1] + 1) << detector;
  }
  // One record per detector-second.
  EXPECT_NEAR(static_cast<double>(f.records_generated) / 20 / 60, 1.0, 0.05);
}

TEST(SimulatorTest, RetriesThroughFailuresWithoutLosingOrDuplicatingLines) {
  FakeClock clock;
  FakeSleeper sleeper(&clock);
  FakeSender sender;
  std::mt19937_64 rng(4);
  sender.call_error = [&](int) {
    return rng() % 4 == 0 ? Status::Unavailable("cannot reach: connection refused") : Status::Ok();
  };
  sender.entry_error = [&](int, size_t) -> std::string {
    return rng() % 3 == 0 ? "ProvisionedThroughputExceededException" : "";
  };
  SimOptions options;
  options.detectors = 5;
  options.duration_ns = 30 * kSecond;
  options.seed = 8;
  SimSummary summary = RunSimulation(options, &sender, &clock, &sleeper, nullptr, nullptr);
  ASSERT_TRUE(summary.error.ok());
  EXPECT_GT(summary.final.publisher.records_retried, 0u);
  EXPECT_EQ(summary.final.publisher.lines_acked, summary.final.lines_generated);
  for (const auto& [key, times] : sender.acked) EXPECT_EQ(times, 1);
  auto seqs = LinesByDetector(sender);
  for (auto& [detector, list] : seqs) {
    // Retries may reorder records; the set of seqs must still be gapless.
    std::sort(list.begin(), list.end());
    for (size_t i = 1; i < list.size(); ++i) ASSERT_EQ(list[i], list[i - 1] + 1) << detector;
  }
}

TEST(SimulatorTest, StopFlushesOpenRecords) {
  FakeClock clock;
  FakeSleeper sleeper(&clock);
  FakeSender sender;
  std::atomic<bool> stop{false};
  SimOptions options;
  options.detectors = 3;
  options.seed = 2;
  int reports = 0;
  SimSummary summary = RunSimulation(options, &sender, &clock, &sleeper, &stop,
                                     [&](const SimProgress&) {
                                       if (++reports == 2) stop = true;
                                     });
  ASSERT_TRUE(summary.error.ok());
  EXPECT_TRUE(summary.stopped);
  EXPECT_GT(summary.final.lines_generated, 0u);
  EXPECT_EQ(summary.final.publisher.lines_acked, summary.final.lines_generated);
}

TEST(SimulatorTest, FatalErrorEndsTheRunWithItsMessage) {
  FakeClock clock;
  FakeSleeper sleeper(&clock);
  FakeSender sender;
  sender.call_error = [](int) { return Status::PermissionDenied("check --credentials"); };
  SimOptions options;
  options.detectors = 2;
  options.duration_ns = 10 * kSecond;
  SimSummary summary = RunSimulation(options, &sender, &clock, &sleeper, nullptr, nullptr);
  EXPECT_EQ(summary.error.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(sender.calls.size(), 1u);
  EXPECT_GT(summary.final.queued_lines, 0u);
}

TEST(SimulatorTest, DrainGivesUpAfterTheTimeout) {
  FakeClock clock;
  FakeSleeper sleeper(&clock);
  FakeSender sender;
  sender.call_error = [](int) { return Status::Unavailable("connection refused"); };
  SimOptions options;
  options.detectors = 1;
  options.duration_ns = 5 * kSecond;
  options.drain_timeout_ns = 10 * kSecond;
  const int64_t start = clock.MonotonicNanos();
  SimSummary summary = RunSimulation(options, &sender, &clock, &sleeper, nullptr, nullptr);
  EXPECT_TRUE(summary.error.ok());
  EXPECT_EQ(summary.final.publisher.lines_acked, 0u);
  EXPECT_EQ(summary.final.queued_lines, summary.final.lines_generated);
  EXPECT_LE(clock.MonotonicNanos() - start, 16 * kSecond);
}

}  // namespace
}  // namespace muon::sim
