// DirSyncer: group commit of one directory's fsync. Callers that arrive while
// a sync runs share the next one, so N concurrent renames into a directory
// cost about two directory syncs instead of N.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace muon::objectstore {

class DirSyncer {
 public:
  // Returns once a SyncDir(dir) that began after this call has finished, with
  // its status. Thread-safe.
  Status Sync(Env* env, const std::string& dir) {
    std::unique_lock lock(mu_);
    const uint64_t ticket = ++requested_;
    while (completed_ < ticket) {
      if (running_) {
        cv_.wait(lock);
        continue;
      }
      running_ = true;
      const uint64_t first = completed_ + 1, last = requested_;
      lock.unlock();
      Status s = env->SyncDir(dir);
      lock.lock();
      running_ = false;
      completed_ = last;
      if (!s.ok()) failures_.push_back({first, last, s});
      cv_.notify_all();
    }
    for (const Failure& f : failures_) {
      if (ticket >= f.first && ticket <= f.last) return f.status;
    }
    return Status::Ok();
  }

  // Callers inside Sync that have not returned yet (tests).
  uint64_t pending() {
    std::lock_guard lock(mu_);
    return requested_ - completed_;
  }

 private:
  struct Failure {
    uint64_t first, last;
    Status status;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t requested_ = 0;  // guarded by mu_
  uint64_t completed_ = 0;  // guarded by mu_
  bool running_ = false;    // guarded by mu_
  // Batches whose sync failed, so their waiters get the error however late
  // they wake; rare and small.
  std::vector<Failure> failures_;  // guarded by mu_
};

}  // namespace muon::objectstore
