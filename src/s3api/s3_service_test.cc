#include "s3api/s3_service.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <pugixml.hpp>

#include "auth/aws_chunked.h"
#include "auth/static_credential_store.h"
#include "auth/test_util.h"
#include "base/checksum.h"
#include "objectstore/local_object_store.h"
#include "s3api/lifecycle.h"
#include "s3api/s3_util.h"

namespace muon::s3api {
namespace {

constexpr char kRegion[] = "ap-southeast-2";
constexpr int64_t kDayNs = 86'400'000'000'000;

// Refuses one action, allows the rest.
class DenyAction final : public auth::Authorizer {
 public:
  using Authorizer::Authorize;
  std::string action;
  mutable std::string last_resource;  // tests call one request at a time
  mutable auth::RequestKeys last_keys;
  Status Authorize(const auth::Caller& caller, std::string_view a, std::string_view resource,
                   const auth::RequestKeys& keys) const override {
    last_keys = keys;
    return Authorize(caller, a, resource);
  }
  Status Authorize(const auth::Caller&, std::string_view a, std::string_view resource) const override {
    last_resource = std::string(resource);
    if (a == action) return Status::PermissionDenied("denied by policy");
    return Status::Ok();
  }
};

class S3ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    creds_ = {"AKIDEXAMPLE00000000", "secret/key/EXAMPLE", ""};
    keys_.Add(creds_, "arn:aws:iam::000000000000:user/admin");
    auto store = objectstore::LocalObjectStore::Open("/objects", env_.get(), &clock_);
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    auto lc = LifecycleStore::Open("/lifecycle", env_.get());
    ASSERT_TRUE(lc.ok());
    lifecycle_ = std::move(lc).value();
    S3Options o;
    o.region = kRegion;
    o.worker_threads = 1;
    service_ = std::make_unique<S3Service>(store_.get(), lifecycle_.get(), &keys_, &authz_,
                                           &clock_, o);
    ASSERT_EQ(Call("PUT", "/bkt").status, 200);
  }

  http::Request MakeRequest(const std::string& method, const std::string& target,
                            std::string body = "",
                            std::vector<http::Header> headers = {}) {
    return auth::testing::MakeRequest(method, target, std::move(body), std::move(headers));
  }

  void SignRequest(http::Request& r, bool content_sha = true) {
    auth::testing::SignRequest(r, creds_,
                               {.region = kRegion, .service = "s3",
                                .now_seconds = clock_.NowSeconds(),
                                .add_content_sha256_header = content_sha, .s3_style_path = true});
  }

  http::Response Call(const std::string& method, const std::string& target, std::string body = "",
                      std::vector<http::Header> headers = {}) {
    http::Request r = MakeRequest(method, target, std::move(body), std::move(headers));
    SignRequest(r);
    return service_->Handle(r);
  }

  // An aws-chunked PUT of `data`; `tamper` flips one byte of the encoded data.
  http::Response ChunkedPut(const std::string& target, const std::string& data,
                            std::string_view payload_hash,
                            std::vector<std::pair<std::string, std::string>> trailers,
                            bool tamper) {
    std::vector<http::Header> headers = {
        {"x-amz-content-sha256", std::string(payload_hash)},
        {"Content-Encoding", "aws-chunked"},
        {"x-amz-decoded-content-length", std::to_string(data.size())}};
    if (!trailers.empty()) headers.emplace_back("x-amz-trailer", trailers[0].first);
    http::Request r = MakeRequest("PUT", target, "", headers);
    SignRequest(r, false);
    std::string auth(r.Header("Authorization"));
    auth::VerifiedRequest seed;
    seed.credentials = creds_;
    seed.region = kRegion;
    seed.service = "s3";
    seed.request_time = clock_.NowSeconds();
    seed.date = std::string(r.Header("X-Amz-Date")).substr(0, 8);
    seed.signature = auth.substr(auth.find("Signature=") + 10);
    seed.payload_hash = std::string(payload_hash);
    r.body = auth::EncodeAwsChunkedForTest(data, 1000, seed, trailers);
    if (tamper) {
      size_t at = r.body.find("\r\n") + 10;
      r.body[at] ^= 1;
    }
    return service_->Handle(r);
  }

