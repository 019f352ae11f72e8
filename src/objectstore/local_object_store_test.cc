#include "objectstore/local_object_store.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "base/fault_env.h"
#include "base/metrics.h"
#include "objectstore/dir_syncer.h"

namespace muon::objectstore {
namespace {

constexpr char kDir[] = "/data/objects";

std::string Payload(const std::string& tag, size_t size) {
  std::string d = tag + ":";
  while (d.size() < size) d += static_cast<char>('a' + (d.size() * 7) % 26);
  return d;
}

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    Reopen();
    ASSERT_TRUE(store_->CreateBucket("bkt").ok());
  }

  void Reopen() {
    store_.reset();
    auto s = LocalObjectStore::Open(kDir, &env_, &clock_, options_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  // Power loss: nothing the shutdown path does can become durable.
  void CrashAndReopen() {
    env_.SetFilesystemActive(false);
    store_.reset();
    env_.SimulateCrash();
    env_.SetFilesystemActive(true);
    Reopen();
  }

  Result<ObjectMeta> Put(const std::string& key, const std::string& data,
                         PutOptions options = {}) {
    return store_->Put("bkt", key, data, options);
  }

  std::string GetData(const std::string& key) {
    auto o = store_->Get("bkt", key);
    return o.ok() ? o->data : "<" + o.status().ToString() + ">";
  }

  std::vector<std::string> Keys(ListOptions options = {}) {
    std::vector<std::string> out;
    auto page = store_->List("bkt", options);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (page.ok()) {
      for (const auto& m : page->objects) out.push_back(m.key);
    }
    return out;
  }

  size_t FilesIn(const std::string& dir) {
    auto names = env_.ListDir(dir);
    return names.ok() ? names->size() : 0;
  }

  std::unique_ptr<Env> base_ = NewMemEnv();
  FaultInjectionEnv env_{base_.get()};
  FakeClock clock_;
  LocalObjectStoreOptions options_;
  std::unique_ptr<LocalObjectStore> store_;
};

// Every behaviour of the store, with small objects packed into segments (the
// default) and with every object in a file of its own.
class LocalObjectStoreTest : public StoreFixture, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    if (!GetParam()) options_.small_object_max = 0;
    StoreFixture::SetUp();
  }
};

INSTANTIATE_TEST_SUITE_P(Forms, LocalObjectStoreTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Segments" : "Files"; });

// Behaviour of the one-file-per-object form.
class ObjectFileTest : public StoreFixture {
 protected:
  ObjectFileTest() { options_.small_object_max = 0; }
};

TEST_P(LocalObjectStoreTest, PutThenGetReturnsDataAndMetadata) {
  PutOptions o;
  o.content_type = "text/plain";
  o.cache_control = "no-cache";
  o.user_metadata["detector"] = "d-1";
  o.checksums[ChecksumAlgorithm::kCrc32] = "NhCmhg==";
  auto put = Put("greeting", "hello", o);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->etag, "5d41402abc4b2a76b9719d911017c592");  // MD5("hello")
  EXPECT_EQ(put->size, 5u);
  EXPECT_EQ(put->last_modified_ms, clock_.NowMillis());

  auto got = store_->Get("bkt", "greeting");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->data, "hello");
  EXPECT_EQ(got->meta.etag, put->etag);
  EXPECT_EQ(got->meta.content_type, "text/plain");
  EXPECT_EQ(got->meta.cache_control, "no-cache");
  EXPECT_EQ(got->meta.user_metadata.at("detector"), "d-1");
  EXPECT_EQ(got->meta.checksums.at(ChecksumAlgorithm::kCrc32), "NhCmhg==");

  auto head = store_->Head("bkt", "greeting");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->etag, put->etag);
  EXPECT_EQ(head->size, 5u);
}

TEST_P(LocalObjectStoreTest, GetRangeReturnsOnlyThoseBytes) {
  ASSERT_TRUE(Put("k", "0123456789").ok());
  auto r = store_->Get("bkt", "k", ByteRange{2, 5});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->data, "2345");
  EXPECT_EQ(r->meta.size, 10u);
  auto past = store_->Get("bkt", "k", ByteRange{5, 10});
  EXPECT_EQ(past.status().code(), StatusCode::kInvalidArgument);
}

TEST_P(LocalObjectStoreTest, LargeObjectAndRangeBeyondFirstRead) {
  std::string big = Payload("big", 3 << 20);
  ASSERT_TRUE(Put("big", big).ok());
  EXPECT_EQ(GetData("big"), big);
  auto r = store_->Get("bkt", "big", ByteRange{(2 << 20) + 5, (2 << 20) + 104});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->data, big.substr((2 << 20) + 5, 100));
}

TEST_P(LocalObjectStoreTest, KeysThatLookLikePathsAreDistinctAndSafe) {
  const std::vector<std::string> keys = {
      "a/b", "a/b/", "../../etc/passwd", "..", ".", "%2F%2e%2e", "a//b", "/lead",
      std::string(1024, 'x'), "sp ace", "\xc3\xa9t\xc3\xa9", "a\nb"};
  for (const auto& k : keys) ASSERT_TRUE(Put(k, "v:" + k).ok()) << k;
  for (const auto& k : keys) EXPECT_EQ(GetData(k), "v:" + k) << k;
  std::vector<std::string> sorted(keys);
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(Keys(), sorted);
  // Nothing escaped the bucket's objects directory.
  EXPECT_FALSE(env_.FileExists("/data/etc/passwd"));
  if (!GetParam()) {
    EXPECT_EQ(FilesIn(std::string(kDir) + "/buckets/bkt/objects"), keys.size());
  }
  Reopen();
  EXPECT_EQ(Keys(), sorted);
}

