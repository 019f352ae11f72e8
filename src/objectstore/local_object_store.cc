// LocalObjectStore. Layout and file format: local_object_store.h,
// segment_log.h.
//
// Invariants:
// - objects/<name> only ever appears by rename of a complete, fdatasynced
//   temp file, so every object file on disk is whole.
// - A change of a key (put, delete, completion, a compaction move) holds the
//   key's lock (Bucket::busy) from taking its seq until the index shows it,
//   so one key's changes reach the disk and the index in seq order.
// - The index shows a change only once it is durable. An entry in a segment
//   pins nothing on disk by itself: compaction leaves pinned segments (with
//   appends not yet in the index) alone and moves an entry's record only
//   while holding its key.
// - A deletion record is dropped only when no object record of its key that
//   the index does not point to remains in another segment (Bucket::shadowed
//   counts them by key hash; the files such records superseded are made
//   durably gone first), so dropping it cannot bring anything back.
#include "objectstore/local_object_store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/log.h"
#include "base/metrics.h"
#include "objectstore/dir_syncer.h"
#include "objectstore/framing.h"
#include "objectstore/segment_log.h"

namespace muon::objectstore {
namespace {

using json = nlohmann::json;

constexpr std::string_view kMagic = "MUONOBJ1";
constexpr size_t kCopyChunk = 1 << 20;
// Lookups a read makes when what it found moves away before it is opened.
constexpr int kReadAttempts = 4;

std::string Hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string DigestOfPieces(const EVP_MD* md, const std::vector<std::string_view>& pieces) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, md, nullptr);
  for (std::string_view p : pieces) EVP_DigestUpdate(ctx, p.data(), p.size());
  EVP_DigestFinal_ex(ctx, out, &len);
  EVP_MD_CTX_free(ctx);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string HexOf(std::string_view raw) {
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::optional<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = val(hex[2 * i]), lo = val(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// Checksum algorithm names as stored in metadata (S3's names).
constexpr std::pair<ChecksumAlgorithm, const char*> kChecksumNames[] = {
    {ChecksumAlgorithm::kCrc32, "CRC32"},         {ChecksumAlgorithm::kCrc32c, "CRC32C"},
    {ChecksumAlgorithm::kCrc64Nvme, "CRC64NVME"}, {ChecksumAlgorithm::kSha1, "SHA1"},
    {ChecksumAlgorithm::kSha256, "SHA256"},
};

json ChecksumsToJson(const std::map<ChecksumAlgorithm, std::string>& checksums) {
  json j = json::object();
  for (const auto& [alg, value] : checksums) {
    for (const auto& [a, name] : kChecksumNames) {
      if (a == alg) j[name] = value;
    }
  }
  return j;
}

std::map<ChecksumAlgorithm, std::string> ChecksumsFromJson(const json& j) {
  std::map<ChecksumAlgorithm, std::string> out;
  if (!j.is_object()) return out;
  for (const auto& [a, name] : kChecksumNames) {
    if (j.contains(name) && j[name].is_string()) out[a] = j[name].get<std::string>();
  }
  return out;
}

json OptionsToJson(const PutOptions& o) {
  json j;
  j["content_type"] = o.content_type;
  j["content_encoding"] = o.content_encoding;
  j["content_disposition"] = o.content_disposition;
  j["cache_control"] = o.cache_control;
  j["user_metadata"] = o.user_metadata;
  j["checksums"] = ChecksumsToJson(o.checksums);
  if (o.checksum_algorithm) {
    j["checksum_algorithm"] = std::string(ChecksumName(*o.checksum_algorithm));
    j["checksum_type"] = std::string(ChecksumTypeName(o.checksum_type));
  }
  return j;
}

std::string Str(const json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t Int(const json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::map<std::string, std::string> StrMap(const json& j, const char* name) {
  std::map<std::string, std::string> out;
  auto it = j.find(name);
  if (it == j.end() || !it->is_object()) return out;
  for (const auto& [k, v] : it->items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

PutOptions OptionsFromJson(const json& j) {
  PutOptions o;
  o.content_type = Str(j, "content_type");
  o.content_encoding = Str(j, "content_encoding");
  o.content_disposition = Str(j, "content_disposition");
  o.cache_control = Str(j, "cache_control");
  o.user_metadata = StrMap(j, "user_metadata");
  if (j.contains("checksums")) o.checksums = ChecksumsFromJson(j["checksums"]);
  // Uploads created before these were kept have neither: composite.
  o.checksum_algorithm = ChecksumFromName(Str(j, "checksum_algorithm"));
  o.checksum_type =
      ChecksumTypeFromName(Str(j, "checksum_type")).value_or(ChecksumType::kComposite);
  return o;
}

json MetaToJson(const ObjectMeta& m) {
  json j;
  j["key"] = m.key;
  j["size"] = m.size;
  j["etag"] = m.etag;
  j["content_type"] = m.content_type;
  j["content_encoding"] = m.content_encoding;
  j["content_disposition"] = m.content_disposition;
  j["cache_control"] = m.cache_control;
  j["user_metadata"] = m.user_metadata;
  j["checksums"] = ChecksumsToJson(m.checksums);
  j["last_modified_ms"] = m.last_modified_ms;
  if (!m.part_sizes.empty()) j["part_sizes"] = m.part_sizes;
  j["checksum_type"] = std::string(ChecksumTypeName(m.checksum_type));
  return j;
}

ObjectMeta MetaFromJson(const json& j) {
  ObjectMeta m;
  m.key = Str(j, "key");
  if (auto it = j.find("size"); it != j.end() && it->is_number_unsigned()) m.size = it->get<uint64_t>();
  m.etag = Str(j, "etag");
  m.content_type = Str(j, "content_type");
  m.content_encoding = Str(j, "content_encoding");
  m.content_disposition = Str(j, "content_disposition");
  m.cache_control = Str(j, "cache_control");
  m.user_metadata = StrMap(j, "user_metadata");
  if (j.contains("checksums")) m.checksums = ChecksumsFromJson(j["checksums"]);
  m.last_modified_ms = Int(j, "last_modified_ms");
  if (auto it = j.find("part_sizes"); it != j.end() && it->is_array()) {
    for (const auto& v : *it) {
      if (v.is_number_unsigned()) m.part_sizes.push_back(v.get<uint64_t>());
    }
  }
  // Objects stored before the type was kept: multipart ones are composite.
  m.checksum_type =
      ChecksumTypeFromName(Str(j, "checksum_type"))
          .value_or(m.part_sizes.empty() ? ChecksumType::kFullObject : ChecksumType::kComposite);
  return m;
}

std::string Dump(const json& j) {
  // Header values from clients may hold bytes that are not UTF-8; keep going.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Header + metadata of an object file.
std::string EncodeHead(const json& meta) { return EncodeFrame(kMagic, Dump(meta)); }

// Parses the head at the start of `buf`. Returns the metadata and sets
// *data_offset; Corruption when the head is bad, OutOfRange when `buf` is too
// short to hold it (read more).
Result<json> DecodeHead(std::string_view buf, size_t* data_offset) {
  MUON_ASSIGN_OR_RETURN(std::string_view m,
                        DecodeFrame(buf, kMagic, UINT32_MAX, "object file header", data_offset));
  json j = json::parse(m, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("object metadata is not JSON");
  return j;
}

// Reads n bytes at offset exactly.
Status ReadExact(const RandomAccessFile& f, uint64_t offset, size_t n, std::string* out,
                 const std::string& path) {
  MUON_RETURN_IF_ERROR(ReadUpTo(f, offset, n, out));
  if (out->size() < n) return Status::Corruption(path + ": file shorter than its metadata says");
  return Status::Ok();
}

// A whole object file's head, read from disk.
struct FileHead {
  json meta;
  size_t data_offset = 0;
  uint64_t file_size = 0;
  std::string prefix;  // the first bytes read (head and possibly data)
};

Result<FileHead> ReadHead(const RandomAccessFile& f, const std::string& path, size_t first_read) {
  FileHead h;
  MUON_ASSIGN_OR_RETURN(h.file_size, f.Size());
  size_t want = static_cast<size_t>(std::min<uint64_t>(h.file_size, first_read));
  MUON_RETURN_IF_ERROR(ReadExact(f, 0, want, &h.prefix, path));
  auto meta = DecodeHead(h.prefix, &h.data_offset);
  if (!meta.ok() && meta.status().code() == StatusCode::kOutOfRange &&
      h.prefix.size() >= kFrameHeadSize &&
      h.file_size >= kFrameHeadSize + GetU32(h.prefix.data() + 8)) {
    size_t need = kFrameHeadSize + GetU32(h.prefix.data() + 8);
    MUON_RETURN_IF_ERROR(ReadExact(f, 0, need, &h.prefix, path));
    meta = DecodeHead(h.prefix, &h.data_offset);
  }
  if (!meta.ok()) return Status::Corruption(path + ": " + meta.status().message());
  h.meta = std::move(meta).value();
  return h;
}

Result<FileHead> ReadHeadOfPath(Env* env, const std::string& path) {
  MUON_ASSIGN_OR_RETURN(auto f, env->NewRandomAccessFile(path));
  return ReadHead(*f, path, 4096);
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    // Not secret; uniqueness only. Fall back to the address of a stack value and time.
    uint64_t v = reinterpret_cast<uintptr_t>(&raw) ^ static_cast<uint64_t>(time(nullptr));
    for (size_t i = 0; i < bytes; ++i) raw[i] = static_cast<char>(v >> (8 * (i % 8)));
  }
  return HexOf(raw);
}

std::string PartFileName(int part_number) { return fmt::format("part-{:05d}", part_number); }

std::string NormalizeEtag(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  std::string out(etag);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

size_t KeyHash(std::string_view key) { return std::hash<std::string_view>()(key); }

struct Entry {
  std::shared_ptr<const ObjectMeta> meta;
  uint64_t seq = 0;
  uint64_t seg = 0;  // 0: the data is in objects/<name>; else the segment
  uint64_t off = 0;  // of the record in the segment
  uint64_t len = 0;  // of the whole record
};

struct Bucket {
  std::string name;
  std::string dir, objects_dir, tmp_dir, uploads_dir, segments_dir;
  int64_t created_ms = 0;
  DirSyncer objects_sync;
  std::unique_ptr<SegmentWriter> writer;
  std::atomic<uint64_t> seq{0};  // the last change number taken

  std::mutex mu;
  std::condition_variable busy_cv;
  bool deleted = false;                               // guarded by mu
  std::map<std::string, Entry, std::less<>> index;   // live objects; guarded by mu
  size_t inflight = 0;                                // changes under way; guarded by mu
  std::set<std::string, std::less<>> busy;           // keys being changed; guarded by mu
  std::map<uint64_t, uint64_t> seg_live;              // segment -> bytes of indexed records
  // Key hash -> object records in segments the index does not point to (dead
  // but still on disk); guarded by mu. A deletion record is kept while its
  // key's count is above zero. Hash collisions only keep one longer.
  std::unordered_map<size_t, uint32_t> shadowed;

  void ShadowHash(size_t h, int64_t n) {
    auto& v = shadowed[h];
    v = static_cast<uint32_t>(std::max<int64_t>(0, static_cast<int64_t>(v) + n));
    if (v == 0) shadowed.erase(h);
  }
  void Shadow(std::string_view key, int64_t n) { ShadowHash(KeyHash(key), n); }
  std::map<std::string, MultipartUpload> uploads;     // by id; guarded by mu

  // Sets (or with a null meta, removes) the key's entry. Requires mu.
  void Set(const std::string& key, Entry e) {
    auto it = index.find(key);
    if (it != index.end()) {
      if (it->second.seg != 0) {
        seg_live[it->second.seg] -= it->second.len;
        Shadow(key, +1);
      }
      if (!e.meta) {
        index.erase(it);
        return;
      }
    }
    if (!e.meta) return;
    if (e.seg != 0) seg_live[e.seg] += e.len;
    if (it != index.end()) {
      it->second = std::move(e);
    } else {
      index.emplace(key, std::move(e));
    }
  }
};

// Holds one key of a bucket for a change; fails when the bucket is deleted.
class KeyLock {
 public:
  KeyLock(Bucket& b, std::string_view key) : b_(b), key_(key) {
    std::unique_lock lock(b.mu);
    b.busy_cv.wait(lock, [&] { return b.busy.count(key_) == 0; });
    if (b.deleted) {
      status_ = Status::NotFound(fmt::format("bucket '{}' does not exist", b.name));
      return;
    }
    b.busy.insert(key_);
    ++b.inflight;
    held_ = true;
  }
  ~KeyLock() {
    if (!held_) return;
    {
      std::lock_guard lock(b_.mu);
      b_.busy.erase(key_);
      --b_.inflight;
    }
    b_.busy_cv.notify_all();
  }
  KeyLock(const KeyLock&) = delete;
  KeyLock& operator=(const KeyLock&) = delete;
  const Status& status() const { return status_; }

 private:
  Bucket& b_;
  const std::string key_;
  bool held_ = false;
  Status status_;
};

class LocalObjectStoreImpl final : public LocalObjectStore {
 public:
  LocalObjectStoreImpl(std::string dir, Env* env, Clock* clock, LocalObjectStoreOptions options)
      : dir_(std::move(dir)),
        buckets_dir_(JoinPath(dir_, "buckets")),
        trash_dir_(JoinPath(dir_, "trash")),
        env_(env),
        clock_(clock),
        options_(options),
        nonce_(RandomHex(4)) {
    if (options_.metrics) {
      auto* m = MetricsRegistry::Global();
      m_compacted_ = m->GetCounter("muonpipe_objectstore_compacted_segments_total",
                                   "Segment files compacted and removed");
      m_copied_ = m->GetCounter("muonpipe_objectstore_compaction_copied_bytes_total",
                                "Bytes of live records compaction copied forward");
    }
  }
  ~LocalObjectStoreImpl() override;

  Status Load();
  void StartCompactor();
  Status Compact() override;

  Status CreateBucket(std::string_view bucket) override;
  Status DeleteBucket(std::string_view bucket) override;
  Result<BucketInfo> HeadBucket(std::string_view bucket) override;
  Result<std::vector<BucketInfo>> ListBuckets() override;
  Result<ObjectMeta> Put(std::string_view bucket, std::string_view key, std::string_view data,
                         const PutOptions& options) override;
  Result<ObjectReader> Open(std::string_view bucket, std::string_view key,
                            std::optional<ByteRange> range) override;
  Result<ObjectMeta> PutPieces(std::string_view bucket, std::string_view key,
                               const std::vector<std::string_view>& pieces,
                               const PutOptions& options) override;
  Result<Object> Get(std::string_view bucket, std::string_view key,
                     std::optional<ByteRange> range) override;
  Result<ObjectMeta> Head(std::string_view bucket, std::string_view key) override;
  Status Delete(std::string_view bucket, std::string_view key) override;
  Result<ListPage> List(std::string_view bucket, const ListOptions& options) override;
  Result<MultipartUpload> CreateMultipart(std::string_view bucket, std::string_view key,
                                          const PutOptions& options) override;
  Result<MultipartUpload> GetMultipart(std::string_view bucket,
                                       std::string_view upload_id) override;
  Result<PartInfo> PutPart(std::string_view bucket, std::string_view upload_id, int part_number,
                           std::string_view data,
                           const std::map<ChecksumAlgorithm, std::string>& checksums) override;
  Result<std::vector<PartInfo>> ListParts(std::string_view bucket,
                                          std::string_view upload_id) override;
  Result<std::vector<MultipartUpload>> ListMultipartUploads(std::string_view bucket) override;
  Result<ObjectMeta> CompleteMultipart(
      std::string_view bucket, std::string_view upload_id,
      const std::vector<std::pair<int, std::string>>& parts) override;
  Status AbortMultipart(std::string_view bucket, std::string_view upload_id) override;

 private:
  Result<std::shared_ptr<Bucket>> Find(std::string_view bucket);
  Result<std::shared_ptr<Bucket>> LoadBucket(const std::string& name);
  std::string TempPath(const Bucket& b) {
    return JoinPath(b.tmp_dir, fmt::format("{}-{:x}", nonce_, ++temp_counter_));
  }
  // Writes head + data to a new temp file of b and syncs it; returns its path.
  Result<std::string> WriteTemp(const Bucket& b, std::string_view head,
                                const std::function<Status(WritableFile*)>& write_data);
  // Renames tmp over the key's object file and makes it durable. The caller
  // holds the key and took `seq` for this change.
  Result<ObjectMeta> Publish(Bucket& b, const std::string& tmp, ObjectMeta meta, uint64_t seq);
  // A put of a small object into the bucket's segments (the key is held).
  Result<ObjectMeta> PutSmall(Bucket& b, ObjectMeta meta,
                              const std::vector<std::string_view>& pieces, uint64_t seq);
  // The data (or the range of it) of an entry in a segment, checked.
  // Aborted when the segment was compacted away since the lookup.
  Result<std::string> ReadSmall(Bucket& b, const Entry& e, std::optional<ByteRange> range);
  // Runs `attempt` on the key's current entry, looking again when it returns
  // Aborted.
  template <typename T, typename Attempt>
  Result<T> ReadCurrent(Bucket& b, std::string_view key, Attempt attempt);
  // Opens what the entry `e` of `key` points to (with `prefix`, handing back
  // the first `head_bytes` of an object file read with its head). Aborted
  // when that is gone since the lookup (compacted, replaced, deleted).
  Result<ObjectReader> OpenEntry(Bucket& b, const Entry& e, std::string_view key,
                                 std::optional<ByteRange> range, size_t head_bytes,
                                 std::string* prefix);
  // Builds the index from the object files and segments of a bucket.
  Status LoadIndex(Bucket& b);
  Status CompactBucket(const std::shared_ptr<Bucket>& b);
  Status CompactSegment(Bucket& b, uint64_t id, uint64_t length);
  Result<std::string> UploadDir(Bucket& b, std::string_view upload_id, MultipartUpload* out);
  std::string ObjectPath(const Bucket& b, std::string_view key) const {
    return JoinPath(b.objects_dir, ObjectFileName(key));
  }

  const std::string dir_, buckets_dir_, trash_dir_;
  Env* const env_;
  Clock* const clock_;
  const LocalObjectStoreOptions options_;
  const std::string nonce_;

  std::mutex compact_mu_;  // one compaction pass at a time
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // guarded by stop_mu_
  std::thread compactor_;
  Counter* m_compacted_ = nullptr;
  Counter* m_copied_ = nullptr;
  std::atomic<uint64_t> temp_counter_{0};

  std::mutex mu_;  // guards buckets_; taken before any Bucket::mu
  std::map<std::string, std::shared_ptr<Bucket>, std::less<>> buckets_;
};

Status NotFoundBucket(std::string_view bucket) {
  return Status::NotFound(fmt::format("bucket '{}' does not exist", bucket));
}
Status NotFoundKey(std::string_view key) {
  return Status::NotFound(fmt::format("key '{}' does not exist", key));
}
// The index entry of a key (a copy, valid after the lock is released).
Result<Entry> FindEntry(Bucket& b, std::string_view key) {
  std::lock_guard lock(b.mu);
  auto it = b.index.find(key);
  if (it == b.index.end()) return NotFoundKey(key);
  return it->second;
}

Status NotFoundUpload(std::string_view id) {
  return Status::NotFound(fmt::format("upload '{}' does not exist", id));
}

Status LocalObjectStoreImpl::Load() {
  MUON_RETURN_IF_ERROR(env_->CreateDirs(buckets_dir_));
  MUON_RETURN_IF_ERROR(env_->RemoveTree(trash_dir_));
  MUON_RETURN_IF_ERROR(env_->CreateDirs(trash_dir_));
  MUON_ASSIGN_OR_RETURN(auto names, env_->ListDir(buckets_dir_));
  for (const std::string& name : names) {
    std::string bdir = JoinPath(buckets_dir_, name);
    if (!env_->FileExists(JoinPath(bdir, "bucket.meta"))) {
      log::warn("object store: removing half-created bucket directory {}", bdir);
      MUON_RETURN_IF_ERROR(env_->RemoveTree(bdir));
      continue;
    }
    MUON_ASSIGN_OR_RETURN(auto b, LoadBucket(name));
    buckets_[name] = std::move(b);
  }
  return Status::Ok();
}

Result<std::shared_ptr<Bucket>> LocalObjectStoreImpl::LoadBucket(const std::string& name) {
  auto b = std::make_shared<Bucket>();
  b->name = name;
  b->dir = JoinPath(buckets_dir_, name);
  b->objects_dir = JoinPath(b->dir, "objects");
  b->tmp_dir = JoinPath(b->dir, "tmp");
  b->uploads_dir = JoinPath(b->dir, "uploads");
  b->segments_dir = JoinPath(b->dir, "segments");
  MUON_ASSIGN_OR_RETURN(std::string bmeta, env_->ReadFile(JoinPath(b->dir, "bucket.meta")));
  json bj = json::parse(bmeta, nullptr, false);
  if (bj.is_discarded()) return Status::Corruption(b->dir + "/bucket.meta is not JSON");
  b->created_ms = Int(bj, "created_ms");
  // Leftover temp files are puts that never completed.
  MUON_RETURN_IF_ERROR(env_->RemoveTree(b->tmp_dir));
  MUON_RETURN_IF_ERROR(env_->CreateDirs(b->tmp_dir));
  MUON_RETURN_IF_ERROR(env_->CreateDirs(b->objects_dir));
  MUON_RETURN_IF_ERROR(env_->CreateDirs(b->uploads_dir));
  if (!env_->FileExists(b->segments_dir)) {
    // Buckets made before segments existed: the new directory's entry is
    // durable before any record in it is acknowledged.
    MUON_RETURN_IF_ERROR(env_->CreateDirs(b->segments_dir));
    MUON_RETURN_IF_ERROR(env_->SyncDir(b->dir));
  }
  MUON_RETURN_IF_ERROR(LoadIndex(*b));
  MUON_ASSIGN_OR_RETURN(auto uploads, env_->ListDir(b->uploads_dir));
  for (const std::string& id : uploads) {
    std::string udir = JoinPath(b->uploads_dir, id);
    auto head = ReadHeadOfPath(env_, JoinPath(udir, "upload.meta"));
    if (!head.ok()) {
      log::warn("object store: removing half-created upload {}", udir);
      MUON_RETURN_IF_ERROR(env_->RemoveTree(udir));
      continue;
    }
    MultipartUpload u;
    u.upload_id = id;
    u.key = Str(head->meta, "key");
    u.initiated_ms = Int(head->meta, "initiated_ms");
    if (head->meta.contains("options")) u.options = OptionsFromJson(head->meta["options"]);
    b->uploads[id] = std::move(u);
  }
  return b;
}

Status LocalObjectStoreImpl::LoadIndex(Bucket& b) {
  // Every version of every key found on disk; the highest seq wins.
  struct Candidate {
    uint64_t seq = 0;
    bool file = false;  // objects/<name>, else a segment record
    Entry entry;        // meta null: a deletion
  };
  std::map<std::string, Candidate> found;
  uint64_t max_seq = 0;
  std::vector<std::string> stale_files;
  auto offer = [&](const std::string& key, Candidate c) {
    max_seq = std::max(max_seq, c.seq);
    auto it = found.find(key);
    if (it == found.end()) {
      found.emplace(key, std::move(c));
      return;
    }
    // Equal seqs: the same record twice (a compaction copy whose source
    // removal was lost in a crash), or the same version as file and record.
    // The loser is a stale file (removed below) or a dead record.
    auto lost = [&](const Candidate& l) {
      if (l.file) {
        stale_files.push_back(ObjectPath(b, key));
      } else if (l.entry.meta) {
        b.Shadow(key, +1);
      }
    };
    if (c.seq < it->second.seq || (c.seq == it->second.seq && c.file)) {
      lost(c);
      return;
    }
    lost(it->second);
    it->second = std::move(c);
  };

  MUON_ASSIGN_OR_RETURN(auto files, env_->ListDir(b.objects_dir));
  for (const std::string& file : files) {
    std::string path = JoinPath(b.objects_dir, file);
    auto head = ReadHeadOfPath(env_, path);
    if (!head.ok()) {
      log::warn("object store: ignoring {}: {}", path, head.status().ToString());
      continue;
    }
    ObjectMeta meta = MetaFromJson(head->meta);
    if (ObjectFileName(meta.key) != file || head->file_size != head->data_offset + meta.size) {
      log::warn("object store: ignoring {}: name or size does not match its metadata", path);
      continue;
    }
    Candidate c;
    // Files written before changes were numbered precede every record.
    c.seq = static_cast<uint64_t>(Int(head->meta, "seq"));
    c.file = true;
    std::string key = meta.key;
    c.entry.meta = std::make_shared<const ObjectMeta>(std::move(meta));
    c.entry.seq = c.seq;
    offer(key, std::move(c));
  }

  // Segments: the newest one's header seals the others.
  MUON_ASSIGN_OR_RETURN(auto names, env_->ListDir(b.segments_dir));
  std::map<uint64_t, std::pair<std::shared_ptr<const RandomAccessFile>, SegmentHeader>> segments;
  for (const std::string& name : names) {
    const std::string path = JoinPath(b.segments_dir, name);
    uint64_t id = SegmentIdOf(name);
    if (id == 0) {
      log::warn("object store: ignoring {}: not a segment file name", path);
      continue;
    }
    MUON_ASSIGN_OR_RETURN(auto file, env_->NewRandomAccessFile(path));
    auto header = ReadSegmentHeader(*file);
    if (!header.ok()) {
      // Its header is synced before any record is written: it never held one.
      log::warn("object store: removing {}: {}", path, header.status().ToString());
      MUON_RETURN_IF_ERROR(env_->RemoveFile(path));
      continue;
    }
    segments[id] = {std::shared_ptr<const RandomAccessFile>(std::move(file)), std::move(*header)};
  }
  std::map<uint64_t, uint64_t> seals;
  if (!segments.empty()) seals = segments.rbegin()->second.second.seals;
  std::map<uint64_t, uint64_t> lengths;
  std::map<uint64_t, std::shared_ptr<const RandomAccessFile>> readers;
  for (auto& [id, seg] : segments) {
    const std::string path = JoinPath(b.segments_dir, SegmentFileName(id));
    MUON_ASSIGN_OR_RETURN(uint64_t size, seg.first->Size());
    auto seal = seals.find(id);
    const bool sealed = seal != seals.end();
    const uint64_t limit = sealed ? std::min(seal->second, size) : size;
    const uint64_t segment_id = id;
    MUON_ASSIGN_OR_RETURN(
        uint64_t end,
        ScanRecords(*seg.first, seg.second.size, limit, /*check_data=*/!sealed,
                    [&](const RecordView& r) -> Status {
                      json j = json::parse(r.meta, nullptr, false);
                      if (j.is_discarded() || !j.is_object()) {
                        return Status::Corruption(path + ": record metadata is not JSON");
                      }
                      Candidate c;
                      c.seq = static_cast<uint64_t>(Int(j, "seq"));
                      std::string key = Str(j, "key");
                      if (!j.value("deleted", false)) {
                        ObjectMeta meta = MetaFromJson(j);
                        if (meta.size != r.data_len) {
                          return Status::Corruption(path + ": record size does not match");
                        }
                        c.entry.meta = std::make_shared<const ObjectMeta>(std::move(meta));
                      }
                      c.entry.seq = c.seq;
                      c.entry.seg = segment_id;
                      c.entry.off = r.offset;
                      c.entry.len = r.length;
                      offer(key, std::move(c));
                      return Status::Ok();
                    }));
    if (sealed && end < limit) {
      log::warn("object store: {}: records from byte {} on are damaged and ignored", path, end);
    } else if (!sealed && end < size) {
      log::info("object store: {}: ignoring {} bytes after the last whole record", path, size - end);
    }
    lengths[id] = end;
    readers[id] = seg.first;
  }
  for (auto& [key, c] : found) {
    if (c.entry.meta) b.Set(key, std::move(c.entry));
  }
  for (const std::string& path : stale_files) (void)env_->RemoveFile(path);
  b.seq = max_seq;
  b.writer = std::make_unique<SegmentWriter>(env_, b.segments_dir, options_.segment_bytes);
  b.writer->Init(std::move(lengths), std::move(readers));
  return Status::Ok();
}

Result<std::shared_ptr<Bucket>> LocalObjectStoreImpl::Find(std::string_view bucket) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return NotFoundBucket(bucket);
  return it->second;
}

Status LocalObjectStoreImpl::CreateBucket(std::string_view bucket) {
  if (!IsValidBucketName(bucket)) {
    return Status::InvalidArgument(fmt::format("bucket name '{}' is not valid", bucket));
  }
  std::lock_guard lock(mu_);
  if (buckets_.count(bucket)) {
    return Status::AlreadyExists(fmt::format("bucket '{}' exists", bucket));
  }
  std::string name(bucket);
  std::string bdir = JoinPath(buckets_dir_, name);
  Status s = [&]() -> Status {
    MUON_RETURN_IF_ERROR(env_->RemoveTree(bdir));  // a half-made earlier attempt
    MUON_RETURN_IF_ERROR(env_->CreateDirs(JoinPath(bdir, "objects")));
    MUON_RETURN_IF_ERROR(env_->CreateDirs(JoinPath(bdir, "tmp")));
    MUON_RETURN_IF_ERROR(env_->CreateDirs(JoinPath(bdir, "uploads")));
    MUON_RETURN_IF_ERROR(env_->CreateDirs(JoinPath(bdir, "segments")));
    MUON_RETURN_IF_ERROR(env_->SyncDir(bdir));
    MUON_RETURN_IF_ERROR(env_->SyncDir(buckets_dir_));
    json j;
    j["created_ms"] = clock_->NowMillis();
    // Written last: its presence makes the bucket exist.
    return env_->WriteFileAtomic(JoinPath(bdir, "bucket.meta"), Dump(j));
  }();
  if (!s.ok()) {
    (void)env_->RemoveTree(bdir);
    return s;
  }
  MUON_ASSIGN_OR_RETURN(auto b, LoadBucket(name));
  buckets_[name] = std::move(b);
  return Status::Ok();
}

Status LocalObjectStoreImpl::DeleteBucket(std::string_view bucket) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return NotFoundBucket(bucket);
  std::shared_ptr<Bucket> b = it->second;
  std::string trash = JoinPath(trash_dir_, fmt::format("{}-{}", b->name, RandomHex(8)));
  {
    std::lock_guard block(b->mu);
    if (!b->index.empty() || b->inflight > 0) {
      return Status::FailedPrecondition(fmt::format("bucket '{}' is not empty", bucket));
    }
    // Unlinking bucket.meta first makes the deletion durable in one step;
    // what follows is cleanup that Open repeats if a crash interrupts it.
    MUON_RETURN_IF_ERROR(env_->RemoveFile(JoinPath(b->dir, "bucket.meta")));
    b->deleted = true;
  }
  buckets_.erase(it);
  (void)b->writer->Close();
  MUON_RETURN_IF_ERROR(env_->SyncDir(b->dir));
  if (env_->RenameFile(b->dir, trash).ok()) {
    (void)env_->RemoveTree(trash);
  } else {
    (void)env_->RemoveTree(b->dir);
  }
  return Status::Ok();
}

Result<BucketInfo> LocalObjectStoreImpl::HeadBucket(std::string_view bucket) {
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  return BucketInfo{b->name, b->created_ms};
}

Result<std::vector<BucketInfo>> LocalObjectStoreImpl::ListBuckets() {
  std::lock_guard lock(mu_);
  std::vector<BucketInfo> out;
  for (const auto& [name, b] : buckets_) out.push_back({name, b->created_ms});
  return out;
}

Result<std::string> LocalObjectStoreImpl::WriteTemp(
    const Bucket& b, std::string_view head,
    const std::function<Status(WritableFile*)>& write_data) {
  std::string tmp = TempPath(b);
  Status s = [&]() -> Status {
    MUON_ASSIGN_OR_RETURN(auto f, env_->NewWritableFile(tmp));
    MUON_RETURN_IF_ERROR(f->Append(head));
    MUON_RETURN_IF_ERROR(write_data(f.get()));
    MUON_RETURN_IF_ERROR(f->Sync());
    return f->Close();
  }();
  if (!s.ok()) {
    (void)env_->RemoveFile(tmp);
    if (s.code() == StatusCode::kNotFound) return Status::IoError(s.message());
    return s;
  }
  return tmp;
}

Result<ObjectMeta> LocalObjectStoreImpl::Publish(Bucket& b, const std::string& tmp,
                                                 ObjectMeta meta, uint64_t seq) {
  const std::string path = ObjectPath(b, meta.key);
  if (Status s = env_->RenameFile(tmp, path); !s.ok()) {
    (void)env_->RemoveFile(tmp);
    return s;
  }
  Status synced = b.objects_sync.Sync(env_, b.objects_dir);
  {
    std::lock_guard lock(b.mu);
    // The rename happened: the index follows the disk even when the
    // directory sync failed (the put then reports the error).
    b.Set(meta.key, Entry{std::make_shared<const ObjectMeta>(meta), seq, 0, 0, 0});
  }
  MUON_RETURN_IF_ERROR(synced);
  return meta;
}

Result<ObjectMeta> LocalObjectStoreImpl::PutSmall(Bucket& b, ObjectMeta meta,
                                                  const std::vector<std::string_view>& pieces,
                                                  uint64_t seq) {
  json j = MetaToJson(meta);
  j["seq"] = seq;
  const std::string head = EncodeRecordHead(Dump(j), meta.size, Crc32OfPieces(pieces));
  std::vector<std::string_view> parts;
  parts.reserve(pieces.size() + 1);
  parts.push_back(head);
  for (std::string_view p : pieces) {
    if (!p.empty()) parts.push_back(p);
  }
  MUON_ASSIGN_OR_RETURN(SegmentWriter::Location loc, b.writer->Append(parts));
  Status durable = b.writer->WaitDurable(loc);
  bool had_file = false;
  if (durable.ok()) {
    std::lock_guard lock(b.mu);
    auto it = b.index.find(meta.key);
    had_file = it != b.index.end() && it->second.seg == 0;
    b.Set(meta.key, Entry{std::make_shared<const ObjectMeta>(meta), seq, loc.id, loc.offset,
                          loc.end - loc.offset});
  }
  if (!durable.ok()) {
    // The record may still reach the disk: count it as a dead one.
    std::lock_guard lock(b.mu);
    b.Shadow(meta.key, +1);
  }
  b.writer->Unpin(loc.id);
  MUON_RETURN_IF_ERROR(durable);
  // The record's higher seq already supersedes the file; removing it only
  // frees the space.
  if (had_file) (void)env_->RemoveFile(ObjectPath(b, meta.key));
  return meta;
}

Result<ObjectMeta> LocalObjectStoreImpl::Put(std::string_view bucket, std::string_view key,
                                             std::string_view data, const PutOptions& options) {
  return PutPieces(bucket, key, std::vector<std::string_view>{data}, options);
}

Result<ObjectMeta> LocalObjectStoreImpl::PutPieces(std::string_view bucket, std::string_view key,
                                                   const std::vector<std::string_view>& pieces,
                                                   const PutOptions& options) {
  if (!IsValidObjectKey(key)) return Status::InvalidArgument("key is not 1..1024 bytes of UTF-8");
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  ObjectMeta meta;
  meta.key = std::string(key);
  meta.size = 0;
  for (std::string_view p : pieces) meta.size += p.size();
  meta.etag = HexOf(DigestOfPieces(EVP_md5(), pieces));
  meta.content_type = options.content_type;
  meta.content_encoding = options.content_encoding;
  meta.content_disposition = options.content_disposition;
  meta.cache_control = options.cache_control;
  meta.user_metadata = options.user_metadata;
  meta.checksums = options.checksums;
  meta.last_modified_ms = clock_->NowMillis();
  KeyLock held(*b, key);
  MUON_RETURN_IF_ERROR(held.status());
  if (options.if_none_match_any) {
    std::lock_guard lock(b->mu);
    if (b->index.count(key)) return Status::FailedPrecondition(fmt::format("key '{}' exists", key));
  }
  const uint64_t seq = ++b->seq;
  if (meta.size <= options_.small_object_max) return PutSmall(*b, std::move(meta), pieces, seq);
  json head = MetaToJson(meta);
  head["seq"] = seq;
  MUON_ASSIGN_OR_RETURN(std::string tmp, WriteTemp(*b, EncodeHead(head), [&](WritableFile* f) {
                          for (std::string_view p : pieces) MUON_RETURN_IF_ERROR(f->Append(p));
                          return Status::Ok();
                        }));
  return Publish(*b, tmp, std::move(meta), seq);
}

Result<std::string> LocalObjectStoreImpl::ReadSmall(Bucket& b, const Entry& e,
                                                    std::optional<ByteRange> range) {
  const std::string where = fmt::format("{}/{}", b.name, e.meta->key);
  auto file = b.writer->Reader(e.seg);
  if (!file) return Status::Aborted(where + ": compacted away while being read");
  std::string buf;
  MUON_RETURN_IF_ERROR(ReadExact(*file, e.off, e.len, &buf, where));
  std::string_view meta, data;
  if (Status s = ParseRecord(buf, &meta, &data); !s.ok()) {
    return Status::Corruption(where + ": " + s.message());
  }
  if (data.size() != e.meta->size) return Status::Corruption(where + ": size does not match");
  uint64_t first = 0, count = data.size();
  if (range) {
    if (range->first > range->last || range->last >= data.size()) {
      return Status::InvalidArgument("range is outside the object");
    }
    first = range->first;
    count = range->last - range->first + 1;
  }
  const size_t at = static_cast<size_t>(data.data() - buf.data() + first);
  buf.erase(0, at);
  buf.resize(static_cast<size_t>(count));
  return buf;
}

Result<ObjectReader> LocalObjectStoreImpl::OpenEntry(Bucket& b, const Entry& e,
                                                    std::string_view key,
                                                    std::optional<ByteRange> range,
                                                    size_t head_bytes, std::string* prefix) {
  if (e.seg != 0) {
    // Small objects are read whole (and checked) at once.
    MUON_ASSIGN_OR_RETURN(std::string data, ReadSmall(b, e, range));
    ObjectReader r;
    r.meta = *e.meta;
    r.length = data.size();
    r.file = std::make_shared<StringFile>(std::move(data));
    if (prefix) prefix->clear();
    return r;
  }
  const std::string path = ObjectPath(b, key);
  auto f = env_->NewRandomAccessFile(path);
  if (!f.ok()) {
    // Replaced by a small object or deleted since the lookup.
    if (f.status().code() == StatusCode::kNotFound) return Status::Aborted(path + " is gone");
    return f.status();
  }
  MUON_ASSIGN_OR_RETURN(FileHead head, ReadHead(**f, path, head_bytes));
  ObjectReader r;
  r.meta = MetaFromJson(head.meta);
  if (r.meta.key != key) return Status::Corruption(path + ": holds another key");
  if (head.file_size != head.data_offset + r.meta.size) {
    return Status::Corruption(path + ": size does not match its metadata");
  }
  uint64_t first = 0, count = r.meta.size;
  if (range) {
    if (range->first > range->last || range->last >= r.meta.size) {
      return Status::InvalidArgument("range is outside the object");
    }
    first = range->first;
    count = range->last - range->first + 1;
  }
  r.offset = head.data_offset + first;
  r.length = count;
  r.file = std::shared_ptr<const RandomAccessFile>(std::move(*f));
  if (prefix) *prefix = std::move(head.prefix);
  return r;
}

template <typename T, typename Attempt>
Result<T> LocalObjectStoreImpl::ReadCurrent(Bucket& b, std::string_view key, Attempt attempt) {
  for (int i = 1;; ++i) {
    MUON_ASSIGN_OR_RETURN(Entry e, FindEntry(b, key));
    Result<T> r = attempt(e);
    // Aborted: what the entry pointed to moved away (compacted, replaced in
    // the other form) before it was opened; the index shows where it is now.
    if (r.ok() || r.status().code() != StatusCode::kAborted || i == kReadAttempts) return r;
  }
}

Result<ObjectReader> LocalObjectStoreImpl::Open(std::string_view bucket, std::string_view key,
                                               std::optional<ByteRange> range) {
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  return ReadCurrent<ObjectReader>(*b, key, [&](const Entry& e) {
    return OpenEntry(*b, e, key, range, 4096, nullptr);
  });
}

Result<Object> LocalObjectStoreImpl::Get(std::string_view bucket, std::string_view key,
                                         std::optional<ByteRange> range) {
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  return ReadCurrent<Object>(*b, key, [&](const Entry& e) -> Result<Object> {
    Object obj;
    if (e.seg != 0) {
      MUON_ASSIGN_OR_RETURN(obj.data, ReadSmall(*b, e, range));
      obj.meta = *e.meta;
      return obj;
    }
    // One read covers the head and, for objects up to 64 KiB, all the data;
    // larger data is read straight into its own buffer.
    std::string prefix;
    MUON_ASSIGN_OR_RETURN(
        ObjectReader r,
        OpenEntry(*b, e, key, range, range ? 4096 : (64 << 10) + 4096, &prefix));
    obj.meta = std::move(r.meta);
    if (r.offset + r.length <= prefix.size()) {
      prefix.erase(0, r.offset);
      prefix.resize(r.length);
      obj.data = std::move(prefix);
    } else {
      MUON_RETURN_IF_ERROR(ReadExact(*r.file, r.offset, r.length, &obj.data,
                                     fmt::format("{}/{}", bucket, key)));
    }
    return obj;
  });
}

Result<ObjectMeta> LocalObjectStoreImpl::Head(std::string_view bucket, std::string_view key) {
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  MUON_ASSIGN_OR_RETURN(Entry e, FindEntry(*b, key));
  return *e.meta;
}

Status LocalObjectStoreImpl::Delete(std::string_view bucket, std::string_view key) {
  if (!IsValidObjectKey(key)) return Status::InvalidArgument("key is not 1..1024 bytes of UTF-8");
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  KeyLock held(*b, key);
  MUON_RETURN_IF_ERROR(held.status());
  bool file = false;
  {
    std::lock_guard lock(b->mu);
    auto it = b->index.find(key);
    if (it == b->index.end()) return Status::Ok();
    file = it->second.seg == 0;
  }
  // The deletion record first: once it is durable no older version of the
  // key (a record, or the file removed next) can come back.
  json j;
  j["key"] = std::string(key);
  j["seq"] = ++b->seq;
  j["deleted"] = true;
  const std::string record = EncodeRecordHead(Dump(j), 0, 0);
  MUON_ASSIGN_OR_RETURN(SegmentWriter::Location loc, b->writer->Append({record}));
  Status durable = b->writer->WaitDurable(loc);
  b->writer->Unpin(loc.id);
  MUON_RETURN_IF_ERROR(durable);
  Status synced;
  if (file) {
    Status removed = env_->RemoveFile(ObjectPath(*b, key));
    if (!removed.ok() && removed.code() != StatusCode::kNotFound) synced = removed;
    if (synced.ok()) synced = b->objects_sync.Sync(env_, b->objects_dir);
  }
  std::lock_guard lock(b->mu);
  b->Set(std::string(key), Entry{});
  return synced;
}

Result<ListPage> LocalObjectStoreImpl::List(std::string_view bucket, const ListOptions& options) {
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  ListPage page;
  std::lock_guard lock(b->mu);
  auto it = options.start_after >= options.prefix ? b->index.upper_bound(options.start_after)
                                                  : b->index.lower_bound(options.prefix);
  for (; it != b->index.end(); ++it) {
    if (it->first.compare(0, options.prefix.size(), options.prefix) != 0) break;
    if (page.objects.size() >= options.max_keys) {
      page.truncated = true;
      break;
    }
    page.objects.push_back(*it->second.meta);
  }
  return page;
}

Result<MultipartUpload> LocalObjectStoreImpl::CreateMultipart(std::string_view bucket,
                                                              std::string_view key,
                                                              const PutOptions& options) {
  if (!IsValidObjectKey(key)) return Status::InvalidArgument("key is not 1..1024 bytes of UTF-8");
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  MultipartUpload u;
  u.key = std::string(key);
  u.upload_id = RandomHex(16);
  u.initiated_ms = clock_->NowMillis();
  u.options = options;
  const std::string udir = JoinPath(b->uploads_dir, u.upload_id);
  json j;
  j["key"] = u.key;
  j["initiated_ms"] = u.initiated_ms;
  j["options"] = OptionsToJson(options);
  Status s = [&]() -> Status {
    MUON_RETURN_IF_ERROR(env_->CreateDir(udir));
    MUON_RETURN_IF_ERROR(env_->WriteFileAtomic(JoinPath(udir, "upload.meta"), EncodeHead(j)));
    return env_->SyncDir(b->uploads_dir);
  }();
  if (!s.ok()) {
    (void)env_->RemoveTree(udir);
    return s;
  }
  std::lock_guard lock(b->mu);
  if (b->deleted) return NotFoundBucket(bucket);
  b->uploads[u.upload_id] = u;
  return u;
}

Result<std::string> LocalObjectStoreImpl::UploadDir(Bucket& b, std::string_view upload_id,
                                                    MultipartUpload* out) {
  std::lock_guard lock(b.mu);
  auto it = b.uploads.find(std::string(upload_id));
  if (it == b.uploads.end()) return NotFoundUpload(upload_id);
  if (out) *out = it->second;
  return JoinPath(b.uploads_dir, it->first);
}

Result<MultipartUpload> LocalObjectStoreImpl::GetMultipart(std::string_view bucket,
                                                           std::string_view upload_id) {
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  MultipartUpload u;
  MUON_RETURN_IF_ERROR(UploadDir(*b, upload_id, &u).status());
  return u;
}

Result<PartInfo> LocalObjectStoreImpl::PutPart(
    std::string_view bucket, std::string_view upload_id, int part_number, std::string_view data,
    const std::map<ChecksumAlgorithm, std::string>& checksums) {
  if (part_number < 1 || part_number > 10000) {
    return Status::InvalidArgument("part number must be 1..10000");
  }
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  MultipartUpload u;
  MUON_ASSIGN_OR_RETURN(std::string udir, UploadDir(*b, upload_id, &u));
  PartInfo p;
  p.part_number = part_number;
  p.size = data.size();
  p.etag = HexOf(Digest(EVP_md5(), data));
  p.checksums = checksums;
  if (const auto& alg = u.options.checksum_algorithm; alg && !p.checksums.count(*alg)) {
    p.checksums[*alg] = ChecksumBase64(*alg, data);
  }
  p.last_modified_ms = clock_->NowMillis();
  json j;
  j["part_number"] = p.part_number;
  j["size"] = p.size;
  j["etag"] = p.etag;
  j["checksums"] = ChecksumsToJson(p.checksums);
  j["last_modified_ms"] = p.last_modified_ms;
  MUON_ASSIGN_OR_RETURN(std::string tmp, WriteTemp(*b, EncodeHead(j), [&](WritableFile* f) {
                          return f->Append(data);
                        }));
  Status s = env_->RenameFile(tmp, JoinPath(udir, PartFileName(part_number)));
  if (!s.ok()) {
    (void)env_->RemoveFile(tmp);
    if (!UploadDir(*b, upload_id, nullptr).ok()) return NotFoundUpload(upload_id);
    return s;
  }
  MUON_RETURN_IF_ERROR(env_->SyncDir(udir));
  return p;
}

PartInfo PartFromJson(const json& j) {
  PartInfo p;
  p.part_number = static_cast<int>(Int(j, "part_number"));
  if (auto it = j.find("size"); it != j.end() && it->is_number_unsigned()) p.size = it->get<uint64_t>();
  p.etag = Str(j, "etag");
  if (j.contains("checksums")) p.checksums = ChecksumsFromJson(j["checksums"]);
  p.last_modified_ms = Int(j, "last_modified_ms");
  return p;
}

Result<std::vector<PartInfo>> LocalObjectStoreImpl::ListParts(std::string_view bucket,
                                                              std::string_view upload_id) {
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  MUON_ASSIGN_OR_RETURN(std::string udir, UploadDir(*b, upload_id, nullptr));
  auto names = env_->ListDir(udir);
  if (!names.ok()) return NotFoundUpload(upload_id);
  std::vector<PartInfo> parts;
  for (const std::string& name : *names) {
    if (name.rfind("part-", 0) != 0) continue;
    auto head = ReadHeadOfPath(env_, JoinPath(udir, name));
    if (!head.ok()) continue;  // replaced or aborted meanwhile
    parts.push_back(PartFromJson(head->meta));
  }
  std::sort(parts.begin(), parts.end(),
            [](const PartInfo& a, const PartInfo& b) { return a.part_number < b.part_number; });
  return parts;
}

Result<std::vector<MultipartUpload>> LocalObjectStoreImpl::ListMultipartUploads(
    std::string_view bucket) {
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  std::vector<MultipartUpload> out;
  {
    std::lock_guard lock(b->mu);
    for (const auto& [id, u] : b->uploads) out.push_back(u);
  }
  std::sort(out.begin(), out.end(), [](const MultipartUpload& x, const MultipartUpload& y) {
    return std::tie(x.key, x.initiated_ms, x.upload_id) < std::tie(y.key, y.initiated_ms, y.upload_id);
  });
  return out;
}

Result<ObjectMeta> LocalObjectStoreImpl::CompleteMultipart(
    std::string_view bucket, std::string_view upload_id,
    const std::vector<std::pair<int, std::string>>& parts) {
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  MultipartUpload u;
  MUON_ASSIGN_OR_RETURN(std::string udir, UploadDir(*b, upload_id, &u));
  if (parts.empty()) return Status::InvalidArgument("part list is empty");
  struct Source {
    std::unique_ptr<RandomAccessFile> file;
    std::string path;
    size_t data_offset;
    uint64_t size;
  };
  std::vector<Source> sources;
  std::string md5s;
  // Composite checksums (S3's "<checksum of part checksums>-N") for every
  // algorithm all parts carry.
  std::map<ChecksumAlgorithm, std::string> part_sums;
  bool first_part = true;
  std::vector<PartInfo> infos;
  ObjectMeta meta;
  int prev = 0;
  for (const auto& [number, etag] : parts) {
    if (number <= prev) return Status::InvalidArgument("part order: part numbers must ascend");
    prev = number;
    std::string path = JoinPath(udir, PartFileName(number));
    auto f = env_->NewRandomAccessFile(path);
    if (!f.ok()) {
      if (!UploadDir(*b, upload_id, nullptr).ok()) return NotFoundUpload(upload_id);
      return Status::InvalidArgument(fmt::format("part {} was not uploaded", number));
    }
    MUON_ASSIGN_OR_RETURN(FileHead head, ReadHead(**f, path, 4096));
    PartInfo p = PartFromJson(head.meta);
    if (NormalizeEtag(etag) != p.etag) {
      return Status::InvalidArgument(fmt::format("part {}: ETag does not match", number));
    }
    auto raw = Unhex(p.etag);
    if (!raw) return Status::Corruption(path + ": bad part ETag");
    md5s += *raw;
    for (auto it = part_sums.begin(); it != part_sums.end();) {
      auto sum = p.checksums.find(it->first);
      auto decoded = sum == p.checksums.end() ? std::nullopt : Base64Decode(sum->second);
      if (!decoded) {
        it = part_sums.erase(it);
      } else {
        it->second += *decoded;
        ++it;
      }
    }
    if (first_part) {
      for (const auto& [alg, v] : p.checksums) {
        if (auto decoded = Base64Decode(v)) part_sums[alg] = *decoded;
      }
      first_part = false;
    }
    meta.size += p.size;
    meta.part_sizes.push_back(p.size);
    sources.push_back({std::move(*f), path, head.data_offset, p.size});
    infos.push_back(std::move(p));
  }
  meta.key = u.key;
  meta.etag = fmt::format("{}-{}", HexOf(Digest(EVP_md5(), md5s)), parts.size());
  if (const auto& alg = u.options.checksum_algorithm;
      alg && u.options.checksum_type == ChecksumType::kFullObject) {
    auto full = FullObjectChecksum(*alg, infos);
    if (!full) {
      return Status::InvalidArgument(
          fmt::format("a part lacks a {} checksum to combine", ChecksumName(*alg)));
    }
    meta.checksums[*alg] = std::move(*full);
    meta.checksum_type = ChecksumType::kFullObject;
  } else {
    for (const auto& [alg, concatenated] : part_sums) {
      meta.checksums[alg] = fmt::format("{}-{}", ChecksumBase64(alg, concatenated), parts.size());
    }
    meta.checksum_type = ChecksumType::kComposite;
  }
  meta.content_type = u.options.content_type;
  meta.content_encoding = u.options.content_encoding;
  meta.content_disposition = u.options.content_disposition;
  meta.cache_control = u.options.cache_control;
  meta.user_metadata = u.options.user_metadata;
  meta.last_modified_ms = clock_->NowMillis();
  KeyLock held(*b, meta.key);
  MUON_RETURN_IF_ERROR(held.status());
  if (u.options.if_none_match_any) {
    std::lock_guard lock(b->mu);
    if (b->index.count(meta.key)) {
      return Status::FailedPrecondition(fmt::format("key '{}' exists", meta.key));
    }
  }
  const uint64_t seq = ++b->seq;
  json head = MetaToJson(meta);
  head["seq"] = seq;
  MUON_ASSIGN_OR_RETURN(
      std::string tmp, WriteTemp(*b, EncodeHead(head), [&](WritableFile* out) {
        std::string buf;
        for (const Source& s : sources) {
          for (uint64_t done = 0; done < s.size;) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(kCopyChunk, s.size - done));
            MUON_RETURN_IF_ERROR(ReadExact(*s.file, s.data_offset + done, n, &buf, s.path));
            MUON_RETURN_IF_ERROR(out->Append(buf));
            done += n;
          }
        }
        return Status::Ok();
      }));
  {
    // Completing twice at once: only one wins the upload.
    std::lock_guard lock(b->mu);
    if (b->uploads.erase(std::string(upload_id)) == 0) {
      (void)env_->RemoveFile(tmp);
      return NotFoundUpload(upload_id);
    }
  }
  auto published = Publish(*b, tmp, std::move(meta), seq);
  if (!published.ok()) {
    std::lock_guard lock(b->mu);
    b->uploads[u.upload_id] = u;  // the parts are still there; the client may retry
    return published.status();
  }
  (void)env_->RemoveTree(udir);
  (void)env_->SyncDir(b->uploads_dir);
  return published;
}

Status LocalObjectStoreImpl::AbortMultipart(std::string_view bucket, std::string_view upload_id) {
  MUON_ASSIGN_OR_RETURN(auto b, Find(bucket));
  std::string udir;
  {
    std::lock_guard lock(b->mu);
    auto it = b->uploads.find(std::string(upload_id));
    if (it == b->uploads.end()) return NotFoundUpload(upload_id);
    udir = JoinPath(b->uploads_dir, it->first);
    b->uploads.erase(it);
  }
  MUON_RETURN_IF_ERROR(env_->RemoveTree(udir));
  return env_->SyncDir(b->uploads_dir);
}

LocalObjectStoreImpl::~LocalObjectStoreImpl() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (compactor_.joinable()) compactor_.join();
}

void LocalObjectStoreImpl::StartCompactor() {
  if (options_.compact_interval_ms <= 0) return;
  compactor_ = std::thread([this] {
    std::unique_lock lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.compact_interval_ms),
                              [&] { return stop_; })) {
      lock.unlock();
      Status s = Compact();
      if (!s.ok()) log::warn("object store: compaction: {}", s.ToString());
      lock.lock();
    }
  });
}

Status LocalObjectStoreImpl::Compact() {
  std::lock_guard pass(compact_mu_);
  std::vector<std::shared_ptr<Bucket>> buckets;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, b] : buckets_) buckets.push_back(b);
  }
  Status first;
  for (const auto& b : buckets) {
    Status s = CompactBucket(b);
    bool deleted = false;
    {
      std::lock_guard lock(b->mu);
      deleted = b->deleted;
    }
    if (!s.ok() && !deleted && first.ok()) first = s.WithContext("bucket " + b->name);
  }
  return first;
}

