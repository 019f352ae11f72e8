#include "identity/session_tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/base64.h"

namespace muon::identity {
namespace {
constexpr std::string_view kMagic = "MPST";
constexpr size_t kBodySize = 4 + 1 + 8 + 32;
constexpr size_t kMacSize = 32;
}  // namespace

std::string SessionTokens::Mac(std::string_view access_key_id, std::string_view body) const {
  std::string input;
  input.reserve(access_key_id.size() + 1 + body.size());
  input.append(access_key_id).push_back('\0');
  input.append(body);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string SessionTokens::Issue(std::string_view access_key_id, int64_t expiration) const {
  std::string body(kMagic);
  body.push_back(1);
  for (int shift = 56; shift >= 0; shift -= 8) {
    body.push_back(static_cast<char>((static_cast<uint64_t>(expiration) >> shift) & 0xFF));
  }
  unsigned char random[32];
  RAND_bytes(random, sizeof random);
  body.append(reinterpret_cast<char*>(random), sizeof random);
  body += Mac(access_key_id, body);
  return Base64Encode(body);
}

std::optional<int64_t> SessionTokens::ExpirationOf(std::string_view access_key_id,
                                                   std::string_view token) const {
  auto raw = Base64Decode(token);
  if (!raw || raw->size() != kBodySize + kMacSize) return std::nullopt;
  std::string_view body = std::string_view(*raw).substr(0, kBodySize);
  if (body.substr(0, 4) != kMagic || body[4] != 1) return std::nullopt;
  std::string mac = Mac(access_key_id, body);
  if (CRYPTO_memcmp(mac.data(), raw->data() + kBodySize, kMacSize) != 0) return std::nullopt;
  uint64_t expiration = 0;
  for (size_t i = 5; i < 13; ++i)
    expiration = (expiration << 8) | static_cast<unsigned char>((*raw)[i]);
  return static_cast<int64_t>(expiration);
}

}  // namespace muon::identity