TEST_P(LocalObjectStoreTest, RejectsInvalidKeys) {
  EXPECT_EQ(Put("", "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Put(std::string(1025, 'k'), "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Put("bad\xff", "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Put("\xc0\xaf", "x").status().code(), StatusCode::kInvalidArgument);  // overlong '/'
}

TEST_P(LocalObjectStoreTest, MissingThingsAreNotFoundNamedForTheEdge) {
  auto b = store_->Get("nope", "k");
  EXPECT_EQ(b.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(b.status().message().rfind("bucket", 0), 0u);
  auto k = store_->Get("bkt", "k");
  EXPECT_EQ(k.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(k.status().message().rfind("key", 0), 0u);
  auto u = store_->ListParts("bkt", "0123");
  EXPECT_EQ(u.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(u.status().message().rfind("upload", 0), 0u);
  EXPECT_TRUE(store_->Delete("bkt", "never-there").ok());
}

TEST_P(LocalObjectStoreTest, BucketLifecycle) {
  EXPECT_EQ(store_->CreateBucket("bkt").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CreateBucket("Bad_Name").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CreateBucket("192.168.1.1").code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->CreateBucket("alpha").ok());
  auto list = store_->ListBuckets();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "alpha");
  EXPECT_EQ((*list)[1].name, "bkt");
  ASSERT_TRUE(Put("k", "v").ok());
  EXPECT_EQ(store_->DeleteBucket("bkt").code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->Delete("bkt", "k").ok());
  ASSERT_TRUE(store_->DeleteBucket("bkt").ok());
  EXPECT_EQ(store_->HeadBucket("bkt").status().code(), StatusCode::kNotFound);
  CrashAndReopen();
  EXPECT_EQ(store_->HeadBucket("bkt").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->HeadBucket("alpha").ok());
  // The name can be used again, and starts empty.
  ASSERT_TRUE(store_->CreateBucket("bkt").ok());
  EXPECT_TRUE(Keys().empty());
}

TEST_P(LocalObjectStoreTest, ListPagesByPrefixAndStartAfter) {
  for (const char* k : {"a", "b/1", "b/2", "b/3", "b0", "c"}) ASSERT_TRUE(Put(k, k).ok());
  ListOptions o;
  o.prefix = "b/";
  EXPECT_EQ(Keys(o), (std::vector<std::string>{"b/1", "b/2", "b/3"}));
  o.max_keys = 2;
  auto page = store_->List("bkt", o);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->objects.size(), 2u);
  EXPECT_TRUE(page->truncated);
  o.start_after = "b/2";
  page = store_->List("bkt", o);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].key, "b/3");
  EXPECT_FALSE(page->truncated);
  ListOptions all;
  all.start_after = "b/3";
  EXPECT_EQ(Keys(all), (std::vector<std::string>{"b0", "c"}));
  ListOptions before;  // start_after sorting before the prefix
  before.prefix = "b";
  before.start_after = "a";
  EXPECT_EQ(Keys(before), (std::vector<std::string>{"b/1", "b/2", "b/3", "b0"}));
}

TEST_P(LocalObjectStoreTest, ListsManyKeysInOrderAfterReopen) {
  std::vector<std::string> keys;
  for (int i = 0; i < 3000; ++i) keys.push_back("k/" + std::to_string(i * 7919 % 3001));
  for (const auto& k : keys) ASSERT_TRUE(Put(k, "x").ok());
  Reopen();
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> seen;
  ListOptions o;
  o.max_keys = 1000;
  for (;;) {
    auto page = store_->List("bkt", o);
    ASSERT_TRUE(page.ok());
    for (const auto& m : page->objects) seen.push_back(m.key);
    if (!page->truncated) break;
    o.start_after = seen.back();
  }
  EXPECT_EQ(seen, keys);
}

TEST_P(LocalObjectStoreTest, IfNoneMatchRefusesExistingKey) {
  PutOptions o;
  o.if_none_match_any = true;
  ASSERT_TRUE(Put("k", "first", o).ok());
  EXPECT_EQ(Put("k", "second", o).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(GetData("k"), "first");
}

TEST_P(LocalObjectStoreTest, AcknowledgedPutsSurviveCrash) {
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(Put("k" + std::to_string(i), Payload(std::to_string(i), 1000 + i)).ok());
  }
  ASSERT_TRUE(Put("k7", "overwritten").ok());
  ASSERT_TRUE(store_->Delete("bkt", "k8").ok());
  CrashAndReopen();
  for (int i = 0; i < 50; ++i) {
    if (i == 7 || i == 8) continue;
    EXPECT_EQ(GetData("k" + std::to_string(i)), Payload(std::to_string(i), 1000 + i));
  }
  EXPECT_EQ(GetData("k7"), "overwritten");
  EXPECT_EQ(store_->Head("bkt", "k8").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Keys().size(), 49u);
}

TEST_P(LocalObjectStoreTest, PutPiecesStoresThePiecesBackToBackDurably) {
  std::string a = Payload("a", 70000), b = Payload("b", 3), c = Payload("c", 100000);
  auto put = store_->PutPieces("bkt", "k", {a, "", b, c}, {});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  auto whole = Put("same", a + b + c);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(put->size, a.size() + b.size() + c.size());
  EXPECT_EQ(put->etag, whole->etag);  // MD5 of the joined data
  CrashAndReopen();
  EXPECT_EQ(GetData("k"), a + b + c);
  EXPECT_EQ(store_->Head("bkt", "k")->etag, whole->etag);
}

TEST_P(LocalObjectStoreTest, PutPiecesTornWriteLeavesOldObject) {
  ASSERT_TRUE(Put("k", "old").ok());
  env_.FailNthWrite(3);  // the second piece of the next put
  EXPECT_FALSE(store_->PutPieces("bkt", "k", {Payload("p1", 5000), Payload("p2", 5000)}, {}).ok());
  EXPECT_EQ(GetData("k"), "old");
  EXPECT_EQ(FilesIn(std::string(kDir) + "/buckets/bkt/tmp"), 0u);
  CrashAndReopen();
  EXPECT_EQ(GetData("k"), "old");
}

TEST_P(LocalObjectStoreTest, FailedSyncLeavesOldObject) {
  ASSERT_TRUE(Put("k", "old").ok());
  env_.FailNthSync(1);
  EXPECT_FALSE(Put("k", "new").ok());
  EXPECT_EQ(GetData("k"), "old");
  EXPECT_EQ(FilesIn(std::string(kDir) + "/buckets/bkt/tmp"), 0u);
  CrashAndReopen();
  EXPECT_EQ(GetData("k"), "old");
}

TEST_F(ObjectFileTest, FailedRenameLeavesOldObject) {
  ASSERT_TRUE(Put("k", "old").ok());
  env_.FailNthRename(1);
  EXPECT_FALSE(Put("k", "new").ok());
  EXPECT_EQ(GetData("k"), "old");
  EXPECT_EQ(FilesIn(std::string(kDir) + "/buckets/bkt/tmp"), 0u);
  CrashAndReopen();
  EXPECT_EQ(GetData("k"), "old");
}

TEST_P(LocalObjectStoreTest, TornWriteLeavesOldObject) {
  ASSERT_TRUE(Put("k", "old").ok());
  env_.FailNthWrite(2);  // the data append of the next put, half written
  EXPECT_FALSE(Put("k", Payload("new", 10000)).ok());
  EXPECT_EQ(GetData("k"), "old");
  CrashAndReopen();
  EXPECT_EQ(GetData("k"), "old");
}

TEST_P(LocalObjectStoreTest, FullDiskFailsPutAndKeepsOldObject) {
  ASSERT_TRUE(Put("k", "old").ok());
  env_.SetDiskSpace(env_.UsedBytes() + 1000);
  auto put = Put("k", Payload("new", 5000));
  EXPECT_EQ(put.status().code(), StatusCode::kNoSpace);
  EXPECT_EQ(GetData("k"), "old");
  env_.SetDiskSpace(UINT64_MAX);
  EXPECT_TRUE(Put("k", "new").ok());
}

TEST_F(ObjectFileTest, CrashBeforeDirectorySyncLosesOnlyTheUnacknowledgedPut) {
  ASSERT_TRUE(Put("k", "old").ok());
  // The directory fsync of the next put fails: the put is not acknowledged.
  env_.SetFaultPredicate([](FaultOp op, const std::string& path) {
    return op == FaultOp::kSyncDir && path.find("/objects") != std::string::npos;
  });
  EXPECT_FALSE(Put("k", "new").ok());
  env_.SetFaultPredicate(nullptr);
  CrashAndReopen();
  // The rename was never made durable; whatever survives is a whole object.
  std::string got = GetData("k");
  EXPECT_TRUE(got == "old" || got == "new" || got.rfind("<NotFound", 0) == 0) << got;
}

TEST_P(LocalObjectStoreTest, LeftoverTempFilesAreRemovedAtOpen) {
  const std::string tmp = std::string(kDir) + "/buckets/bkt/tmp/leftover";
  ASSERT_TRUE(env_.WriteFileAtomic(tmp, "half a put").ok());
  ASSERT_TRUE(Put("k", "v").ok());
  Reopen();
  EXPECT_FALSE(env_.FileExists(tmp));
  EXPECT_EQ(Keys(), std::vector<std::string>{"k"});
}

TEST_F(ObjectFileTest, TruncatedObjectFileIsNeverShown) {
  ASSERT_TRUE(Put("good", "fine").ok());
  ASSERT_TRUE(Put("torn", Payload("t", 500)).ok());
  const std::string path = std::string(kDir) + "/buckets/bkt/objects/" + ObjectFileName("torn");
  auto size = env_.FileSize(path);
  ASSERT_TRUE(size.ok());
  ASSERT_TRUE(env_.TruncateFile(path, *size - 10).ok());
  Reopen();
  EXPECT_EQ(Keys(), std::vector<std::string>{"good"});
  EXPECT_EQ(store_->Get("bkt", "torn").status().code(), StatusCode::kNotFound);
}

TEST_P(LocalObjectStoreTest, HalfCreatedBucketIsRemovedAtOpen) {
  ASSERT_TRUE(env_.CreateDirs(std::string(kDir) + "/buckets/half/objects").ok());
  Reopen();
  EXPECT_EQ(store_->HeadBucket("half").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(env_.FileExists(std::string(kDir) + "/buckets/half/objects"));
  EXPECT_TRUE(store_->CreateBucket("half").ok());
}

TEST_P(LocalObjectStoreTest, MultipartPartsStayApartUntilComplete) {
  PutOptions o;
  o.content_type = "application/x-ndjson";
  o.user_metadata["site"] = "dam";
  auto u = store_->CreateMultipart("bkt", "big/file", o);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  std::string p1 = Payload("one", 6 << 20), p2 = Payload("two", 1000);
  auto r1 = store_->PutPart("bkt", u->upload_id, 1, p1, {});
  auto r2 = store_->PutPart("bkt", u->upload_id, 2, p2, {{ChecksumAlgorithm::kCrc32, "AAAAAA=="}});
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(store_->Head("bkt", "big/file").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Keys().empty());

  // Only part 2 carries a CRC32, so the object gets no composite CRC32.
  auto parts = store_->ListParts("bkt", u->upload_id);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].part_number, 1);
  EXPECT_EQ((*parts)[0].size, p1.size());
  EXPECT_EQ((*parts)[1].checksums.at(ChecksumAlgorithm::kCrc32), "AAAAAA==");
  auto uploads = store_->ListMultipartUploads("bkt");
  ASSERT_TRUE(uploads.ok());
  ASSERT_EQ(uploads->size(), 1u);
  EXPECT_EQ((*uploads)[0].key, "big/file");

  Reopen();  // uploads and their parts survive a restart
  auto done = store_->CompleteMultipart("bkt", u->upload_id,
                                        {{1, "\"" + r1->etag + "\""}, {2, r2->etag}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->size, p1.size() + p2.size());
  EXPECT_EQ(done->etag.substr(done->etag.size() - 2), "-2");
  EXPECT_EQ(done->etag.size(), 34u);
  EXPECT_EQ(done->part_sizes, (std::vector<uint64_t>{p1.size(), p2.size()}));
  EXPECT_EQ(GetData("big/file"), p1 + p2);
  auto head = store_->Head("bkt", "big/file");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->content_type, "application/x-ndjson");
  EXPECT_EQ(head->user_metadata.at("site"), "dam");
  EXPECT_EQ(store_->ListParts("bkt", u->upload_id).status().code(), StatusCode::kNotFound);
  CrashAndReopen();
  EXPECT_EQ(GetData("big/file"), p1 + p2);
  EXPECT_TRUE(store_->ListMultipartUploads("bkt")->empty());
}

TEST_P(LocalObjectStoreTest, MultipartEtagIsMd5OfPartMd5s) {
  auto u = store_->CreateMultipart("bkt", "k", {});
  ASSERT_TRUE(u.ok());
  ASSERT_TRUE(store_->PutPart("bkt", u->upload_id, 1, "hello", {}).ok());
  auto done = store_->CompleteMultipart("bkt", u->upload_id,
                                        {{1, "5d41402abc4b2a76b9719d911017c592"}});
  ASSERT_TRUE(done.ok());
  // MD5 of the 16 raw bytes of MD5("hello"), then "-1".
  EXPECT_EQ(done->etag, "62109206880d38a4010a98e11243924a-1");
}

TEST_P(LocalObjectStoreTest, CompositeChecksumWhenEveryPartHasOne) {
  auto u = store_->CreateMultipart("bkt", "k", {});
  ASSERT_TRUE(u.ok());
  std::string a = Payload("a", 100), b = Payload("b", 50);
  std::string ca = ChecksumBase64(ChecksumAlgorithm::kCrc32, a);
  std::string cb = ChecksumBase64(ChecksumAlgorithm::kCrc32, b);
  auto p1 = store_->PutPart("bkt", u->upload_id, 1, a, {{ChecksumAlgorithm::kCrc32, ca}});
  auto p2 = store_->PutPart("bkt", u->upload_id, 2, b,
                            {{ChecksumAlgorithm::kCrc32, cb},
                             {ChecksumAlgorithm::kSha1, ChecksumBase64(ChecksumAlgorithm::kSha1, b)}});
  ASSERT_TRUE(p1.ok() && p2.ok());
  auto done = store_->CompleteMultipart("bkt", u->upload_id, {{1, p1->etag}, {2, p2->etag}});
  ASSERT_TRUE(done.ok());
  std::string raw = ChecksumRaw(ChecksumAlgorithm::kCrc32, a) + ChecksumRaw(ChecksumAlgorithm::kCrc32, b);
  EXPECT_EQ(done->checksums.at(ChecksumAlgorithm::kCrc32),
            ChecksumBase64(ChecksumAlgorithm::kCrc32, raw) + "-2");
  EXPECT_EQ(done->checksums.count(ChecksumAlgorithm::kSha1), 0u);  // part 1 had none
  EXPECT_EQ(store_->Head("bkt", "k")->checksums, done->checksums);
}

TEST_P(LocalObjectStoreTest, FullObjectUploadCombinesPartCrcsAcrossRestart) {
  PutOptions o;
  o.checksum_algorithm = ChecksumAlgorithm::kCrc64Nvme;
  o.checksum_type = ChecksumType::kFullObject;
  auto u = store_->CreateMultipart("bkt", "k", o);
  ASSERT_TRUE(u.ok());
  Reopen();  // the upload's algorithm and type are kept on disk
  auto kept = store_->GetMultipart("bkt", u->upload_id);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->options.checksum_algorithm, ChecksumAlgorithm::kCrc64Nvme);
  EXPECT_EQ(kept->options.checksum_type, ChecksumType::kFullObject);
  std::string a = Payload("a", 1000), b = Payload("b", 37);
  // Part 1 comes with its checksum, part 2 without: the store computes it.
  auto p1 = store_->PutPart(
      "bkt", u->upload_id, 1, a,
      {{ChecksumAlgorithm::kCrc64Nvme, ChecksumBase64(ChecksumAlgorithm::kCrc64Nvme, a)}});
  auto p2 = store_->PutPart("bkt", u->upload_id, 2, b, {});
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_EQ(p2->checksums.at(ChecksumAlgorithm::kCrc64Nvme),
            ChecksumBase64(ChecksumAlgorithm::kCrc64Nvme, b));
  auto done = store_->CompleteMultipart("bkt", u->upload_id, {{1, p1->etag}, {2, p2->etag}});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  const std::string whole = ChecksumBase64(ChecksumAlgorithm::kCrc64Nvme, a + b);
  EXPECT_EQ(done->checksums,
            (std::map<ChecksumAlgorithm, std::string>{{ChecksumAlgorithm::kCrc64Nvme, whole}}));
  EXPECT_EQ(done->checksum_type, ChecksumType::kFullObject);
  CrashAndReopen();
  auto head = store_->Head("bkt", "k");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->checksums.at(ChecksumAlgorithm::kCrc64Nvme), whole);
  EXPECT_EQ(head->checksum_type, ChecksumType::kFullObject);
}