  std::string Code(const http::Response& r) {
    pugi::xml_document doc;
    doc.load_buffer(r.body.data(), r.body.size());
    return doc.child("Error").child_value("Code");
  }

  // CreateMultipartUpload with `headers`; the upload id, or "" when refused.
  std::string CreateUpload(const std::string& key, std::vector<http::Header> headers,
                           http::Response* reply = nullptr) {
    auto r = Call("POST", "/bkt/" + key + "?uploads", "", std::move(headers));
    if (reply) *reply = r;
    pugi::xml_document doc;
    doc.load_buffer(r.body.data(), r.body.size());
    return doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  }

  // UploadPart; the part's ETag, quoted as the reply gives it.
  std::string UploadPart(const std::string& key, const std::string& id, int n,
                         const std::string& data, std::vector<http::Header> headers = {},
                         http::Response* reply = nullptr) {
    auto r = Call("PUT", fmt::format("/bkt/{}?partNumber={}&uploadId={}", key, n, id), data,
                  std::move(headers));
    if (reply) *reply = r;
    EXPECT_EQ(r.status, 200) << r.body;
    return HeaderOf(r, "ETag");
  }

  http::Response Complete(const std::string& key, const std::string& id,
                          const std::vector<std::string>& etags,
                          std::vector<http::Header> headers = {}) {
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < etags.size(); ++i) {
      xml +=
          fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1, etags[i]);
    }
    xml += "</CompleteMultipartUpload>";
    return Call("POST", fmt::format("/bkt/{}?uploadId={}", key, id), xml, std::move(headers));
  }

  std::string XmlValue(const http::Response& r, const char* root, const char* child) {
    pugi::xml_document doc;
    doc.load_buffer(r.body.data(), r.body.size());
    return doc.child(root).child_value(child);
  }

  std::string HeaderOf(const http::Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k.size() == name.size() && strncasecmp(k.c_str(), name.data(), k.size()) == 0) return v;
    }
    return "";
  }

  std::unique_ptr<Env> env_ = NewMemEnv();
  FakeClock clock_{1'764'288'000'000'000'000};  // 2025-11-28T00:00:00Z
  auth::Credentials creds_;
  auth::StaticCredentialStore keys_;
  DenyAction authz_;
  std::unique_ptr<objectstore::LocalObjectStore> store_;
  std::unique_ptr<LifecycleStore> lifecycle_;
  std::unique_ptr<S3Service> service_;
};

TEST_F(S3ServiceTest, PutThenGetWithChecksumHeader) {
  std::string crc = ChecksumBase64(ChecksumAlgorithm::kCrc32, "hello");
  auto put = Call("PUT", "/bkt/greet", "hello", {{"x-amz-checksum-crc32", crc}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(HeaderOf(put, "ETag"), "\"5d41402abc4b2a76b9719d911017c592\"");
  EXPECT_EQ(HeaderOf(put, "x-amz-checksum-crc32"), crc);
  auto get = Call("GET", "/bkt/greet", "", {{"x-amz-checksum-mode", "ENABLED"}});
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "hello");
  EXPECT_EQ(HeaderOf(get, "x-amz-checksum-crc32"), crc);
  EXPECT_EQ(HeaderOf(get, "Content-Type"), "binary/octet-stream");
}

TEST_F(S3ServiceTest, WrongChecksumHeaderStoresNothing) {
  auto put = Call("PUT", "/bkt/k", "hello",
                  {{"x-amz-checksum-sha256", ChecksumBase64(ChecksumAlgorithm::kSha256, "other")}});
  EXPECT_EQ(put.status, 400);
  EXPECT_EQ(Code(put), "BadDigest");
  EXPECT_EQ(store_->Head("bkt", "k").status().code(), StatusCode::kNotFound);
}

TEST_F(S3ServiceTest, SignedChunkedUploadIsStored) {
  std::string data(5000, 'x');
  auto r = ChunkedPut("/bkt/chunked", data, auth::kStreamingSigned, {}, false);
  ASSERT_EQ(r.status, 200) << r.body;
  auto obj = store_->Get("bkt", "chunked");
  ASSERT_TRUE(obj.ok());
  EXPECT_EQ(obj->data, data);
  EXPECT_TRUE(obj->meta.content_encoding.empty());  // aws-chunked is not the object's encoding
}

TEST_F(S3ServiceTest, WrongChunkSignatureStoresNothing) {
  auto r = ChunkedPut("/bkt/chunked", std::string(5000, 'x'), auth::kStreamingSigned, {}, true);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Code(r), "SignatureDoesNotMatch");
  EXPECT_EQ(store_->Head("bkt", "chunked").status().code(), StatusCode::kNotFound);
}

