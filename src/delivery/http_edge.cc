#include "delivery/http_edge.h"

#include <openssl/rand.h>

#include <fmt/format.h>

#include "auth/http_auth.h"
#include "base/log.h"
#include "kinesis/api_error.h"

namespace muon::delivery {
namespace {

using kinesis::ApiError;

std::string NewRequestId() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  b[6] = (b[6] & 0x0F) | 0x40;
  b[8] = (b[8] & 0x3F) | 0x80;
  std::string hex;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) hex.push_back('-');
    hex += fmt::format("{:02x}", b[i]);
  }
  return hex;
}

ApiError FromAuthFailure(const auth::AuthFailure& f) {
  using auth::AuthError;
  switch (f.error) {
    case AuthError::kMissingAuthentication:
      return {"MissingAuthenticationTokenException", "Missing Authentication Token"};
    case AuthError::kIncompleteSignature: return {"IncompleteSignatureException", f.message};
    case AuthError::kUnknownAccessKey:
    case AuthError::kInvalidSessionToken: return {"UnrecognizedClientException", f.message};
    case AuthError::kSignatureMismatch:
    case AuthError::kRequestExpired:
    case AuthError::kPayloadHashMismatch:
    case AuthError::kWrongScope: return {"InvalidSignatureException", f.message};
  }
  return {"InvalidSignatureException", f.message};
}

http::Response JsonResponse(int status, std::string body, const std::string& request_id) {
  http::Response r;
  r.status = status;
  r.Set("Content-Type", "application/x-amz-json-1.1");
  r.Set("x-amzn-RequestId", request_id);
  r.body = std::move(body);
  return r;
}

}  // namespace

bool IsFirehoseRequest(const http::Request& request) {
  return request.Header("X-Amz-Target").substr(0, kTargetPrefix.size()) == kTargetPrefix;
}

void ServeFirehose(FirehoseService* service, const auth::CredentialStore* store, const Clock* clock,
                   const EdgeOptions& options, http::Request&& request, http::Responder respond) {
  std::string request_id = NewRequestId();
  std::string op(request.Header("X-Amz-Target").substr(kTargetPrefix.size()));
  if (request.method != "POST") {
    ApiError e{"SerializationException", "Firehose requests are HTTP POST."};
    respond(JsonResponse(e.http_status, e.ToJson(), request_id));
    return;
  }
  auto outcome = auth::AuthenticateHttp(request, *store, *clock,
                                        {.service = "firehose", .region = options.region});
  if (!outcome.verified) {
    ApiError e = FromAuthFailure(outcome.failure);
    log::debug("firehose: {} from {} refused: {}", op, request.remote_ip, e.message);
    respond(JsonResponse(e.http_status, e.ToJson(), request_id));
    return;
  }
  auth::Caller caller = auth::CallerOf(
      request, *outcome.verified,
      options.principal_of ? options.principal_of(outcome.verified->credentials.access_key_id)
                           : std::string());
  auto shared_respond = std::make_shared<http::Responder>(std::move(respond));
  service->Call(op, std::move(request.body), caller,
                [shared_respond, request_id](int status, std::string body) {
                  (*shared_respond)(JsonResponse(status, std::move(body), request_id));
                });
}

}  // namespace muon::delivery
