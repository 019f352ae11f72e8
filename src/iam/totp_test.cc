#include "iam/totp.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/env.h"

namespace muon::iam {
namespace {

constexpr int64_t kNanos = 1'000'000'000;
const std::string kRfcSecret = "12345678901234567890";

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  while (out.size() < n) out += s;
  out.resize(n);
  return out;
}

// The vectors as written in $MUON_TESTDATA/otp-vectors.md.
struct Vectors {
  std::vector<std::string> hotp;  // counters 0..9
  struct Totp {
    int64_t time;
    std::string sha1, sha256, sha512;
  };
  std::vector<Totp> totp;
};

Vectors ReadVectors() {
  Vectors v;
  const char* dir = std::getenv("MUON_TESTDATA");
  EXPECT_NE(dir, nullptr) << "MUON_TESTDATA is not set (ctest sets it)";
  if (dir == nullptr) return v;
  auto text = Env::Posix()->ReadFile(std::string(dir) + "/otp-vectors.md");
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  if (!text.ok()) return v;
  std::istringstream lines(*text);
  std::string line;
  std::regex hotp_line(R"(^(\d{6})( \d{6}){9}$)");
  std::regex totp_row(R"(^\|\s*(\d+)\s*\|\s*(\d{8})\s*\|\s*(\d{8})\s*\|\s*(\d{8})\s*\|$)");
  std::smatch m;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, hotp_line)) {
      std::istringstream codes(line);
      std::string c;
      while (codes >> c) v.hotp.push_back(c);
    } else if (std::regex_match(line, m, totp_row)) {
      v.totp.push_back({std::stoll(m[1]), m[2], m[3], m[4]});
    }
  }
  return v;
}

TEST(OtpVectorsTest, HotpRfc4226) {
  Vectors v = ReadVectors();
  ASSERT_EQ(v.hotp.size(), 10u);
  for (uint64_t counter = 0; counter < 10; ++counter) {
    auto code = HotpCode(kRfcSecret, counter);
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, v.hotp[counter]) << "counter " << counter;
  }
}

TEST(OtpVectorsTest, TotpRfc6238AllHashes) {
  Vectors v = ReadVectors();
  ASSERT_EQ(v.totp.size(), 6u);
  for (const auto& row : v.totp) {
    EXPECT_EQ(*TotpCode(kRfcSecret, row.time, 8, TotpHash::kSha1), row.sha1) << row.time;
    EXPECT_EQ(*TotpCode(Repeat(kRfcSecret, 32), row.time, 8, TotpHash::kSha256), row.sha256)
        << row.time;
    EXPECT_EQ(*TotpCode(Repeat(kRfcSecret, 64), row.time, 8, TotpHash::kSha512), row.sha512)
        << row.time;
  }
}

TEST(OtpVectorsTest, SixDigitCodesAreTheLastSixOfTheVectors) {
  Vectors v = ReadVectors();
  ASSERT_FALSE(v.totp.empty());
  for (const auto& row : v.totp) {
    EXPECT_EQ(*TotpCode(kRfcSecret, row.time), row.sha1.substr(2)) << row.time;
  }
}

TEST(OtpVectorsTest, VerifyAcceptsEveryVectorAtItsTime) {
  Vectors v = ReadVectors();
  ASSERT_FALSE(v.totp.empty());
  for (const auto& row : v.totp) {
    // Clock time is int64 nanoseconds, which ends in 2262: the year-2603
    // vector is checked by TotpCode above only.
    if (row.time > INT64_MAX / kNanos) continue;
    FakeClock clock(row.time * kNanos);
    TotpVerdict verdict = VerifyTotp(kRfcSecret, row.sha1.substr(2), -1, clock);
    EXPECT_EQ(verdict.outcome, TotpOutcome::kAccepted) << row.time;
    EXPECT_EQ(verdict.step, row.time / 30);
  }
}

