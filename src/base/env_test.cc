#include "base/env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace muon {
namespace {

TEST(PathTest, JoinPath) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(JoinPath("/a", "/b"), "/a/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
  EXPECT_EQ(JoinPath("a", ""), "a");
}

TEST(PathTest, Dirname) {
  EXPECT_EQ(Dirname("/a/b/c"), "/a/b");
  EXPECT_EQ(Dirname("/a/b/"), "/a");
  EXPECT_EQ(Dirname("/a"), "/");
  EXPECT_EQ(Dirname("a"), ".");
  EXPECT_EQ(Dirname("a/b"), "a");
  EXPECT_EQ(Dirname("/"), "/");
}

enum class Kind { kPosix, kMem };

// Runs every case against the POSIX Env (in a fresh temp dir) and the MemEnv.
class EnvTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == Kind::kPosix) {
      env_ = Env::Posix();
      char tmpl[] = "/tmp/muon_env_test.XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      root_ = tmpl;
    } else {
      mem_ = NewMemEnv();
      env_ = mem_.get();
      root_ = "/root";
      ASSERT_TRUE(env_->CreateDir(root_).ok());
    }
  }
  void TearDown() override { ASSERT_TRUE(env_->RemoveTree(root_).ok()); }

  std::string P(std::string_view name) const { return JoinPath(root_, name); }

  std::unique_ptr<Env> mem_;
  Env* env_ = nullptr;
  std::string root_;
};

TEST_P(EnvTest, WriteThenReadBack) {
  auto f = env_->NewWritableFile(P("a"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_TRUE((*f)->Append("hello ").ok());
  ASSERT_TRUE((*f)->Append("world").ok());
  EXPECT_EQ((*f)->Size(), 11u);
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE((*f)->Close().ok());
  auto data = env_->ReadFile(P("a"));
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, "hello world");
  auto size = env_->FileSize(P("a"));
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 11u);
}

TEST_P(EnvTest, NewWritableFileTruncates) {
  ASSERT_TRUE(env_->WriteFileAtomic(P("a"), "0123456789").ok());
  auto f = env_->NewWritableFile(P("a"));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("x").ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(*env_->ReadFile(P("a")), "x");
}

TEST_P(EnvTest, AppendableFileStartsAtCurrentLength) {
  ASSERT_TRUE(env_->WriteFileAtomic(P("a"), "abc").ok());
  auto f = env_->NewAppendableFile(P("a"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->Size(), 3u);
  ASSERT_TRUE((*f)->Append("def").ok());
  EXPECT_EQ((*f)->Size(), 6u);
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(*env_->ReadFile(P("a")), "abcdef");
}

TEST_P(EnvTest, AppendableFileCreatesMissingFile) {
  auto f = env_->NewAppendableFile(P("new"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->Size(), 0u);
  EXPECT_TRUE(env_->FileExists(P("new")));
}

TEST_P(EnvTest, RandomAccessReadsAtOffsetsAndSeesLaterAppends) {
  auto w = env_->NewWritableFile(P("a"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append("0123456789").ok());
  auto r = env_->NewRandomAccessFile(P("a"));
  ASSERT_TRUE(r.ok());
  char buf[16];
  auto got = (*r)->Read(3, 4, buf);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "3456");
  got = (*r)->Read(8, 10, buf);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "89");
  got = (*r)->Read(100, 10, buf);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  ASSERT_TRUE((*w)->Append("ab").ok());
  got = (*r)->Read(10, 10, buf);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "ab");
  EXPECT_EQ(*(*r)->Size(), 12u);
}

