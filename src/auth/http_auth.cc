#include "auth/http_auth.h"

#include <fmt/format.h>

namespace muon::auth {

HttpAuthOutcome AuthenticateHttp(const http::Request& request, const CredentialStore& store,
                                 const Clock& clock, const HttpAuthOptions& options) {
  HttpAuthOutcome out;
  // The body's hash is needed only when the request does not declare
  // UNSIGNED-PAYLOAD or a STREAMING-* form (hashing a large body costs
  // milliseconds of CPU per request).
  std::string_view declared = request.Header("x-amz-content-sha256");
  bool needs_hash = declared.empty() || declared.size() == 64;
  std::string body_hash = needs_hash ? Sha256Hex(request.body) : std::string();
  RequestToVerify r;
  r.method = request.method;
  r.path = request.path;
  r.query = request.query;
  r.headers = &request.headers;
  r.body_sha256_hex = body_hash;
  VerifyOptions vo;
  vo.now_seconds = clock.NowSeconds();
  vo.s3_style_path = options.s3_style_path;
  auto [verified, failure] = Verify(r, store, vo);
  if (!verified) {
    out.failure = std::move(failure);
    return out;
  }
  if (verified->service != options.service) {
    out.failure = {AuthError::kWrongScope,
                   fmt::format("Credential should be scoped to correct service: '{}'.",
                               options.service)};
    return out;
  }
  if (verified->region != options.region) {
    out.failure = {AuthError::kWrongScope,
                   fmt::format("Credential should be scoped to a valid region, not '{}'. This "
                               "endpoint serves region '{}'.",
                               verified->region, options.region)};
    return out;
  }
  out.verified = std::move(verified);
  return out;
}

Caller CallerOf(const http::Request& request, const VerifiedRequest& verified,
                std::string_view principal_arn) {
  Caller c;
  c.access_key_id = verified.credentials.access_key_id;
  c.principal_arn = std::string(principal_arn);
  c.source_ip = request.remote_ip;
  c.user_agent = std::string(request.Header("User-Agent"));
  c.secure_transport = request.secure;
  return c;
}

}  // namespace muon::auth