TEST(TotpTest, RejectsBadDigitCounts) {
  EXPECT_FALSE(TotpCode(kRfcSecret, 59, 5).ok());
  EXPECT_FALSE(HotpCode(kRfcSecret, 0, 9).ok());
}

TEST(TotpTest, StepIsFloorOfThirtySeconds) {
  EXPECT_EQ(TotpStep(0), 0);
  EXPECT_EQ(TotpStep(29), 0);
  EXPECT_EQ(TotpStep(30), 1);
  EXPECT_EQ(TotpStep(-1), -1);
}

class VerifyTotpTest : public testing::Test {
 protected:
  std::string CodeAtStep(int64_t step) { return *HotpCode(secret_, static_cast<uint64_t>(step)); }
  int64_t Now() { return TotpStep(clock_.NowSeconds()); }

  std::string secret_ = NewTotpSecret();
  FakeClock clock_{1'764'295'215'000'000'000};  // 15 s into a step
};

TEST_F(VerifyTotpTest, AcceptsTheCurrentCode) {
  TotpVerdict v = VerifyTotp(secret_, CodeAtStep(Now()), -1, clock_);
  EXPECT_EQ(v.outcome, TotpOutcome::kAccepted);
  EXPECT_EQ(v.step, Now());
}

TEST_F(VerifyTotpTest, AcceptsOneStepOfDriftEitherWay) {
  EXPECT_EQ(VerifyTotp(secret_, CodeAtStep(Now() - 1), -1, clock_).outcome, TotpOutcome::kAccepted);
  EXPECT_EQ(VerifyTotp(secret_, CodeAtStep(Now() + 1), -1, clock_).outcome, TotpOutcome::kAccepted);
}

TEST_F(VerifyTotpTest, RefusesTwoStepsOfDrift) {
  EXPECT_EQ(VerifyTotp(secret_, CodeAtStep(Now() - 2), -1, clock_).outcome, TotpOutcome::kInvalid);
  EXPECT_EQ(VerifyTotp(secret_, CodeAtStep(Now() + 2), -1, clock_).outcome, TotpOutcome::kInvalid);
}

TEST_F(VerifyTotpTest, CodeExpiresAfterTheWindow) {
  std::string code = CodeAtStep(Now());
  clock_.AdvanceSeconds(30);  // the code is now one step old: still accepted
  EXPECT_EQ(VerifyTotp(secret_, code, -1, clock_).outcome, TotpOutcome::kAccepted);
  clock_.AdvanceSeconds(30);  // two steps old
  EXPECT_EQ(VerifyTotp(secret_, code, -1, clock_).outcome, TotpOutcome::kInvalid);
}

TEST_F(VerifyTotpTest, RefusesAReplayedCode) {
  std::string code = CodeAtStep(Now());
  TotpVerdict first = VerifyTotp(secret_, code, -1, clock_);
  ASSERT_EQ(first.outcome, TotpOutcome::kAccepted);
  EXPECT_EQ(VerifyTotp(secret_, code, first.step, clock_).outcome, TotpOutcome::kReplayed);
  clock_.AdvanceSeconds(20);  // next step; the old code is still inside the window
  EXPECT_EQ(VerifyTotp(secret_, code, first.step, clock_).outcome, TotpOutcome::kReplayed);
}

TEST_F(VerifyTotpTest, RefusesAnOlderCodeAfterANewerOne) {
  TotpVerdict newer = VerifyTotp(secret_, CodeAtStep(Now() + 1), -1, clock_);
  ASSERT_EQ(newer.outcome, TotpOutcome::kAccepted);
  EXPECT_EQ(VerifyTotp(secret_, CodeAtStep(Now()), newer.step, clock_).outcome,
            TotpOutcome::kReplayed);
}

TEST_F(VerifyTotpTest, AcceptsTheNextStepsCodeAfterOneWasUsed) {
  TotpVerdict first = VerifyTotp(secret_, CodeAtStep(Now()), -1, clock_);
  ASSERT_EQ(first.outcome, TotpOutcome::kAccepted);
  clock_.AdvanceSeconds(30);
  TotpVerdict second = VerifyTotp(secret_, CodeAtStep(Now()), first.step, clock_);
  EXPECT_EQ(second.outcome, TotpOutcome::kAccepted);
  EXPECT_EQ(second.step, first.step + 1);
}

