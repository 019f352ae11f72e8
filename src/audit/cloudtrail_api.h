// The CloudTrail LookupEvents API over the audit log (JSON 1.1,
// X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.*,
// SigV4 service "cloudtrail"), so `aws cloudtrail lookup-events` and boto3
// read muonpipe's records. Authorised as cloudtrail:LookupEvents on "*".
// Only LookupEvents is served; other operations answer
// UnknownOperationException. Lookups run on the calling (network) thread and
// read the files, newest first, until a page is full.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "audit/audit_log.h"
#include "auth/authorizer.h"
#include "base/clock.h"
#include "base/env.h"
#include "http/server.h"
#include "kinesis/http_edge.h"

namespace muon::audit {

inline constexpr std::string_view kCloudTrailTargetPrefix =
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.";

bool IsCloudTrailRequest(const http::Request& request);

struct CloudTrailApi {
  Env* env = nullptr;
  std::string dir;          // the audit log's directory
  AuditLog* log = nullptr;  // flushed before each lookup, so a caller sees its own calls; may be null
  const auth::Authorizer* authorizer = nullptr;
};

// One call of an authenticated caller: (HTTP status, JSON 1.1 body).
std::pair<int, std::string> CallCloudTrail(const CloudTrailApi& api, std::string_view operation,
                                           std::string_view body, const auth::Caller& caller);

// Serves one request; everything passed must outlive it.
void ServeCloudTrail(const CloudTrailApi& api, const auth::Identities* identities,
                     const Clock* clock, const kinesis::EdgeOptions& options,
                     http::Request&& request, http::Responder respond);

}  // namespace muon::audit
