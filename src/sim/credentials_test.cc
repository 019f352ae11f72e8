#include "sim/credentials.h"

#include <gtest/gtest.h>

#include "auth/credentials_file.h"

namespace muon::sim {
namespace {

class ResolveCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(env_->CreateDirs("/data").ok());
    ASSERT_TRUE(env_->CreateDirs("/home/ops/.aws").ok());
    Write("/data/admin-credentials", {"AKIAADMIN", "admin-secret", ""}, "default");
    Write("/home/ops/.aws/credentials", {"AKIAHOME", "home-secret", ""}, "default");
    Write("/given", {"AKIAGIVEN", "given-secret", ""}, "ops");
    sources_.data_dir = "/data";
    sources_.home = "/home/ops";
  }
  void Write(const std::string& path, const auth::Credentials& c, const std::string& profile) {
    ASSERT_TRUE(env_->WriteFileAtomic(path, auth::FormatCredentialsFile(c, profile)).ok());
  }
  std::string KeyResolved() {
    auto c = ResolveCredentials(env_.get(), sources_);
    return c.ok() ? c->access_key_id : "error: " + c.status().message();
  }

  std::unique_ptr<Env> env_ = NewMemEnv();
  CredentialSources sources_;
};

TEST_F(ResolveCredentialsTest, CredentialsFileWinsOverEverything) {
  sources_.credentials_file = "/given";
  sources_.profile = "ops";
  sources_.access_key_id = "AKIAENV";
  sources_.secret_access_key = "env-secret";
  EXPECT_EQ(KeyResolved(), "AKIAGIVEN");
}

TEST_F(ResolveCredentialsTest, EnvironmentKeysWinOverTheDataDirectory) {
  sources_.access_key_id = "AKIAENV";
  sources_.secret_access_key = "env-secret";
  sources_.session_token = "token";
  auto c = ResolveCredentials(env_.get(), sources_);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIAENV");
  EXPECT_EQ(c->session_token, "token");
}

TEST_F(ResolveCredentialsTest, KeyIdWithoutSecretIsIgnored) {
  sources_.access_key_id = "AKIAENV";
  EXPECT_EQ(KeyResolved(), "AKIAADMIN");
}

TEST_F(ResolveCredentialsTest, DataDirectoryAdminCredentialsWinOverTheSharedFile) {
  EXPECT_EQ(KeyResolved(), "AKIAADMIN");
}

TEST_F(ResolveCredentialsTest, SharedFileWhenTheDataDirectoryHasNoCredentials) {
  sources_.data_dir = "/elsewhere";
  EXPECT_EQ(KeyResolved(), "AKIAHOME");
  sources_.data_dir.clear();
  EXPECT_EQ(KeyResolved(), "AKIAHOME");
}

TEST_F(ResolveCredentialsTest, NothingFoundNamesTheFileAndTheFix) {
  sources_.data_dir.clear();
  sources_.home = "/nobody";
  auto c = ResolveCredentials(env_.get(), sources_);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nobody/.aws/credentials"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("--credentials"), std::string::npos);
}

}  // namespace
}  // namespace muon::sim
