// Where measured usage comes from: a muonpipe data directory or a running server.
#pragma once

#include <string>

#include "auth/sigv4.h"
#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "plan/profile.h"

namespace muon::plan {

// Reads DIR/metrics/usage.json (schema in docs/plan.md).
Result<MeasuredUsage> ReadUsageFromDataDir(Env* env, const std::string& dir);

struct FetchOptions {
  // The request is signed with these (SigV4, service "muonpipe", auth::Sign):
  // the server answers only callers allowed admin:GetUsage (docs/iam.md).
  auth::Credentials credentials;
  std::string region = "ap-southeast-2";  // the region the server serves
  const Clock* clock = Clock::Real();     // X-Amz-Date
  int timeout_seconds = 10;
};

// GETs URL/_muonpipe/usage (same JSON) over plain HTTP, signed; https URLs are refused with a
// hint to download the file and use --usage-file. The signature covers the path as sent
// (PREFIX/_muonpipe/usage): a proxy that rewrites the path makes the server refuse it.
Result<MeasuredUsage> FetchUsageFromUrl(const std::string& url, const FetchOptions& options);

}  // namespace muon::plan