TEST_P(EnvTest, MissingFileIsNotFoundAndNamesThePath) {
  auto r = env_->NewRandomAccessFile(P("missing"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(P("missing")), std::string::npos);
  EXPECT_EQ(env_->RemoveFile(P("missing")).code(), StatusCode::kNotFound);
  EXPECT_FALSE(env_->FileExists(P("missing")));
  EXPECT_FALSE(env_->FileSize(P("missing")).ok());
}

TEST_P(EnvTest, WritableFileInMissingDirFails) {
  auto f = env_->NewWritableFile(P("nodir/a"));
  EXPECT_FALSE(f.ok());
}

TEST_P(EnvTest, DirectoriesListRemove) {
  ASSERT_TRUE(env_->CreateDir(P("d")).ok());
  ASSERT_TRUE(env_->CreateDir(P("d")).ok());  // exists: OK
  ASSERT_TRUE(env_->CreateDirs(P("x/y/z")).ok());
  ASSERT_TRUE(env_->WriteFileAtomic(P("d/f1"), "1").ok());
  ASSERT_TRUE(env_->WriteFileAtomic(P("d/f2"), "2").ok());
  auto names = env_->ListDir(P("d"));
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"f1", "f2"}));
  auto top = env_->ListDir(root_);
  ASSERT_TRUE(top.ok());
  std::sort(top->begin(), top->end());
  EXPECT_EQ(*top, (std::vector<std::string>{"d", "x"}));
  EXPECT_FALSE(env_->RemoveDir(P("d")).ok());  // not empty
  ASSERT_TRUE(env_->RemoveFile(P("d/f1")).ok());
  ASSERT_TRUE(env_->RemoveFile(P("d/f2")).ok());
  ASSERT_TRUE(env_->RemoveDir(P("d")).ok());
  EXPECT_FALSE(env_->FileExists(P("d")));
  ASSERT_TRUE(env_->WriteFileAtomic(P("x/y/z/f"), "f").ok());
  ASSERT_TRUE(env_->RemoveTree(P("x")).ok());
  EXPECT_FALSE(env_->FileExists(P("x/y/z/f")));
  EXPECT_FALSE(env_->FileExists(P("x")));
  ASSERT_TRUE(env_->RemoveTree(P("x")).ok());  // missing: OK
  ASSERT_TRUE(env_->SyncDir(root_).ok());
  EXPECT_FALSE(env_->ListDir(P("nope")).ok());
}

TEST_P(EnvTest, RenameReplacesTarget) {
  ASSERT_TRUE(env_->WriteFileAtomic(P("a"), "new").ok());
  ASSERT_TRUE(env_->WriteFileAtomic(P("b"), "old").ok());
  ASSERT_TRUE(env_->RenameFile(P("a"), P("b")).ok());
  EXPECT_FALSE(env_->FileExists(P("a")));
  EXPECT_EQ(*env_->ReadFile(P("b")), "new");
}

TEST_P(EnvTest, TruncateShrinks) {
  ASSERT_TRUE(env_->WriteFileAtomic(P("a"), "0123456789").ok());
  ASSERT_TRUE(env_->TruncateFile(P("a"), 4).ok());
  EXPECT_EQ(*env_->ReadFile(P("a")), "0123");
}

TEST_P(EnvTest, WriteFileAtomicLeavesNoTempFile) {
  ASSERT_TRUE(env_->WriteFileAtomic(P("a"), "one").ok());
  ASSERT_TRUE(env_->WriteFileAtomic(P("a"), "two").ok());
  EXPECT_EQ(*env_->ReadFile(P("a")), "two");
  auto names = env_->ListDir(root_);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"a"});
}

TEST_P(EnvTest, LargeFileRoundTrips) {
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + 7);
  ASSERT_TRUE(env_->WriteFileAtomic(P("big"), big).ok());
  auto got = env_->ReadFile(P("big"));
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == big);
}

TEST_P(EnvTest, ConcurrentReadersWhileAppending) {
  auto w = env_->NewWritableFile(P("a"));
  ASSERT_TRUE(w.ok());
  auto r = env_->NewRandomAccessFile(P("a"));
  ASSERT_TRUE(r.ok());
  std::atomic<uint64_t> published{0};
  std::thread reader([&] {
    char buf[8];
    while (published.load() < 1000) {
      uint64_t n = published.load();
      if (n == 0) continue;
      auto got = (*r)->Read((n - 1) * 8, 8, buf);
      ASSERT_TRUE(got.ok());
      ASSERT_EQ(got->size(), 8u);
      ASSERT_EQ(*got, std::string(8, static_cast<char>('a' + (n - 1) % 26)));
    }
  });
  std::thread syncer([&] {
    while (published.load() < 1000) ASSERT_TRUE((*w)->Sync().ok());
  });
  for (uint64_t i = 0; i < 1000; ++i) {
    ASSERT_TRUE((*w)->Append(std::string(8, static_cast<char>('a' + i % 26))).ok());
    published = i + 1;
  }
  reader.join();
  syncer.join();
}

INSTANTIATE_TEST_SUITE_P(AllEnvs, EnvTest, ::testing::Values(Kind::kPosix, Kind::kMem),
                         [](const auto& info) {
                           return info.param == Kind::kPosix ? std::string("Posix")
                                                             : std::string("Mem");
                         });

}  // namespace
}  // namespace muon

namespace muon {
namespace {

TEST(PosixEnvTest, FullDiskIsNoSpace) {
  if (!Env::Posix()->FileExists("/dev/full")) GTEST_SKIP() << "no /dev/full on this machine";
  auto f = Env::Posix()->NewAppendableFile("/dev/full");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  Status s = (*f)->Append("data");
  EXPECT_EQ(s.code(), StatusCode::kNoSpace) << s.ToString();
  EXPECT_NE(s.message().find("/dev/full"), std::string::npos);
}

}  // namespace
}  // namespace muon