TEST_F(VerifyTotpTest, RefusesWrongAndMalformedCodes) {
  std::string right = CodeAtStep(Now());
  std::string wrong = right;
  wrong[5] = wrong[5] == '9' ? '0' : static_cast<char>(wrong[5] + 1);
  for (const std::string& code : {wrong, right.substr(0, 5), right + "0", std::string("abcdef"),
                                  std::string(""), " " + right.substr(1)}) {
    EXPECT_EQ(VerifyTotp(secret_, code, -1, clock_).outcome, TotpOutcome::kInvalid) << code;
  }
}

TEST_F(VerifyTotpTest, AnotherDevicesCodeIsInvalid) {
  std::string other = NewTotpSecret();
  std::string code = *HotpCode(other, static_cast<uint64_t>(Now()));
  if (code == CodeAtStep(Now()) || code == CodeAtStep(Now() - 1) || code == CodeAtStep(Now() + 1)) {
    GTEST_SKIP() << "the two random secrets share a code (1 in 333,333)";
  }
  EXPECT_EQ(VerifyTotp(secret_, code, -1, clock_).outcome, TotpOutcome::kInvalid);
}

TEST_F(VerifyTotpTest, EnrolmentNeedsTwoConsecutiveCodes) {
  TotpVerdict v = VerifyConsecutiveTotp(secret_, CodeAtStep(Now() - 1), CodeAtStep(Now()), clock_);
  EXPECT_EQ(v.outcome, TotpOutcome::kAccepted);
  EXPECT_EQ(v.step, Now());
  EXPECT_EQ(
      VerifyConsecutiveTotp(secret_, CodeAtStep(Now()), CodeAtStep(Now() - 1), clock_).outcome,
      TotpOutcome::kInvalid);
  EXPECT_EQ(
      VerifyConsecutiveTotp(secret_, CodeAtStep(Now() - 1), CodeAtStep(Now() + 1), clock_).outcome,
      TotpOutcome::kInvalid);
  EXPECT_EQ(VerifyConsecutiveTotp(secret_, CodeAtStep(Now()), CodeAtStep(Now()), clock_).outcome,
            TotpOutcome::kInvalid);
  EXPECT_EQ(
      VerifyConsecutiveTotp(secret_, CodeAtStep(Now() - 5), CodeAtStep(Now() - 4), clock_).outcome,
      TotpOutcome::kInvalid);
}

TEST_F(VerifyTotpTest, EnrolmentToleratesOneStepOfDrift) {
  EXPECT_EQ(
      VerifyConsecutiveTotp(secret_, CodeAtStep(Now()), CodeAtStep(Now() + 1), clock_).outcome,
      TotpOutcome::kAccepted);
  EXPECT_EQ(
      VerifyConsecutiveTotp(secret_, CodeAtStep(Now() - 2), CodeAtStep(Now() - 1), clock_).outcome,
      TotpOutcome::kAccepted);
  EXPECT_EQ(
      VerifyConsecutiveTotp(secret_, CodeAtStep(Now() + 1), CodeAtStep(Now() + 2), clock_).outcome,
      TotpOutcome::kInvalid);
}

TEST(SecretTest, TwentyRandomBytes) {
  std::string a = NewTotpSecret(), b = NewTotpSecret();
  EXPECT_EQ(a.size(), 20u);
  EXPECT_NE(a, b);
  EXPECT_EQ(Base32Encode(a).size(), 32u);
}