TEST_P(LocalObjectStoreTest, CompositeUploadAndSinglePutRecordTheirChecksumType) {
  auto u = store_->CreateMultipart("bkt", "multi", {});
  ASSERT_TRUE(u.ok());
  auto p1 = store_->PutPart("bkt", u->upload_id, 1, "abc", {});
  ASSERT_TRUE(p1.ok());
  ASSERT_TRUE(store_->CompleteMultipart("bkt", u->upload_id, {{1, p1->etag}}).ok());
  ASSERT_TRUE(Put("single", "abc").ok());
  Reopen();
  EXPECT_EQ(store_->Head("bkt", "multi")->checksum_type, ChecksumType::kComposite);
  EXPECT_EQ(store_->Head("bkt", "single")->checksum_type, ChecksumType::kFullObject);
}

// Object files written before the checksum type was kept have no
// "checksum_type": a multipart object reads as composite, a single put as
// full-object, as they were.
TEST_P(LocalObjectStoreTest, ObjectsWithoutStoredChecksumTypeReadAsBefore) {
  auto write_old = [&](const std::string& key, const std::string& meta, const std::string& data) {
    std::string file = "MUONOBJ1";
    auto u32 = [&](uint32_t v) {
      for (int i = 0; i < 4; ++i) file.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    };
    u32(static_cast<uint32_t>(meta.size()));
    u32(static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(meta.data()), meta.size())));
    file += meta + data;
    ASSERT_TRUE(env_.WriteFileAtomic(
                        std::string(kDir) + "/buckets/bkt/objects/" + ObjectFileName(key), file)
                    .ok());
  };
  write_old("old-multi",
            R"({"key":"old-multi","size":6,"etag":"0123456789abcdef0123456789abcdef-2",)"
            R"("checksums":{"CRC32":"AAAAAA==-2"},"last_modified_ms":1,"part_sizes":[3,3]})",
            "abcdef");
  write_old("old-single",
            R"({"key":"old-single","size":3,"etag":"900150983cd24fb0d6963f7d28e17f72",)"
            R"("checksums":{"CRC32":"NSRBwg=="},"last_modified_ms":1})",
            "abc");
  Reopen();
  auto multi = store_->Head("bkt", "old-multi");
  ASSERT_TRUE(multi.ok()) << multi.status().ToString();
  EXPECT_EQ(multi->checksum_type, ChecksumType::kComposite);
  EXPECT_EQ(multi->checksums.at(ChecksumAlgorithm::kCrc32), "AAAAAA==-2");
  EXPECT_EQ(GetData("old-multi"), "abcdef");
  auto single = store_->Head("bkt", "old-single");
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  EXPECT_EQ(single->checksum_type, ChecksumType::kFullObject);
  EXPECT_EQ(GetData("old-single"), "abc");
}

