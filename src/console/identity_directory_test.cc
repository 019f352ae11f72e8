// The console over a real identity store (SQLite ":memory:"): Argon2id
// passwords, TOTP codes with replay protection and recovery codes as the
// store checks them.
#include "console/identity_directory.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "iam/totp.h"

namespace muon::console {
namespace {

using Json = nlohmann::json;

class IdentityConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = identity::IdentityStore::Open(":memory:", {}, &clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    directory_ = NewIdentityStoreDirectory(store_.get());
    console_ = std::make_unique<Console>(directory_.get(), nullptr, &clock_, ConsoleOptions{});
    ASSERT_TRUE(store_->CreateUser("alice", "/", {}).ok());
    ASSERT_TRUE(store_->CreateLoginProfile("alice", "correct horse battery", false).ok());
    auto dev = store_->CreateVirtualMfaDevice("alice-phone", "/");
    ASSERT_TRUE(dev.ok()) << dev.status().ToString();
    seed_ = *iam::Base32Decode(dev->base32_seed);
    int64_t now = clock_.NowSeconds();
    ASSERT_TRUE(store_->EnableMfaDevice("alice", dev->device.serial_number, Code(now - 60),
                                        Code(now - 30))
                    .ok());
    ASSERT_TRUE(store_->CreateUser("bob", "/", {}).ok());
    ASSERT_TRUE(store_->CreateLoginProfile("bob", "bob's long password", false).ok());
  }
  std::string Code(int64_t at) { return *iam::TotpCode(seed_, at); }

  http::Response Send(const std::string& op, Json body) {
    http::Request r;
    r.method = "POST";
    r.path = std::string(kApiPrefix) + op;
    r.remote_ip = "192.0.2.1";
    r.headers = {{"Host", "127.0.0.1:4566"}};
    if (!cookie_.empty()) r.headers.emplace_back("Cookie", cookie_);
    r.body = body.dump();
    http::Response resp = console_->Handle(r);
    for (const auto& [k, v] : resp.headers) {
      if (k == "Set-Cookie" && v.find("=;") == std::string::npos) cookie_ = v.substr(0, v.find(';'));
    }
    return resp;
  }

  FakeClock clock_;
  std::unique_ptr<identity::IdentityStore> store_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<Console> console_;
  std::string seed_;
  std::string cookie_;
};

TEST_F(IdentityConsoleTest, PasswordAndTotpCodeSignIn) {
  ASSERT_EQ(Send("signin", {{"user", "alice"}, {"password", "correct horse battery"}}).status, 200);
  http::Response r = Send("signin/mfa", {{"code", Code(clock_.NowSeconds())}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["arn"], "arn:aws:iam::000000000000:user/alice");
  EXPECT_EQ(Json::parse(r.body)["mfa_authenticated"], true);
}

TEST_F(IdentityConsoleTest, WrongPasswordWrongCodeAndReplayedCodeGiveTheSameAnswer) {
  http::Response bad_password = Send("signin", {{"user", "alice"}, {"password", "wrong"}});
  ASSERT_EQ(Send("signin", {{"user", "alice"}, {"password", "correct horse battery"}}).status, 200);
  http::Response bad_code = Send("signin/mfa", {{"code", Code(clock_.NowSeconds() + 3600)}});
  // A code already spent at enrolment is refused like any wrong one.
  http::Response replayed = Send("signin/mfa", {{"code", Code(clock_.NowSeconds() - 30)}});
  EXPECT_EQ(bad_password.status, 401);
  EXPECT_EQ(bad_password.body, bad_code.body);
  EXPECT_EQ(bad_password.body, replayed.body);
  EXPECT_EQ(console_->session_count(), 0u);
}

TEST_F(IdentityConsoleTest, ARecoveryCodeWorksOnce) {
  auto codes = store_->NewRecoveryCodes("alice");
  ASSERT_TRUE(codes.ok());
  ASSERT_EQ(Send("signin", {{"user", "alice"}, {"password", "correct horse battery"}}).status, 200);
  EXPECT_EQ(Send("signin/mfa", {{"recovery_code", (*codes)[0]}}).status, 200);
  cookie_.clear();
  ASSERT_EQ(Send("signin", {{"user", "alice"}, {"password", "correct horse battery"}}).status, 200);
  EXPECT_EQ(Send("signin/mfa", {{"recovery_code", (*codes)[0]}}).status, 401);
}

TEST_F(IdentityConsoleTest, AUserWithoutMfaSignsInWithThePasswordAlone) {
  http::Response r = Send("signin", {{"user", "bob"}, {"password", "bob's long password"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["mfa_authenticated"], false);
}

TEST_F(IdentityConsoleTest, AResetRequiredPasswordIsChangedBeforeTheSessionAndTheFlagClears) {
  ASSERT_TRUE(store_->UpdateLoginProfile("bob", "", true).ok());
  http::Response r = Send("signin", {{"user", "bob"}, {"password", "bob's long password"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["password_change_required"], true);
  EXPECT_EQ(console_->session_count(), 0u);
  r = Send("signin/password",
           {{"old_password", "bob's long password"}, {"new_password", "bob's new long password"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(console_->session_count(), 1u);
  auto profile = store_->GetLoginProfile("bob");
  ASSERT_TRUE(profile.ok());
  EXPECT_FALSE(profile->password_reset_required);
  EXPECT_TRUE(store_->VerifyPassword("bob", "bob's new long password").ok());
}

}  // namespace
}  // namespace muon::console
