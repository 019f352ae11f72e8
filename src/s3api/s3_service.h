// The S3 REST endpoint on the shared listener: path-style and virtual-host
// style addressing, SigV4 (service "s3": header, presigned query, signed,
// UNSIGNED-PAYLOAD and aws-chunked payloads), x-amz-checksum-* verification,
// S3's XML bodies and errors. Every operation asks the Authorizer first
// (actions "s3:<Action>", resources "arn:aws:s3:::BUCKET[/KEY]").
//
// The wire contract is botocore's s3 model (data/s3/2006-03-01/service-2.json).
// Storage is an objectstore::ObjectStore; bucket lifecycle rules are kept in
// a LifecycleStore (lifecycle.h) and applied by SweepLifecycle.
//
// Thread safety: Serve may be called from any thread; blocking work (object
// store, fsync) runs on the service's own worker threads so network threads
// never wait for the disk.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/authorizer.h"
#include "auth/identities.h"
#include "auth/sigv4.h"
#include "base/clock.h"
#include "http/server.h"
#include "objectstore/object_store.h"
#include "s3api/lifecycle.h"

namespace muon::s3api {

struct S3Options {
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  // Host suffixes under which "<bucket>.<suffix>" is virtual-host addressing,
  // besides "localhost" (and "s3.<region>.localhost").
  std::vector<std::string> virtual_host_domains;
  int worker_threads = 32;
};

class S3Service {
 public:
  // All pointers must outlive the service. `lifecycle` may be null (the
  // lifecycle operations then answer NotImplemented).
  S3Service(objectstore::ObjectStore* store, LifecycleStore* lifecycle,
            const auth::Identities* identities, const auth::Authorizer* authorizer,
            const Clock* clock, S3Options options);
  // Finishes queued requests, then joins the workers.
  ~S3Service();
  S3Service(const S3Service&) = delete;
  S3Service& operator=(const S3Service&) = delete;

  // Answers one request through `respond`, later, from a worker thread.
  void Serve(http::Request&& request, http::Responder respond);

  // Answers one request on the calling thread (tests, tools).
  http::Response Handle(http::Request& request);

  // Deletes the objects lifecycle rules have expired (at the clock's now).
  // Returns how many were deleted.
  Result<size_t> SweepLifecycle();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace muon::s3api