TEST_P(LocalObjectStoreTest, CompleteRejectsWrongOrMissingParts) {
  auto u = store_->CreateMultipart("bkt", "k", {});
  ASSERT_TRUE(u.ok());
  auto p1 = store_->PutPart("bkt", u->upload_id, 1, "a", {});
  auto p2 = store_->PutPart("bkt", u->upload_id, 2, "b", {});
  ASSERT_TRUE(p1.ok() && p2.ok());
  auto bad_etag = store_->CompleteMultipart("bkt", u->upload_id, {{1, "0000"}});
  EXPECT_EQ(bad_etag.status().code(), StatusCode::kInvalidArgument);
  auto missing = store_->CompleteMultipart("bkt", u->upload_id, {{3, p1->etag}});
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  auto order = store_->CompleteMultipart("bkt", u->upload_id, {{2, p2->etag}, {1, p1->etag}});
  EXPECT_EQ(order.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->PutPart("bkt", u->upload_id, 0, "x", {}).status().code(),
            StatusCode::kInvalidArgument);
  // Only part 2, as the client chose.
  auto done = store_->CompleteMultipart("bkt", u->upload_id, {{2, p2->etag}});
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(GetData("k"), "b");
}

TEST_P(LocalObjectStoreTest, AbortRemovesUploadAndParts) {
  auto u = store_->CreateMultipart("bkt", "k", {});
  ASSERT_TRUE(u.ok());
  ASSERT_TRUE(store_->PutPart("bkt", u->upload_id, 1, "a", {}).ok());
  ASSERT_TRUE(store_->AbortMultipart("bkt", u->upload_id).ok());
  EXPECT_EQ(store_->AbortMultipart("bkt", u->upload_id).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->PutPart("bkt", u->upload_id, 2, "b", {}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(FilesIn(std::string(kDir) + "/buckets/bkt/uploads"), 0u);
  Reopen();
  EXPECT_TRUE(store_->ListMultipartUploads("bkt")->empty());
}

TEST_P(LocalObjectStoreTest, ConcurrentPutsAllSurviveCrash) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 10; ++j) {
        if (Put("k" + std::to_string(i) + "-" + std::to_string(j), "v").ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * 10);
  CrashAndReopen();
  EXPECT_EQ(Keys().size(), static_cast<size_t>(kThreads * 10));
}

TEST(DirSyncerTest, CallersArrivingDuringASyncShareTheNextOne) {
  std::unique_ptr<Env> base = NewMemEnv();
  FaultInjectionEnv env(base.get());
  ASSERT_TRUE(env.CreateDirs("/d").ok());
  DirSyncer syncer;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int syncs = 0;
  // The first sync holds until every caller is inside Sync.
  env.SetFaultPredicate([&](FaultOp op, const std::string&) {
    if (op != FaultOp::kSyncDir) return false;
    std::unique_lock lock(mu);
    if (++syncs == 1) cv.wait(lock, [&] { return release; });
    return false;
  });
  constexpr int kCallers = 8;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&] {
      if (syncer.Sync(&env, "/d").ok()) ++ok;
    });
  }
  while (syncer.pending() < kCallers) std::this_thread::yield();
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kCallers);
  EXPECT_EQ(syncs, 2);  // the held one, then one for the seven that waited
}