TEST_F(S3ServiceTest, TrailerChecksumVerifiedAndStored) {
  std::string data(3000, 'y');
  std::string crc = ChecksumBase64(ChecksumAlgorithm::kCrc32c, data);
  auto r = ChunkedPut("/bkt/t", data, auth::kStreamingSignedTrailer,
                      {{"x-amz-checksum-crc32c", crc}}, false);
  ASSERT_EQ(r.status, 200) << r.body;
  auto head = store_->Head("bkt", "t");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->checksums.at(ChecksumAlgorithm::kCrc32c), crc);

  auto bad = ChunkedPut("/bkt/t2", data, auth::kStreamingUnsignedTrailer,
                        {{"x-amz-checksum-crc32c", ChecksumBase64(ChecksumAlgorithm::kCrc32c, "no")}},
                        false);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Code(bad), "BadDigest");
  EXPECT_EQ(store_->Head("bkt", "t2").status().code(), StatusCode::kNotFound);
}

TEST_F(S3ServiceTest, AuthorizerIsAskedWithS3ActionAndArn) {
  authz_.action = "s3:GetObject";
  ASSERT_EQ(Call("PUT", "/bkt/a/b.txt", "x").status, 200);
  EXPECT_EQ(authz_.last_resource, "arn:aws:s3:::bkt/a/b.txt");
  auto get = Call("GET", "/bkt/a/b.txt");
  EXPECT_EQ(get.status, 403);
  EXPECT_EQ(Code(get), "AccessDenied");
  ASSERT_EQ(Call("GET", "/bkt?list-type=2&prefix=a%2F&delimiter=%2F").status, 200);
  EXPECT_EQ(authz_.last_resource, "arn:aws:s3:::bkt");
  EXPECT_EQ(authz_.last_keys,
            (auth::RequestKeys{{"s3:prefix", "a/"}, {"s3:delimiter", "/"}}));
}

TEST_F(S3ServiceTest, UnsignedAndBadlySignedRequestsAreRefused) {
  http::Request r = MakeRequest("GET", "/bkt/k");
  auto anon = service_->Handle(r);
  EXPECT_EQ(anon.status, 403);
  EXPECT_EQ(Code(anon), "AccessDenied");
  http::Request s = MakeRequest("GET", "/bkt/k");
  SignRequest(s);
  s.path = "/bkt/other";
  auto bad = service_->Handle(s);
  EXPECT_EQ(bad.status, 403);
  EXPECT_EQ(Code(bad), "SignatureDoesNotMatch");
}

TEST_F(S3ServiceTest, ExpiredSessionCredentialsAreExpiredToken) {
  auth::testing::ExpiredSessions expired;
  S3Options o;
  o.region = kRegion;
  o.worker_threads = 1;
  S3Service s3(store_.get(), lifecycle_.get(), &expired, &authz_, &clock_, o);
  http::Request r = MakeRequest("GET", "/bkt/k");
  creds_ = {"ASIAEXAMPLE000000000", "secret/key/EXAMPLE", "token"};
  SignRequest(r);
  auto reply = s3.Handle(r);
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(Code(reply), "ExpiredToken");
}

