// objectstore: where every object muonpipe keeps lives — batch uploads,
// delivered stream data, exports. The S3 API (s3api/) and delivery
// (delivery/) talk only to this interface; the local-disk implementation is
// the embedded default, an S3 client implementation serves scale-out.
//
// Contract shared by every implementation:
// - Put is atomic and durable: when it returns OK the whole object (data and
//   metadata) survives a crash; a reader never sees a partial object; a failed
//   Put leaves the previous object (or none) in place.
// - Keys are any valid S3 key: UTF-8, 1..1024 bytes, any characters including
//   '/', '.', "..", '%'. "a/b" and "a/b/" are different keys.
// - List returns keys in ascending byte order (S3's UTF-8 binary order), from
//   any position, at any bucket size.
// - All methods are thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/checksum.h"
#include "base/env.h"
#include "base/status.h"

namespace muon::objectstore {

// Checksums (x-amz-checksum-<name>) are kept as the base64 of the digest,
// exactly as on the wire; base/checksum.h computes them.
using ChecksumAlgorithm = muon::ChecksumAlgorithm;

// How an object's checksum follows from its bytes (S3's ChecksumType).
// kFullObject: the checksum of all the object's bytes; every single put, and a
// multipart upload created so, whose part CRCs combine into it
// (base/checksum.h). kComposite: a multipart object's
// "<checksum of its parts' raw checksums back to back>-<number of parts>".
enum class ChecksumType { kComposite, kFullObject };

// "COMPOSITE", "FULL_OBJECT" (S3's values); the inverse is exact-case.
std::string_view ChecksumTypeName(ChecksumType type);
std::optional<ChecksumType> ChecksumTypeFromName(std::string_view name);

struct ObjectMeta {
  std::string key;
  uint64_t size = 0;
  // Without quotes: hex MD5 for a single put, "<hex md5 of part md5s>-<N>" for
  // a multipart upload.
  std::string etag;
  std::string content_type;  // "" means the S3 default (binary/octet-stream)
  std::string content_encoding;
  std::string content_disposition;
  std::string cache_control;
  // x-amz-meta-* without the prefix, names lower-cased.
  std::map<std::string, std::string> user_metadata;
  std::map<ChecksumAlgorithm, std::string> checksums;
  int64_t last_modified_ms = 0;  // Unix ms, UTC
  // For multipart objects, the size of each part in order (GetObject partNumber).
  std::vector<uint64_t> part_sizes;
  // How `checksums` were formed. Metadata written before the type was kept
  // reads as kComposite for multipart objects, kFullObject for the others.
  ChecksumType checksum_type = ChecksumType::kFullObject;
};

struct BucketInfo {
  std::string name;
  int64_t created_ms = 0;
};

struct PutOptions {
  std::string content_type;
  std::string content_encoding;
  std::string content_disposition;
  std::string cache_control;
  std::map<std::string, std::string> user_metadata;
  // Stored and returned as given; the caller (the S3 edge) has verified them.
  std::map<ChecksumAlgorithm, std::string> checksums;
  // Conditional write: fail with FailedPrecondition when the key exists
  // (S3's If-None-Match: *).
  bool if_none_match_any = false;
  // CreateMultipart only. The upload's checksum algorithm: every part carries
  // a checksum of it (PutPart computes it where the caller gave none). The
  // type says how CompleteMultipart forms the object's checksum; kFullObject
  // needs an algorithm that combines (ChecksumCombines), which the caller has
  // checked.
  std::optional<ChecksumAlgorithm> checksum_algorithm;
  ChecksumType checksum_type = ChecksumType::kComposite;
};

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};

struct Object {
  ObjectMeta meta;
  std::string data;  // the requested range, or the whole object
};

// An object (or a range of it) to read in pieces, for bodies too large to
// hold whole. The file stays readable after the key is overwritten or
// deleted: a reader sees the version it opened.
struct ObjectReader {
  ObjectMeta meta;
  std::shared_ptr<const RandomAccessFile> file;
  uint64_t offset = 0;  // of the range's first byte in `file`
  uint64_t length = 0;  // bytes in the range
};

// A RandomAccessFile over bytes in memory (for stores that keep objects so).
class StringFile final : public RandomAccessFile {
 public:
  explicit StringFile(std::string data) : data_(std::move(data)) {}
  Result<std::string_view> Read(uint64_t offset, size_t n, char* scratch) const override {
    if (offset >= data_.size()) return std::string_view();
    n = static_cast<size_t>(std::min<uint64_t>(n, data_.size() - offset));
    std::memcpy(scratch, data_.data() + offset, n);
    return std::string_view(scratch, n);
  }
  Result<uint64_t> Size() const override { return data_.size(); }

 private:
  const std::string data_;
};

struct ListOptions {
  std::string prefix;
  // Keys strictly greater than this are returned.
  std::string start_after;
  size_t max_keys = 1000;
};

struct ListPage {
  std::vector<ObjectMeta> objects;  // ascending key order, all with the prefix
  bool truncated = false;           // more keys with the prefix follow the last one
};