TEST(DirSyncerTest, FailedSyncReachesEveryCallerItCovered) {
  std::unique_ptr<Env> base = NewMemEnv();
  FaultInjectionEnv env(base.get());
  ASSERT_TRUE(env.CreateDirs("/d").ok());
  DirSyncer syncer;
  env.SetFaultPredicate([](FaultOp op, const std::string&) { return op == FaultOp::kSyncDir; });
  EXPECT_FALSE(syncer.Sync(&env, "/d").ok());
  env.SetFaultPredicate(nullptr);
  EXPECT_TRUE(syncer.Sync(&env, "/d").ok());
}

TEST_P(LocalObjectStoreTest, ConcurrentPutsAndDeletesOfOneKeyEndAsTheDiskDoes) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if ((i + t) % 3 == 0) {
          (void)store_->Delete("bkt", "k");
        } else {
          (void)Put("k", "t" + std::to_string(t) + "-" + std::to_string(i));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  auto before = store_->Head("bkt", "k");
  std::string data_before = GetData("k");
  Reopen();
  auto after = store_->Head("bkt", "k");
  ASSERT_EQ(before.ok(), after.ok());
  if (before.ok()) {
    EXPECT_EQ(before->etag, after->etag);
    EXPECT_EQ(GetData("k"), data_before);
  }
}