TEST_F(S3ServiceTest, ErrorsHaveS3Shapes) {
  EXPECT_EQ(Code(Call("GET", "/nobucket/k")), "NoSuchBucket");
  auto missing = Call("GET", "/bkt/k");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Code(missing), "NoSuchKey");
  auto head = Call("HEAD", "/bkt/k");
  EXPECT_EQ(head.status, 404);
  EXPECT_TRUE(head.body.empty());
  ASSERT_EQ(Call("PUT", "/bkt/k", "0123456789").status, 200);
  auto range = Call("GET", "/bkt/k", "", {{"Range", "bytes=10-"}});
  EXPECT_EQ(range.status, 416);
  EXPECT_EQ(Code(range), "InvalidRange");
  auto full = Call("DELETE", "/bkt");
  EXPECT_EQ(full.status, 409);
  EXPECT_EQ(Code(full), "BucketNotEmpty");
  EXPECT_EQ(Code(Call("PUT", "/bkt")), "BucketAlreadyOwnedByYou");
  EXPECT_EQ(Code(Call("GET", "/bkt/k?uploadId=nope")), "NoSuchUpload");
  auto pre = Call("GET", "/bkt/k", "", {{"If-Match", "\"abc\""}});
  EXPECT_EQ(pre.status, 412);
  EXPECT_EQ(Code(pre), "PreconditionFailed");
}

TEST_F(S3ServiceTest, ListObjectsV2WithUrlEncoding) {
  for (const char* k : {"a b/1", "a b/2", "c%d", "z"}) ASSERT_EQ(Call("PUT", std::string("/bkt/") + UrlEncode(k, true), "x").status, 200);
  auto r = Call("GET", "/bkt?list-type=2&delimiter=%2F&encoding-type=url&max-keys=2");
  ASSERT_EQ(r.status, 200) << r.body;
  pugi::xml_document doc;
  doc.load_buffer(r.body.data(), r.body.size());
  auto root = doc.child("ListBucketResult");
  EXPECT_STREQ(root.child("CommonPrefixes").child_value("Prefix"), "a%20b/");
  EXPECT_STREQ(root.child("Contents").child_value("Key"), "c%25d");
  EXPECT_STREQ(root.child_value("IsTruncated"), "true");
  EXPECT_STREQ(root.child_value("KeyCount"), "2");
  std::string token = root.child_value("NextContinuationToken");
  auto next = Call("GET", "/bkt?list-type=2&delimiter=%2F&continuation-token=" + UrlEncode(token, false));
  doc.load_buffer(next.body.data(), next.body.size());
  EXPECT_STREQ(doc.child("ListBucketResult").child("Contents").child_value("Key"), "z");
  EXPECT_STREQ(doc.child("ListBucketResult").child_value("IsTruncated"), "false");
}

TEST_F(S3ServiceTest, LifecycleSweepExpiresByPrefixAndAge) {
  ASSERT_EQ(Call("PUT", "/bkt/raw/old", "x").status, 200);
  ASSERT_EQ(Call("PUT", "/bkt/keep/old", "x").status, 200);
  std::string xml =
      "<LifecycleConfiguration><Rule><ID>raw</ID><Filter><Prefix>raw/</Prefix></Filter>"
      "<Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>"
      "</LifecycleConfiguration>";
  ASSERT_EQ(Call("PUT", "/bkt?lifecycle", xml).status, 200);
  clock_.Advance(kDayNs);
  ASSERT_EQ(Call("PUT", "/bkt/raw/new", "x").status, 200);
  auto none = service_->SweepLifecycle();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
  // Two days after the first put: expired at the next midnight UTC after that.
  clock_.Advance(kDayNs);
  auto swept = service_->SweepLifecycle();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 1u);
  EXPECT_EQ(store_->Head("bkt", "raw/old").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->Head("bkt", "raw/new").ok());
  EXPECT_TRUE(store_->Head("bkt", "keep/old").ok());
  clock_.Advance(kDayNs);
  EXPECT_EQ(*service_->SweepLifecycle(), 1u);
  EXPECT_TRUE(store_->Head("bkt", "keep/old").ok());
  auto got = Call("GET", "/bkt?lifecycle");
  EXPECT_NE(got.body.find("<Days>2</Days>"), std::string::npos) << got.body;
  EXPECT_EQ(Call("DELETE", "/bkt?lifecycle").status, 204);
  EXPECT_EQ(Code(Call("GET", "/bkt?lifecycle")), "NoSuchLifecycleConfiguration");
}

