// The Kinesis endpoint on the shared listener: recognises JSON 1.1 requests
// with X-Amz-Target: Kinesis_20131202.<Operation>, authenticates them with
// SigV4 (service "kinesis"), and hands them to the KinesisService. Errors of
// authentication come back in Kinesis's own JSON shape.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "auth/authorizer.h"
#include "auth/identities.h"
#include "base/clock.h"
#include "http/server.h"
#include "kinesis/service.h"

namespace muon::kinesis {

inline constexpr std::string_view kTargetPrefix = "Kinesis_20131202.";

struct EdgeOptions {
  std::string region;
};

// True when the request is addressed to Kinesis.
bool IsKinesisRequest(const http::Request& request);

// The JSON 1.1 edge every X-Amz-Target service shares (Kinesis, Firehose):
// POST only, SigV4 with the service's signing name, auth failures in the
// protocol's shape, a request id on every response; the operation (the target
// after `target_prefix`), body and caller go to `call`, whose reply becomes
// the response.
struct JsonService {
  std::string_view display_name;   // "Kinesis", in messages
  std::string_view signing_name;   // "kinesis", the credential scope's service
  std::string_view target_prefix;  // "Kinesis_20131202."
};
using JsonCall = std::function<void(std::string_view operation, std::string body,
                                    const auth::Caller& caller, Reply reply)>;
void ServeJson11(const JsonService& json_service, const auth::Identities* identities,
                 const Clock* clock, const EdgeOptions& options, http::Request&& request,
                 http::Responder respond, const JsonCall& call);

// Serves one Kinesis request; `service`, `identities` and `clock` must outlive it.
void ServeKinesis(KinesisService* service, const auth::Identities* identities, const Clock* clock,
                  const EdgeOptions& options, http::Request&& request, http::Responder respond);

}  // namespace muon::kinesis
