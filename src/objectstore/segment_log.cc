// Segment files and their writer. Format and recovery rules: segment_log.h.
#include "objectstore/segment_log.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "objectstore/framing.h"

namespace muon::objectstore {
namespace {

using json = nlohmann::json;

constexpr size_t kRecordHeadSize = 20;
constexpr std::string_view kSegmentMagic = "MUONSEG1";
// Metadata of one object: a key, S3's 2 KB of user metadata, checksums.
constexpr uint32_t kMaxMetaLen = 1 << 20;
// A seal is about 25 bytes: room for a few hundred thousand segments.
constexpr uint32_t kMaxSegmentHeaderLen = 16 << 20;

// Reads up to n bytes at offset (fewer only at the end of the file).
Result<std::string> ReadAt(const RandomAccessFile& f, uint64_t offset, size_t n) {
  std::string out;
  MUON_RETURN_IF_ERROR(ReadUpTo(f, offset, n, &out));
  return out;
}

struct Head {
  uint32_t meta_len;
  uint64_t data_len;
  uint32_t data_crc;
};

// Checks the fixed head and the meta that follows it in `buf` (which holds at
// least kRecordHeadSize + meta_len bytes).
bool HeadValid(std::string_view buf, const Head& h) {
  uint32_t want = GetU32(buf.data() + 16);
  uint32_t crc = Crc32(0, buf.substr(0, 16));
  crc = Crc32(crc, buf.substr(kRecordHeadSize, h.meta_len));
  return crc == want;
}

Head DecodeFixed(const char* p) {
  Head h;
  h.meta_len = GetU32(p);
  h.data_len = GetU32(p + 4) | (static_cast<uint64_t>(GetU32(p + 8)) << 32);
  h.data_crc = GetU32(p + 12);
  return h;
}

}  // namespace

std::string EncodeRecordHead(std::string_view meta, uint64_t data_len, uint32_t data_crc) {
  std::string out(kRecordHeadSize, '\0');
  PutU32(out.data(), static_cast<uint32_t>(meta.size()));
  PutU32(out.data() + 4, static_cast<uint32_t>(data_len));
  PutU32(out.data() + 8, static_cast<uint32_t>(data_len >> 32));
  PutU32(out.data() + 12, data_crc);
  PutU32(out.data() + 16, Crc32(Crc32(0, std::string_view(out).substr(0, 16)), meta));
  out += meta;
  return out;
}

uint32_t Crc32OfPieces(const std::vector<std::string_view>& pieces) {
  uint32_t crc = 0;
  for (std::string_view p : pieces) crc = Crc32(crc, p);
  return crc;
}

Status ParseRecord(std::string_view buf, std::string_view* meta, std::string_view* data) {
  if (buf.size() < kRecordHeadSize) return Status::Corruption("segment record is short");
  Head h = DecodeFixed(buf.data());
  if (h.meta_len > kMaxMetaLen || buf.size() != kRecordHeadSize + h.meta_len + h.data_len) {
    return Status::Corruption("segment record length does not match its head");
  }
  if (!HeadValid(buf, h)) return Status::Corruption("segment record head checksum mismatch");
  *meta = buf.substr(kRecordHeadSize, h.meta_len);
  *data = buf.substr(kRecordHeadSize + h.meta_len);
  if (Crc32(0, *data) != h.data_crc) return Status::Corruption("segment record data checksum mismatch");
  return Status::Ok();
}

Result<uint64_t> ScanRecords(const RandomAccessFile& file, uint64_t start, uint64_t limit,
                             bool check_data,
                             const std::function<Status(const RecordView&)>& fn) {
  uint64_t off = start;
  std::string data;
  while (off + kRecordHeadSize <= limit) {
    // One read usually covers the head and the metadata.
    MUON_ASSIGN_OR_RETURN(std::string buf,
                          ReadAt(file, off, static_cast<size_t>(std::min<uint64_t>(limit - off, 4096))));
    if (buf.size() < kRecordHeadSize) break;
    Head h = DecodeFixed(buf.data());
    if (h.meta_len > kMaxMetaLen) break;
    const uint64_t length = kRecordHeadSize + h.meta_len + h.data_len;
    if (h.data_len > limit || length > limit - off) break;
    if (buf.size() < kRecordHeadSize + h.meta_len) {
      MUON_ASSIGN_OR_RETURN(buf, ReadAt(file, off, kRecordHeadSize + h.meta_len));
      if (buf.size() < kRecordHeadSize + h.meta_len) break;
    }
    if (!HeadValid(buf, h)) break;
    RecordView r;
    r.offset = off;
    r.length = length;
    r.meta = buf.substr(kRecordHeadSize, h.meta_len);
    r.data_offset = off + kRecordHeadSize + h.meta_len;
    r.data_len = h.data_len;
    if (check_data) {
      MUON_ASSIGN_OR_RETURN(data, ReadAt(file, r.data_offset, static_cast<size_t>(h.data_len)));
      if (data.size() != h.data_len || Crc32(0, data) != h.data_crc) break;
    }
    MUON_RETURN_IF_ERROR(fn(r));
    off += length;
  }
  return off;
}

Result<SegmentHeader> ReadSegmentHeader(const RandomAccessFile& file) {
  MUON_ASSIGN_OR_RETURN(std::string buf, ReadAt(file, 0, 64 << 10));
  SegmentHeader h;
  auto body = DecodeFrame(buf, kSegmentMagic, kMaxSegmentHeaderLen, "segment header", &h.size);
  if (!body.ok() && body.status().code() == StatusCode::kOutOfRange &&
      buf.size() >= kFrameHeadSize) {
    MUON_ASSIGN_OR_RETURN(buf, ReadAt(file, 0, kFrameHeadSize + GetU32(buf.data() + 8)));
    body = DecodeFrame(buf, kSegmentMagic, kMaxSegmentHeaderLen, "segment header", &h.size);
  }
  MUON_RETURN_IF_ERROR(body.status());
  json j = json::parse(*body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("segment header is not JSON");
  if (auto it = j.find("seals"); it != j.end() && it->is_array()) {
    for (const auto& seal : *it) {
      if (seal.is_array() && seal.size() == 2 && seal[0].is_number_unsigned() &&
          seal[1].is_number_unsigned()) {
        h.seals[seal[0].get<uint64_t>()] = seal[1].get<uint64_t>();
      }
    }
  }
  return h;
}

std::string SegmentFileName(uint64_t id) { return fmt::format("seg-{:016x}", id); }

uint64_t SegmentIdOf(std::string_view name) {
  if (name.size() != 20 || name.substr(0, 4) != "seg-") return 0;
  uint64_t id = 0;
  for (char c : name.substr(4)) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return 0;
    id = id * 16 + static_cast<uint64_t>(v);
  }
  return id;
}

SegmentWriter::SegmentWriter(Env* env, std::string dir, uint64_t segment_bytes)
    : env_(env), dir_(std::move(dir)), segment_bytes_(segment_bytes) {}

SegmentWriter::~SegmentWriter() { (void)Close(); }

void SegmentWriter::Init(std::map<uint64_t, uint64_t> lengths,
                         std::map<uint64_t, std::shared_ptr<const RandomAccessFile>> readers) {
  std::lock_guard lock(mu_);
  sealed_ = std::move(lengths);
  readers_ = std::move(readers);
  if (!sealed_.empty()) next_id_ = sealed_.rbegin()->first + 1;
}

std::string SegmentWriter::PathOf(uint64_t id) const { return JoinPath(dir_, SegmentFileName(id)); }

Status SegmentWriter::SealActiveLocked() {
  if (!file_) return Status::Ok();
  if (sync_error_.ok() && synced_ < written_) {
    Status s = file_->Sync();
    if (s.ok()) {
      synced_ = written_;
    } else {
      sync_error_ = s;
    }
  }
  (void)file_->Close();
  file_.reset();
  // Waiters in this segment learn their outcome from the seal.
  sealed_[active_] = synced_;
  active_ = 0;
  cv_.notify_all();
  return sync_error_;
}

Status SegmentWriter::RollLocked(std::unique_lock<std::mutex>& lock) {
  cv_.wait(lock, [&] { return !syncing_; });
  // A failed final sync is recorded in the seal; the new segment goes on.
  (void)SealActiveLocked();
  const uint64_t id = next_id_++;
  const std::string path = PathOf(id);
  json seals = json::array();
  for (const auto& [sid, len] : sealed_) seals.push_back({sid, len});
  json j;
  j["seals"] = std::move(seals);
  const std::string head = EncodeFrame(kSegmentMagic, j.dump());
  std::unique_ptr<WritableFile> f;
  Status s = [&]() -> Status {
    MUON_ASSIGN_OR_RETURN(f, env_->NewWritableFile(path));
    MUON_RETURN_IF_ERROR(f->Append(head));
    MUON_RETURN_IF_ERROR(f->Sync());
    // The segment's name is durable before any record in it is acknowledged.
    return env_->SyncDir(dir_);
  }();
  std::shared_ptr<const RandomAccessFile> reader;
  if (s.ok()) {
    auto r = env_->NewRandomAccessFile(path);
    if (r.ok()) {
      reader = std::move(*r);
    } else {
      s = r.status();
    }
  }
  if (!s.ok()) {
    if (f) (void)f->Close();
    (void)env_->RemoveFile(path);
    return s;
  }
  file_ = std::move(f);
  active_ = id;
  written_ = synced_ = header_size_ = head.size();
  append_failed_ = false;
  sync_error_ = Status::Ok();
  readers_[id] = std::move(reader);
  return Status::Ok();
}

Result<SegmentWriter::Location> SegmentWriter::Append(const std::vector<std::string_view>& parts) {
  uint64_t size = 0;
  for (std::string_view p : parts) size += p.size();
  std::unique_lock lock(mu_);
  if (!file_ || append_failed_ || !sync_error_.ok() ||
      (written_ + size > segment_bytes_ && written_ > header_size_)) {
    // Full (unless it holds nothing but its header yet) or failed: start a new one.
    MUON_RETURN_IF_ERROR(RollLocked(lock));
  }
  Location loc{active_, written_, written_ + size};
  for (std::string_view p : parts) {
    Status s = file_->Append(p);
    if (!s.ok()) {
      append_failed_ = true;
      return s;
    }
  }
  written_ += size;
  ++pins_[active_];
  return loc;
}

void SegmentWriter::Unpin(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = pins_.find(id);
  if (it != pins_.end() && --it->second <= 0) pins_.erase(it);
}

bool SegmentWriter::Pinned(uint64_t id) {
  std::lock_guard lock(mu_);
  return pins_.count(id) > 0;
}

Status SegmentWriter::WaitDurable(const Location& loc) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (loc.id != active_) {
      auto it = sealed_.find(loc.id);
      if (it != sealed_.end() && loc.end <= it->second) return Status::Ok();
      return Status::IoError(fmt::format("segment {} could not be made durable", PathOf(loc.id)));
    }
    if (synced_ >= loc.end) return Status::Ok();
    if (!sync_error_.ok()) return sync_error_;
    if (syncing_) {
      cv_.wait(lock);
      continue;
    }
    syncing_ = true;
    const uint64_t target = written_;
    WritableFile* f = file_.get();
    lock.unlock();
    Status s = f->Sync();
    lock.lock();
    syncing_ = false;
    if (s.ok()) {
      synced_ = std::max(synced_, target);
    } else {
      sync_error_ = s;
    }
    cv_.notify_all();
  }
}

std::shared_ptr<const RandomAccessFile> SegmentWriter::Reader(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = readers_.find(id);
  return it == readers_.end() ? nullptr : it->second;
}

std::map<uint64_t, uint64_t> SegmentWriter::Sealed() {
  std::lock_guard lock(mu_);
  return sealed_;
}


void SegmentWriter::Forget(uint64_t id) {
  std::lock_guard lock(mu_);
  sealed_.erase(id);
  readers_.erase(id);
}

Status SegmentWriter::Close() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !syncing_; });
  return SealActiveLocked();
}


}  // namespace muon::objectstore
