#include "kinesis/iterator.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

#include "base/base64.h"

namespace muon::kinesis {
namespace {

constexpr size_t kMacBytes = 16;

template <typename T>
void Put(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out->append(b, sizeof(T));
}

template <typename T>
bool Get(std::string_view* in, T* v) {
  if (in->size() < sizeof(T)) return false;
  std::memcpy(v, in->data(), sizeof(T));
  in->remove_prefix(sizeof(T));
  return true;
}

std::array<uint8_t, 32> Mac(const std::array<uint8_t, 32>& key, std::string_view data) {
  std::array<uint8_t, 32> mac{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &len);
  return mac;
}

}  // namespace

std::string IteratorCodec::Encode(const IteratorPosition& p) const {
  std::string raw;
  raw.reserve(64 + p.stream.size());
  Put<uint8_t>(&raw, 1);
  Put<uint64_t>(&raw, p.incarnation);
  Put<uint32_t>(&raw, p.shard_index);
  Put<uint64_t>(&raw, p.seq);
  Put<int64_t>(&raw, p.issued_ms);
  Put<uint8_t>(&raw, static_cast<uint8_t>(p.stream.size()));
  raw += p.stream;
  auto mac = Mac(key_, raw);
  raw.append(reinterpret_cast<const char*>(mac.data()), kMacBytes);
  return Base64UrlEncode(raw);
}

std::optional<IteratorPosition> IteratorCodec::Decode(std::string_view token) const {
  if (token.size() > 512) return std::nullopt;
  auto raw = Base64UrlDecode(token);
  if (!raw || raw->size() < kMacBytes + 30) return std::nullopt;
  std::string_view body(raw->data(), raw->size() - kMacBytes);
  auto mac = Mac(key_, body);
  if (CRYPTO_memcmp(mac.data(), raw->data() + body.size(), kMacBytes) != 0) return std::nullopt;
  IteratorPosition p;
  uint8_t version = 0, name_len = 0;
  std::string_view in = body;
  if (!Get(&in, &version) || version != 1) return std::nullopt;
  if (!Get(&in, &p.incarnation) || !Get(&in, &p.shard_index) || !Get(&in, &p.seq) ||
      !Get(&in, &p.issued_ms) || !Get(&in, &name_len)) {
    return std::nullopt;
  }
  if (in.size() != name_len) return std::nullopt;
  p.stream = std::string(in);
  return p;
}

}  // namespace muon::kinesis
