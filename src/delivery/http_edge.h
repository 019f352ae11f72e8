// The Firehose endpoint on the shared listener: recognises JSON 1.1 requests
// with X-Amz-Target: Firehose_20150804.<Operation>, authenticates them with
// SigV4 (service "firehose"), and hands them to the FirehoseService. Errors of
// authentication come back in Firehose's JSON shape.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "auth/sigv4.h"
#include "base/clock.h"
#include "delivery/firehose_service.h"
#include "http/server.h"
#include "kinesis/http_edge.h"

namespace muon::delivery {

inline constexpr std::string_view kTargetPrefix = "Firehose_20150804.";

// The region, as for Kinesis (one JSON 1.1 edge serves both).
using EdgeOptions = kinesis::EdgeOptions;

bool IsFirehoseRequest(const http::Request& request);

// Serves one Firehose request; `service`, `identities` and `clock` must outlive it.
void ServeFirehose(FirehoseService* service, const auth::Identities* identities, const Clock* clock,
                   const EdgeOptions& options, http::Request&& request, http::Responder respond);

}  // namespace muon::delivery
