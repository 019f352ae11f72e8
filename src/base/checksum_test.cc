#include "base/checksum.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

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
