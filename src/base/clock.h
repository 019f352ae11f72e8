// All time goes through Clock so tests can run on a FakeClock.
#pragma once

#include <atomic>
#include <cstdint>

namespace muon {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, nanoseconds since the Unix epoch (UTC).
  virtual int64_t NowNanos() const = 0;
  // Monotonic time for durations and timeouts; unrelated to the wall clock.
  virtual int64_t MonotonicNanos() const = 0;

  int64_t NowMillis() const { return NowNanos() / 1'000'000; }
  int64_t NowSeconds() const { return NowNanos() / 1'000'000'000; }

  // The process-wide real clock. Never null, never destroyed.
  static Clock* Real();
};

// A clock that moves only when told. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t now_nanos = 1'700'000'000'000'000'000) : now_(now_nanos) {}
  int64_t NowNanos() const override { return now_.load(); }
  int64_t MonotonicNanos() const override { return now_.load(); }
  void Advance(int64_t nanos) { now_ += nanos; }
  void AdvanceSeconds(int64_t s) { now_ += s * 1'000'000'000; }
  void Set(int64_t nanos) { now_ = nanos; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace muon