TEST_F(S3ServiceTest, LifecycleAbortsOldIncompleteUploads) {
  auto init = Call("POST", "/bkt/big?uploads");
  ASSERT_EQ(init.status, 200);
  std::string xml =
      "<LifecycleConfiguration><Rule><ID>mpu</ID><Filter><Prefix></Prefix></Filter>"
      "<Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1"
      "</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>";
  ASSERT_EQ(Call("PUT", "/bkt?lifecycle", xml).status, 200);
  ASSERT_TRUE(service_->SweepLifecycle().ok());
  EXPECT_EQ(store_->ListMultipartUploads("bkt")->size(), 1u);
  clock_.Advance(kDayNs);
  ASSERT_TRUE(service_->SweepLifecycle().ok());
  EXPECT_TRUE(store_->ListMultipartUploads("bkt")->empty());
}

// Part 1 at the 5 MiB minimum, part 2 short: what a real client sends.
const std::string& PartOne() {
  static const std::string part(5 << 20, 'm');
  return part;
}
const std::string kPartTwo = "the last part of a muon batch file\n";

TEST_F(S3ServiceTest, FullObjectUploadStoresCombinedCrcAndReturnsItWithItsType) {
  http::Response init;
  const std::string id = CreateUpload(
      "big", {{"x-amz-checksum-algorithm", "CRC32"}, {"x-amz-checksum-type", "FULL_OBJECT"}},
      &init);
  ASSERT_FALSE(id.empty()) << init.body;
  EXPECT_EQ(HeaderOf(init, "x-amz-checksum-algorithm"), "CRC32");
  EXPECT_EQ(HeaderOf(init, "x-amz-checksum-type"), "FULL_OBJECT");
  const std::string e1 =
      UploadPart("big", id, 1, PartOne(),
                 {{"x-amz-checksum-crc32", ChecksumBase64(ChecksumAlgorithm::kCrc32, PartOne())}});
  http::Response part2;
  const std::string e2 = UploadPart("big", id, 2, kPartTwo, {}, &part2);
  // A part sent without a checksum gets the upload's, computed.
  EXPECT_EQ(HeaderOf(part2, "x-amz-checksum-crc32"),
            ChecksumBase64(ChecksumAlgorithm::kCrc32, kPartTwo));
  auto list = Call("GET", "/bkt/big?uploadId=" + id);
  EXPECT_EQ(XmlValue(list, "ListPartsResult", "ChecksumAlgorithm"), "CRC32");
  EXPECT_EQ(XmlValue(list, "ListPartsResult", "ChecksumType"), "FULL_OBJECT");

  const std::string whole = ChecksumBase64(ChecksumAlgorithm::kCrc32, PartOne() + kPartTwo);
  auto done =
      Complete("big", id, {e1, e2},
               {{"x-amz-checksum-crc32", whole},
                {"x-amz-checksum-type", "FULL_OBJECT"},
                {"x-amz-mp-object-size", std::to_string(PartOne().size() + kPartTwo.size())}});
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(XmlValue(done, "CompleteMultipartUploadResult", "ChecksumCRC32"), whole);
  EXPECT_EQ(XmlValue(done, "CompleteMultipartUploadResult", "ChecksumType"), "FULL_OBJECT");
  for (const char* method : {"HEAD", "GET"}) {
    auto r = Call(method, "/bkt/big", "", {{"x-amz-checksum-mode", "ENABLED"}});
    EXPECT_EQ(r.status, 200) << method;
    EXPECT_EQ(HeaderOf(r, "x-amz-checksum-crc32"), whole) << method;
    EXPECT_EQ(HeaderOf(r, "x-amz-checksum-type"), "FULL_OBJECT") << method;
  }
  // The copy is a single put of the same bytes: the checksum still holds.
  auto copy = Call("PUT", "/bkt/copy", "", {{"x-amz-copy-source", "/bkt/big"}});
  EXPECT_EQ(XmlValue(copy, "CopyObjectResult", "ChecksumCRC32"), whole) << copy.body;
}