// Small objects in segments: group commit, crash recovery, compaction.
class SegmentTest : public StoreFixture {
 protected:
  SegmentTest() {
    options_.segment_bytes = 4096;  // a few records each, so tests roll often
    options_.compact_interval_ms = 0;
  }

  std::string SegmentsDir() const { return std::string(kDir) + "/buckets/bkt/segments"; }

  std::vector<std::string> Segments() {
    auto names = env_.ListDir(SegmentsDir());
    EXPECT_TRUE(names.ok());
    std::vector<std::string> out = names.ok() ? *names : std::vector<std::string>{};
    std::sort(out.begin(), out.end());
    return out;
  }

  uint64_t SegmentBytes() {
    uint64_t total = 0;
    for (const std::string& name : Segments()) total += *env_.FileSize(SegmentsDir() + "/" + name);
    return total;
  }

  // key -> data of every object, read through the store.
  std::map<std::string, std::string> Contents() {
    std::map<std::string, std::string> out;
    for (const std::string& k : Keys({"", "", 100000})) out[k] = GetData(k);
    return out;
  }
};

TEST_F(SegmentTest, SmallObjectsLiveInSegmentsLargeOnesInFiles) {
  options_.segment_bytes = 64 << 20;
  Reopen();
  ASSERT_TRUE(Put("small", Payload("s", 1000)).ok());
  ASSERT_TRUE(Put("large", Payload("l", (256 << 10) + 1)).ok());
  EXPECT_EQ(FilesIn(std::string(kDir) + "/buckets/bkt/objects"), 1u);
  EXPECT_EQ(Segments().size(), 1u);
  // Each form replaces the other, and the superseded file goes.
  ASSERT_TRUE(Put("large", "now small").ok());
  EXPECT_EQ(FilesIn(std::string(kDir) + "/buckets/bkt/objects"), 0u);
  ASSERT_TRUE(Put("small", Payload("big", 300 << 10)).ok());
  CrashAndReopen();
  EXPECT_EQ(GetData("large"), "now small");
  EXPECT_EQ(GetData("small"), Payload("big", 300 << 10));
  ASSERT_TRUE(store_->Delete("bkt", "small").ok());
  CrashAndReopen();
  EXPECT_EQ(Keys(), std::vector<std::string>{"large"});
  EXPECT_EQ(FilesIn(std::string(kDir) + "/buckets/bkt/objects"), 0u);
}

TEST_F(SegmentTest, ConcurrentPutsShareOneSync) {
  options_.segment_bytes = 64 << 20;
  Reopen();
  ASSERT_TRUE(Put("primer", "starts the segment").ok());
  constexpr int kPuts = 8;
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int syncs = 0;
  // The first record sync holds until every put has appended its record.
  env_.SetFaultPredicate([&](FaultOp op, const std::string& path) {
    if (op != FaultOp::kSync || path.find("/segments/") == std::string::npos) return false;
    std::unique_lock lock(mu);
    if (++syncs == 1) cv.wait(lock, [&] { return release; });
    return false;
  });
  const uint64_t writes_before = env_.write_count();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kPuts; ++i) {
    threads.emplace_back([&, i] {
      if (Put("k" + std::to_string(i), Payload(std::to_string(i), 2000)).ok()) ++ok;
    });
  }
  // Two appends (head, data) per put.
  while (env_.write_count() < writes_before + 2 * kPuts) std::this_thread::yield();
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  env_.SetFaultPredicate(nullptr);
  EXPECT_EQ(ok.load(), kPuts);
  EXPECT_EQ(syncs, 2);  // the held one, then one for all that waited
  CrashAndReopen();
  for (int i = 0; i < kPuts; ++i) {
    EXPECT_EQ(GetData("k" + std::to_string(i)), Payload(std::to_string(i), 2000));
  }
}

TEST_F(SegmentTest, AcknowledgedChangesSurviveCrashAcrossManySegments) {
  std::map<std::string, std::string> want;
  for (int i = 0; i < 60; ++i) {
    std::string k = "k" + std::to_string(i % 25), v = Payload(std::to_string(i), 300 + 37 * i);
    ASSERT_TRUE(Put(k, v).ok());
    want[k] = v;
    if (i % 7 == 3) {
      ASSERT_TRUE(store_->Delete("bkt", "k" + std::to_string(i % 5)).ok());
      want.erase("k" + std::to_string(i % 5));
    }
  }
  EXPECT_GT(Segments().size(), 5u);
  EXPECT_EQ(Contents(), want);
  CrashAndReopen();
  EXPECT_EQ(Contents(), want);
  // Open sealed the segment that was active at the crash; a second restart
  // reads the same.
  CrashAndReopen();
  EXPECT_EQ(Contents(), want);
}

