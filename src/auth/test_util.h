// Test support: requests signed as the AWS SDKs sign them, for the tests of
// the API edges that verify SigV4 (auth::AuthenticateHttp underneath).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/identities.h"
#include "auth/sigv4.h"
#include "auth/static_credential_store.h"
#include "http/server.h"

namespace muon::auth::testing {

// A request for `target` ("/path" or "/path?query", percent-encoded) with
// `headers`, a Host header after them, and `body`. Unsigned: sign it with
// SignRequest, or hand it on as it is to see an unsigned request refused.
inline http::Request MakeRequest(std::string_view method, std::string_view target,
                                 std::string body = "", std::vector<http::Header> headers = {},
                                 std::string_view host = "127.0.0.1:4566") {
  http::Request r;
  r.method = std::string(method);
  r.target = std::string(target);
  auto q = target.find('?');
  r.path = std::string(target.substr(0, q));
  r.query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  r.headers = std::move(headers);
  r.headers.emplace_back("Host", std::string(host));
  r.body = std::move(body);
  return r;
}

// Signs `request` in place (its method, path, query, headers and body as they
// stand), adding the headers auth::Sign adds.
inline void SignRequest(http::Request& request, const Credentials& credentials,
                        const SignOptions& options) {
  Sign(request.method, request.path, request.query, request.headers, request.body, credentials,
       options);
}

// Identities for which every session key has expired: an edge must answer
// ExpiredToken in its protocol's shape.
class ExpiredSessions final : public Identities {
 public:
  const CredentialStore& credentials() const override { return none_; }
  std::optional<KeyOwner> OwnerOf(std::string_view) const override { return std::nullopt; }
  bool IsExpiredSession(std::string_view, std::string_view, int64_t) const override {
    return true;
  }

 private:
  StaticCredentialStore none_;
};

}  // namespace muon::auth::testing
