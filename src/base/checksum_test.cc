#include "base/checksum.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <vector>

#include "base/base64.h"

namespace muon {
namespace {

std::string Hex(std::string_view raw) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// The catalogue check values ("123456789") of each CRC and FIPS 180 vectors.
TEST(ChecksumTest, MatchesPublishedCheckValues) {
  EXPECT_EQ(Hex(ChecksumRaw(ChecksumAlgorithm::kCrc32, "123456789")), "cbf43926");
  EXPECT_EQ(Hex(ChecksumRaw(ChecksumAlgorithm::kCrc32c, "123456789")), "e3069283");
  EXPECT_EQ(Hex(ChecksumRaw(ChecksumAlgorithm::kCrc64Nvme, "123456789")), "ae8b14860a799888");
  EXPECT_EQ(Hex(ChecksumRaw(ChecksumAlgorithm::kSha1, "abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Hex(ChecksumRaw(ChecksumAlgorithm::kSha256, "abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// Values S3 returns for an empty object.
TEST(ChecksumTest, EmptyPayloadWireForms) {
  EXPECT_EQ(ChecksumBase64(ChecksumAlgorithm::kCrc32, ""), "AAAAAA==");
  EXPECT_EQ(ChecksumBase64(ChecksumAlgorithm::kCrc32c, ""), "AAAAAA==");
  EXPECT_EQ(ChecksumBase64(ChecksumAlgorithm::kCrc64Nvme, ""), "AAAAAAAAAAA=");
  EXPECT_EQ(ChecksumBase64(ChecksumAlgorithm::kSha256, ""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

// The 8-byte fast path and the byte-at-a-time tail must agree whatever the
// alignment and however the payload is split across Update calls.
TEST(ChecksumTest, IncrementalUpdatesMatchOneShotAtEverySplit) {
  std::mt19937 rng(7);
  std::string data(1031, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  for (auto alg : {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                   ChecksumAlgorithm::kCrc64Nvme, ChecksumAlgorithm::kSha1,
                   ChecksumAlgorithm::kSha256}) {
    const std::string whole = ChecksumRaw(alg, data);
    ASSERT_EQ(whole.size(), ChecksumSize(alg));
    for (size_t split : {0, 1, 3, 7, 8, 9, 500, 1030, 1031}) {
      auto c = Checksummer::New(alg);
      c->Update(std::string_view(data).substr(0, split));
      c->Update(std::string_view(data).substr(split));
      EXPECT_EQ(c->FinishRaw(), whole) << ChecksumName(alg) << " split " << split;
    }
  }
}

TEST(ChecksumTest, DetectsASingleFlippedBit) {
  std::string data(4096, 'x');
  for (auto alg : {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                   ChecksumAlgorithm::kCrc64Nvme}) {
    std::string flipped = data;
    flipped[1234] ^= 0x10;
    EXPECT_NE(ChecksumRaw(alg, data), ChecksumRaw(alg, flipped)) << ChecksumName(alg);
  }
}

// Folding the parts' CRCs into the CRC of nothing (0) must give the CRC of
// the parts back to back, for any split: empty parts, one-byte parts,
// parts longer than the 8-byte fast path.
TEST(ChecksumTest, CombinedPartCrcsEqualCrcOfConcatenationForRandomSplits) {
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> parts(1 + rng() % 6);
    std::string whole;
    for (auto& part : parts) {
      size_t n = 0;
      switch (rng() % 4) {
        case 0:
          n = 0;
          break;
        case 1:
          n = 1 + rng() % 8;
          break;
        default:
          n = rng() % 3000;
          break;
      }
      part.resize(n);
      for (auto& c : part) c = static_cast<char>(rng());
      whole += part;
    }
    for (auto alg :
         {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kCrc64Nvme}) {
      std::string combined = ChecksumRaw(alg, "");
      for (const auto& part : parts) {
        auto next = ChecksumCombineRaw(alg, combined, ChecksumRaw(alg, part), part.size());
        ASSERT_TRUE(next.has_value()) << ChecksumName(alg);
        combined = *next;
      }
      EXPECT_EQ(Hex(combined), Hex(ChecksumRaw(alg, whole)))
          << ChecksumName(alg) << " round " << round << " parts " << parts.size();
    }
  }
}

TEST(ChecksumTest, CombineWithEmptySecondPartKeepsFirstCrc) {
  EXPECT_EQ(Crc32Combine(0xcbf43926u, 0, 0), 0xcbf43926u);
  EXPECT_EQ(Crc32cCombine(0xe3069283u, 0, 0), 0xe3069283u);
  EXPECT_EQ(Crc64NvmeCombine(0xae8b14860a799888ull, 0, 0), 0xae8b14860a799888ull);
}

// zlib's own crc32_combine64 is an independent implementation; lengths far
// beyond anything the random test builds exercise every power of x.
TEST(ChecksumTest, Crc32CombineAgreesWithZlibForHugeLengths) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 64; ++i) {
    uint32_t a = static_cast<uint32_t>(rng());
    uint32_t b = static_cast<uint32_t>(rng());
    uint64_t length = (i == 0) ? ~0ull >> 1 : rng() >> (rng() % 64);
    length &= ~0ull >> 1;  // z_off64_t is signed
    EXPECT_EQ(Crc32Combine(a, b, length),
              static_cast<uint32_t>(crc32_combine64(a, b, static_cast<z_off64_t>(length))))
        << "length " << length;
  }
}

TEST(ChecksumTest, ShaDigestsAndWrongSizesDoNotCombine) {
  EXPECT_FALSE(ChecksumCombines(ChecksumAlgorithm::kSha1));
  EXPECT_FALSE(ChecksumCombines(ChecksumAlgorithm::kSha256));
  EXPECT_TRUE(ChecksumCombines(ChecksumAlgorithm::kCrc64Nvme));
  const std::string sha = ChecksumRaw(ChecksumAlgorithm::kSha256, "abc");
  EXPECT_FALSE(ChecksumCombineRaw(ChecksumAlgorithm::kSha256, sha, sha, 3).has_value());
  EXPECT_FALSE(
      ChecksumCombineRaw(ChecksumAlgorithm::kCrc32, std::string(3, 'a'), "abcd", 1).has_value());
  EXPECT_FALSE(ChecksumCombineRaw(ChecksumAlgorithm::kCrc64Nvme, "abcd", "abcd", 1).has_value());
}

TEST(ChecksumTest, NamesRoundTripCaseInsensitively) {
  for (auto alg : {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                   ChecksumAlgorithm::kCrc64Nvme, ChecksumAlgorithm::kSha1,
                   ChecksumAlgorithm::kSha256}) {
    EXPECT_EQ(ChecksumFromName(ChecksumName(alg)), alg);
  }
  EXPECT_EQ(ChecksumFromName("crc64nvme"), ChecksumAlgorithm::kCrc64Nvme);
  EXPECT_EQ(ChecksumFromName("Crc32C"), ChecksumAlgorithm::kCrc32c);
  EXPECT_FALSE(ChecksumFromName("md5").has_value());
  EXPECT_FALSE(ChecksumFromName("crc3").has_value());
}

}  // namespace
}  // namespace muon
