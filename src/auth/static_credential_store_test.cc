#include "auth/static_credential_store.h"

#include <gtest/gtest.h>

#include "auth/credentials_file.h"

namespace muon::auth {
namespace {

TEST(StaticCredentialStoreTest, FindsAddedKeyByItsId) {
  StaticCredentialStore store;
  Credentials c = GenerateAccessKey();
  store.Add(c, "arn:aws:iam::000000000000:user/admin");
  auto found = store.Lookup(c.access_key_id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->secret_access_key, c.secret_access_key);
  EXPECT_EQ(store.PrincipalOf(c.access_key_id), "arn:aws:iam::000000000000:user/admin");
  EXPECT_FALSE(store.Lookup("").has_value());
  EXPECT_FALSE(store.Lookup("AKIAUNKNOWN").has_value());
}

TEST(CredentialsFileTest, RoundTripsThroughSharedCredentialsFormat) {
  auto env = NewMemEnv();
  Credentials c = GenerateAccessKey();
  EXPECT_EQ(c.access_key_id.size(), 20u);
  EXPECT_EQ(c.access_key_id.substr(0, 4), "AKIA");
  EXPECT_EQ(c.secret_access_key.size(), 40u);
  ASSERT_TRUE(env->WriteFileAtomic("/creds", FormatCredentialsFile(c)).ok());
  auto back = ReadCredentialsFile(env.get(), "/creds");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->access_key_id, c.access_key_id);
  EXPECT_EQ(back->secret_access_key, c.secret_access_key);
  ASSERT_TRUE(env->WriteFileAtomic("/bad", "[other]\naws_access_key_id = X\n").ok());
  EXPECT_FALSE(ReadCredentialsFile(env.get(), "/bad").ok());
}

}  // namespace
}  // namespace muon::auth
