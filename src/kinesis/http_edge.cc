#include "kinesis/http_edge.h"

#include <fmt/format.h>

#include "auth/http_auth.h"
#include "base/log.h"
#include "kinesis/api_error.h"

namespace muon::kinesis {

bool IsKinesisRequest(const http::Request& request) {
  return request.Header("X-Amz-Target").substr(0, kTargetPrefix.size()) == kTargetPrefix;
}

void ServeJson11(const JsonService& json_service, const auth::Identities* identities,
                 const Clock* clock, const EdgeOptions& options, http::Request&& request,
                 http::Responder respond, const JsonCall& call) {
  std::string request_id = NewRequestId();
  std::string op(request.Header("X-Amz-Target").substr(json_service.target_prefix.size()));
  if (request.method != "POST") {
    ApiError e{"SerializationException",
               fmt::format("{} requests are HTTP POST.", json_service.display_name)};
    respond(JsonResponse(e.http_status, e.ToJson(), request_id));
    return;
  }
  auto outcome = auth::AuthenticateHttp(
      request, *identities, *clock,
      {.service = json_service.signing_name, .region = options.region, .request_id = request_id});
  if (!outcome.verified) {
    ApiError e = ErrorOfAuthFailure(outcome.failure);
    log::debug("{}: {} from {} refused: {}", json_service.signing_name, op, request.remote_ip,
               e.message);
    respond(JsonResponse(e.http_status, e.ToJson(), request_id));
    return;
  }
  const auth::Caller& caller = outcome.caller;
  auto shared_respond = std::make_shared<http::Responder>(std::move(respond));
  call(op, std::move(request.body), caller,
       [shared_respond, request_id](int status, std::string body) {
         (*shared_respond)(JsonResponse(status, std::move(body), request_id));
       });
}

void ServeKinesis(KinesisService* service, const auth::Identities* identities, const Clock* clock,
                  const EdgeOptions& options, http::Request&& request, http::Responder respond) {
  ServeJson11({"Kinesis", "kinesis", kTargetPrefix}, identities, clock, options, std::move(request),
              std::move(respond),
              [service](std::string_view op, std::string body, const auth::Caller& caller,
                        Reply reply) { service->Call(op, std::move(body), caller, std::move(reply)); });
}

}  // namespace muon::kinesis
