// The registry's REST API (JSON) under /_muonpipe/registry/v1/ on the shared
// listener; docs/registry.md lists its resources. Every request is
// authenticated — SigV4 with credential-scope service "muonpipe", or a console
// session through ApiOptions::session_caller — and then authorised through the
// one auth::Authorizer with actions registry:<Verb><Resource> (GetSite,
// ListDetectors, UpdateDetectorStatus, ...) on
// arn:muonpipe:registry:::{site,detector,deployment}/ID (ID "*" for lists and
// creates without an id).
//
// Errors are {"error": {"code", "message", "field"?, "rule"?}}: 400
// ValidationError (field and rule named), 403 auth failures and AccessDenied,
// 404 NotFound, 409 AlreadyExists / Conflict (a stored-state rule: field and
// rule named), 412 PreconditionFailed (If-Match is not the stored version).
// Versions travel as ETag / If-Match ("N").
//
// Requests are served on the calling (network) thread: registry operations are
// single short transactions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "auth/authorizer.h"
#include "auth/identities.h"
#include "auth/sigv4.h"
#include "base/clock.h"
#include "http/server.h"
#include "registry/live_status.h"
#include "registry/registry.h"

namespace muon::registry {

inline constexpr std::string_view kApiPrefix = "/_muonpipe/registry/v1/";

struct ApiOptions {
  std::string region = "ap-southeast-2";
  // The seam for console sessions: a request that carries no SigV4
  // authentication is offered here first; a Caller means it is authenticated.
  std::function<std::optional<auth::Caller>(const http::Request&)> session_caller;
  // Live figures for detectors/{id}/status; may be null.
  const LiveStatus* live = nullptr;
};

// True for paths under /_muonpipe/registry/ (v1 or not: others answer 404).
bool IsRegistryRequest(const http::Request& request);

// Serves one request: authenticates it, then HandleRegistry. Everything passed
// must outlive the call.
void ServeRegistry(Registry* registry, const auth::Identities* identities,
                   const auth::Authorizer* authorizer, const Clock* clock,
                   const ApiOptions& options, http::Request&& request, http::Responder respond);

// Serves one request of an already authenticated caller: authorises, runs
// and answers it. The in-process form of the API (`muonpipe registry
// --registry URL` uses it with the local user as the caller).
http::Response HandleRegistry(Registry* registry, const auth::Authorizer* authorizer,
                              const ApiOptions& options, const auth::Caller& caller,
                              const http::Request& request);

}  // namespace muon::registry
