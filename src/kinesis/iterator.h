// Shard iterators: opaque, tamper-evident tokens naming a position in a shard.
//
// Layout before encoding (little-endian): version u8 = 1 | incarnation u64 |
// shard index u32 | seq u64 | issued at (Unix ms) i64 | name length u8 | name |
// HMAC-SHA256(key, all previous bytes)[0..16). Encoded as unpadded base64url.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace muon::kinesis {

struct IteratorPosition {
  std::string stream;
  uint64_t incarnation = 0;
  uint32_t shard_index = 0;
  uint64_t seq = 0;
  int64_t issued_ms = 0;
};

class IteratorCodec {
 public:
  explicit IteratorCodec(std::array<uint8_t, 32> key) : key_(key) {}
  std::string Encode(const IteratorPosition& p) const;
  // nullopt when the token is malformed or its MAC does not match.
  std::optional<IteratorPosition> Decode(std::string_view token) const;

 private:
  std::array<uint8_t, 32> key_;
};

}  // namespace muon::kinesis
