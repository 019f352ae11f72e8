#include "iam/totp.h"

#include <fmt/format.h>
#include <liboath/oath.h>
#include <qrencode.h>
#include <sodium.h>
#include <zlib.h>

#include <cstdlib>
#include <memory>

#include "base/base64.h"

namespace muon::iam {
namespace {

// liboath and libsodium need one initialisation per process; both are
// idempotent and thread-safe to call again, but once is enough.
bool Init() {
  static const bool ok = oath_init() == OATH_OK && sodium_init() >= 0;
  return ok;
}

constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr size_t kRecoveryCodeChars = 16;  // 80 bits
constexpr size_t kHashBytes = 32;

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool IsDigits(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Normalises a recovery code as typed; nullopt when it cannot be one.
std::optional<std::string> NormaliseRecoveryCode(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == ' ' || c == '-') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    if (kCrockford.find(c) == std::string_view::npos) return std::nullopt;
    out.push_back(c);
    if (out.size() > kRecoveryCodeChars) return std::nullopt;
  }
  if (out.size() != kRecoveryCodeChars) return std::nullopt;
  return out;
}

std::string HashRecoveryCode(std::string_view salt, std::string_view normalised) {
  std::string out(kHashBytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(normalised.data()), normalised.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size());
  return out;
}

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

void AppendBigEndian32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

// One PNG chunk: length, type, data, CRC-32 of type and data.
void AppendChunk(std::string* png, std::string_view type, std::string_view data) {
  AppendBigEndian32(png, static_cast<uint32_t>(data.size()));
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(type.data()), static_cast<uInt>(type.size()));
  crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
  png->append(type);
  png->append(data);
  AppendBigEndian32(png, static_cast<uint32_t>(crc));
}

constexpr int kQuietZone = 4;

// The matrix with its quiet zone: true = dark.
Result<std::vector<std::vector<bool>>> FramedMatrix(std::string_view text) {
  MUON_ASSIGN_OR_RETURN(std::vector<std::vector<bool>> m, QrMatrix(text));
  size_t n = m.size() + 2 * kQuietZone;
  std::vector<std::vector<bool>> framed(n, std::vector<bool>(n, false));
  for (size_t y = 0; y < m.size(); ++y) {
    for (size_t x = 0; x < m.size(); ++x) framed[y + kQuietZone][x + kQuietZone] = m[y][x];
  }
  return framed;
}

}  // namespace

std::string NewTotpSecret() {
  Init();
  std::string secret(kTotpSecretBytes, '\0');
  randombytes_buf(secret.data(), secret.size());
  return secret;
}