struct MultipartUpload {
  std::string key;
  std::string upload_id;
  int64_t initiated_ms = 0;
  PutOptions options;  // from CreateMultipartUpload, applied at completion
};

struct PartInfo {
  int part_number = 0;
  uint64_t size = 0;
  std::string etag;  // hex MD5 of the part, no quotes
  std::map<ChecksumAlgorithm, std::string> checksums;
  int64_t last_modified_ms = 0;
};

// The full-object checksum (base64, the wire form) of `parts` back to back in
// the given order, combined from each part's checksum of `algorithm` and its
// size. nullopt when a part lacks that checksum or it is not valid base64 of
// the right length, or when the algorithm does not combine.
std::optional<std::string> FullObjectChecksum(ChecksumAlgorithm algorithm,
                                              const std::vector<PartInfo>& parts);

// Errors (StatusCode): NotFound for a missing bucket, key or upload — the
// message starts with "bucket", "key" or "upload" so the edge can name the S3
// error; AlreadyExists for CreateBucket of an existing bucket;
// FailedPrecondition for a non-empty DeleteBucket or a failed condition;
// InvalidArgument for bad keys, parts or ranges; IoError/NoSpace from storage.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  virtual Status CreateBucket(std::string_view bucket) = 0;
  virtual Status DeleteBucket(std::string_view bucket) = 0;  // must be empty
  virtual Result<BucketInfo> HeadBucket(std::string_view bucket) = 0;
  virtual Result<std::vector<BucketInfo>> ListBuckets() = 0;  // by name

  virtual Result<ObjectMeta> Put(std::string_view bucket, std::string_view key,
                                 std::string_view data, const PutOptions& options) = 0;
  // Put of an object whose data is `pieces` back to back, without the caller
  // joining them into one buffer first (delivery builds objects in compressed
  // chunks). Same contract as Put. This default joins them; implementations
  // write the pieces one after another.
  virtual Result<ObjectMeta> PutPieces(std::string_view bucket, std::string_view key,
                                       const std::vector<std::string_view>& pieces,
                                       const PutOptions& options) {
    std::string data;
    size_t size = 0;
    for (std::string_view p : pieces) size += p.size();
    data.reserve(size);
    for (std::string_view p : pieces) data += p;
    return Put(bucket, key, data, options);
  }
  // `range` is clamped by the caller to the object (the edge answers
  // InvalidRange); a range past the end is InvalidArgument here.
  virtual Result<Object> Get(std::string_view bucket, std::string_view key,
                             std::optional<ByteRange> range = std::nullopt) = 0;
  // The same as Get, without reading the data: it is read through the
  // returned reader. The default reads the data with Get.
  virtual Result<ObjectReader> Open(std::string_view bucket, std::string_view key,
                                    std::optional<ByteRange> range = std::nullopt) {
    MUON_ASSIGN_OR_RETURN(Object obj, Get(bucket, key, range));
    ObjectReader r;
    r.meta = std::move(obj.meta);
    r.length = obj.data.size();
    r.file = std::make_shared<StringFile>(std::move(obj.data));
    return r;
  }
  virtual Result<ObjectMeta> Head(std::string_view bucket, std::string_view key) = 0;
  // Deleting a missing key is OK (S3 semantics).
  virtual Status Delete(std::string_view bucket, std::string_view key) = 0;
  virtual Result<ListPage> List(std::string_view bucket, const ListOptions& options) = 0;

  // Multipart: parts are kept apart until Complete assembles them atomically.
  virtual Result<MultipartUpload> CreateMultipart(std::string_view bucket, std::string_view key,
                                                  const PutOptions& options) = 0;
  virtual Result<MultipartUpload> GetMultipart(std::string_view bucket,
                                               std::string_view upload_id) = 0;
  virtual Result<PartInfo> PutPart(std::string_view bucket, std::string_view upload_id,
                                   int part_number, std::string_view data,
                                   const std::map<ChecksumAlgorithm, std::string>& checksums) = 0;
  virtual Result<std::vector<PartInfo>> ListParts(std::string_view bucket,
                                                  std::string_view upload_id) = 0;
  virtual Result<std::vector<MultipartUpload>> ListMultipartUploads(std::string_view bucket) = 0;
  // `parts` are (part number, etag) as the client lists them; the edge has
  // checked order and minimum sizes. The result's etag is the multipart form.
  // An upload of checksum type kFullObject gets the full-object checksum of
  // its algorithm alone (FullObjectChecksum; InvalidArgument when a part
  // lacks it); any other gets composite checksums of every algorithm all its
  // parts carry.
  virtual Result<ObjectMeta> CompleteMultipart(
      std::string_view bucket, std::string_view upload_id,
      const std::vector<std::pair<int, std::string>>& parts) = 0;
  virtual Status AbortMultipart(std::string_view bucket, std::string_view upload_id) = 0;
};

}  // namespace muon::objectstore
