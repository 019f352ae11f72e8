// AuditLog: the append-only store of audit records (docs/audit.md).
//
// Layout: DIR holds files named SSSSSSSS-YYYYMMDDTHHMMSSZ.jsonl, SSSSSSSS a
// sequence number that grows by one per file (so name order is write order)
// and the time the file was opened (UTC). Each file is JSON lines: one record
// (audit/event.h), then '\n'. Nothing is ever rewritten, truncated or
// renamed: every Open starts a new file, so a torn last line left by a crash
// stays where it is (readers skip it) and no later record is glued onto it.
// A file is closed and the next one opened when the hour changes or the file
// reaches max_file_bytes.
//
// Durability (group commit): Record only puts the line in a memory buffer,
// never waiting for the disk; a background thread writes the buffer and
// fdatasyncs the file every sync_interval_millis, or sooner once sync_bytes
// are waiting. A crash (kill -9, power loss) loses at most the records of
// the last interval (by default 1 s or 1 MiB), never an earlier one. When the
// disk cannot keep up, records beyond max_buffered_bytes are dropped and
// counted (dropped(), and the audit_records_dropped metric) rather than
// stalling requests.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "audit/event.h"
#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"

namespace muon::audit {

// Where records go. The AuditingAuthorizer and the sign-in endpoints write
// through this; tests give them a fake.
class Sink {
 public:
  virtual ~Sink() = default;
  // Never blocks on I/O; thread-safe.
  virtual void Record(const Event& event) = 0;
};

struct AuditLogOptions {
  uint64_t max_file_bytes = 32ull << 20;
  // 0: no background thread; records reach the disk only through Sync()
  // (tests, and tools that write a few records and close).
  int64_t sync_interval_millis = 1000;
  uint64_t sync_bytes = 1ull << 20;
  uint64_t max_buffered_bytes = 64ull << 20;
};

// The file name of the file with sequence number `seq` opened at `unix_seconds`,
// and the inverse (nullopt for names that are not audit files).
std::string AuditFileName(uint64_t seq, int64_t unix_seconds);
struct AuditFileInfo {
  uint64_t seq = 0;
  int64_t opened_at = 0;  // Unix seconds
};
std::optional<AuditFileInfo> ParseAuditFileName(std::string_view name);

class AuditLog final : public Sink {
 public:
  // Creates DIR if missing; the first file is created at the first write.
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& dir,
                                                const AuditLogOptions& options, Env* env,
                                                const Clock* clock);
  ~AuditLog() override;  // Close()

  void Record(const Event& event) override;
  // Appends one already-serialised record (a JSON object without newline).
  void RecordLine(std::string_view json);

  // Hands every buffered record to the file (no fdatasync): readers see them.
  Status Flush();
  // Flush, then fdatasync: every record given before the call is durable.
  Status Sync();
  // Sync and stop the background thread; later records are dropped.
  Status Close();

  const std::string& dir() const { return dir_; }
  uint64_t dropped() const { return dropped_.load(); }

 private:
  AuditLog(std::string dir, const AuditLogOptions& options, Env* env, const Clock* clock,
           uint64_t next_seq);
  Status FlushLocked();  // requires write_mu_
  Status Roll();         // requires write_mu_
  void Loop();

  const std::string dir_;
  const AuditLogOptions options_;
  Env* const env_;
  const Clock* const clock_;

  std::mutex mu_;  // guards buffer_, closed_, stop_
  std::condition_variable cv_;
  std::string buffer_;
  bool closed_ = false;
  bool stop_ = false;
  std::atomic<uint64_t> dropped_{0};

  std::mutex write_mu_;  // guards file_, file_opened_at_, synced_bytes_, next_seq_, broken_
  std::unique_ptr<WritableFile> file_;
  int64_t file_opened_at_ = 0;
  uint64_t synced_bytes_ = 0;  // file_'s size at its last successful sync: an idle log never syncs
  uint64_t next_seq_;
  bool broken_ = false;  // the file saw a failed write: the next flush rolls

  std::thread thread_;
};

}  // namespace muon::audit
