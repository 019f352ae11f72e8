#include "kinesis/api_error.h"


#include <fmt/format.h>

#include "base/json_writer.h"
#include "base/uuid.h"

namespace muon::kinesis {

std::string ApiError::ToJson() const {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("__type");
  w.String(type);
  w.Key("message");
  w.String(message);
  w.EndObject();
  return out;
}

ApiError ApiError::FromStatus(const Status& s) {
  switch (s.code()) {
    case StatusCode::kNotFound: return ResourceNotFound(s.message());
    case StatusCode::kAlreadyExists: return ResourceInUse(s.message());
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange: return InvalidArgument(s.message());
    case StatusCode::kResourceExhausted: return LimitExceeded(s.message());
    case StatusCode::kFailedPrecondition: return ResourceInUse(s.message());
    case StatusCode::kPermissionDenied: return AccessDenied(s.message());
    case StatusCode::kDeadlineExceeded: return ExpiredIterator(s.message());
    case StatusCode::kNoSpace:
      return InternalFailure("The service is out of storage space; retry later.");
    default: return InternalFailure(s.ToString());
  }
}

ApiError ValidationError(std::string_view value, std::string_view field, std::string_view rule) {
  std::string shown(value.substr(0, 128));
  return ApiError::Validation(fmt::format(
      "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: {}", shown,
      field, rule));
}

std::string NewRequestId() { return NewUuid(); }

ApiError ErrorOfAuthFailure(const auth::AuthFailure& f) {
  using auth::AuthError;
  switch (f.error) {
    case AuthError::kMissingAuthentication:
      return {"MissingAuthenticationTokenException", "Missing Authentication Token"};
    case AuthError::kIncompleteSignature: return {"IncompleteSignatureException", f.message};
    case AuthError::kUnknownAccessKey:
    case AuthError::kInvalidSessionToken: return {"UnrecognizedClientException", f.message};
    case AuthError::kExpiredToken: return {"ExpiredTokenException", f.message};
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

}  // namespace muon::kinesis
