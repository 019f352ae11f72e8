// auth::Identities: what authentication asks of the identity store. Every API
// edge authenticates through auth::AuthenticateHttp with one of these, so
// each request's Caller (principal, temporary credentials, MFA time) is built
// in one place (http_auth.cc) from the same answers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "auth/sigv4.h"

namespace muon::auth {

// The principal behind an access key.
struct KeyOwner {
  std::string principal_arn;  // arn:aws:iam::ACCOUNT:user/NAME, or an assumed-role ARN
  bool temporary = false;     // an STS session key (ASIA...)
  // When the second factor was presented to obtain the key (Unix seconds);
  // nullopt for long-term keys and sessions obtained without MFA.
  std::optional<int64_t> mfa_authenticated_at;
  // When the temporary credentials were issued (Unix seconds); nullopt for
  // long-term keys.
  std::optional<int64_t> session_created_at = std::nullopt;
};

// Implementations must be thread-safe.
class Identities {
 public:
  virtual ~Identities() = default;
  // The secrets SigV4 verification checks against. Valid as long as `this`.
  virtual const CredentialStore& credentials() const = 0;
  // nullopt when the key is unknown, inactive or expired.
  virtual std::optional<KeyOwner> OwnerOf(std::string_view access_key_id) const = 0;
  // Called once for every request the key signed successfully. Cheap.
  virtual void NoteKeyUsed(std::string_view access_key_id, std::string_view service,
                           std::string_view region) const {}
  // For a request refused because its key is unknown: whether the session
  // token it carries proves temporary credentials that existed and expired
  // before `now_seconds` (the edge then says ExpiredToken, as AWS does).
  virtual bool IsExpiredSession(std::string_view access_key_id, std::string_view session_token,
                                int64_t now_seconds) const {
    return false;
  }
};

}  // namespace muon::auth
