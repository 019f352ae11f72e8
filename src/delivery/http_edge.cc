#include "delivery/http_edge.h"

namespace muon::delivery {

bool IsFirehoseRequest(const http::Request& request) {
  return request.Header("X-Amz-Target").substr(0, kTargetPrefix.size()) == kTargetPrefix;
}

void ServeFirehose(FirehoseService* service, const auth::Identities* identities, const Clock* clock,
                   const EdgeOptions& options, http::Request&& request, http::Responder respond) {
  kinesis::ServeJson11({"Firehose", "firehose", kTargetPrefix}, identities, clock, options,
                       std::move(request), std::move(respond),
                       [service](std::string_view op, std::string body, const auth::Caller& caller,
                                 Reply reply) {
                         service->Call(op, std::move(body), caller, std::move(reply));
                       });
}

}  // namespace muon::delivery
