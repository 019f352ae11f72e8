#include "kinesis/hash_key.h"

#include <openssl/md5.h>

#include <algorithm>

namespace muon::kinesis {

UInt128 HashKeyOfPartitionKey(std::string_view partition_key) {
  unsigned char digest[MD5_DIGEST_LENGTH];
  // MD5 is what Kinesis specifies for routing; not used for security.
  MD5(reinterpret_cast<const unsigned char*>(partition_key.data()), partition_key.size(), digest);
  UInt128 v = 0;
  for (unsigned char b : digest) v = (v << 8) | b;
  return v;
}

std::optional<UInt128> ParseHashKey(std::string_view s) {
  if (s.empty() || s.size() > 39) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  constexpr UInt128 kMax = ~UInt128{0};
  UInt128 v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    unsigned d = static_cast<unsigned>(c - '0');
    if (v > (kMax - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::string FormatUInt128(UInt128 v) {
  if (v == 0) return "0";
  char buf[40];
  int i = 40;
  while (v > 0) {
    buf[--i] = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  }
  return std::string(buf + i, 40 - i);
}

std::array<uint8_t, 16> ToBigEndian(UInt128 v) {
  std::array<uint8_t, 16> out{};
  for (int i = 15; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
  return out;
}

std::vector<HashRange> SplitKeySpace(int n) {
  // floor(2^128 * i / n) = i*q + floor((i*r + i) / n), where 2^128-1 = q*n + r.
  constexpr UInt128 kMax = ~UInt128{0};
  const UInt128 un = static_cast<UInt128>(n);
  const UInt128 q = kMax / un;
  const UInt128 r = kMax % un;
  std::vector<HashRange> ranges(n);
  for (int i = 0; i < n; ++i) {
    UInt128 ui = static_cast<UInt128>(i);
    ranges[i].start = ui * q + (ui * r + ui) / un;
  }
  for (int i = 0; i + 1 < n; ++i) ranges[i].end = ranges[i + 1].start - 1;
  ranges[n - 1].end = kMax;
  return ranges;
}

size_t FindRange(const std::vector<HashRange>& ranges, UInt128 key) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), key,
                             [](UInt128 k, const HashRange& r) { return k < r.start; });
  return static_cast<size_t>(it - ranges.begin()) - 1;
}

}  // namespace muon::kinesis
