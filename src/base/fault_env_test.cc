#include "base/fault_env.h"

#include <gtest/gtest.h>

namespace muon {
namespace {

class FaultEnvTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.CreateDir("/d").ok()); }

  std::unique_ptr<WritableFile> Open(const std::string& path) {
    auto f = env_.NewWritableFile(path);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return std::move(f).value();
  }

  std::unique_ptr<Env> base_ = NewMemEnv();
  FaultInjectionEnv env_{base_.get()};
};

TEST_F(FaultEnvTest, CrashDropsUnsyncedBytes) {
  auto f = Open("/d/a");
  ASSERT_TRUE(env_.SyncDir("/d").ok());
  ASSERT_TRUE(f->Append("synced").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Append("-lost").ok());
  f.reset();
  env_.SimulateCrash();
  EXPECT_EQ(*env_.ReadFile("/d/a"), "synced");
}

TEST_F(FaultEnvTest, CrashRemovesFilesWhoseDirectoryWasNeverSynced) {
  auto f = Open("/d/a");
  ASSERT_TRUE(f->Append("x").ok());
  ASSERT_TRUE(f->Sync().ok());
  f.reset();
  env_.SimulateCrash();
  EXPECT_FALSE(env_.FileExists("/d/a"));
}

TEST_F(FaultEnvTest, AtomicWriteSurvivesCrash) {
  ASSERT_TRUE(env_.WriteFileAtomic("/d/x", "content").ok());
  env_.SimulateCrash();
  EXPECT_EQ(*env_.ReadFile("/d/x"), "content");
}

TEST_F(FaultEnvTest, FailNthWriteTearsTheWrite) {
  auto f = Open("/d/a");
  env_.FailNthWrite(2);
  ASSERT_TRUE(f->Append("1111").ok());
  Status s = f->Append("2222");
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(*env_.ReadFile("/d/a"), "111122");
  ASSERT_TRUE(f->Append("3").ok());  // only the n-th fails
}

TEST_F(FaultEnvTest, FailNthSyncLeavesDataUnsynced) {
  auto f = Open("/d/a");
  ASSERT_TRUE(env_.SyncDir("/d").ok());
  ASSERT_TRUE(f->Append("abc").ok());
  env_.FailNthSync(1);
  EXPECT_FALSE(f->Sync().ok());
  EXPECT_EQ(env_.sync_count(), 0u);
  f.reset();
  env_.DropUnsyncedData();
  EXPECT_EQ(*env_.ReadFile("/d/a"), "");
}

TEST_F(FaultEnvTest, FailNthRename) {
  env_.FailNthRename(1);
  EXPECT_FALSE(env_.WriteFileAtomic("/d/a", "x").ok());
  EXPECT_FALSE(env_.FileExists("/d/a"));
  EXPECT_FALSE(env_.FileExists("/d/a.tmp"));
  EXPECT_TRUE(env_.WriteFileAtomic("/d/a", "x").ok());
}

TEST_F(FaultEnvTest, PredicateFailsMatchingOps) {
  env_.SetFaultPredicate(
      [](FaultOp op, const std::string& path) { return op == FaultOp::kSync && path == "/d/b"; });
  auto a = Open("/d/a");
  auto b = Open("/d/b");
  EXPECT_TRUE(a->Sync().ok());
  EXPECT_FALSE(b->Sync().ok());
  env_.SetFaultPredicate(nullptr);
  EXPECT_TRUE(b->Sync().ok());
}

TEST_F(FaultEnvTest, DiskFullThenSpaceReturns) {
  env_.SetDiskSpace(10);
  auto f = Open("/d/a");
  ASSERT_TRUE(f->Append("123456").ok());
  Status s = f->Append("789abc");
  EXPECT_EQ(s.code(), StatusCode::kNoSpace);
  EXPECT_EQ(env_.UsedBytes(), 10u);
  EXPECT_EQ(*env_.ReadFile("/d/a"), "123456789a");  // the part that fit
  ASSERT_TRUE(env_.TruncateFile("/d/a", 6).ok());
  EXPECT_EQ(env_.UsedBytes(), 6u);
  EXPECT_TRUE(env_.NewWritableFile("/d/b").ok());
  env_.SetDiskSpace(UINT64_MAX);
  f = Open("/d/c");
  EXPECT_TRUE(f->Append(std::string(100, 'x')).ok());
}

TEST_F(FaultEnvTest, InactiveFilesystemFailsWritesButReads) {
  ASSERT_TRUE(env_.WriteFileAtomic("/d/a", "x").ok());
  auto f = env_.NewAppendableFile("/d/a");
  ASSERT_TRUE(f.ok());
  env_.SetFilesystemActive(false);
  EXPECT_FALSE((*f)->Append("y").ok());
  EXPECT_FALSE((*f)->Sync().ok());
  EXPECT_FALSE(env_.NewWritableFile("/d/b").ok());
  EXPECT_EQ(*env_.ReadFile("/d/a"), "x");
  env_.SetFilesystemActive(true);
  EXPECT_TRUE((*f)->Append("y").ok());
}

TEST_F(FaultEnvTest, SyncCoversOnlyBytesAppendedBeforeIt) {
  auto f = Open("/d/a");
  ASSERT_TRUE(env_.SyncDir("/d").ok());
  ASSERT_TRUE(f->Append("a").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Append("b").ok());
  ASSERT_TRUE(env_.RenameFile("/d/a", "/d/r").ok());
  ASSERT_TRUE(env_.SyncDir("/d").ok());
  f.reset();
  env_.SimulateCrash();
  EXPECT_EQ(*env_.ReadFile("/d/r"), "a");
}

}  // namespace
}  // namespace muon
