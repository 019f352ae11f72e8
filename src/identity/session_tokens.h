// STS session tokens. A token is random, and also proves — to any server that
// holds the same key (IdentityStore::ServerSecret) — which access key it was
// issued with and until when, so that a request signed with credentials that
// have expired (and may already be purged) is told ExpiredToken rather than
// an unknown key. The token grants nothing by itself: SigV4 verification
// compares it, in constant time, with the token stored for the key.
//
// Layout, before standard base64:
//   "MPST" | version 1 (1 byte) | expiration (8 bytes, big-endian Unix seconds)
//   | 32 random bytes | HMAC-SHA256(key, access_key_id | the 45 bytes before)
//   (32 bytes)
// Thread safety: immutable after construction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace muon::identity {

class SessionTokens {
 public:
  // `key`: at least 32 bytes of secret.
  explicit SessionTokens(std::string key) : key_(std::move(key)) {}

  std::string Issue(std::string_view access_key_id, int64_t expiration) const;
  // The expiration `token` proves for `access_key_id`; nullopt when the token
  // is not one of ours for that key (forged, altered, or another key's).
  std::optional<int64_t> ExpirationOf(std::string_view access_key_id, std::string_view token) const;

 private:
  std::string Mac(std::string_view access_key_id, std::string_view body) const;
  std::string key_;
};

}  // namespace muon::identity
