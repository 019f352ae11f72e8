#include "kinesis/api_error.h"

#include <fmt/format.h>

#include "base/json_writer.h"

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

}  // namespace muon::kinesis
