#include "base/base64.h"

#include <array>
#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace muon {
namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// 0..63 for alphabet characters, 0xFF otherwise.
std::array<uint8_t, 256> MakeTable(const char* alphabet) {
  std::array<uint8_t, 256> t{};
  t.fill(0xFF);
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(alphabet[i])] = static_cast<uint8_t>(i);
  return t;
}
const std::array<uint8_t, 256> kStdTable = MakeTable(kStd);
const std::array<uint8_t, 256> kUrlTable = MakeTable(kUrl);

// For the hot loop: the 6-bit value of a character already shifted into its
// place in the 24-bit group, for each of the four positions, with bit 31 set
// for characters outside the alphabet. One OR of four lookups decodes a quad
// and one test detects any bad character in it.
struct QuadTables {
  std::array<uint32_t, 256> t[4];
};
QuadTables MakeQuadTables(const std::array<uint8_t, 256>& base) {
  QuadTables q{};
  for (int c = 0; c < 256; ++c) {
    uint32_t v = base[c];
    for (int pos = 0; pos < 4; ++pos) {
      q.t[pos][c] = v == 0xFF ? 0x80000000u : v << (18 - 6 * pos);
    }
  }
  return q;
}
const QuadTables kStdQuad = MakeQuadTables(kStdTable);
const QuadTables kUrlQuad = MakeQuadTables(kUrlTable);

void EncodeWith(std::string_view data, const char* alphabet, bool pad, std::string* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size();
  size_t start = out->size();
  out->resize(start + (n + 2) / 3 * 4);
  char* o = out->data() + start;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    *o++ = alphabet[v >> 18];
    *o++ = alphabet[(v >> 12) & 63];
    *o++ = alphabet[(v >> 6) & 63];
    *o++ = alphabet[v & 63];
  }
  size_t rest = n - i;
  if (rest == 1) {
    uint32_t v = uint32_t{p[i]} << 16;
    *o++ = alphabet[v >> 18];
    *o++ = alphabet[(v >> 12) & 63];
    if (pad) { *o++ = '='; *o++ = '='; }
  } else if (rest == 2) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    *o++ = alphabet[v >> 18];
    *o++ = alphabet[(v >> 12) & 63];
    *o++ = alphabet[(v >> 6) & 63];
    if (pad) *o++ = '=';
  }
  out->resize(static_cast<size_t>(o - out->data()));
}

#if defined(__x86_64__)
// AVX2 decoding of the standard alphabet, 32 characters to 24 bytes a step
// (W. Mula and D. Lemire, "Faster Base64 Encoding and Decoding Using AVX2
// Instructions", 2018): two nibble lookups whose AND is non-zero exactly for
// bytes outside the alphabet, one lookup for the offset that maps each
// character class to its 6-bit value, then multiply-adds that pack four 6-bit
// values into three bytes. Decodes whole blocks of `n` characters (n a
// multiple of 32) from `s` into `o`, which must have room for n / 4 * 3 + 8
// bytes (each store writes 32). Returns the characters consumed: less than n
// when a block holds a character outside the alphabet (the scalar loop then
// finds and reports it).
__attribute__((target("avx2"))) size_t DecodeBlocksAvx2(const uint8_t* s, size_t n, uint8_t* o) {
  const __m256i lut_lo = _mm256_setr_epi8(
      0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B, 0x1B,
      0x1A, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1A, 0x1B, 0x1B,
      0x1B, 0x1A);
  const __m256i lut_hi = _mm256_setr_epi8(
      0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
      0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
      0x10, 0x10);
  const __m256i lut_roll = _mm256_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0,
                                            0, 0, 0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0,
                                            0, 0, 0);
  const __m256i mask_2f = _mm256_set1_epi8(0x2f);
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  const __m256i pack_shuffle = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1,
                                                -1, 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1,
                                                -1, -1, -1);
  const __m256i pack_permute = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, -1, -1);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i in = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi32(in, 4), nibble);
    const __m256i lo_class = _mm256_shuffle_epi8(lut_lo, _mm256_and_si256(in, nibble));
    const __m256i hi_class = _mm256_shuffle_epi8(lut_hi, hi);
    if (!_mm256_testz_si256(lo_class, hi_class)) break;
    const __m256i is_slash = _mm256_cmpeq_epi8(in, mask_2f);
    const __m256i roll = _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(is_slash, hi));
    const __m256i values = _mm256_add_epi8(in, roll);
    const __m256i pairs = _mm256_maddubs_epi16(values, _mm256_set1_epi32(0x01400140));
    const __m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00011000));
    const __m256i packed = _mm256_permutevar8x32_epi32(
        _mm256_shuffle_epi8(quads, pack_shuffle), pack_permute);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), packed);
    o += 24;
  }
  return i;
}

