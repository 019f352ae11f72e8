// Authentication of an HTTP request at an API edge: SigV4 over the request as
// received, then a check that the credential scope names this endpoint's
// service and region. Each edge maps the failure to its protocol's shape.
#pragma once

#include <optional>
#include <string_view>

#include "auth/authorizer.h"
#include "auth/sigv4.h"
#include "base/clock.h"
#include "http/server.h"

namespace muon::auth {

struct HttpAuthOutcome {
  std::optional<VerifiedRequest> verified;  // set on success
  AuthFailure failure;                      // meaningful when !verified
};

struct HttpAuthOptions {
  std::string_view service;  // "kinesis", "firehose", "s3", "muonpipe", ...
  std::string_view region;
  bool s3_style_path = false;
};

HttpAuthOutcome AuthenticateHttp(const http::Request& request, const CredentialStore& store,
                                 const Clock& clock, const HttpAuthOptions& options);

// The Caller an authorizer sees for a verified request.
Caller CallerOf(const http::Request& request, const VerifiedRequest& verified,
                std::string_view principal_arn);

}  // namespace muon::auth
