#include "objectstore/fake_object_store.h"

#include <openssl/evp.h>

#include <fmt/format.h>

namespace muon::objectstore {
namespace {

std::string Md5Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

std::string HexToBytes(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

ObjectMeta MetaOf(std::string_view key, std::string_view data, const PutOptions& o,
                  int64_t now_ms) {
  ObjectMeta m;
  m.key = key;
  m.size = data.size();
  m.etag = Md5Hex(data);
  m.content_type = o.content_type;
  m.content_encoding = o.content_encoding;
  m.content_disposition = o.content_disposition;
  m.cache_control = o.cache_control;
  m.user_metadata = o.user_metadata;
  m.checksums = o.checksums;
  m.last_modified_ms = now_ms;
  return m;
}

}  // namespace

FakeObjectStore::FakeObjectStore(const Clock* clock) : clock_(clock ? clock : Clock::Real()) {}

void FakeObjectStore::FailNext(FakeOp op, int n, Status status) {
  std::lock_guard lock(mu_);
  fail_n_[static_cast<size_t>(op)] = n;
  fail_status_[static_cast<size_t>(op)] = std::move(status);
}

int FakeObjectStore::Calls(FakeOp op) const {
  std::lock_guard lock(mu_);
  return calls_[static_cast<size_t>(op)];
}

std::map<std::string, std::string> FakeObjectStore::Contents(std::string_view bucket) const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> out;
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return out;
  for (const auto& [k, o] : it->second.objects) out[k] = o.data;
  return out;
}

Status FakeObjectStore::EnterLocked(FakeOp op) {
  size_t i = static_cast<size_t>(op);
  ++calls_[i];
  if (fail_n_[i] > 0) {
    --fail_n_[i];
    return fail_status_[i];
  }
  return Status::Ok();
}

Result<FakeObjectStore::Bucket*> FakeObjectStore::BucketLocked(std::string_view name) {
  auto it = buckets_.find(name);
  if (it == buckets_.end()) {
    return Status::NotFound(fmt::format("bucket '{}' does not exist", name));
  }
  return &it->second;
}

Status FakeObjectStore::CheckKey(std::string_view key) {
  if (key.empty() || key.size() > 1024) {
    return Status::InvalidArgument("key must be 1 to 1024 bytes");
  }
  return Status::Ok();
}

Status FakeObjectStore::CreateBucket(std::string_view bucket) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kCreateBucket));
  if (buckets_.count(bucket)) {
    return Status::AlreadyExists(fmt::format("bucket '{}' exists", bucket));
  }
  Bucket b;
  b.info.name = bucket;
  b.info.created_ms = clock_->NowMillis();
  buckets_.emplace(std::string(bucket), std::move(b));
  return Status::Ok();
}

Status FakeObjectStore::DeleteBucket(std::string_view bucket) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kDeleteBucket));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  if (!b->objects.empty() || !b->uploads.empty()) {
    return Status::FailedPrecondition(fmt::format("bucket '{}' is not empty", bucket));
  }
  buckets_.erase(buckets_.find(bucket));
  return Status::Ok();
}

Result<BucketInfo> FakeObjectStore::HeadBucket(std::string_view bucket) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kHeadBucket));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  return b->info;
}

Result<std::vector<BucketInfo>> FakeObjectStore::ListBuckets() {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kListBuckets));
  std::vector<BucketInfo> out;
  for (const auto& [name, b] : buckets_) out.push_back(b.info);
  return out;
}

Result<ObjectMeta> FakeObjectStore::Put(std::string_view bucket, std::string_view key,
                                        std::string_view data, const PutOptions& options) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kPut));
  MUON_RETURN_IF_ERROR(CheckKey(key));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  auto it = b->objects.find(key);
  if (options.if_none_match_any && it != b->objects.end()) {
    return Status::FailedPrecondition(fmt::format("key '{}' exists", key));
  }
  StoredObject o{MetaOf(key, data, options, clock_->NowMillis()), std::string(data)};
  ObjectMeta meta = o.meta;
  b->objects.insert_or_assign(std::string(key), std::move(o));
  return meta;
}

Result<ObjectMeta> FakeObjectStore::PutPieces(std::string_view bucket, std::string_view key,
                                              const std::vector<std::string_view>& pieces,
                                              const PutOptions& options) {
  std::string data;
  for (std::string_view p : pieces) data += p;
  return Put(bucket, key, data, options);
}

Result<Object> FakeObjectStore::Get(std::string_view bucket, std::string_view key,
                                    std::optional<ByteRange> range) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kGet));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  auto it = b->objects.find(key);
  if (it == b->objects.end()) return Status::NotFound(fmt::format("key '{}' does not exist", key));
  Object out{it->second.meta, it->second.data};
  if (range) {
    if (range->first > range->last || range->last >= out.data.size()) {
      return Status::InvalidArgument("range outside the object");
    }
    out.data = out.data.substr(range->first, range->last - range->first + 1);
  }
  return out;
}

Result<ObjectMeta> FakeObjectStore::Head(std::string_view bucket, std::string_view key) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kHead));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  auto it = b->objects.find(key);
  if (it == b->objects.end()) return Status::NotFound(fmt::format("key '{}' does not exist", key));
  return it->second.meta;
}

Status FakeObjectStore::Delete(std::string_view bucket, std::string_view key) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kDelete));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  auto it = b->objects.find(key);
  if (it != b->objects.end()) b->objects.erase(it);
  return Status::Ok();
}