TEST_F(S3ServiceTest, WrongFullObjectChecksumIsBadDigestAndStoresNothing) {
  const std::string id = CreateUpload(
      "big", {{"x-amz-checksum-algorithm", "CRC32C"}, {"x-amz-checksum-type", "FULL_OBJECT"}});
  ASSERT_FALSE(id.empty());
  const std::string e1 = UploadPart("big", id, 1, PartOne());
  const std::string e2 = UploadPart("big", id, 2, kPartTwo);
  auto wrong = Complete("big", id, {e1, e2},
                        {{"x-amz-checksum-crc32c",
                          ChecksumBase64(ChecksumAlgorithm::kCrc32c, kPartTwo + PartOne())}});
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(Code(wrong), "BadDigest") << wrong.body;
  EXPECT_EQ(store_->Head("bkt", "big").status().code(), StatusCode::kNotFound);
  // The type the upload was not created with, and a wrong total size.
  EXPECT_EQ(Code(Complete("big", id, {e1, e2}, {{"x-amz-checksum-type", "COMPOSITE"}})),
            "BadDigest");
  EXPECT_EQ(Code(Complete("big", id, {e1, e2}, {{"x-amz-mp-object-size", "5"}})), "InvalidRequest");
  EXPECT_EQ(Code(Complete("big", id, {e1, e2},
                          {{"x-amz-checksum-crc32",
                            ChecksumBase64(ChecksumAlgorithm::kCrc32, PartOne() + kPartTwo)}})),
            "InvalidRequest");
  EXPECT_EQ(store_->Head("bkt", "big").status().code(), StatusCode::kNotFound);
  // The upload is still there: the right checksum completes it.
  const std::string whole = ChecksumBase64(ChecksumAlgorithm::kCrc32c, PartOne() + kPartTwo);
  auto done = Complete("big", id, {e1, e2}, {{"x-amz-checksum-crc32c", whole}});
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(store_->Head("bkt", "big")->checksums.at(ChecksumAlgorithm::kCrc32c), whole);
}

TEST_F(S3ServiceTest, ChecksumTypeThatCannotHoldIsRefusedAtCreate) {
  http::Response r;
  EXPECT_EQ(
      CreateUpload("k",
                   {{"x-amz-checksum-algorithm", "SHA256"}, {"x-amz-checksum-type", "FULL_OBJECT"}},
                   &r),
      "");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Code(r), "InvalidRequest");
  CreateUpload("k", {{"x-amz-checksum-algorithm", "SHA1"}, {"x-amz-checksum-type", "FULL_OBJECT"}},
               &r);
  EXPECT_EQ(Code(r), "InvalidRequest");
  CreateUpload(
      "k", {{"x-amz-checksum-algorithm", "CRC64NVME"}, {"x-amz-checksum-type", "COMPOSITE"}}, &r);
  EXPECT_EQ(Code(r), "InvalidRequest");
  CreateUpload("k", {{"x-amz-checksum-type", "FULL_OBJECT"}}, &r);
  EXPECT_EQ(Code(r), "InvalidRequest");
  CreateUpload("k", {{"x-amz-checksum-algorithm", "CRC32"}, {"x-amz-checksum-type", "WHOLE"}}, &r);
  EXPECT_EQ(Code(r), "InvalidRequest");
  EXPECT_TRUE(store_->ListMultipartUploads("bkt")->empty());
}

TEST_F(S3ServiceTest, Crc64NvmeUploadDefaultsToFullObject) {
  http::Response init;
  const std::string id = CreateUpload("k", {{"x-amz-checksum-algorithm", "CRC64NVME"}}, &init);
  ASSERT_FALSE(id.empty()) << init.body;
  EXPECT_EQ(HeaderOf(init, "x-amz-checksum-type"), "FULL_OBJECT");
  const std::string e1 = UploadPart("k", id, 1, PartOne());
  const std::string e2 = UploadPart("k", id, 2, kPartTwo);
  auto done = Complete("k", id, {e1, e2});  // no whole-object checksum sent: nothing to compare
  ASSERT_EQ(done.status, 200) << done.body;
  auto head = Call("HEAD", "/bkt/k", "", {{"x-amz-checksum-mode", "ENABLED"}});
  EXPECT_EQ(HeaderOf(head, "x-amz-checksum-crc64nvme"),
            ChecksumBase64(ChecksumAlgorithm::kCrc64Nvme, PartOne() + kPartTwo));
  EXPECT_EQ(HeaderOf(head, "x-amz-checksum-type"), "FULL_OBJECT");
}

