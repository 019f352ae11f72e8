// Env: every file-system call muonpipe makes goes through here, so tests can
// run on memory and inject faults (see fault_env.h). Modelled on leveldb's Env.
//
// Thread safety: Env methods are safe to call concurrently. A WritableFile or
// RandomAccessFile may be used by one writer and many readers at once: Append
// calls are serialised by the caller; Sync may run on another thread
// concurrently with Append (it makes durable at least every byte appended
// before it was called) so a group committer can sync while writers append;
// Read may run concurrently with Append on data already appended.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace muon {

// A file opened for appending. Data handed to Append is durable only after
// Sync returns OK; a crash may lose any suffix of the unsynced data.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // fdatasync: data and the size needed to read it back.
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // Bytes appended so far (synced or not).
  virtual uint64_t Size() const = 0;
};

// A file read at offsets; safe for concurrent reads.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset into scratch; returns the bytes read
  // (fewer at end of file). The returned view points into scratch.
  virtual Result<std::string_view> Read(uint64_t offset, size_t n, char* scratch) const = 0;
  virtual Result<uint64_t> Size() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // Creates or truncates.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Opens for append, creating if missing; Size() starts at the current length.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;

  virtual bool FileExists(const std::string& path) = 0;
  // Names (not paths) of the entries in dir, in no particular order.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual Status CreateDir(const std::string& dir) = 0;   // OK if it exists
  virtual Status CreateDirs(const std::string& dir) = 0;  // mkdir -p
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RemoveDir(const std::string& dir) = 0;   // must be empty
  virtual Status RemoveTree(const std::string& dir) = 0;  // rm -r; OK if missing
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // Atomic replace of `to` by `from`. Durable only after SyncDir(parent).
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // fsync on a directory, making creates, renames and removes in it durable.
  virtual Status SyncDir(const std::string& dir) = 0;

  // Reads a whole file.
  Result<std::string> ReadFile(const std::string& path);
  // Writes a whole file durably and atomically: temp file, write, sync,
  // rename over `path`, sync the directory. Readers see old or new, never part.
  Status WriteFileAtomic(const std::string& path, std::string_view data);

  // The process-wide POSIX Env. Never null, never destroyed.
  static Env* Posix();
};

// A fresh Env that keeps every file in memory (for tests).
std::unique_ptr<Env> NewMemEnv();

std::string JoinPath(std::string_view a, std::string_view b);
std::string_view Dirname(std::string_view path);

}  // namespace muon
