// MemoryBudget: one bound on the record bytes that delivery holds in memory,
// shared by every delivery stream and shard of a server, so that memory does
// not grow with SizeInMBs x shards x streams.
//
// What is counted: each object being built — the plain chunk being filled
// (reserved at its compressed bound before the first byte goes in) and the
// compressed pieces already made — from the first record of its batch until
// the batch is put and checkpointed. What is not: per-worker scratch (one
// compression output buffer and one source read per busy delivery thread,
// about 2 MiB; an idle worker frees its buffer) and the transient copy of one
// chunk as it is compressed.
//
// When a reservation does not fit, the batch being filled closes early (an
// object smaller than SizeInMBs, as Firehose writes under pressure) and the
// shard reads no more until memory is given back; nothing waits while
// holding memory it could give back.
//
// Batches recorded before a restart are rebuilt exactly as recorded and
// cannot close early: they reserve with `force`, which may exceed the
// capacity, and while any is being rebuilt (BeginPriority .. EndPriority)
// ordinary reservations fail, so recovery gets memory first. With an
// unchanged capacity the recovered batches held no more than the capacity
// before the restart.
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>

namespace muon::delivery {

class MemoryBudget {
 public:
  // Capacities below kMinCapacity are raised to it (room for a few chunks, so
  // that delivery always progresses).
  static constexpr uint64_t kMinCapacity = 4u << 20;
  explicit MemoryBudget(uint64_t capacity_bytes);
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  // Takes n bytes if they fit (and no priority reservation is pending), else
  // takes nothing and returns false. `force` always takes them.
  bool Acquire(uint64_t n, bool force = false);
  void Release(uint64_t n);
  // Whether Acquire(n) would succeed now (a hint: others may take it first).
  bool Fits(uint64_t n) const;

  void BeginPriority();
  void EndPriority();

  uint64_t capacity() const { return capacity_; }
  uint64_t InUse() const;
  // The most ever held at once since construction.
  uint64_t HighWater() const;

 private:
  const uint64_t capacity_;
  mutable std::mutex mu_;
  uint64_t in_use_ = 0;      // guarded by mu_
  uint64_t high_water_ = 0;  // guarded by mu_
  int priority_ = 0;         // guarded by mu_
};

// Bytes of a MemoryBudget held by one owner, given back when it is destroyed.
// Move-only. Not thread-safe (one owner).
class BudgetHold {
 public:
  BudgetHold() = default;
  explicit BudgetHold(MemoryBudget* budget) : budget_(budget) {}
  BudgetHold(BudgetHold&& o) noexcept : budget_(o.budget_), bytes_(o.bytes_) { o.bytes_ = 0; }
  BudgetHold& operator=(BudgetHold&& o) noexcept;
  BudgetHold(const BudgetHold&) = delete;
  BudgetHold& operator=(const BudgetHold&) = delete;
  ~BudgetHold() { Reset(); }

  [[nodiscard]] bool Grow(uint64_t n, bool force = false);
  void Shrink(uint64_t n);  // n <= bytes()
  void Reset();             // gives everything back
  uint64_t bytes() const { return bytes_; }

 private:
  MemoryBudget* budget_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace muon::delivery
