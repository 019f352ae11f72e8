// The fleet simulator: N detector generators, one aggregator each, and one
// publisher, driven by a Clock in ticks. Generation follows the clock (virtual
// time in tests, real time in `muonpipe sim`); sending never blocks
// generation for longer than a tick's worth of PutRecords calls.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "base/clock.h"
#include "base/status.h"
#include "sim/aggregator.h"
#include "sim/publisher.h"

namespace muon::sim {

// Waits until Clock::MonotonicNanos() reaches a deadline. The simulator's only
// way to pass time, so tests can run on a FakeClock without sleeping.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void SleepUntil(int64_t monotonic_ns) = 0;
};

// Sleeps on the real clock. The simulator never asks for more than a tick
// (or a back-off) at once, so a stop request is seen within that time.
class RealSleeper : public Sleeper {
 public:
  explicit RealSleeper(const Clock* clock) : clock_(clock) {}
  void SleepUntil(int64_t monotonic_ns) override;

 private:
  const Clock* clock_;
};

// Moves a FakeClock forward to the deadline.
class FakeSleeper : public Sleeper {
 public:
  explicit FakeSleeper(FakeClock* clock) : clock_(clock) {}
  void SleepUntil(int64_t monotonic_ns) override {
    if (monotonic_ns > clock_->MonotonicNanos()) clock_->Set(monotonic_ns);
  }

 private:
  FakeClock* clock_;
};

struct SimOptions {
  int detectors = 1;
  double rate_bytes = 1024;  // per detector per second
  int64_t duration_ns = 0;   // 0: until *stop
  uint64_t seed = 1;
  AggregatorOptions aggregation;
  PublisherOptions publisher;
  int64_t tick_ns = 100'000'000;
  int64_t progress_interval_ns = 5'000'000'000;
  // After the run, how long to keep retrying what is still unacknowledged.
  int64_t drain_timeout_ns = 30'000'000'000;
};

struct SimProgress {
  int64_t elapsed_ns = 0;
  uint64_t lines_generated = 0;
  uint64_t records_generated = 0;
  PublisherStats publisher;
  size_t queued_records = 0;
  uint64_t queued_lines = 0;
  std::string last_error;
  bool draining = false;
};

struct SimSummary {
  SimProgress final;
  bool stopped = false;  // *stop ended the run before duration_ns
  // Non-OK when a fatal error ended the run; final still says what was sent.
  Status error;
};

// Runs the fleet until duration_ns passes or *stop becomes true, then flushes
// every detector's open record and drains the publisher (up to
// drain_timeout_ns). on_progress, if set, runs every progress_interval_ns.
SimSummary RunSimulation(const SimOptions& options, RecordSender* sender, const Clock* clock,
                         Sleeper* sleeper, const std::atomic<bool>* stop,
                         const std::function<void(const SimProgress&)>& on_progress);

}  // namespace muon::sim
