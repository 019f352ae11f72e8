#include "console/console.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

namespace muon::console {
namespace {

using Json = nlohmann::json;

// Users with passwords; "mfa" users accept code "123456" once per step and
// recovery code "RECOVER-1" once.
class FakeDirectory final : public Directory {
 public:
  Status VerifyPassword(std::string_view user, std::string_view password) override {
    auto it = passwords.find(std::string(user));
    if (it == passwords.end() || it->second != password) return Status::PermissionDenied("no");
    return Status::Ok();
  }
  Result<bool> HasMfa(std::string_view user) override { return mfa_users.count(std::string(user)) > 0; }
  Status VerifyMfaCode(std::string_view user, std::string_view code) override {
    return code == "123456" ? Status::Ok() : Status::PermissionDenied("no");
  }
  Status RedeemRecoveryCode(std::string_view user, std::string_view code) override {
    if (code != "RECOVER-1" || redeemed) return Status::PermissionDenied("no");
    redeemed = true;
    return Status::Ok();
  }
  Result<std::string> UserArn(std::string_view user) override {
    return "arn:aws:iam::000000000000:user/" + std::string(user);
  }
  Result<bool> PasswordResetRequired(std::string_view user) override {
    return reset_required.count(std::string(user)) > 0;
  }
  // New passwords need 8 characters.
  Status ChangePassword(std::string_view user, std::string_view old_password,
                        std::string_view new_password) override {
    if (!VerifyPassword(user, old_password).ok()) return Status::PermissionDenied("old");
    if (new_password.size() < 8) {
      return Status::InvalidArgument("PasswordPolicyViolation: at least 8 characters");
    }
    passwords[std::string(user)] = std::string(new_password);
    reset_required.erase(std::string(user));
    return Status::Ok();
  }
  std::map<std::string, std::string> passwords = {{"alice", "correct horse"},
                                                  {"bob", "battery staple"}};
  std::set<std::string> mfa_users = {"alice"};
  std::set<std::string> reset_required;
  bool redeemed = false;
};

class FakeSink final : public audit::Sink {
 public:
  void Record(const audit::Event& e) override { events.push_back(e); }
  std::vector<audit::Event> events;
};

class ConsoleTest : public ::testing::Test {
 protected:
  http::Request Req(std::string method, std::string op, Json body = nullptr,
                    std::string ip = "192.0.2.1") {
    http::Request r;
    r.method = std::move(method);
    r.path = std::string(kApiPrefix) + op;
    r.target = r.path;
    r.remote_ip = std::move(ip);
    r.headers = {{"Host", "127.0.0.1:4566"}};
    if (!body.is_null()) r.body = body.dump();
    if (!cookies_.empty()) {
      std::string c;
      for (const auto& [k, v] : cookies_) c += (c.empty() ? "" : "; ") + k + "=" + v;
      r.headers.emplace_back("Cookie", c);
    }
    return r;
  }
  // Sends a request, keeping the cookies it sets (as a browser would).
  http::Response Send(const http::Request& r) {
    http::Response resp = console_.Handle(r);
    for (const auto& [k, v] : resp.headers) {
      if (k != "Set-Cookie") continue;
      std::string name = v.substr(0, v.find('='));
      std::string value = v.substr(v.find('=') + 1, v.find(';') - v.find('=') - 1);
      if (value.empty()) cookies_.erase(name); else cookies_[name] = value;
    }
    return resp;
  }
  Json Body(const http::Response& r) { return Json::parse(r.body); }
  std::string SignInAlice() {
    EXPECT_EQ(Send(Req("POST", "signin", {{"user", "alice"}, {"password", "correct horse"}})).status,
              200);
    http::Response r = Send(Req("POST", "signin/mfa", {{"code", "123456"}}));
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r)["csrf_token"];
  }
  std::string Header(const http::Response& r, std::string_view name, int nth = 0) {
    for (const auto& [k, v] : r.headers) {
      if (k == name && nth-- == 0) return v;
    }
    return "";
  }