Result<ListPage> FakeObjectStore::List(std::string_view bucket, const ListOptions& options) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kList));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  ListPage page;
  auto it = options.start_after.empty() ? b->objects.lower_bound(options.prefix)
                                        : b->objects.upper_bound(options.start_after);
  if (!options.start_after.empty() && options.start_after < options.prefix) {
    it = b->objects.lower_bound(options.prefix);
  }
  for (; it != b->objects.end(); ++it) {
    if (it->first.compare(0, options.prefix.size(), options.prefix) != 0) break;
    if (page.objects.size() == options.max_keys) {
      page.truncated = true;
      break;
    }
    page.objects.push_back(it->second.meta);
  }
  return page;
}

Result<MultipartUpload> FakeObjectStore::CreateMultipart(std::string_view bucket,
                                                         std::string_view key,
                                                         const PutOptions& options) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kCreateMultipart));
  MUON_RETURN_IF_ERROR(CheckKey(key));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  Upload u;
  u.info.key = key;
  u.info.upload_id = fmt::format("upload-{}", next_upload_++);
  u.info.initiated_ms = clock_->NowMillis();
  u.info.options = options;
  MultipartUpload info = u.info;
  b->uploads.emplace(info.upload_id, std::move(u));
  return info;
}

Result<MultipartUpload> FakeObjectStore::GetMultipart(std::string_view bucket,
                                                      std::string_view upload_id) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kGetMultipart));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  auto it = b->uploads.find(upload_id);
  if (it == b->uploads.end())
    return Status::NotFound(fmt::format("upload '{}' does not exist", upload_id));
  return it->second.info;
}

Result<PartInfo> FakeObjectStore::PutPart(
    std::string_view bucket, std::string_view upload_id, int part_number, std::string_view data,
    const std::map<ChecksumAlgorithm, std::string>& checksums) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kPutPart));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  auto it = b->uploads.find(upload_id);
  if (it == b->uploads.end()) return Status::NotFound(fmt::format("upload '{}' does not exist", upload_id));
  if (part_number < 1 || part_number > 10000) {
    return Status::InvalidArgument("part number must be 1 to 10000");
  }
  PartInfo p{part_number, data.size(), Md5Hex(data), checksums, clock_->NowMillis()};
  if (const auto& alg = it->second.info.options.checksum_algorithm;
      alg && !p.checksums.count(*alg)) {
    p.checksums[*alg] = ChecksumBase64(*alg, data);
  }
  it->second.parts.insert_or_assign(part_number, std::make_pair(p, std::string(data)));
  return p;
}

Result<std::vector<PartInfo>> FakeObjectStore::ListParts(std::string_view bucket,
                                                         std::string_view upload_id) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kListParts));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  auto it = b->uploads.find(upload_id);
  if (it == b->uploads.end()) return Status::NotFound(fmt::format("upload '{}' does not exist", upload_id));
  std::vector<PartInfo> out;
  for (const auto& [n, p] : it->second.parts) out.push_back(p.first);
  return out;
}

Result<std::vector<MultipartUpload>> FakeObjectStore::ListMultipartUploads(
    std::string_view bucket) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kListMultipartUploads));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  std::vector<MultipartUpload> out;
  for (const auto& [id, u] : b->uploads) out.push_back(u.info);
  return out;
}

Result<ObjectMeta> FakeObjectStore::CompleteMultipart(
    std::string_view bucket, std::string_view upload_id,
    const std::vector<std::pair<int, std::string>>& parts) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kCompleteMultipart));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  auto it = b->uploads.find(upload_id);
  if (it == b->uploads.end()) return Status::NotFound(fmt::format("upload '{}' does not exist", upload_id));
  std::string data, md5s;
  std::vector<uint64_t> sizes;
  std::vector<PartInfo> infos;
  for (const auto& [n, etag] : parts) {
    auto p = it->second.parts.find(n);
    if (p == it->second.parts.end() || p->second.first.etag != etag) {
      return Status::InvalidArgument(fmt::format("part {} was not uploaded with that ETag", n));
    }
    data += p->second.second;
    md5s += HexToBytes(p->second.first.etag);
    sizes.push_back(p->second.first.size);
    infos.push_back(p->second.first);
  }
  const PutOptions& options = it->second.info.options;
  std::optional<std::string> full;
  if (options.checksum_algorithm && options.checksum_type == ChecksumType::kFullObject) {
    full = FullObjectChecksum(*options.checksum_algorithm, infos);
    if (!full) return Status::InvalidArgument("a part lacks the upload's checksum");
  }
  StoredObject o{MetaOf(it->second.info.key, data, it->second.info.options, clock_->NowMillis()),
                 std::move(data)};
  o.meta.etag = fmt::format("{}-{}", Md5Hex(md5s), parts.size());
  o.meta.part_sizes = std::move(sizes);
  o.meta.checksum_type = full ? ChecksumType::kFullObject : ChecksumType::kComposite;
  if (full) o.meta.checksums = {{*options.checksum_algorithm, std::move(*full)}};
  ObjectMeta meta = o.meta;
  b->objects.insert_or_assign(it->second.info.key, std::move(o));
  b->uploads.erase(it);
  return meta;
}

Status FakeObjectStore::AbortMultipart(std::string_view bucket, std::string_view upload_id) {
  std::lock_guard lock(mu_);
  MUON_RETURN_IF_ERROR(EnterLocked(FakeOp::kAbortMultipart));
  MUON_ASSIGN_OR_RETURN(Bucket * b, BucketLocked(bucket));
  auto it = b->uploads.find(upload_id);
  if (it == b->uploads.end()) return Status::NotFound(fmt::format("upload '{}' does not exist", upload_id));
  b->uploads.erase(it);
  return Status::Ok();
}

}  // namespace muon::objectstore