std::string Base32Encode(std::string_view bytes) {
  Init();
  char* out = nullptr;
  size_t out_len = 0;
  if (oath_base32_encode(bytes.data(), bytes.size(), &out, &out_len) != OATH_OK) return {};
  std::string s(out, out_len);
  free(out);
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::optional<std::string> Base32Decode(std::string_view text) {
  Init();
  std::string norm;
  for (char c : text) {
    if (c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    norm.push_back(c);
  }
  while (!norm.empty() && norm.back() == '=') norm.pop_back();
  if (norm.empty()) return std::string();
  while (norm.size() % 8 != 0) norm.push_back('=');
  char* out = nullptr;
  size_t out_len = 0;
  if (oath_base32_decode(norm.data(), norm.size(), &out, &out_len) != OATH_OK) {
    return std::nullopt;
  }
  std::string s(out, out_len);
  sodium_memzero(out, out_len);
  free(out);
  return s;
}

std::string OtpauthUri(std::string_view issuer, std::string_view account, std::string_view secret) {
  std::string i = PercentEncode(issuer);
  return fmt::format("otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={}&period={}",
                     i, PercentEncode(account), Base32Encode(secret), i, kTotpDigits,
                     kTotpStepSeconds);
}

Result<std::string> HotpCode(std::string_view secret, uint64_t counter, int digits) {
  if (!Init()) return Status::Internal("liboath failed to initialise");
  if (digits < 6 || digits > 8) return Status::InvalidArgument("digits must be 6, 7 or 8");
  char out[16] = {};
  int rc = oath_hotp_generate(secret.data(), secret.size(), counter, static_cast<unsigned>(digits),
                              false, OATH_HOTP_DYNAMIC_TRUNCATION, out);
  if (rc != OATH_OK) {
    return Status::Internal(fmt::format("oath_hotp_generate: {}", oath_strerror(rc)));
  }
  return std::string(out);
}

Result<std::string> TotpCode(std::string_view secret, int64_t unix_seconds, int digits,
                             TotpHash hash) {
  if (!Init()) return Status::Internal("liboath failed to initialise");
  if (digits < 6 || digits > 8) return Status::InvalidArgument("digits must be 6, 7 or 8");
  int flags = hash == TotpHash::kSha256   ? OATH_TOTP_HMAC_SHA256
              : hash == TotpHash::kSha512 ? OATH_TOTP_HMAC_SHA512
                                          : 0;
  char out[16] = {};
  int rc = oath_totp_generate2(secret.data(), secret.size(), static_cast<time_t>(unix_seconds),
                               kTotpStepSeconds, 0, static_cast<unsigned>(digits), flags, out);
  if (rc != OATH_OK) {
    return Status::Internal(fmt::format("oath_totp_generate2: {}", oath_strerror(rc)));
  }
  return std::string(out);
}

int64_t TotpStep(int64_t unix_seconds) {
  // Floor division, so times before the epoch fall in negative steps.
  int64_t q = unix_seconds / kTotpStepSeconds;
  return (unix_seconds % kTotpStepSeconds < 0) ? q - 1 : q;
}

TotpVerdict VerifyTotp(std::string_view secret, std::string_view code, int64_t last_accepted_step,
                       const Clock& clock) {
  TotpVerdict verdict;
  if (!IsDigits(code, kTotpDigits)) return verdict;
  int64_t now = TotpStep(clock.NowSeconds());
  // Every step in the window is computed and compared, so timing says nothing
  // about which one matched.
  int64_t matched = -1;
  bool found = false;
  for (int64_t step = now - kTotpDriftSteps; step <= now + kTotpDriftSteps; ++step) {
    if (step < 0) continue;
    auto expected = HotpCode(secret, static_cast<uint64_t>(step));
    if (!expected.ok()) return verdict;
    bool eq = ConstantTimeEquals(*expected, code);
    // Prefer the latest matching step not yet spent.
    if (eq && (!found || step > last_accepted_step)) {
      matched = step;
      found = true;
    }
  }
  if (!found) return verdict;
  if (matched <= last_accepted_step) {
    verdict.outcome = TotpOutcome::kReplayed;
    return verdict;
  }
  verdict.outcome = TotpOutcome::kAccepted;
  verdict.step = matched;
  return verdict;
}

TotpVerdict VerifyConsecutiveTotp(std::string_view secret, std::string_view code1,
                                  std::string_view code2, const Clock& clock) {
  TotpVerdict verdict;
  if (!IsDigits(code1, kTotpDigits) || !IsDigits(code2, kTotpDigits)) return verdict;
  int64_t now = TotpStep(clock.NowSeconds());
  for (int64_t first = now - 2; first <= now; ++first) {
    if (first < 0) continue;
    auto a = HotpCode(secret, static_cast<uint64_t>(first));
    auto b = HotpCode(secret, static_cast<uint64_t>(first + 1));
    if (!a.ok() || !b.ok()) return verdict;
    if (ConstantTimeEquals(*a, code1) & ConstantTimeEquals(*b, code2)) {
      verdict.outcome = TotpOutcome::kAccepted;
      verdict.step = first + 1;
    }
  }
  return verdict;
}

int RecoveryCodeSet::remaining() const {
  int n = 0;
  for (const std::string& h : hashes) n += !h.empty();
  return n;
}

std::string RecoveryCodeSet::Serialize() const {
  std::string out = "v1:" + Base64Encode(salt) + ":";
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (i) out += ",";
    out += hashes[i].empty() ? "-" : Base64Encode(hashes[i]);
  }
  return out;
}

Result<RecoveryCodeSet> RecoveryCodeSet::Parse(std::string_view text) {
  auto bad = [] { return Status::Corruption("recovery code set is not in v1 form"); };
  if (text.substr(0, 3) != "v1:") return bad();
  text.remove_prefix(3);
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return bad();
  RecoveryCodeSet set;
  auto salt = Base64Decode(text.substr(0, colon));
  if (!salt || salt->size() != crypto_generichash_KEYBYTES) return bad();
  set.salt = std::move(*salt);
  std::string_view rest = text.substr(colon + 1);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    if (item == "-") {
      set.hashes.emplace_back();
    } else {
      auto h = Base64Decode(item);
      if (!h || h->size() != kHashBytes) return bad();
      set.hashes.push_back(std::move(*h));
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return set;
}

NewRecoveryCodes GenerateRecoveryCodes() {
  Init();
  NewRecoveryCodes out;
  out.stored.salt.assign(crypto_generichash_KEYBYTES, '\0');
  randombytes_buf(out.stored.salt.data(), out.stored.salt.size());
  for (int i = 0; i < kRecoveryCodeCount; ++i) {
    unsigned char raw[10];  // 80 bits
    randombytes_buf(raw, sizeof raw);
    std::string code;
    for (size_t c = 0; c < kRecoveryCodeChars; ++c) {
      size_t bit = c * 5;
      unsigned v = 0;
      for (int b = 0; b < 5; ++b, ++bit) v = (v << 1) | ((raw[bit / 8] >> (7 - bit % 8)) & 1u);
      code.push_back(kCrockford[v]);
    }
    sodium_memzero(raw, sizeof raw);
    out.stored.hashes.push_back(HashRecoveryCode(out.stored.salt, code));
    out.codes.push_back(fmt::format("{}-{}-{}-{}", code.substr(0, 4), code.substr(4, 4),
                                    code.substr(8, 4), code.substr(12, 4)));
  }
  return out;
}

bool RedeemRecoveryCode(RecoveryCodeSet* set, std::string_view code) {
  auto norm = NormaliseRecoveryCode(code);
  if (!norm) return false;
  std::string h = HashRecoveryCode(set->salt, *norm);
  int matched = -1;
  for (size_t i = 0; i < set->hashes.size(); ++i) {
    const std::string& stored = set->hashes[i];
    bool eq = stored.size() == h.size() && ConstantTimeEquals(stored, h);
    if (eq) matched = static_cast<int>(i);
  }
  if (matched < 0) return false;
  set->hashes[static_cast<size_t>(matched)].clear();
  return true;
}

Result<std::vector<std::vector<bool>>> QrMatrix(std::string_view text) {
  std::string s(text);
  if (s.find('\0') != std::string::npos) {
    return Status::InvalidArgument("QR text must not contain NUL");
  }
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(
      QRcode_encodeString(s.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
  if (!qr) return Status::InvalidArgument("text is too long for a QR code");
  size_t w = static_cast<size_t>(qr->width);
  std::vector<std::vector<bool>> m(w, std::vector<bool>(w));
  for (size_t y = 0; y < w; ++y) {
    for (size_t x = 0; x < w; ++x) m[y][x] = (qr->data[y * w + x] & 1) != 0;
  }
  return m;
}

Result<std::string> QrPng(std::string_view text, int scale) {
  if (scale < 1 || scale > 32) return Status::InvalidArgument("scale must be 1..32");
  MUON_ASSIGN_OR_RETURN(std::vector<std::vector<bool>> m, FramedMatrix(text));
  const uint32_t px = static_cast<uint32_t>(m.size()) * static_cast<uint32_t>(scale);
  const size_t row_bytes = 1 + (px + 7) / 8;  // filter byte, then 8 pixels a byte
  std::string raw;
  raw.reserve(row_bytes * px);
  for (uint32_t y = 0; y < px; ++y) {
    const std::vector<bool>& row = m[y / static_cast<uint32_t>(scale)];
    raw.push_back('\0');  // filter type None
    uint8_t byte = 0;
    for (uint32_t x = 0; x < px; ++x) {
      bool light = !row[x / static_cast<uint32_t>(scale)];  // grey level 1 = white
      byte = static_cast<uint8_t>((byte << 1) | (light ? 1 : 0));
      if (x % 8 == 7) {
        raw.push_back(static_cast<char>(byte));
        byte = 0;
      }
    }
    if (px % 8 != 0) {
      raw.push_back(static_cast<char>(byte << (8 - px % 8)));
    }
  }
  uLongf bound = compressBound(static_cast<uLong>(raw.size()));
  std::string idat(bound, '\0');
  if (compress2(reinterpret_cast<Bytef*>(idat.data()), &bound,
                reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
                Z_BEST_COMPRESSION) != Z_OK) {
    return Status::Internal("zlib failed to compress the QR image");
  }
  idat.resize(bound);

  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  AppendBigEndian32(&ihdr, px);  // width
  AppendBigEndian32(&ihdr, px);  // height
  ihdr.push_back(1);             // bit depth
  ihdr.push_back(0);             // colour type: greyscale
  ihdr.push_back(0);             // compression: deflate
  ihdr.push_back(0);             // filter method 0
  ihdr.push_back(0);             // no interlace
  AppendChunk(&png, "IHDR", ihdr);
  AppendChunk(&png, "IDAT", idat);
  AppendChunk(&png, "IEND", "");
  return png;
}

Result<std::string> QrTerminal(std::string_view text) {
  MUON_ASSIGN_OR_RETURN(std::vector<std::vector<bool>> m, FramedMatrix(text));
  const size_t n = m.size();
  std::string out;
  for (size_t y = 0; y < n; y += 2) {
    for (size_t x = 0; x < n; ++x) {
      bool top = !m[y][x];
      bool bottom = y + 1 < n && !m[y + 1][x];
      if (top && bottom) {
        out += "\u2588";  // full block
      } else if (top) {
        out += "\u2580";  // upper half block
      } else if (bottom) {
        out += "\u2584";  // lower half block
      } else {
        out += ' ';
      }
    }
    out += '\n';
  }
  return out;
}

}  // namespace muon::iam