  FakeDirectory directory_;
  FakeSink sink_;
  FakeClock clock_;
  Console console_{&directory_, &sink_, &clock_, ConsoleOptions{}};
  std::map<std::string, std::string> cookies_;
};

TEST_F(ConsoleTest, PasswordThenCodeGivesASessionWithMfa) {
  http::Response r = Send(Req("POST", "signin", {{"user", "alice"}, {"password", "correct horse"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["mfa_required"], true);
  EXPECT_EQ(console_.session_count(), 0u);
  r = Send(Req("POST", "signin/mfa", {{"code", "123456"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["user"], "alice");
  EXPECT_EQ(Body(r)["mfa_authenticated"], true);
  EXPECT_FALSE(Body(r)["csrf_token"].get<std::string>().empty());
  r = Send(Req("GET", "session"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["arn"], "arn:aws:iam::000000000000:user/alice");

  auto caller = console_.SessionCaller(Req("GET", "x"));
  ASSERT_TRUE(caller.has_value());
  EXPECT_TRUE(caller->temporary_credentials);
  EXPECT_EQ(caller->mfa_authenticated_at, clock_.NowSeconds());
  EXPECT_EQ(caller->principal_arn, "arn:aws:iam::000000000000:user/alice");
  ASSERT_FALSE(sink_.events.empty());
  const audit::Event& login = sink_.events.back();
  EXPECT_EQ(login.event_type, "AwsConsoleSignIn");
  EXPECT_EQ(login.event_name, "ConsoleLogin");
  EXPECT_EQ(login.response_elements[0].second, "Success");
  EXPECT_EQ(login.user.type, "IAMUser");
  EXPECT_EQ(login.user.user_name, "alice");
  EXPECT_TRUE(login.user.mfa_authenticated);
  // The session's handle, as the records of its calls carry it.
  EXPECT_EQ(login.user.access_key_id, caller->access_key_id);
  EXPECT_EQ(login.user.access_key_id.substr(0, 4), "ASIA");
}

TEST_F(ConsoleTest, ARecoveryCodeStandsInForTheCodeOnce) {
  Send(Req("POST", "signin", {{"user", "alice"}, {"password", "correct horse"}}));
  EXPECT_EQ(Send(Req("POST", "signin/mfa", {{"recovery_code", "RECOVER-1"}})).status, 200);
  cookies_.clear();
  Send(Req("POST", "signin", {{"user", "alice"}, {"password", "correct horse"}}));
  EXPECT_EQ(Send(Req("POST", "signin/mfa", {{"recovery_code", "RECOVER-1"}})).status, 401);
}

TEST_F(ConsoleTest, AUserWithoutMfaGetsASessionWithoutMfa) {
  http::Response r = Send(Req("POST", "signin", {{"user", "bob"}, {"password", "battery staple"}}));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["mfa_authenticated"], false);
  auto caller = console_.SessionCaller(Req("GET", "x"));
  ASSERT_TRUE(caller.has_value());
  EXPECT_FALSE(caller->mfa_authenticated_at.has_value());
}

TEST_F(ConsoleTest, WrongPasswordAndWrongCodeGiveTheSameAnswer) {
  http::Response bad_password =
      Send(Req("POST", "signin", {{"user", "alice"}, {"password", "wrong"}}));
  http::Response unknown_user =
      Send(Req("POST", "signin", {{"user", "nobody"}, {"password", "wrong"}}));
  Send(Req("POST", "signin", {{"user", "alice"}, {"password", "correct horse"}}));
  http::Response bad_code = Send(Req("POST", "signin/mfa", {{"code", "000000"}}));
  EXPECT_EQ(bad_password.status, 401);
  EXPECT_EQ(bad_password.status, bad_code.status);
  EXPECT_EQ(bad_password.body, bad_code.body);
  EXPECT_EQ(bad_password.body, unknown_user.body);
  EXPECT_EQ(console_.session_count(), 0u);
  ASSERT_EQ(sink_.events.size(), 3u);
  for (const auto& e : sink_.events) EXPECT_EQ(e.response_elements[0].second, "Failure");
}

TEST_F(ConsoleTest, RepeatedFailuresLockTheUserOutUntilTheWindowPasses) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Send(Req("POST", "signin", {{"user", "alice"}, {"password", "wrong"}},
                       "192.0.2." + std::to_string(10 + i)))
                  .status,
              401);
  }
  // The right password is not even checked while locked, from any address.
  http::Response locked = Send(
      Req("POST", "signin", {{"user", "alice"}, {"password", "correct horse"}}, "198.51.100.1"));
  EXPECT_EQ(locked.status, 429);
  clock_.AdvanceSeconds(15 * 60 - 1);
  EXPECT_EQ(Send(Req("POST", "signin", {{"user", "alice"}, {"password", "correct horse"}},
                     "198.51.100.1"))
                .status,
            429);
  clock_.AdvanceSeconds(1);
  EXPECT_EQ(Send(Req("POST", "signin", {{"user", "alice"}, {"password", "correct horse"}},
                     "198.51.100.1"))
                .status,
            200);
}

TEST_F(ConsoleTest, WrongCodesCountTowardsTheSameLockout) {
  Send(Req("POST", "signin", {{"user", "alice"}, {"password", "correct horse"}}));
  for (int i = 0; i < 5; ++i) Send(Req("POST", "signin/mfa", {{"code", "000000"}}));
  EXPECT_EQ(Send(Req("POST", "signin/mfa", {{"code", "123456"}})).status, 429);
  EXPECT_EQ(console_.session_count(), 0u);
}

TEST_F(ConsoleTest, RepeatedFailuresFromOneAddressLockThatAddressForEveryUser) {
  for (int i = 0; i < 5; ++i) {
    Send(Req("POST", "signin", {{"user", "user" + std::to_string(i)}, {"password", "x"}}));
  }
  EXPECT_EQ(Send(Req("POST", "signin", {{"user", "bob"}, {"password", "battery staple"}})).status,
            429);
  EXPECT_EQ(Send(Req("POST", "signin", {{"user", "bob"}, {"password", "battery staple"}},
                     "203.0.113.9"))
                .status,
            200);
}

TEST_F(ConsoleTest, SessionsEndAfterIdleTimeout) {
  SignInAlice();
  clock_.AdvanceSeconds(14 * 60);
  EXPECT_EQ(Send(Req("GET", "session")).status, 200);  // activity restarts the idle clock
  clock_.AdvanceSeconds(14 * 60);
  EXPECT_EQ(Send(Req("GET", "session")).status, 200);
  clock_.AdvanceSeconds(15 * 60);
  EXPECT_EQ(Send(Req("GET", "session")).status, 401);
  EXPECT_FALSE(console_.SessionCaller(Req("GET", "x")).has_value());
}

TEST_F(ConsoleTest, SessionsEndAfterAbsoluteTimeoutDespiteActivity) {
  SignInAlice();
  for (int i = 0; i < 8 * 6 - 1; ++i) {
    clock_.AdvanceSeconds(10 * 60);
    ASSERT_EQ(Send(Req("GET", "session")).status, 200) << i;
  }
  clock_.AdvanceSeconds(10 * 60);  // 8 h since sign-in
  EXPECT_EQ(Send(Req("GET", "session")).status, 401);
}

TEST_F(ConsoleTest, PendingSignInExpires) {
  Send(Req("POST", "signin", {{"user", "alice"}, {"password", "correct horse"}}));
  clock_.AdvanceSeconds(5 * 60);
  http::Response r = Send(Req("POST", "signin/mfa", {{"code", "123456"}}));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Body(r)["error"]["code"], "SignInExpired");
}

TEST_F(ConsoleTest, StateChangingCallsNeedTheCsrfToken) {
  std::string csrf = SignInAlice();
  http::Request no_token = Req("POST", "signout");
  EXPECT_EQ(Send(no_token).status, 403);
  EXPECT_FALSE(console_.SessionCaller(Req("PUT", "x")).has_value());
  http::Request wrong = Req("PUT", "x");
  wrong.headers.emplace_back("X-CSRF-Token", csrf + "x");
  EXPECT_FALSE(console_.SessionCaller(wrong).has_value());
  http::Request with_token = Req("PUT", "x");
  with_token.headers.emplace_back("X-CSRF-Token", csrf);
  EXPECT_TRUE(console_.SessionCaller(with_token).has_value());
  with_token.headers.emplace_back("Origin", "https://evil.example");
  EXPECT_FALSE(console_.SessionCaller(with_token).has_value());

  http::Request signout = Req("POST", "signout");
  signout.headers.emplace_back("X-CSRF-Token", csrf);
  signout.headers.emplace_back("Origin", "http://127.0.0.1:4566");
  EXPECT_EQ(Send(signout).status, 200);
  EXPECT_EQ(console_.session_count(), 0u);
  EXPECT_EQ(Send(Req("GET", "session")).status, 401);
}

TEST_F(ConsoleTest, CrossOriginSignInIsRefused) {
  http::Request r = Req("POST", "signin", {{"user", "bob"}, {"password", "battery staple"}});
  r.headers.emplace_back("Origin", "http://evil.example");
  EXPECT_EQ(Send(r).status, 403);
}

TEST_F(ConsoleTest, CookieAttributes) {
  http::Response r = Send(Req("POST", "signin", {{"user", "bob"}, {"password", "battery staple"}}));
  std::string plain = Header(r, "Set-Cookie");
  EXPECT_EQ(plain.rfind("muonpipe-session=", 0), 0u) << plain;
  EXPECT_NE(plain.find("; Path=/"), std::string::npos);
  EXPECT_NE(plain.find("; HttpOnly"), std::string::npos);
  EXPECT_NE(plain.find("; SameSite=Strict"), std::string::npos);
  EXPECT_EQ(plain.find("Secure"), std::string::npos);
  EXPECT_EQ(plain.find("Domain"), std::string::npos);
  // 256 random bits, base64url without padding.
  EXPECT_EQ(plain.substr(17, plain.find(';') - 17).size(), 43u);

  cookies_.clear();
  http::Request tls = Req("POST", "signin", {{"user", "bob"}, {"password", "battery staple"}});
  tls.secure = true;
  std::string secure = Header(Send(tls), "Set-Cookie");
  EXPECT_EQ(secure.rfind("__Host-muonpipe-session=", 0), 0u) << secure;
  EXPECT_NE(secure.find("; Secure"), std::string::npos);
  EXPECT_NE(secure.find("; Path=/"), std::string::npos);
  // A TLS session cookie is not accepted over plain HTTP, nor the reverse.
  http::Request plain_get = Req("GET", "x");
  EXPECT_FALSE(console_.SessionCaller(plain_get).has_value());
  plain_get.secure = true;
  EXPECT_TRUE(console_.SessionCaller(plain_get).has_value());
}

TEST_F(ConsoleTest, SignOutForgetsTheSession) {
  std::string csrf = SignInAlice();
  std::map<std::string, std::string> kept = cookies_;
  http::Request signout = Req("POST", "signout");
  signout.headers.emplace_back("X-CSRF-Token", csrf);
  ASSERT_EQ(Send(signout).status, 200);
  cookies_ = kept;  // a copy of the old cookie no longer works
  EXPECT_EQ(Send(Req("GET", "session")).status, 401);
}

TEST_F(ConsoleTest, SignOutIsAuditedAsConsoleLogout) {
  std::string csrf = SignInAlice();
  http::Request signout = Req("POST", "signout");
  signout.headers.emplace_back("X-CSRF-Token", csrf);
  ASSERT_EQ(Send(signout).status, 200);
  ASSERT_FALSE(sink_.events.empty());
  const audit::Event& e = sink_.events.back();
  EXPECT_EQ(e.event_type, "AwsConsoleSignIn");
  EXPECT_EQ(e.event_source, "signin.amazonaws.com");
  EXPECT_EQ(e.event_name, "ConsoleLogout");
  EXPECT_EQ(e.user.type, "IAMUser");
  EXPECT_EQ(e.user.arn, "arn:aws:iam::000000000000:user/alice");
  EXPECT_TRUE(e.user.mfa_authenticated);
  EXPECT_EQ(e.source_ip, "192.0.2.1");
}

TEST_F(ConsoleTest, PasswordResetRequiredGivesNoSessionUntilThePasswordIsChanged) {
  directory_.reset_required.insert("bob");
  http::Response r = Send(Req("POST", "signin", {{"user", "bob"}, {"password", "battery staple"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["password_change_required"], true);
  EXPECT_FALSE(Body(r).contains("csrf_token"));
  EXPECT_EQ(console_.session_count(), 0u);
  EXPECT_EQ(Send(Req("GET", "session")).status, 401);
  EXPECT_FALSE(console_.SessionCaller(Req("GET", "x")).has_value());
  EXPECT_EQ(Body(Send(Req("POST", "signin/mfa", {{"code", "123456"}})))["error"]["code"],
            "SignInExpired")
      << "the pending sign-in is at the password step, not the code's";

  r = Send(Req("POST", "signin/password",
               {{"old_password", "battery staple"}, {"new_password", "short"}}));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["error"]["code"], "PasswordPolicyViolation");
  EXPECT_EQ(Body(r)["error"]["message"], "at least 8 characters");
  r = Send(Req("POST", "signin/password",
               {{"old_password", "wrong"}, {"new_password", "a new long password"}}));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Body(r)["error"]["code"], "SignInFailed");
  EXPECT_EQ(console_.session_count(), 0u);

  sink_.events.clear();
  r = Send(Req("POST", "signin/password",
               {{"old_password", "battery staple"}, {"new_password", "a new long password"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["user"], "bob");
  EXPECT_EQ(Body(r)["mfa_authenticated"], false);
  EXPECT_EQ(Send(Req("GET", "session")).status, 200);
  EXPECT_EQ(directory_.reset_required.count("bob"), 0u);
  EXPECT_EQ(directory_.passwords["bob"], "a new long password");
  ASSERT_EQ(sink_.events.size(), 2u);
  EXPECT_EQ(sink_.events[0].event_source, "iam.amazonaws.com");
  EXPECT_EQ(sink_.events[0].event_name, "ChangePassword");
  EXPECT_EQ(sink_.events[0].user.user_name, "bob");
  EXPECT_EQ(sink_.events[0].error_code, "");
  EXPECT_EQ(sink_.events[1].event_name, "ConsoleLogin");
  EXPECT_EQ(sink_.events[1].response_elements[0].second, "Success");

  // The changed password is the one that signs in now, straight into a session.
  cookies_.clear();
  r = Send(Req("POST", "signin", {{"user", "bob"}, {"password", "a new long password"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(Body(r)["csrf_token"].get<std::string>().empty());
}

TEST_F(ConsoleTest, PasswordResetComesAfterTheCodeAndKeepsItsMfa) {
  directory_.reset_required.insert("alice");
  ASSERT_EQ(Body(Send(Req("POST", "signin",
                          {{"user", "alice"}, {"password", "correct horse"}})))["mfa_required"],
            true);
  EXPECT_EQ(Send(Req("POST", "signin/password",
                     {{"old_password", "correct horse"}, {"new_password", "a new long password"}}))
                .status,
            401)
      << "the code comes first";
  http::Response r = Send(Req("POST", "signin/mfa", {{"code", "123456"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["password_change_required"], true);
  EXPECT_EQ(console_.session_count(), 0u);
  r = Send(Req("POST", "signin/password",
               {{"old_password", "correct horse"}, {"new_password", "a new long password"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["mfa_authenticated"], true);
}

TEST_F(ConsoleTest, PasswordStepWithoutAPendingSignInHasExpired) {
  http::Response r =
      Send(Req("POST", "signin/password",
               {{"old_password", "battery staple"}, {"new_password", "long enough"}}));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Body(r)["error"]["code"], "SignInExpired");
  EXPECT_EQ(directory_.passwords["bob"], "battery staple");
}

}  // namespace
}  // namespace muon::console
