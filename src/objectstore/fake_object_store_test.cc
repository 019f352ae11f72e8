#include "objectstore/fake_object_store.h"

#include <gtest/gtest.h>

#include "base/checksum.h"

namespace muon::objectstore {
namespace {

// The fake stands in for the local store in other components' tests, so its
// multipart checksums must come out the same way.
TEST(FakeObjectStoreTest, FullObjectUploadCombinesPartCrcs) {
  FakeObjectStore store;
  ASSERT_TRUE(store.CreateBucket("bkt").ok());
  PutOptions o;
  o.checksum_algorithm = ChecksumAlgorithm::kCrc32c;
  o.checksum_type = ChecksumType::kFullObject;
  auto u = store.CreateMultipart("bkt", "k", o);
  ASSERT_TRUE(u.ok());
  auto got = store.GetMultipart("bkt", u->upload_id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->options.checksum_type, ChecksumType::kFullObject);
  const std::string a(3000, 'a'), b = "tail";
  auto p1 = store.PutPart("bkt", u->upload_id, 1, a, {});
  auto p2 = store.PutPart("bkt", u->upload_id, 2, b, {});
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_EQ(p2->checksums.at(ChecksumAlgorithm::kCrc32c),
            ChecksumBase64(ChecksumAlgorithm::kCrc32c, b));
  auto done = store.CompleteMultipart("bkt", u->upload_id, {{1, p1->etag}, {2, p2->etag}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->checksum_type, ChecksumType::kFullObject);
  EXPECT_EQ(done->checksums,
            (std::map<ChecksumAlgorithm, std::string>{
                {ChecksumAlgorithm::kCrc32c, ChecksumBase64(ChecksumAlgorithm::kCrc32c, a + b)}}));
  EXPECT_EQ(store.Calls(FakeOp::kGetMultipart), 1);
}

TEST(FakeObjectStoreTest, UploadWithoutAlgorithmIsComposite) {
  FakeObjectStore store;
  ASSERT_TRUE(store.CreateBucket("bkt").ok());
  auto u = store.CreateMultipart("bkt", "k", {});
  ASSERT_TRUE(u.ok());
  auto p1 = store.PutPart("bkt", u->upload_id, 1, "abc", {});
  ASSERT_TRUE(p1.ok());
  EXPECT_TRUE(p1->checksums.empty());
  auto done = store.CompleteMultipart("bkt", u->upload_id, {{1, p1->etag}});
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->checksum_type, ChecksumType::kComposite);
}

}  // namespace
}  // namespace muon::objectstore