TEST_F(SegmentTest, CompactionReclaimsSpaceAndKeepsEveryLiveObject) {
  std::map<std::string, std::string> want;
  for (int i = 0; i < 40; ++i) {
    std::string k = "k" + std::to_string(i);
    ASSERT_TRUE(Put(k, Payload(k, 500)).ok());
    want[k] = Payload(k, 500);
  }
  for (int i = 0; i < 40; i += 2) {
    std::string k = "k" + std::to_string(i);
    ASSERT_TRUE(Put(k, Payload("new" + k, 400)).ok());
    want[k] = Payload("new" + k, 400);
  }
  for (int i = 1; i < 40; i += 4) {
    ASSERT_TRUE(store_->Delete("bkt", "k" + std::to_string(i)).ok());
    want.erase("k" + std::to_string(i));
  }
  options_.metrics = true;
  Reopen();
  Counter* compacted = MetricsRegistry::Global()->GetCounter(
      "muonpipe_objectstore_compacted_segments_total", "");
  Counter* copied = MetricsRegistry::Global()->GetCounter(
      "muonpipe_objectstore_compaction_copied_bytes_total", "");
  const uint64_t compacted_before = compacted->Value(), copied_before = copied->Value();
  const uint64_t bytes_before = SegmentBytes();
  const size_t segments_before = Segments().size();
  ASSERT_TRUE(store_->Compact().ok());
  EXPECT_LT(SegmentBytes(), bytes_before * 3 / 4);
  EXPECT_LT(Segments().size(), segments_before);
  EXPECT_GE(compacted->Value() - compacted_before, segments_before - Segments().size());
  EXPECT_GT(copied->Value(), copied_before);
  EXPECT_EQ(Contents(), want);
  CrashAndReopen();
  EXPECT_EQ(Contents(), want);
  // Compacting what is left, and again after more changes, keeps them too.
  ASSERT_TRUE(store_->Compact().ok());
  ASSERT_TRUE(Put("k0", "last").ok());
  want["k0"] = "last";
  ASSERT_TRUE(store_->Compact().ok());
  CrashAndReopen();
  EXPECT_EQ(Contents(), want);
}

TEST_F(SegmentTest, DeletionOutlivesCompactionWhileOlderRecordsRemain) {
  // "gone" is written into the first segment, which stays mostly live and so
  // is never compacted; its deletion lands in a later segment full of
  // overwritten records, which is. The deletion must be carried over, or the
  // first segment's record would come back at the next start.
  ASSERT_TRUE(Put("gone", Payload("g", 500)).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Put("keep" + std::to_string(i), Payload("k", 500)).ok());
  const std::string first = Segments().front();
  ASSERT_TRUE(store_->Delete("bkt", "gone").ok());
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(Put("churn", Payload(std::to_string(i), 500)).ok());
  const size_t segments_before = Segments().size();
  ASSERT_TRUE(store_->Compact().ok());
  ASSERT_LT(Segments().size(), segments_before);
  ASSERT_EQ(Segments().front(), first);  // the old record is still on disk
  CrashAndReopen();
  EXPECT_EQ(store_->Head("bkt", "gone").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(GetData("churn"), Payload("29", 500));
  // Once the first segment is compacted too, nothing of "gone" is left.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store_->Delete("bkt", "keep" + std::to_string(i)).ok());
  ASSERT_TRUE(store_->Compact().ok());
  EXPECT_NE(Segments().front(), first);
  CrashAndReopen();
  EXPECT_EQ(Keys(), std::vector<std::string>{"churn"});
}

TEST_F(SegmentTest, DeletionGoesOnceNoOlderRecordOfItsKeyRemains) {
  // The first segment holds objects that are never deleted, so it stays and
  // is never compacted. Objects put later and then deleted: once compaction
  // has dropped their records, their deletion records go too instead of
  // being carried forward at every compaction.
  auto deletions_on_disk = [&] {
    size_t n = 0;
    for (const std::string& name : Segments()) {
      std::string data = *env_.ReadFile(SegmentsDir() + "/" + name);
      for (size_t at = 0; (at = data.find("\"deleted\":true", at)) != std::string::npos; ++at) ++n;
    }
    return n;
  };
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(Put("keep" + std::to_string(i), Payload("k", 500)).ok());
  const std::string first = Segments().front();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Put("tmp" + std::to_string(i), Payload("t", 500)).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store_->Delete("bkt", "tmp" + std::to_string(i)).ok());
  EXPECT_EQ(deletions_on_disk(), 10u);
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(Put("churn", Payload(std::to_string(i), 500)).ok());
    ASSERT_TRUE(store_->Compact().ok());
  }
  EXPECT_EQ(Segments().front(), first);
  EXPECT_EQ(deletions_on_disk(), 0u);
  CrashAndReopen();
  EXPECT_EQ(Keys(), (std::vector<std::string>{"churn", "keep0", "keep1", "keep2", "keep3",
                                              "keep4", "keep5"}));
}