TEST(Base32Test, Rfc4648Vectors) {
  const std::pair<std::string, std::string> cases[] = {
      {"", ""},
      {"f", "MY"},
      {"fo", "MZXQ"},
      {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"},
      {"fooba", "MZXW6YTB"},
      {"foobar", "MZXW6YTBOI"},
  };
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(Base32Encode(plain), encoded);
    EXPECT_EQ(Base32Decode(encoded), plain);
  }
  EXPECT_EQ(Base32Encode(kRfcSecret), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(Base32Test, DecodeIsLenient) {
  EXPECT_EQ(Base32Decode("mzxw6ytboi"), "foobar");
  EXPECT_EQ(Base32Decode("MZXW 6YTB OI"), "foobar");
  EXPECT_EQ(Base32Decode("MZXW6YTBOI======"), "foobar");
  EXPECT_FALSE(Base32Decode("MZXW1"));
  EXPECT_FALSE(Base32Decode("MZ!W"));
}

TEST(Base32Test, RoundTripsRandomSecrets) {
  for (int i = 0; i < 20; ++i) {
    std::string s = NewTotpSecret();
    EXPECT_EQ(Base32Decode(Base32Encode(s)), s);
  }
}

TEST(OtpauthUriTest, AsAuthenticatorAppsReadIt) {
  EXPECT_EQ(OtpauthUri("muonpipe", "alice", kRfcSecret),
            "otpauth://totp/muonpipe:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            "&issuer=muonpipe&algorithm=SHA1&digits=6&period=30");
}

TEST(OtpauthUriTest, EncodesIssuerAndAccount) {
  EXPECT_EQ(OtpauthUri("mDetect muonpipe", "alice@site:3", "f"),
            "otpauth://totp/mDetect%20muonpipe:alice%40site%3A3?secret=MY"
            "&issuer=mDetect%20muonpipe&algorithm=SHA1&digits=6&period=30");
}

TEST(RecoveryCodesTest, TenDistinctCodesOfEightyBits) {
  NewRecoveryCodes n = GenerateRecoveryCodes();
  ASSERT_EQ(n.codes.size(), 10u);
  EXPECT_EQ(n.stored.hashes.size(), 10u);
  EXPECT_EQ(n.stored.remaining(), 10);
  EXPECT_EQ(n.stored.salt.size(), 32u);
  std::regex shape("^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$");
  std::set<std::string> seen;
  for (const std::string& c : n.codes) {
    EXPECT_TRUE(std::regex_match(c, shape)) << c;
    EXPECT_TRUE(seen.insert(c).second) << c;
  }
}

TEST(RecoveryCodesTest, OnlyHashesAreStored) {
  NewRecoveryCodes n = GenerateRecoveryCodes();
  std::string stored = n.stored.Serialize();
  for (const std::string& c : n.codes) {
    std::string bare = c;
    std::erase(bare, '-');
    EXPECT_EQ(stored.find(bare), std::string::npos);
    EXPECT_EQ(stored.find(c), std::string::npos);
  }
}

TEST(RecoveryCodesTest, EachCodeWorksOnce) {
  NewRecoveryCodes n = GenerateRecoveryCodes();
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(RedeemRecoveryCode(&n.stored, n.codes[i])) << i;
    EXPECT_EQ(n.stored.remaining(), 9 - i);
    EXPECT_FALSE(RedeemRecoveryCode(&n.stored, n.codes[i])) << i;
  }
  EXPECT_EQ(n.stored.remaining(), 0);
}

TEST(RecoveryCodesTest, CaseSpacesAndDashesDoNotMatter) {
  NewRecoveryCodes n = GenerateRecoveryCodes();
  std::string typed;
  for (char c : n.codes[3]) {
    if (c == '-') {
      typed += ' ';
    } else {
      typed += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  EXPECT_TRUE(RedeemRecoveryCode(&n.stored, typed));
  EXPECT_FALSE(RedeemRecoveryCode(&n.stored, n.codes[3]));
}

TEST(RecoveryCodesTest, WrongCodesAndOtherSetsAreRefused) {
  NewRecoveryCodes a = GenerateRecoveryCodes();
  NewRecoveryCodes b = GenerateRecoveryCodes();
  EXPECT_FALSE(RedeemRecoveryCode(&a.stored, b.codes[0]));
  EXPECT_FALSE(RedeemRecoveryCode(&a.stored, ""));
  EXPECT_FALSE(RedeemRecoveryCode(&a.stored, "not a code"));
  EXPECT_FALSE(RedeemRecoveryCode(&a.stored, a.codes[0] + "0"));
  EXPECT_FALSE(RedeemRecoveryCode(&a.stored, a.codes[0].substr(1)));
  EXPECT_EQ(a.stored.remaining(), 10);
}

TEST(RecoveryCodesTest, SerializedSetRoundTripsWithUsedCodes) {
  NewRecoveryCodes n = GenerateRecoveryCodes();
  ASSERT_TRUE(RedeemRecoveryCode(&n.stored, n.codes[2]));
  auto parsed = RecoveryCodeSet::Parse(n.stored.Serialize());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->remaining(), 9);
  EXPECT_FALSE(RedeemRecoveryCode(&*parsed, n.codes[2]));
  EXPECT_TRUE(RedeemRecoveryCode(&*parsed, n.codes[7]));
}

TEST(RecoveryCodesTest, ParseRejectsDamagedSets) {
  EXPECT_FALSE(RecoveryCodeSet::Parse("").ok());
  EXPECT_FALSE(RecoveryCodeSet::Parse("v2:AAAA:").ok());
  EXPECT_FALSE(RecoveryCodeSet::Parse("v1:AAAA:-").ok());  // salt too short
  std::string good = GenerateRecoveryCodes().stored.Serialize();
  EXPECT_FALSE(RecoveryCodeSet::Parse(good.substr(0, good.size() - 3)).ok());
}

// ---------------------------------------------------------------------------
// QR code renderings, checked against libqrencode's matrix.

const std::string kUri = OtpauthUri("muonpipe", "alice", kRfcSecret);

uint32_t BigEndian32(const std::string& s, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(s[at + 3]));
}

TEST(QrTest, MatrixHasFinderPatterns) {
  auto m = QrMatrix(kUri);
  ASSERT_TRUE(m.ok());
  size_t w = m->size();
  ASSERT_GE(w, 21u);
  EXPECT_EQ((w - 17) % 4, 0u);
  // Each finder: a dark 7x7 ring, a light ring, a dark 3x3 centre.
  for (auto [ox, oy] : {std::pair<size_t, size_t>{0, 0}, {w - 7, 0}, {0, w - 7}}) {
    for (size_t i = 0; i < 7; ++i) {
      EXPECT_TRUE((*m)[oy][ox + i]);
      EXPECT_TRUE((*m)[oy + 6][ox + i]);
      EXPECT_TRUE((*m)[oy + i][ox]);
      EXPECT_TRUE((*m)[oy + i][ox + 6]);
    }
    EXPECT_FALSE((*m)[oy + 1][ox + 1]);
    EXPECT_TRUE((*m)[oy + 3][ox + 3]);
  }
}

TEST(QrTest, PngIsWellFormedAndShowsTheMatrix) {
  const int scale = 3;
  auto png = QrPng(kUri, scale);
  ASSERT_TRUE(png.ok());
  auto m = QrMatrix(kUri);
  ASSERT_TRUE(m.ok());
  const std::string& p = *png;
  ASSERT_EQ(p.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));

  // Walk the chunks, checking each CRC.
  size_t at = 8;
  std::string ihdr, idat;
  std::vector<std::string> types;
  while (at + 12 <= p.size()) {
    uint32_t len = BigEndian32(p, at);
    std::string type = p.substr(at + 4, 4);
    std::string data = p.substr(at + 8, len);
    uint32_t crc = BigEndian32(p, at + 8 + len);
    uLong want = crc32(0L, Z_NULL, 0);
    want = crc32(want, reinterpret_cast<const Bytef*>(p.data() + at + 4), len + 4);
    EXPECT_EQ(crc, static_cast<uint32_t>(want)) << type;
    types.push_back(type);
    if (type == "IHDR") ihdr = data;
    if (type == "IDAT") idat += data;
    at += 12 + len;
  }
  EXPECT_EQ(at, p.size());
  EXPECT_EQ(types, (std::vector<std::string>{"IHDR", "IDAT", "IEND"}));

  ASSERT_EQ(ihdr.size(), 13u);
  uint32_t px = static_cast<uint32_t>((m->size() + 8) * scale);
  EXPECT_EQ(BigEndian32(ihdr, 0), px);
  EXPECT_EQ(BigEndian32(ihdr, 4), px);
  EXPECT_EQ(ihdr[8], 1);  // bit depth
  EXPECT_EQ(ihdr[9], 0);  // greyscale

  size_t row_bytes = 1 + (px + 7) / 8;
  std::string raw(row_bytes * px, '\0');
  uLongf raw_len = raw.size();
  ASSERT_EQ(uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_len,
                       reinterpret_cast<const Bytef*>(idat.data()), idat.size()),
            Z_OK);
  ASSERT_EQ(raw_len, raw.size());
  for (uint32_t y = 0; y < px; ++y) {
    ASSERT_EQ(raw[y * row_bytes], 0) << "filter byte of row " << y;
    for (uint32_t x = 0; x < px; ++x) {
      uint8_t byte = static_cast<uint8_t>(raw[y * row_bytes + 1 + x / 8]);
      bool white = (byte >> (7 - x % 8)) & 1;
      int mx = static_cast<int>(x / scale) - 4, my = static_cast<int>(y / scale) - 4;
      bool dark = mx >= 0 && my >= 0 && mx < static_cast<int>(m->size()) &&
                  my < static_cast<int>(m->size()) && (*m)[my][mx];
      ASSERT_EQ(white, !dark) << "pixel " << x << "," << y;
    }
  }
}

