// FaultInjectionEnv: an Env wrapping another Env that remembers what was
// synced, so tests can simulate power loss, and that fails chosen operations
// or runs out of disk space on demand. Modelled on leveldb's
// db/fault_injection_test.cc.
//
// What a simulated crash does (SimulateCrash):
//   - every file written through this Env is truncated to the size it had at
//     its last successful Sync (bytes appended before a Sync began count as
//     synced when it returns OK);
//   - every file created (or renamed into place) since the last SyncDir of its
//     directory is removed.
// Simplifications: a rename whose directory was never synced loses the target
// instead of restoring the old one, and removed files never reappear.
//
// Thread-safe. The wrapped Env must outlive this one.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "base/env.h"

namespace muon {

enum class FaultOp { kWrite, kSync, kRename, kSyncDir, kCreate, kTruncate };

class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(Env* base) : base_(base) {}

  // Power loss: see the file comment. Open handles must not be used after.
  void SimulateCrash();
  // Only the first half of SimulateCrash: unsynced bytes are dropped.
  void DropUnsyncedData();
  // Only the second half: files whose directory entry was never synced vanish.
  void DropUnsyncedDirEntries();

  // While inactive every write, sync, create and rename fails with IoError
  // (the machine is "off"); reads still work. Use around destroying the
  // system under test so its shutdown path cannot make anything durable.
  void SetFilesystemActive(bool active) { active_ = active; }

  // The n-th (1 = next) operation of that kind from now fails with IoError.
  // A failed write appends the first half of its data first (a torn write).
  void FailNthWrite(int n) { fail_write_in_ = n; }
  void FailNthSync(int n) { fail_sync_in_ = n; }
  void FailNthRename(int n) { fail_rename_in_ = n; }
  // Fails every operation for which it returns true (in addition to the
  // above); pass nullptr to clear.
  using FaultPredicate = std::function<bool(FaultOp op, const std::string& path)>;
  void SetFaultPredicate(FaultPredicate p);

  // Appends fail with NoSpace once the bytes of files written through this Env
  // would exceed `bytes` (the part that fits is written, as on a real disk).
  // Removing or truncating files frees space. UINT64_MAX = unlimited.
  void SetDiskSpace(uint64_t bytes) { disk_space_ = bytes; }
  uint64_t UsedBytes() const;

  // Counters of successful operations, for tests (e.g. group commit).
  // sync_count counts WritableFile::Sync only, not SyncDir.
  uint64_t sync_count() const { return sync_count_; }
  uint64_t write_count() const { return write_count_; }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    return base_->NewRandomAccessFile(path);
  }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  Status CreateDir(const std::string& dir) override;
  Status CreateDirs(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status RemoveDir(const std::string& dir) override { return base_->RemoveDir(dir); }
  Status RemoveTree(const std::string& dir) override;
  Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status TruncateFile(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;

 private:
  friend class FaultWritableFile;
  struct FileState {
    uint64_t size = 0;         // bytes in the file
    uint64_t synced_size = 0;  // bytes that survive a crash
  };

  // Returns the injected error for op on path, or OK.
  Status MaybeFail(FaultOp op, const std::string& path);
  Result<std::unique_ptr<WritableFile>> Wrap(const std::string& path,
                                             std::unique_ptr<WritableFile> file);

  Env* const base_;
  std::atomic<bool> active_{true};
  std::atomic<int> fail_write_in_{0};
  std::atomic<int> fail_sync_in_{0};
  std::atomic<int> fail_rename_in_{0};
  std::atomic<uint64_t> disk_space_{UINT64_MAX};
  std::atomic<uint64_t> sync_count_{0};
  std::atomic<uint64_t> write_count_{0};

  mutable std::mutex mu_;
  FaultPredicate predicate_;                                 // guarded by mu_
  std::map<std::string, std::shared_ptr<FileState>> files_;  // guarded by mu_
  std::set<std::string> unsynced_entries_;                   // guarded by mu_
  uint64_t used_bytes_ = 0;                                  // guarded by mu_
};

}  // namespace muon
