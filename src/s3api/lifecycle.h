// Bucket lifecycle configuration (Put/Get/DeleteBucketLifecycleConfiguration):
// expiration of objects by prefix (and size) and age or date, and clean-up
// of incomplete multipart uploads. Rules are kept per bucket in
// DIR/<bucket>.xml (the XML GetBucketLifecycleConfiguration returns), written
// atomically; S3Service::SweepLifecycle applies them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "objectstore/object_store.h"

namespace muon::s3api {

struct LifecycleRule {
  std::string id;
  bool enabled = true;
  // Filter: all must hold.
  std::string prefix;
  std::optional<uint64_t> size_greater_than;
  std::optional<uint64_t> size_less_than;
  // Expiration: after `days` (S3 rounds to the next midnight UTC) or on `date_ms`.
  std::optional<int> expiration_days;
  std::optional<int64_t> expiration_date_ms;  // midnight UTC
  // AbortIncompleteMultipartUpload.DaysAfterInitiation.
  std::optional<int> abort_incomplete_days;
};

// Parses a LifecycleConfiguration body. InvalidArgument names what is wrong
// (the edge answers MalformedXML or InvalidArgument); filters on tags and
// transitions are not supported and say so.
Result<std::vector<LifecycleRule>> ParseLifecycleXml(std::string_view xml);
// The LifecycleConfiguration document for `rules`.
std::string LifecycleXml(const std::vector<LifecycleRule>& rules);

// Unix ms at which an object modified at `last_modified_ms` expires under a
// rule of `days`: the midnight UTC at or after last-modified + days (S3's rule).
int64_t ExpiryForDays(int64_t last_modified_ms, int days);
// Whether the rule expires this object at `now_ms`.
bool RuleExpires(const LifecycleRule& rule, const objectstore::ObjectMeta& meta, int64_t now_ms);

class LifecycleStore {
 public:
  // `dir` is created if missing; `env` must outlive the store. Thread-safe.
  static Result<std::unique_ptr<LifecycleStore>> Open(const std::string& dir, Env* env);

  Status Put(std::string_view bucket, const std::vector<LifecycleRule>& rules);
  // NotFound when the bucket has no configuration.
  Result<std::vector<LifecycleRule>> Get(std::string_view bucket);
  Status Delete(std::string_view bucket);  // OK when there is none
  std::map<std::string, std::vector<LifecycleRule>> All();

 private:
  LifecycleStore(std::string dir, Env* env) : dir_(std::move(dir)), env_(env) {}
  const std::string dir_;
  Env* const env_;
  std::mutex mu_;
  std::map<std::string, std::vector<LifecycleRule>, std::less<>> rules_;  // guarded by mu_
};

}  // namespace muon::s3api
