#include "kinesis/sequence_number.h"

#include <charconv>

#include <fmt/format.h>

namespace muon::kinesis {

namespace {
// Writes v as exactly `width` zero-padded decimal digits ending just before end.
void PutDigits(char* end, int width, uint64_t v) {
  for (int i = 0; i < width; ++i) {
    *--end = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}
}  // namespace

std::string SequenceNumber::ToString() const {
  // "49" | incarnation (27) | shard index (7) | seq (20); on the PutRecords hot
  // path, so written digit by digit rather than through a format string.
  std::string out(56, '0');
  out[0] = '4';
  out[1] = '9';
  PutDigits(out.data() + 29, 27, incarnation);
  PutDigits(out.data() + 36, 7, shard_index);
  PutDigits(out.data() + 56, 20, seq);
  return out;
}

std::optional<SequenceNumber> SequenceNumber::Parse(std::string_view t) {
  if (t.size() != 56 || t.substr(0, 2) != "49") return std::nullopt;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  auto num = [](std::string_view s, auto* out) {
    // Leading zeros are fine for from_chars.
    auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
  };
  SequenceNumber n;
  std::string_view inc = t.substr(2, 27);
  // The incarnation fits in 19 digits; the leading 8 must be zero.
  if (inc.substr(0, 8) != "00000000") return std::nullopt;
  if (!num(inc.substr(8), &n.incarnation)) return std::nullopt;
  if (!num(t.substr(29, 7), &n.shard_index)) return std::nullopt;
  if (!num(t.substr(36, 20), &n.seq)) return std::nullopt;
  return n;
}

}  // namespace muon::kinesis