TEST(QrTest, PngRejectsSillyScales) {
  EXPECT_FALSE(QrPng(kUri, 0).ok());
  EXPECT_FALSE(QrPng(kUri, 33).ok());
}

TEST(QrTest, TerminalRenderingShowsTheMatrix) {
  auto text = QrTerminal(kUri);
  ASSERT_TRUE(text.ok());
  auto m = QrMatrix(kUri);
  ASSERT_TRUE(m.ok());
  size_t n = m->size() + 8;
  // Decode the half blocks back into light/dark modules.
  std::vector<std::vector<bool>> light(n + 1, std::vector<bool>(n, false));
  std::istringstream lines(*text);
  std::string line;
  size_t row = 0;
  while (std::getline(lines, line)) {
    size_t col = 0;
    for (size_t i = 0; i < line.size();) {
      bool top = false, bottom = false;
      if (line[i] == ' ') {
        i += 1;
      } else {
        std::string ch = line.substr(i, 3);
        i += 3;
        if (ch == "\u2588") {
          top = bottom = true;
        } else if (ch == "\u2580") {
          top = true;
        } else if (ch == "\u2584") {
          bottom = true;
        } else {
          FAIL() << "unexpected character in line " << row;
        }
      }
      ASSERT_LT(col, n);
      light[2 * row][col] = top;
      light[2 * row + 1][col] = bottom;
      ++col;
    }
    EXPECT_EQ(col, n) << "line " << row;
    ++row;
  }
  EXPECT_EQ(row, (n + 1) / 2);
  for (size_t y = 0; y < n; ++y) {
    for (size_t x = 0; x < n; ++x) {
      bool dark = y >= 4 && x >= 4 && y < n - 4 && x < n - 4 && (*m)[y - 4][x - 4];
      ASSERT_EQ(light[y][x], !dark) << x << "," << y;
    }
  }
}

TEST(QrTest, RefusesTextTooLongForAQrCode) { EXPECT_FALSE(QrMatrix(std::string(8000, 'x')).ok()); }

}  // namespace
}  // namespace muon::iam
