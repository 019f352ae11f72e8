#include "auth/http_auth.h"

#include <fmt/format.h>

#include "auth/sigv4_internal.h"

namespace muon::auth {
namespace {

AuthFailureObserver& Observer() {
  static AuthFailureObserver* observer = new AuthFailureObserver();
  return *observer;
}

HttpAuthOutcome Fail(const http::Request& request, const HttpAuthOptions& options,
                     HttpAuthOutcome out) {
  if (const AuthFailureObserver& observer = Observer()) {
    observer({request, out.failure, options.service, options.region, options.request_id});
  }
  return out;
}

// The value of query parameter `name` (percent-decoded), or empty.
std::string QueryValue(std::string_view query, std::string_view name) {
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    std::string_view part = query.substr(start, amp == query.npos ? query.npos : amp - start);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=') {
      return internal::PercentDecode(part.substr(name.size() + 1));
    }
    if (amp == query.npos) break;
    start = amp + 1;
  }
  return {};
}

// The access key id and session token a request claims, for classifying a
// refusal of an unknown key (the signature was never checked).
std::pair<std::string, std::string> ClaimedKeyAndToken(const http::Request& request) {
  std::string credential;
  std::string_view authz = request.Header("Authorization");
  if (size_t at = authz.find("Credential="); at != authz.npos) {
    std::string_view rest = authz.substr(at + 11);
    credential = std::string(rest.substr(0, rest.find_first_of(", ")));
  } else {
    credential = QueryValue(request.query, "X-Amz-Credential");
  }
  std::string token(request.Header("X-Amz-Security-Token"));
  if (token.empty()) token = QueryValue(request.query, "X-Amz-Security-Token");
  return {credential.substr(0, credential.find('/')), token};
}

}  // namespace

void SetAuthFailureObserver(AuthFailureObserver observer) { Observer() = std::move(observer); }

std::string_view JsonApiErrorCode(AuthError error) {
  switch (error) {
    case AuthError::kMissingAuthentication:
      return "MissingAuthenticationToken";
    case AuthError::kIncompleteSignature:
      return "IncompleteSignature";
    case AuthError::kUnknownAccessKey:
      return "UnrecognizedClient";
    case AuthError::kInvalidSessionToken:
      return "InvalidClientTokenId";
    case AuthError::kExpiredToken:
      return "ExpiredToken";
    case AuthError::kRequestExpired:
      return "RequestExpired";
    case AuthError::kSignatureMismatch:
    case AuthError::kPayloadHashMismatch:
      return "SignatureDoesNotMatch";
    case AuthError::kWrongScope:
      return "InvalidSignature";
  }
  return "InvalidSignature";
}

HttpAuthOutcome AuthenticateHttp(const http::Request& request, const Identities& identities,
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
  auto [verified, failure] = Verify(r, identities.credentials(), vo);
  if (!verified) {
    if (failure.error == AuthError::kUnknownAccessKey) {
      auto [akid, token] = ClaimedKeyAndToken(request);
      if (!token.empty() && identities.IsExpiredSession(akid, token, vo.now_seconds)) {
        failure = {AuthError::kExpiredToken,
                   "The security token included in the request is expired"};
      }
    }
    out.failure = std::move(failure);
    return Fail(request, options, std::move(out));
  }
  if (verified->service != options.service) {
    out.failure = {
        AuthError::kWrongScope,
        fmt::format("Credential should be scoped to correct service: '{}'.", options.service)};
    return Fail(request, options, std::move(out));
  }
  if (verified->region != options.region &&
      (options.also_region.empty() || verified->region != options.also_region)) {
    out.failure = {AuthError::kWrongScope,
                   fmt::format("Credential should be scoped to a valid region, not '{}'. This "
                               "endpoint serves region '{}'.",
                               verified->region, options.region)};
    return Fail(request, options, std::move(out));
  }
  auto owner = identities.OwnerOf(verified->credentials.access_key_id);
  if (!owner) {
    // Disabled or expired between the secret's look-up and this one.
    const Credentials& c = verified->credentials;
    if (!c.session_token.empty() &&
        identities.IsExpiredSession(c.access_key_id, c.session_token, vo.now_seconds)) {
      out.failure = {AuthError::kExpiredToken,
                     "The security token included in the request is expired"};
    } else {
      out.failure = {AuthError::kUnknownAccessKey,
                     "The security token included in the request is invalid."};
    }
    return Fail(request, options, std::move(out));
  }
  identities.NoteKeyUsed(verified->credentials.access_key_id, options.service, verified->region);
  out.caller = CallerOf(request, *verified, *owner, options.request_id);
  out.verified = std::move(verified);
  return out;
}

Caller CallerOf(const http::Request& request, const VerifiedRequest& verified,
                const KeyOwner& owner, std::string_view request_id) {
  Caller c;
  c.access_key_id = verified.credentials.access_key_id;
  c.principal_arn = owner.principal_arn;
  c.source_ip = request.remote_ip;
  c.user_agent = std::string(request.Header("User-Agent"));
  c.secure_transport = request.secure;
  c.temporary_credentials = owner.temporary;
  c.mfa_authenticated_at = owner.mfa_authenticated_at;
  c.session_created_at = owner.session_created_at;
  c.request_id = std::string(request_id);
  c.region = verified.region;
  return c;
}

}  // namespace muon::auth
