// Authentication of an HTTP request at an API edge: SigV4 over the request as
// received against the Identities' secrets, then a check that the credential
// scope names this endpoint's service and region, then the Caller the
// Authorizer sees (built here and nowhere else). Each edge maps a failure to
// its protocol's shape.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "auth/authorizer.h"
#include "auth/identities.h"
#include "auth/sigv4.h"
#include "base/clock.h"
#include "http/server.h"

namespace muon::auth {

struct HttpAuthOutcome {
  std::optional<VerifiedRequest> verified;  // set on success
  Caller caller;                            // meaningful on success
  AuthFailure failure;                      // meaningful when !verified
};

struct HttpAuthOptions {
  std::string_view service;  // "kinesis", "firehose", "s3", "muonpipe", ...
  std::string_view region;
  // A second region accepted in the credential scope (global services); empty: none.
  std::string_view also_region = {};
  bool s3_style_path = false;
  std::string_view request_id = {};  // the response's, for the failure observer
};

// On success notes the key's use (Identities::NoteKeyUsed). A key whose
// owner is gone by the time it is resolved (disabled between the two
// look-ups) fails as kUnknownAccessKey; an unknown session key whose token
// proves it expired fails as kExpiredToken.
HttpAuthOutcome AuthenticateHttp(const http::Request& request, const Identities& identities,
                                 const Clock& clock, const HttpAuthOptions& options);

// The Caller an authorizer sees for a verified request signed by `owner`'s
// key (region from the credential scope, which AuthenticateHttp checked).
Caller CallerOf(const http::Request& request, const VerifiedRequest& verified,
                const KeyOwner& owner, std::string_view request_id = {});

// The error code muonpipe's own JSON APIs (the registry, the admin endpoints)
// answer a failed authentication with, named as AWS's JSON services name it
// (MissingAuthenticationToken, SignatureDoesNotMatch, UnrecognizedClient, ...).
std::string_view JsonApiErrorCode(AuthError error);

// Every failed AuthenticateHttp is told here, once, on the calling thread
// (serve records it in the audit log). Set once at start-up, before any
// request is served; never changed while requests run.
struct AuthFailureNotice {
  const http::Request& request;
  const AuthFailure& failure;
  std::string_view service;
  std::string_view region;
  std::string_view request_id;
};
using AuthFailureObserver = std::function<void(const AuthFailureNotice&)>;
void SetAuthFailureObserver(AuthFailureObserver observer);

}  // namespace muon::auth