Status LocalObjectStoreImpl::CompactBucket(const std::shared_ptr<Bucket>& b) {
  // Sealed segments only: the active one is always the newest.
  std::map<uint64_t, uint64_t> sealed = b->writer->Sealed();
  for (const auto& [id, length] : sealed) {
    if (b->writer->Pinned(id)) continue;
    uint64_t live = 0;
    {
      std::lock_guard lock(b->mu);
      if (b->deleted) return Status::Ok();
      auto l = b->seg_live.find(id);
      if (l != b->seg_live.end()) live = l->second;
    }
    if (static_cast<double>(live) >= options_.compact_below_live * static_cast<double>(length)) {
      continue;
    }
    MUON_RETURN_IF_ERROR(CompactSegment(*b, id, length));
  }
  return Status::Ok();
}

Status LocalObjectStoreImpl::CompactSegment(Bucket& b, uint64_t id, uint64_t length) {
  auto file = b.writer->Reader(id);
  if (!file) return Status::Ok();
  const std::string path = b.writer->PathOf(id);
  MUON_ASSIGN_OR_RETURN(SegmentHeader header, ReadSegmentHeader(*file));
  // Files that newer records superseded were removed without a directory
  // sync; make that durable before deletions that outrank them can go.
  MUON_RETURN_IF_ERROR(env_->SyncDir(b.objects_dir));
  struct Moved {
    std::string key;
    uint64_t seq, from;
    SegmentWriter::Location to;
  };
  struct Deletion {
    std::string key;
    uint64_t offset, length;
  };
  std::vector<Moved> moved;
  std::vector<Deletion> deletions;
  // Key hash -> object records in this segment: all of them, and those dead
  // when scanned (already counted in Bucket::shadowed).
  std::map<size_t, uint32_t> puts_here, dead_here;
  std::vector<SegmentWriter::Location> appended;
  std::string record;
  auto copy = [&](uint64_t offset, uint64_t len) -> Result<SegmentWriter::Location> {
    MUON_RETURN_IF_ERROR(ReadExact(*file, offset, len, &record, path));
    MUON_ASSIGN_OR_RETURN(SegmentWriter::Location loc, b.writer->Append({record}));
    appended.push_back(loc);
    return loc;
  };
  auto scanned = ScanRecords(*file, header.size, length, false, [&](const RecordView& r) -> Status {
    json j = json::parse(r.meta, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::Corruption(path + ": bad record");
    std::string key = Str(j, "key");
    const uint64_t seq = static_cast<uint64_t>(Int(j, "seq"));
    if (j.value("deleted", false)) {
      // Decided once every object record here is counted.
      deletions.push_back({std::move(key), r.offset, r.length});
      return Status::Ok();
    }
    const size_t h = KeyHash(key);
    ++puts_here[h];
    KeyLock held(b, key);
    MUON_RETURN_IF_ERROR(held.status());
    {
      std::lock_guard lock(b.mu);
      auto it = b.index.find(key);
      if (it == b.index.end() || it->second.seg != id || it->second.off != r.offset ||
          it->second.seq != seq) {
        ++dead_here[h];
        return Status::Ok();
      }
    }
    MUON_ASSIGN_OR_RETURN(SegmentWriter::Location loc, copy(r.offset, r.length));
    moved.push_back({std::move(key), seq, r.offset, loc});
    return Status::Ok();
  });
  Status s = scanned.status();
  if (s.ok() && *scanned < length) s = Status::Corruption(path + ": damaged record");
  for (size_t i = 0; s.ok() && i < deletions.size(); ++i) {
    const Deletion& d = deletions[i];
    KeyLock held(b, d.key);
    s = held.status();
    if (!s.ok()) break;
    {
      // A deletion is needed while its key stays deleted and an older record
      // of it remains in another segment (dead object records elsewhere).
      std::lock_guard lock(b.mu);
      const size_t h = KeyHash(d.key);
      auto all = b.shadowed.find(h);
      auto here = dead_here.find(h);
      const uint64_t older = (all == b.shadowed.end() ? 0 : all->second) -
                             (here == dead_here.end() ? 0 : here->second);
      if (b.index.count(d.key) || older == 0) continue;
    }
    auto loc = copy(d.offset, d.length);
    s = loc.status();
  }
  for (const auto& loc : appended) {
    if (s.ok()) s = b.writer->WaitDurable(loc);
  }
  bool emptied = false;
  {
    std::lock_guard lock(b.mu);
    size_t repointed = 0;
    for (Moved& m : moved) {
      auto it = b.index.find(m.key);
      if (s.ok() && it != b.index.end() && it->second.seg == id && it->second.off == m.from &&
          it->second.seq == m.seq) {
        Entry e = it->second;
        e.seg = m.to.id;
        e.off = m.to.offset;
        b.Set(m.key, std::move(e));  // counts the original as dead
        ++repointed;
      } else {
        b.Shadow(m.key, +1);  // the copy is a dead record
      }
    }
    if (s.ok()) {
      auto l = b.seg_live.find(id);
      emptied = l == b.seg_live.end() || l->second == 0;
      if (emptied) {
        b.seg_live.erase(id);
        // Every object record in this file is dead and about to go.
        for (const auto& [h, n] : puts_here) b.ShadowHash(h, -static_cast<int64_t>(n));
      }
    }
  }
  for (const auto& loc : appended) b.writer->Unpin(loc.id);
  MUON_RETURN_IF_ERROR(s);
  if (!emptied) return Status::Corruption(path + ": still referenced after compaction");
  b.writer->Forget(id);
  MUON_RETURN_IF_ERROR(env_->RemoveFile(path));
  if (m_compacted_) {
    m_compacted_->Add();
    for (const auto& loc : appended) m_copied_->Add(loc.end - loc.offset);
  }
  // Durable before a later compaction drops deletions this file's records
  // would otherwise outlive.
  return env_->SyncDir(b.segments_dir);
}

}  // namespace

std::string ObjectFileName(std::string_view key) { return HexOf(Digest(EVP_sha256(), key)); }

bool IsValidObjectKey(std::string_view key) {
  if (key.empty() || key.size() > 1024) return false;
  size_t i = 0;
  while (i < key.size()) {
    unsigned char c = key[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > key.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      unsigned char cc = key[i + k];
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
  }
  return true;
}

bool IsValidBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (char c : name) {
    if (!alnum(c) && c != '.' && c != '-') return false;
  }
  if (name.find("..") != std::string_view::npos) return false;
  int dots = 0;
  bool digits_only = true;
  for (char c : name) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') digits_only = false;
  }
  return !(dots == 3 && digits_only);
}

Result<std::unique_ptr<LocalObjectStore>> LocalObjectStore::Open(const std::string& dir, Env* env,
                                                                 Clock* clock,
                                                                 LocalObjectStoreOptions options) {
  auto store = std::make_unique<LocalObjectStoreImpl>(dir, env, clock, options);
  Status s = store->Load();
  if (!s.ok()) return s.WithContext("opening object store " + dir);
  store->StartCompactor();
  return std::unique_ptr<LocalObjectStore>(std::move(store));
}

}  // namespace muon::objectstore
