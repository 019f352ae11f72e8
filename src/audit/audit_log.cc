#include "audit/audit_log.h"

#include <time.h>

#include <cstdio>

#include <fmt/format.h>

#include "base/log.h"
#include "base/metrics.h"

namespace muon::audit {
namespace {

Counter* DroppedCounter() {
  static Counter* c = MetricsRegistry::Global()->GetCounter(
      "muonpipe_audit_records_dropped_total",
      "Audit records dropped because the audit log could not keep up or could not write");
  return c;
}

Counter* RecordsCounter() {
  static Counter* c = MetricsRegistry::Global()->GetCounter(
      "muonpipe_audit_records_total", "Audit records accepted for writing");
  return c;
}

}  // namespace

std::string AuditFileName(uint64_t seq, int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  return fmt::format("{:08d}-{:04d}{:02d}{:02d}T{:02d}{:02d}{:02d}Z.jsonl", seq, tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::optional<AuditFileInfo> ParseAuditFileName(std::string_view name) {
  // SSSSSSSS-YYYYMMDDTHHMMSSZ.jsonl
  if (name.size() != 31 || name[8] != '-' || name[17] != 'T' || name[24] != 'Z' ||
      name.substr(25) != ".jsonl") {
    return std::nullopt;
  }
  auto digits = [&](size_t pos, size_t len) -> std::optional<uint64_t> {
    uint64_t v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (name[i] < '0' || name[i] > '9') return std::nullopt;
      v = v * 10 + static_cast<uint64_t>(name[i] - '0');
    }
    return v;
  };
  auto seq = digits(0, 8);
  auto ymd = digits(9, 8);
  auto hms = digits(18, 6);
  if (!seq || !ymd || !hms) return std::nullopt;
  struct tm tm = {};
  tm.tm_year = static_cast<int>(*ymd / 10000) - 1900;
  tm.tm_mon = static_cast<int>(*ymd / 100 % 100) - 1;
  tm.tm_mday = static_cast<int>(*ymd % 100);
  tm.tm_hour = static_cast<int>(*hms / 10000);
  tm.tm_min = static_cast<int>(*hms / 100 % 100);
  tm.tm_sec = static_cast<int>(*hms % 100);
  return AuditFileInfo{*seq, static_cast<int64_t>(timegm(&tm))};
}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& dir,
                                                 const AuditLogOptions& options, Env* env,
                                                 const Clock* clock) {
  MUON_RETURN_IF_ERROR(env->CreateDirs(dir));
  auto names = env->ListDir(dir);
  if (!names.ok()) return names.status();
  uint64_t next_seq = 1;
  for (const std::string& n : *names) {
    if (auto info = ParseAuditFileName(n)) next_seq = std::max(next_seq, info->seq + 1);
  }
  std::unique_ptr<AuditLog> log(new AuditLog(dir, options, env, clock, next_seq));
  if (options.sync_interval_millis > 0) log->thread_ = std::thread([p = log.get()] { p->Loop(); });
  return log;
}

AuditLog::AuditLog(std::string dir, const AuditLogOptions& options, Env* env, const Clock* clock,
                   uint64_t next_seq)
    : dir_(std::move(dir)), options_(options), env_(env), clock_(clock), next_seq_(next_seq) {}

AuditLog::~AuditLog() {
  if (Status s = Close(); !s.ok()) log::error("audit log {}: {}", dir_, s.ToString());
}

void AuditLog::Record(const Event& event) { RecordLine(ToJson(event)); }

void AuditLog::RecordLine(std::string_view json) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (closed_ || buffer_.size() + json.size() + 1 > options_.max_buffered_bytes) {
      dropped_.fetch_add(1);
      DroppedCounter()->Add();
      return;
    }
    buffer_.append(json);
    buffer_.push_back('\n');
    wake = buffer_.size() >= options_.sync_bytes;
  }
  RecordsCounter()->Add();
  if (wake) cv_.notify_one();
}

Status AuditLog::Roll() {
  if (file_) {
    // A file that saw a failed write may not sync either; its complete lines
    // stay readable and the next file takes the records that follow.
    Status s = file_->Sync();
    if (s.ok()) s = file_->Close();
    if (!s.ok()) log::warn("audit log: closing {}: {}", dir_, s.ToString());
    file_.reset();
  }
  int64_t now = clock_->NowSeconds();
  std::string path = JoinPath(dir_, AuditFileName(next_seq_, now));
  auto f = env_->NewAppendableFile(path);
  if (!f.ok()) return f.status();
  ++next_seq_;
  MUON_RETURN_IF_ERROR(env_->SyncDir(dir_));
  file_ = std::move(f).value();
  file_opened_at_ = now;
  synced_bytes_ = file_->Size();
  broken_ = false;
  return Status::Ok();
}

Status AuditLog::FlushLocked() {
  std::string chunk;
  {
    std::lock_guard lock(mu_);
    chunk.swap(buffer_);
  }
  if (chunk.empty()) return Status::Ok();
  int64_t now = clock_->NowSeconds();
  bool new_hour = file_ && now / 3600 != file_opened_at_ / 3600;
  bool full = file_ && file_->Size() > 0 && file_->Size() + chunk.size() > options_.max_file_bytes;
  Status s = Status::Ok();
  if (!file_ || broken_ || new_hour || full) s = Roll();
  if (s.ok()) {
    s = file_->Append(chunk);
    // Part of the chunk may be in the file; the last of it may be a torn
    // line. The next flush starts a new file with the chunk again (records
    // that did reach the old file then appear twice, with the same eventID).
    if (!s.ok()) broken_ = true;
  }
  if (!s.ok()) {
    // Keep the records, ahead of those recorded since, for the next attempt
    // (within the buffer's bound).
    std::lock_guard lock(mu_);
    if (chunk.size() + buffer_.size() <= options_.max_buffered_bytes) {
      chunk.append(buffer_);
      buffer_.swap(chunk);
    } else {
      DroppedCounter()->Add();
    }
  }
  return s;
}

Status AuditLog::Flush() {
  std::lock_guard lock(write_mu_);
  return FlushLocked();
}

Status AuditLog::Sync() {
  std::lock_guard lock(write_mu_);
  MUON_RETURN_IF_ERROR(FlushLocked());
  if (!file_) return Status::Ok();
  const uint64_t size = file_->Size();
  if (size == synced_bytes_ && !broken_) return Status::Ok();  // nothing new since the last sync
  Status s = file_->Sync();
  if (s.ok()) {
    synced_bytes_ = size;
  } else {
    broken_ = true;
  }
  return s;
}

void AuditLog::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.sync_interval_millis),
                 [&] { return stop_ || buffer_.size() >= options_.sync_bytes; });
    if (stop_) break;
    lock.unlock();
    if (Status s = Sync(); !s.ok()) log::warn("audit log {}: {}", dir_, s.ToString());
    lock.lock();
  }
}

Status AuditLog::Close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return Status::Ok();
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  Status s = Sync();
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  std::lock_guard lock(write_mu_);
  if (file_) {
    Status c = file_->Close();
    if (s.ok()) s = c;
    file_.reset();
  }
  return s;
}

}  // namespace muon::audit
