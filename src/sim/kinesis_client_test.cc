#include "sim/kinesis_client.h"

#include <gtest/gtest.h>

#include "auth/credentials_file.h"
#include "sim/credentials.h"

namespace muon::sim {
namespace {

TEST(EndpointTest, Parses) {
  auto e = ParseEndpoint("http://127.0.0.1:4566");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->tls);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 4566);
  e = ParseEndpoint("https://kinesis.ap-southeast-2.amazonaws.com/");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(e->port, 443);
  e = ParseEndpoint("http://[::1]:8080");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 8080);
}

TEST(EndpointTest, RejectsWithTheFix) {
  auto e = ParseEndpoint("127.0.0.1:4566");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("http://"), std::string::npos);
  EXPECT_FALSE(ParseEndpoint("http://host:99999").ok());
  EXPECT_FALSE(ParseEndpoint("http://host/path").ok());
  EXPECT_FALSE(ParseEndpoint("http://").ok());
}

TEST(CredentialsTest, ParsesTheNamedProfile) {
  const char* text =
      "# written by muonpipe serve\n"
      "[other]\naws_access_key_id = X\naws_secret_access_key = Y\n\n"
      "[default]\r\naws_access_key_id = AKIDEXAMPLE\r\n"
      "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\r\n";
  auto c = auth::ParseCredentialsFile(text, "default");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(c->secret_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  EXPECT_EQ(c->session_token, "");
  EXPECT_EQ(auth::ParseCredentialsFile(text, "missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(auth::ParseCredentialsFile("[default]\naws_access_key_id=A\n", "default").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(CredentialsTest, MissingFileSaysWhatToDo) {
  auto env = NewMemEnv();
  auto c = LoadSharedCredentials(env.get(), "/nowhere/admin-credentials", "default");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--credentials"), std::string::npos);
  EXPECT_EQ(DefaultCredentialsPath("/x/creds", "/home/u"), "/x/creds");
  EXPECT_EQ(DefaultCredentialsPath("", "/home/u"), "/home/u/.aws/credentials");
}

}  // namespace
}  // namespace muon::sim
