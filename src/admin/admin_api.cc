#include "admin/admin_api.h"

#include <nlohmann/json.hpp>

#include "auth/http_auth.h"
#include "base/log.h"
#include "base/uuid.h"

namespace muon::admin {
namespace {

http::Response ErrorReply(int status, std::string_view code, std::string_view message) {
  http::Response r;
  r.status = status;
  r.Set("Content-Type", "application/json");
  r.body = nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump();
  r.body.push_back('\n');
  return r;
}

http::Response Body(std::string content_type, std::string body) {
  http::Response r;
  r.Set("Content-Type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

constexpr std::string_view kPrometheusType = "text/plain; version=0.0.4";

}  // namespace

bool IsAdminRequest(const http::Request& request) {
  return request.path == kHealthPath || request.path == kUsagePath || request.path == kMetricsPath;
}

http::Response HandleAdmin(const auth::Identities& identities, const auth::Authorizer& authorizer,
                           const Clock& clock, const AdminOptions& options,
                           const http::Request& req) {
  if (req.path == kHealthPath) return Body("application/json", R"({"status":"ok"})");

  const bool usage = req.path == kUsagePath;
  const std::string request_id = NewUuid();
  auto outcome = auth::AuthenticateHttp(
      req, identities, clock,
      {.service = "muonpipe", .region = options.region, .request_id = request_id});
  if (!outcome.verified) {
    log::debug("admin: {} {} from {} refused: {}", req.method, req.path, req.remote_ip,
               outcome.failure.message);
    http::Response r = ErrorReply(
        403, auth::JsonApiErrorCode(outcome.failure.error),
        outcome.failure.message.empty() ? "Missing Authentication Token" : outcome.failure.message);
    r.Set("x-amzn-RequestId", request_id);
    return r;
  }
  if (Status s = authorizer.Authorize(outcome.caller, usage ? kGetUsageAction : kGetMetricsAction,
                                      usage ? kUsageArn : kMetricsArn);
      !s.ok()) {
    http::Response r = ErrorReply(403, "AccessDenied", s.message());
    r.Set("x-amzn-RequestId", request_id);
    return r;
  }
  http::Response r;
  if (req.method != "GET") {
    r = ErrorReply(405, "MethodNotAllowed",
                   req.method + " " + req.path + " is not served; use GET");
    r.Set("Allow", "GET");
  } else if (usage) {
    r = Body("application/json", options.usage_json());
  } else {
    r = Body(std::string(kPrometheusType), options.metrics_text());
  }
  r.Set("x-amzn-RequestId", request_id);
  return r;
}

http::Response HandleMetricsListener(const AdminOptions& options, const http::Request& req) {
  if (req.path != kMetricsListenerPath) {
    http::Response r = Body("text/plain", "Not found: this listener serves only GET /metrics\n");
    r.status = 404;
    return r;
  }
  if (req.method != "GET") {
    http::Response r = Body("text/plain", "Method not allowed: use GET /metrics\n");
    r.status = 405;
    r.Set("Allow", "GET");
    return r;
  }
  return Body(std::string(kPrometheusType), options.metrics_text());
}

}  // namespace muon::admin
