#include "s3api/s3_util.h"

#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/env.h"
#include "objectstore/local_object_store.h"

namespace muon::s3api {
namespace {

TEST(UrlCodingTest, DecodesAndEncodes) {
  EXPECT_EQ(UrlDecode("a%2Fb%20c+d", false), "a/b c+d");
  EXPECT_EQ(UrlDecode("a%2Fb%20c+d", true), "a/b c d");
  EXPECT_EQ(UrlDecode("100%", false), "100%");
  EXPECT_EQ(UrlDecode("%zz", false), "%zz");
  EXPECT_EQ(UrlEncode("a b/c%\xc3\xa9", true), "a%20b/c%25%C3%A9");
  EXPECT_EQ(UrlEncode("a/b", false), "a%2Fb");
  auto q = ParseQuery("list-type=2&prefix=a%2Fb&uploads&max-keys=");
  EXPECT_EQ(q["list-type"], "2");
  EXPECT_EQ(q["prefix"], "a/b");
  EXPECT_EQ(q.count("uploads"), 1u);
  EXPECT_EQ(q["max-keys"], "");
}

TEST(DateTest, FormatsAndParses) {
  EXPECT_EQ(HttpDate(1'764'291'576'123), "Fri, 28 Nov 2025 00:59:36 GMT");
  EXPECT_EQ(IsoTime(1'764'291'576'123), "2025-11-28T00:59:36.123Z");
  EXPECT_EQ(ParseHttpDate("Fri, 28 Nov 2025 00:59:36 GMT"), 1'764'291'576);
  EXPECT_EQ(ParseHttpDate("2025-11-28T00:59:36.123Z"), 1'764'291'576);
  EXPECT_EQ(ParseHttpDate("yesterday"), std::nullopt);
}

TEST(RangeTest, ParsesS3Forms) {
  auto r = ParseRange("bytes=2-5", 10);
  EXPECT_EQ(r.kind, RangeSpec::kSatisfiable);
  EXPECT_EQ(r.first, 2u);
  EXPECT_EQ(r.last, 5u);
  r = ParseRange("bytes=7-", 10);
  EXPECT_EQ(r.first, 7u);
  EXPECT_EQ(r.last, 9u);
  r = ParseRange("bytes=-3", 10);
  EXPECT_EQ(r.first, 7u);
  EXPECT_EQ(r.last, 9u);
  r = ParseRange("bytes=-30", 10);
  EXPECT_EQ(r.first, 0u);
  r = ParseRange("bytes=5-100", 10);
  EXPECT_EQ(r.last, 9u);
  EXPECT_EQ(ParseRange("bytes=10-", 10).kind, RangeSpec::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-0", 10).kind, RangeSpec::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=5-2", 10).kind, RangeSpec::kNone);
  EXPECT_EQ(ParseRange("bytes=0-1,3-4", 10).kind, RangeSpec::kNone);
  EXPECT_EQ(ParseRange("items=0-1", 10).kind, RangeSpec::kNone);
}

TEST(AddressTest, PathAndVirtualHostStyles) {
  auto a = ResolveAddress("127.0.0.1:4566", "/bkt/a%2Fb/c%20d", {});
  EXPECT_EQ(a.bucket, "bkt");
  EXPECT_EQ(a.key, "a/b/c d");
  EXPECT_FALSE(a.virtual_host);
  a = ResolveAddress("bkt.localhost:4566", "/dir/key", {});
  EXPECT_EQ(a.bucket, "bkt");
  EXPECT_EQ(a.key, "dir/key");
  EXPECT_TRUE(a.virtual_host);
  a = ResolveAddress("my.bucket.s3.ap-southeast-2.localhost", "/k", {});
  EXPECT_EQ(a.bucket, "my.bucket");
  EXPECT_EQ(a.key, "k");
  a = ResolveAddress("s3.ap-southeast-2.localhost:4566", "/bkt/k", {});
  EXPECT_EQ(a.bucket, "bkt");
  EXPECT_FALSE(a.virtual_host);
  a = ResolveAddress("localhost:4566", "/", {});
  EXPECT_EQ(a.bucket, "");
  a = ResolveAddress("bkt.storage.example", "/k", {"storage.example"});
  EXPECT_EQ(a.bucket, "bkt");
  a = ResolveAddress("bkt.localhost", "/", {});
  EXPECT_EQ(a.bucket, "bkt");
  EXPECT_EQ(a.key, "");
}

class ListingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = objectstore::LocalObjectStore::Open("/o", env_.get(), &clock_);
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    ASSERT_TRUE(store_->CreateBucket("bkt").ok());
    for (const char* k : {"a/1", "a/2", "a/b/3", "b", "c/1", "c/2", "d"}) {
      ASSERT_TRUE(store_->Put("bkt", k, "x", {}).ok());
    }
  }
  std::unique_ptr<Env> env_ = NewMemEnv();
  FakeClock clock_;
  std::unique_ptr<objectstore::LocalObjectStore> store_;
};

TEST_F(ListingTest, RollsUpCommonPrefixesAndPages) {
  auto l = ListWithDelimiter(store_.get(), "bkt", "", "/", "", 1000);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->common_prefixes, (std::vector<std::string>{"a/", "c/"}));
  ASSERT_EQ(l->objects.size(), 2u);
  EXPECT_EQ(l->objects[0].key, "b");
  EXPECT_FALSE(l->truncated);

  std::vector<std::string> seen;
  std::string cursor;
  for (int pages = 0; pages < 10; ++pages) {
    auto p = ListWithDelimiter(store_.get(), "bkt", "", "/", cursor, 1);
    ASSERT_TRUE(p.ok());
    for (auto& cp : p->common_prefixes) seen.push_back(cp);
    for (auto& o : p->objects) seen.push_back(o.key);
    if (!p->truncated) break;
    cursor = p->next_cursor;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a/", "b", "c/", "d"}));

  auto sub = ListWithDelimiter(store_.get(), "bkt", "a/", "/", "", 1000);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->common_prefixes, std::vector<std::string>{"a/b/"});
  EXPECT_EQ(sub->objects.size(), 2u);
  auto none = ListWithDelimiter(store_.get(), "bkt", "", "/", "", 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->objects.empty());
}

}  // namespace
}  // namespace muon::s3api
