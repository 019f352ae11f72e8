#include "auth/aws_chunked.h"

#include <gtest/gtest.h>

#include <string>

namespace muon::auth {
namespace {

// The worked example of AWS's "Transferring Payload in Multiple Chunks" page:
// PUT of 66,560 bytes of 'a' in 64 KiB chunks, 2013-05-24, us-east-1, s3.
VerifiedRequest AwsExampleSeed(std::string_view payload_hash = kStreamingSigned) {
  VerifiedRequest v;
  v.credentials.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  v.credentials.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  v.region = "us-east-1";
  v.service = "s3";
  v.date = "20130524";
  v.request_time = 1369353600;  // 20130524T000000Z
  v.signature = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
  v.payload_hash = std::string(payload_hash);
  return v;
}

TEST(AwsChunkedTest, ReproducesAwsWorkedExampleSignatures) {
  const std::string data(66560, 'a');
  const std::string body = EncodeAwsChunkedForTest(data, 65536, AwsExampleSeed());
  EXPECT_EQ(body.substr(0, 88),
            "10000;chunk-signature="
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
  EXPECT_NE(body.find("400;chunk-signature="
                      "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"),
            std::string::npos);
  EXPECT_NE(body.find("0;chunk-signature="
                      "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"),
            std::string::npos);
  // The page's Content-Length for this body.
  EXPECT_EQ(body.size(), 66824u);

  auto decoded = DecodeAwsChunked(body, AwsExampleSeed(), 66560);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->data, data);
  EXPECT_TRUE(decoded->trailers.empty());
}

TEST(AwsChunkedTest, RejectsAChangedDataByte) {
  std::string body = EncodeAwsChunkedForTest(std::string(20000, 'x'), 8192, AwsExampleSeed());
  body[body.find("xxxx") + 100] = 'y';
  auto decoded = DecodeAwsChunked(body, AwsExampleSeed(), std::nullopt);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kUnauthenticated);
}

TEST(AwsChunkedTest, RejectsASignatureFromAnotherSeed) {
  const std::string body = EncodeAwsChunkedForTest("hello", 8192, AwsExampleSeed());
  VerifiedRequest other = AwsExampleSeed();
  other.signature[0] = other.signature[0] == '0' ? '1' : '0';
  EXPECT_EQ(DecodeAwsChunked(body, other, 5).status().code(), StatusCode::kUnauthenticated);
}

TEST(AwsChunkedTest, RejectsAMissingChunkSignature) {
  const std::string body = "5\r\nhello\r\n0\r\n\r\n";
  EXPECT_EQ(DecodeAwsChunked(body, AwsExampleSeed(), 5).status().code(),
            StatusCode::kUnauthenticated);
}

TEST(AwsChunkedTest, RejectsWrongDecodedLength) {
  const std::string body = EncodeAwsChunkedForTest("hello", 8192, AwsExampleSeed());
  auto decoded = DecodeAwsChunked(body, AwsExampleSeed(), 6);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
}

TEST(AwsChunkedTest, RejectsTruncatedAndMalformedBodies) {
  const std::string body = EncodeAwsChunkedForTest(std::string(10000, 'z'), 4096, AwsExampleSeed());
  for (size_t cut : {size_t{0}, size_t{3}, size_t{90}, body.size() / 2, body.size() - 1}) {
    EXPECT_FALSE(DecodeAwsChunked(body.substr(0, cut), AwsExampleSeed(), std::nullopt).ok())
        << "cut at " << cut;
  }
  EXPECT_FALSE(DecodeAwsChunked("zz;chunk-signature=00\r\n", AwsExampleSeed(), std::nullopt).ok());
  EXPECT_FALSE(DecodeAwsChunked(body + "extra", AwsExampleSeed(), std::nullopt).ok());
}

// botocore's form for checksums over plain HTTP-less transports: unsigned
// chunks, then the checksum as a trailer.
TEST(AwsChunkedTest, DecodesBotocoreUnsignedTrailerBody) {
  const std::string body =
      "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
  auto decoded = DecodeAwsChunked(body, AwsExampleSeed(kStreamingUnsignedTrailer), 11);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->data, "hello world");
  ASSERT_EQ(decoded->trailers.size(), 1u);
  EXPECT_EQ(decoded->trailers[0].first, "x-amz-checksum-crc32");
  EXPECT_EQ(decoded->trailers[0].second, "DUoRhQ==");
}

TEST(AwsChunkedTest, SignedTrailerRoundTripsAndATamperedTrailerIsRejected) {
  const VerifiedRequest seed = AwsExampleSeed(kStreamingSignedTrailer);
  const std::string body = EncodeAwsChunkedForTest(std::string(70000, 'q'), 65536, seed,
                                                   {{"x-amz-checksum-crc32c", "sOO8/Q=="}});
  auto decoded = DecodeAwsChunked(body, seed, 70000);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->trailers.size(), 1u);
  EXPECT_EQ(decoded->trailers[0].second, "sOO8/Q==");

  std::string tampered = body;
  tampered.replace(tampered.find("sOO8/Q=="), 8, "AAAAAA==");
  EXPECT_EQ(DecodeAwsChunked(tampered, seed, 70000).status().code(),
            StatusCode::kUnauthenticated);

  std::string unsigned_trailer = body;
  unsigned_trailer.erase(unsigned_trailer.find("x-amz-trailer-signature"));
  unsigned_trailer += "\r\n";
  EXPECT_EQ(DecodeAwsChunked(unsigned_trailer, seed, 70000).status().code(),
            StatusCode::kUnauthenticated);
}

TEST(AwsChunkedTest, RecognisesOnlyStreamingPayloadHashes) {
  EXPECT_TRUE(IsAwsChunked(kStreamingSigned));
  EXPECT_TRUE(IsAwsChunked(kStreamingSignedTrailer));
  EXPECT_TRUE(IsAwsChunked(kStreamingUnsignedTrailer));
  EXPECT_FALSE(IsAwsChunked("UNSIGNED-PAYLOAD"));
  EXPECT_FALSE(IsAwsChunked("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}

}  // namespace
}  // namespace muon::auth
