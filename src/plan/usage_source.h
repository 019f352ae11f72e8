// Where measured usage comes from: a muonpipe data directory or a running server.
#pragma once

#include <string>

#include "base/env.h"
#include "base/status.h"
#include "plan/profile.h"

namespace muon::plan {

// Reads DIR/metrics/usage.json (schema in docs/plan.md).
Result<MeasuredUsage> ReadUsageFromDataDir(Env* env, const std::string& dir);

// GETs URL/_muonpipe/usage (same JSON) over plain HTTP; https URLs are refused with a hint to
// download the file and use --usage-file. Times out after `timeout_seconds`.
Result<MeasuredUsage> FetchUsageFromUrl(const std::string& url, int timeout_seconds = 10);

}  // namespace muon::plan
