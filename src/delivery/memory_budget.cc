#include "delivery/memory_budget.h"

#include <algorithm>
#include <cassert>

namespace muon::delivery {

MemoryBudget::MemoryBudget(uint64_t capacity_bytes)
    : capacity_(std::max(capacity_bytes, kMinCapacity)) {}

bool MemoryBudget::Acquire(uint64_t n, bool force) {
  std::lock_guard lock(mu_);
  if (!force && (priority_ > 0 || in_use_ + n > capacity_)) return false;
  in_use_ += n;
  high_water_ = std::max(high_water_, in_use_);
  return true;
}

void MemoryBudget::Release(uint64_t n) {
  std::lock_guard lock(mu_);
  assert(n <= in_use_);
  in_use_ -= std::min(n, in_use_);
}

bool MemoryBudget::Fits(uint64_t n) const {
  std::lock_guard lock(mu_);
  return priority_ == 0 && in_use_ + n <= capacity_;
}

void MemoryBudget::BeginPriority() {
  std::lock_guard lock(mu_);
  ++priority_;
}

void MemoryBudget::EndPriority() {
  std::lock_guard lock(mu_);
  --priority_;
}

uint64_t MemoryBudget::InUse() const {
  std::lock_guard lock(mu_);
  return in_use_;
}

uint64_t MemoryBudget::HighWater() const {
  std::lock_guard lock(mu_);
  return high_water_;
}

BudgetHold& BudgetHold::operator=(BudgetHold&& o) noexcept {
  if (this != &o) {
    Reset();
    budget_ = o.budget_;
    bytes_ = o.bytes_;
    o.bytes_ = 0;
  }
  return *this;
}

bool BudgetHold::Grow(uint64_t n, bool force) {
  if (n == 0) return true;
  if (!budget_->Acquire(n, force)) return false;
  bytes_ += n;
  return true;
}

void BudgetHold::Shrink(uint64_t n) {
  assert(n <= bytes_);
  n = std::min(n, bytes_);
  if (n == 0) return;
  budget_->Release(n);
  bytes_ -= n;
}

void BudgetHold::Reset() { Shrink(bytes_); }

}  // namespace muon::delivery