TEST_F(S3ServiceTest, CompositeUploadIsUnchanged) {
  http::Response init;
  const std::string id = CreateUpload("k", {{"x-amz-checksum-algorithm", "CRC32"}}, &init);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(HeaderOf(init, "x-amz-checksum-type"), "COMPOSITE");
  const std::string c1 = ChecksumBase64(ChecksumAlgorithm::kCrc32, PartOne());
  const std::string c2 = ChecksumBase64(ChecksumAlgorithm::kCrc32, kPartTwo);
  const std::string e1 = UploadPart("k", id, 1, PartOne(), {{"x-amz-checksum-crc32", c1}});
  const std::string e2 = UploadPart("k", id, 2, kPartTwo, {{"x-amz-checksum-crc32", c2}});
  auto done = Complete("k", id, {e1, e2});
  ASSERT_EQ(done.status, 200) << done.body;
  const std::string composite =
      ChecksumBase64(ChecksumAlgorithm::kCrc32,
                     ChecksumRaw(ChecksumAlgorithm::kCrc32, PartOne()) +
                         ChecksumRaw(ChecksumAlgorithm::kCrc32, kPartTwo)) +
      "-2";
  EXPECT_EQ(XmlValue(done, "CompleteMultipartUploadResult", "ChecksumCRC32"), composite);
  EXPECT_EQ(XmlValue(done, "CompleteMultipartUploadResult", "ChecksumType"), "COMPOSITE");
  auto head = Call("HEAD", "/bkt/k", "", {{"x-amz-checksum-mode", "ENABLED"}});
  EXPECT_EQ(HeaderOf(head, "x-amz-checksum-crc32"), composite);
  EXPECT_EQ(HeaderOf(head, "x-amz-checksum-type"), "COMPOSITE");
}

TEST(LifecycleTest, ParseRejectsWhatIsNotSupported) {
  EXPECT_FALSE(ParseLifecycleXml("not xml <").ok());
  EXPECT_FALSE(ParseLifecycleXml("<LifecycleConfiguration/>").ok());
  EXPECT_FALSE(ParseLifecycleXml("<LifecycleConfiguration><Rule><Status>Enabled</Status>"
                                 "<Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter>"
                                 "<Expiration><Days>1</Days></Expiration></Rule>"
                                 "</LifecycleConfiguration>")
                   .ok());
  EXPECT_FALSE(ParseLifecycleXml("<LifecycleConfiguration><Rule><Status>Enabled</Status>"
                                 "<Expiration><Days>0</Days></Expiration></Rule>"
                                 "</LifecycleConfiguration>")
                   .ok());
  auto legacy = ParseLifecycleXml(
      "<LifecycleConfiguration><Rule><Prefix>logs/</Prefix><Status>Disabled</Status>"
      "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration></Rule>"
      "</LifecycleConfiguration>");
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  EXPECT_EQ((*legacy)[0].prefix, "logs/");
  EXPECT_FALSE((*legacy)[0].enabled);
  EXPECT_EQ(*(*legacy)[0].expiration_date_ms, 1'893'456'000'000);
  auto round = ParseLifecycleXml(LifecycleXml(*legacy));
  ASSERT_TRUE(round.ok());
  EXPECT_EQ((*round)[0].expiration_date_ms, (*legacy)[0].expiration_date_ms);
}

TEST(LifecycleTest, ExpiryRoundsUpToMidnightUtc) {
  const int64_t day = 86'400'000;
  EXPECT_EQ(ExpiryForDays(10 * day + 1, 1), 12 * day);
  EXPECT_EQ(ExpiryForDays(10 * day, 1), 11 * day);
}

}  // namespace
}  // namespace muon::s3api
