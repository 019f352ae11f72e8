// FakeObjectStore: an in-memory ObjectStore for tests, which can be told to
// fail. Each call is counted by kind; FailNext(kind, n, status) makes the next
// n calls of that kind fail with `status` (and change nothing), after which
// calls succeed again. Keys and contents are kept exactly as put, so a test
// can read back what a component delivered.
//
// Thread-safe. Not durable: a "crash" of the component under test keeps what
// the fake holds, as a real store would keep every object whose Put returned.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>

#include "base/clock.h"
#include "objectstore/object_store.h"

namespace muon::objectstore {

enum class FakeOp {
  kCreateBucket,
  kDeleteBucket,
  kHeadBucket,
  kListBuckets,
  kPut,
  kGet,
  kHead,
  kDelete,
  kList,
  kCreateMultipart,
  kPutPart,
  kGetMultipart,
  kListParts,
  kListMultipartUploads,
  kCompleteMultipart,
  kAbortMultipart,
  kCount_,
};

class FakeObjectStore final : public ObjectStore {
 public:
  // `clock` (for last-modified times) must outlive the store; nullptr uses
  // the real clock.
  explicit FakeObjectStore(const Clock* clock = nullptr);

  // The next `n` calls of kind `op` fail with `status` (not OK).
  void FailNext(FakeOp op, int n, Status status);
  // Calls of kind `op` made so far, failed ones included.
  int Calls(FakeOp op) const;
  // Every key of the bucket with its data, in key order (empty if no bucket).
  std::map<std::string, std::string> Contents(std::string_view bucket) const;

  Status CreateBucket(std::string_view bucket) override;
  Status DeleteBucket(std::string_view bucket) override;
  Result<BucketInfo> HeadBucket(std::string_view bucket) override;
  Result<std::vector<BucketInfo>> ListBuckets() override;
  Result<ObjectMeta> Put(std::string_view bucket, std::string_view key, std::string_view data,
                         const PutOptions& options) override;
  // Counted as kPut.
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
  struct StoredObject {
    ObjectMeta meta;
    std::string data;
  };
  struct Upload {
    MultipartUpload info;
    std::map<int, std::pair<PartInfo, std::string>> parts;
  };
  struct Bucket {
    BucketInfo info;
    std::map<std::string, StoredObject, std::less<>> objects;
    std::map<std::string, Upload, std::less<>> uploads;
  };

  // Counts the call; returns the injected failure, if one is due. Holds mu_.
  Status EnterLocked(FakeOp op);
  Result<Bucket*> BucketLocked(std::string_view name);
  static Status CheckKey(std::string_view key);

  const Clock* const clock_;
  mutable std::mutex mu_;
  std::array<int, static_cast<size_t>(FakeOp::kCount_)> calls_{};  // guarded by mu_
  std::array<int, static_cast<size_t>(FakeOp::kCount_)> fail_n_{};  // guarded by mu_
  std::array<Status, static_cast<size_t>(FakeOp::kCount_)> fail_status_;  // guarded by mu_
  std::map<std::string, Bucket, std::less<>> buckets_;  // guarded by mu_
  uint64_t next_upload_ = 1;                           // guarded by mu_
};

}  // namespace muon::objectstore