bool HasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

// Decodes `text` (length already validated by the caller's padding rules).
bool DecodeWith(std::string_view text, const std::array<uint8_t, 256>& table, bool padded,
                std::string* out) {
  size_t n = text.size();
  size_t pad = 0;
  if (padded) {
    if (n % 4 != 0) return false;
    if (n > 0 && text[n - 1] == '=') ++pad;
    if (n > 1 && text[n - 2] == '=') ++pad;
  } else if (n % 4 == 1) {
    return false;
  }
  size_t body = n - pad;
  const size_t start = out->size();
  const size_t decoded = body / 4 * 3 + (body % 4 == 0 ? 0 : body % 4 - 1);
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const QuadTables& q = &table == &kStdTable ? kStdQuad : kUrlQuad;
  size_t i = 0;
#if defined(__x86_64__)
  if (&table == &kStdTable && body >= 64 && HasAvx2()) {
    out->resize(start + decoded + 8);  // room for the last 32-byte store
    i = DecodeBlocksAvx2(s, body / 32 * 32, reinterpret_cast<uint8_t*>(out->data()) + start);
    out->resize(start + decoded);
  } else {
    out->resize(start + decoded);
  }
#else
  out->resize(start + decoded);
#endif
  auto* o = reinterpret_cast<uint8_t*>(out->data()) + start + i / 4 * 3;
  for (; i + 4 <= body; i += 4) {
    uint32_t v = q.t[0][s[i]] | q.t[1][s[i + 1]] | q.t[2][s[i + 2]] | q.t[3][s[i + 3]];
    if (v & 0x80000000u) return false;
    o[0] = static_cast<uint8_t>(v >> 16);
    o[1] = static_cast<uint8_t>(v >> 8);
    o[2] = static_cast<uint8_t>(v);
    o += 3;
  }
  size_t rest = body - i;
  if (rest == 2) {
    uint32_t a = table[s[i]], b = table[s[i + 1]];
    if ((a | b) & 0x80) return false;
    if (b & 0x0F) return false;  // non-canonical trailing bits
    *o++ = static_cast<uint8_t>((a << 2) | (b >> 4));
  } else if (rest == 3) {
    uint32_t a = table[s[i]], b = table[s[i + 1]], c = table[s[i + 2]];
    if ((a | b | c) & 0x80) return false;
    if (c & 0x03) return false;
    uint32_t v = (a << 18) | (b << 12) | (c << 6);
    *o++ = static_cast<uint8_t>(v >> 16);
    *o++ = static_cast<uint8_t>(v >> 8);
  } else if (rest == 1) {
    return false;
  }
  return true;
}

bool DecodeAppend(std::string_view text, const std::array<uint8_t, 256>& table, bool padded,
                  std::string* out) {
  const size_t start = out->size();
  if (DecodeWith(text, table, padded, out)) return true;
  out->resize(start);
  return false;
}

}  // namespace

std::string Base64Encode(std::string_view data) {
  std::string out;
  EncodeWith(data, kStd, true, &out);
  return out;
}

void Base64EncodeAppend(std::string_view data, std::string* out) { EncodeWith(data, kStd, true, out); }

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string out;
  if (!DecodeWith(text, kStdTable, true, &out)) return std::nullopt;
  return out;
}

bool Base64DecodeInto(std::string_view text, std::string* out) {
  out->clear();
  return DecodeAppend(text, kStdTable, true, out);
}

bool Base64DecodeAppend(std::string_view text, std::string* out) {
  return DecodeAppend(text, kStdTable, true, out);
}

std::string Base64UrlEncode(std::string_view data) {
  std::string out;
  EncodeWith(data, kUrl, false, &out);
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  std::string out;
  if (!DecodeWith(text, kUrlTable, false, &out)) return std::nullopt;
  return out;
}

}  // namespace muon