TEST_F(SegmentTest, TornRecordIsNeverShownAndLaterPutsAreKept) {
  ASSERT_TRUE(Put("a", "first").ok());
  env_.FailNthWrite(2);  // the data of the next put, half written
  EXPECT_FALSE(Put("b", Payload("b", 2000)).ok());
  EXPECT_EQ(store_->Head("bkt", "b").status().code(), StatusCode::kNotFound);
  // The damaged segment takes no more records; the next put starts another.
  ASSERT_TRUE(Put("c", "third").ok());
  CrashAndReopen();
  EXPECT_EQ(Keys(), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(GetData("c"), "third");
  CrashAndReopen();
  EXPECT_EQ(Keys(), (std::vector<std::string>{"a", "c"}));
}

TEST_F(SegmentTest, GarbageAfterTheLastRecordIsIgnored) {
  ASSERT_TRUE(Put("a", "one").ok());
  ASSERT_TRUE(Put("b", "two").ok());
  store_.reset();
  // A crash mid-append: a head that promises more than was written.
  const std::string last = SegmentsDir() + "/" + Segments().back();
  auto f = base_->NewAppendableFile(last);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append(std::string("\x10\x00\x00\x00\xff\x00\x00\x00", 8) +
                           std::string(30, 'z')).ok());
  ASSERT_TRUE((*f)->Close().ok());
  Reopen();
  EXPECT_EQ(Keys(), (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(Put("c", "three").ok());
  Reopen();
  EXPECT_EQ(Keys(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(SegmentTest, FailedSyncFailsThePutAndKeepsTheOldObject) {
  ASSERT_TRUE(Put("k", "old").ok());
  env_.FailNthSync(1);
  EXPECT_FALSE(Put("k", "new").ok());
  EXPECT_EQ(GetData("k"), "old");
  ASSERT_TRUE(Put("other", "fine").ok());
  CrashAndReopen();
  EXPECT_EQ(GetData("other"), "fine");
  std::string got = GetData("k");
  EXPECT_TRUE(got == "old" || got == "new") << got;
}

TEST_F(SegmentTest, DamagedDataIsAnErrorNotWrongBytes) {
  ASSERT_TRUE(Put("k", Payload("k", 1000)).ok());
  const std::string path = SegmentsDir() + "/" + Segments().back();
  // After a restart the next put starts a new segment, whose header seals
  // this one at its full length: Open then reads only its records' heads.
  Reopen();
  ASSERT_TRUE(Put("other", "x").ok());
  store_.reset();
  auto data = env_.ReadFile(path);
  ASSERT_TRUE(data.ok());
  std::string damaged = *data;
  damaged[damaged.size() - 10] ^= 0x20;  // inside the object's data
  ASSERT_TRUE(env_.WriteFileAtomic(path, damaged).ok());
  Reopen();
  EXPECT_EQ(store_->Head("bkt", "k")->size, 1000u);
  EXPECT_EQ(store_->Get("bkt", "k").status().code(), StatusCode::kCorruption);
  ObjectStore* as_store = store_.get();
  EXPECT_EQ(as_store->Open("bkt", "k", std::nullopt).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(GetData("other"), "x");
}

TEST_F(SegmentTest, UnsyncedRecordWithBadDataIsDroppedAtOpen) {
  // A crash can leave a record's head on disk but not all of its data (the
  // file grew, the data blocks were not written). In the segment that was
  // active, Open checks every record's data.
  ASSERT_TRUE(Put("a", "kept").ok());
  ASSERT_TRUE(Put("k", Payload("k", 1000)).ok());
  store_.reset();
  const std::string path = SegmentsDir() + "/" + Segments().back();
  auto data = env_.ReadFile(path);
  ASSERT_TRUE(data.ok());
  std::string damaged = *data;
  std::fill(damaged.end() - 200, damaged.end(), '\0');
  ASSERT_TRUE(env_.WriteFileAtomic(path, damaged).ok());
  Reopen();
  EXPECT_EQ(Keys(), std::vector<std::string>{"a"});
  ASSERT_TRUE(Put("b", "after").ok());
  CrashAndReopen();
  EXPECT_EQ(Keys(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(SegmentTest, ConcurrentChangesAndCompactionEndAsTheDiskDoes) {
  std::atomic<bool> done{false};
  std::thread compactor([&] {
    while (!done) ASSERT_TRUE(store_->Compact().ok());
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 60; ++i) {
        std::string k = "k" + std::to_string((i + t) % 6);
        if ((i + t) % 5 == 0) {
          (void)store_->Delete("bkt", k);
        } else {
          (void)Put(k, Payload(std::to_string(t) + "-" + std::to_string(i), 200 + 10 * i));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  compactor.join();
  std::map<std::string, std::string> before = Contents();
  ASSERT_TRUE(store_->Compact().ok());
  EXPECT_EQ(Contents(), before);
  CrashAndReopen();
  EXPECT_EQ(Contents(), before);
}

TEST_F(SegmentTest, ReadsDuringCompactionAndOverwritesNeverFail) {
  // Keys that always exist, read while compaction moves their records and
  // overwrites switch them between segment records and files.
  constexpr int kKeys = 8;
  auto value = [](int k, int v) {
    return Payload("k" + std::to_string(k) + "v" + std::to_string(v), v % 5 == 4 ? 300000 : 400);
  };
  for (int k = 0; k < kKeys; ++k) ASSERT_TRUE(Put("k" + std::to_string(k), value(k, 0)).ok());
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      ObjectStore* as_store = store_.get();
      for (int i = 0; !done; ++i) {
        std::string k = "k" + std::to_string((i + t) % kKeys);
        if (i % 2 == 0) {
          auto r = as_store->Open("bkt", k, std::nullopt);
          ASSERT_TRUE(r.ok()) << k << ": " << r.status().ToString();
          continue;
        }
        auto got = store_->Get("bkt", k);
        ASSERT_TRUE(got.ok()) << k << ": " << got.status().ToString();
        ASSERT_EQ(got->data.substr(0, k.size() + 1), k + "v") << k;
        ++reads;
      }
    });
  }
  for (int v = 1; v <= 40; ++v) {
    for (int k = 0; k < kKeys; ++k) ASSERT_TRUE(Put("k" + std::to_string(k), value(k, v)).ok());
    ASSERT_TRUE(store_->Compact().ok());
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(GetData("k" + std::to_string(k)), value(k, 40));
}

TEST_F(SegmentTest, BackgroundCompactionRuns) {
  options_.compact_interval_ms = 10;
  Reopen();
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(Put("k", Payload(std::to_string(i), 500)).ok());
  const size_t before = Segments().size();
  for (int tries = 0; tries < 500 && Segments().size() >= before; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_LT(Segments().size(), before);
  EXPECT_EQ(GetData("k"), Payload("29", 500));
}

TEST_F(SegmentTest, DeleteBucketWithDeadSegments) {
  ASSERT_TRUE(Put("k", "v").ok());
  ASSERT_TRUE(store_->Delete("bkt", "k").ok());
  EXPECT_TRUE(store_->DeleteBucket("bkt").ok());
  EXPECT_FALSE(env_.FileExists(SegmentsDir()));
  Reopen();
  EXPECT_EQ(store_->HeadBucket("bkt").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace muon::objectstore
