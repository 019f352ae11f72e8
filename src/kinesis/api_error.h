// Errors at the Kinesis API edge: AWS's exception names and HTTP statuses,
// serialised as JSON 1.1 errors ({"__type": ..., "message": ...}). The
// protocol pieces at the end are shared by every JSON 1.1 edge (Kinesis,
// Firehose).
#pragma once

#include <string>

#include "auth/sigv4.h"
#include "base/status.h"
#include "http/server.h"

namespace muon::kinesis {

struct ApiError {
  std::string type;  // e.g. "ResourceNotFoundException"
  std::string message;
  int http_status = 400;

  std::string ToJson() const;

  static ApiError ResourceNotFound(std::string m) { return {"ResourceNotFoundException", std::move(m)}; }
  static ApiError ResourceInUse(std::string m) { return {"ResourceInUseException", std::move(m)}; }
  static ApiError InvalidArgument(std::string m) { return {"InvalidArgumentException", std::move(m)}; }
  static ApiError Validation(std::string m) { return {"ValidationException", std::move(m)}; }
  static ApiError ExpiredIterator(std::string m) { return {"ExpiredIteratorException", std::move(m)}; }
  static ApiError ExpiredNextToken(std::string m) { return {"ExpiredNextTokenException", std::move(m)}; }
  static ApiError LimitExceeded(std::string m) { return {"LimitExceededException", std::move(m)}; }
  static ApiError AccessDenied(std::string m) { return {"AccessDeniedException", std::move(m)}; }
  static ApiError Throughput(std::string m) {
    return {"ProvisionedThroughputExceededException", std::move(m)};
  }
  static ApiError Serialization(std::string m) { return {"SerializationException", std::move(m)}; }
  static ApiError UnknownOperation(std::string m) { return {"UnknownOperationException", std::move(m)}; }
  static ApiError InternalFailure(std::string m) { return {"InternalFailureException", std::move(m), 500}; }

  // Maps an internal Status to the closest Kinesis error.
  static ApiError FromStatus(const Status& s);
};

// "1 validation error detected: Value 'x' at 'streamName' failed to satisfy
// constraint: Member must ..." as AWS words it.
ApiError ValidationError(std::string_view value, std::string_view field, std::string_view rule);

// A failed authentication as the JSON 1.1 services name it
// (MissingAuthenticationTokenException, UnrecognizedClientException, ...).
ApiError ErrorOfAuthFailure(const auth::AuthFailure& failure);

// A fresh x-amzn-RequestId (a random UUID).
std::string NewRequestId();

// A JSON 1.1 response: status, body, Content-Type and x-amzn-RequestId.
http::Response JsonResponse(int status, std::string body, const std::string& request_id);

}  // namespace muon::kinesis
