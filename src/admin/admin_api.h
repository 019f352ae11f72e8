// muonpipe's own operational endpoints on the shared listener, and the
// separate metrics listener (docs/iam.md, "Admin endpoints"):
//
//   GET /_muonpipe/health   open to anyone (load balancers): {"status":"ok"}
//   GET /_muonpipe/usage    admin:GetUsage   on arn:muonpipe:admin:::usage
//   GET /_muonpipe/metrics  admin:GetMetrics on arn:muonpipe:admin:::metrics
//
// usage and metrics are authenticated like the registry API — SigV4 with
// credential-scope service "muonpipe" — and then authorised through the one
// auth::Authorizer (in serve: audited, bootstrap key exempt, then policies).
// Errors are the registry's JSON shape {"error": {"code", "message"}}: 403
// with the authentication failure's name (MissingAuthenticationToken,
// SignatureDoesNotMatch, ...) or AccessDenied; 405 MethodNotAllowed for
// any method but GET once authorised.
//
// The metrics listener (serve --metrics-listen) serves only GET /metrics,
// unauthenticated, for Prometheus, which cannot sign; it is meant for
// loopback or a private network.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "auth/authorizer.h"
#include "auth/identities.h"
#include "base/clock.h"
#include "http/server.h"

namespace muon::admin {

inline constexpr std::string_view kHealthPath = "/_muonpipe/health";
inline constexpr std::string_view kUsagePath = "/_muonpipe/usage";
inline constexpr std::string_view kMetricsPath = "/_muonpipe/metrics";

inline constexpr std::string_view kGetUsageAction = "admin:GetUsage";
inline constexpr std::string_view kGetMetricsAction = "admin:GetMetrics";
inline constexpr std::string_view kUsageArn = "arn:muonpipe:admin:::usage";
inline constexpr std::string_view kMetricsArn = "arn:muonpipe:admin:::metrics";

// The metrics listener's one path.
inline constexpr std::string_view kMetricsListenerPath = "/metrics";

struct AdminOptions {
  std::string region = "ap-southeast-2";
  // The bodies of /usage (JSON, docs/plan.md) and /metrics (Prometheus text
  // format 0.0.4). Called on the network thread for each authorised request;
  // must be thread-safe.
  std::function<std::string()> usage_json;
  std::function<std::string()> metrics_text;
};

// True for the three paths above (exact match).
bool IsAdminRequest(const http::Request& request);

// Serves one request IsAdminRequest accepted: authenticates (not health),
// authorises, answers. Synchronous; everything passed must outlive the call.
http::Response HandleAdmin(const auth::Identities& identities, const auth::Authorizer& authorizer,
                           const Clock& clock, const AdminOptions& options,
                           const http::Request& request);

// The metrics listener's handler: GET /metrics answers the metrics text; any
// other path 404, any other method 405. No authentication.
http::Response HandleMetricsListener(const AdminOptions& options, const http::Request& request);

}  // namespace muon::admin
