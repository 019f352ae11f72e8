#include "auth/http_auth.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "auth/static_credential_store.h"

namespace muon::auth {
namespace {

constexpr int64_t kNow = 1'795'842'000;

// Identities with one session key whose owner and expiry the test sets.
class FakeIdentities final : public Identities, public CredentialStore {
 public:
  std::optional<Credentials> Lookup(std::string_view akid) const override {
    if (!live || akid != key.access_key_id) return std::nullopt;
    return key;
  }
  const CredentialStore& credentials() const override { return *this; }
  std::optional<KeyOwner> OwnerOf(std::string_view akid) const override {
    if (!owned || akid != key.access_key_id) return std::nullopt;
    return owner;
  }
  void NoteKeyUsed(std::string_view akid, std::string_view service,
                   std::string_view region) const override {
    std::lock_guard lock(mu);
    used.push_back(std::string(akid) + "/" + std::string(service) + "/" + std::string(region));
  }
  bool IsExpiredSession(std::string_view akid, std::string_view token, int64_t now) const override {
    return akid == key.access_key_id && token == key.session_token && now >= expiration;
  }

  Credentials key{"ASIAEXAMPLEEXAMPLE00", "secret/secret/secret/secret/secret/secre", "tok+en/="};
  KeyOwner owner{"arn:aws:sts::000000000000:assumed-role/R/s", true, kNow - 60};
  int64_t expiration = kNow + 900;
  bool live = true;
  bool owned = true;
  mutable std::mutex mu;
  mutable std::vector<std::string> used;
};

http::Request Signed(const Credentials& c, std::string_view service, std::string_view region,
                     int64_t at = kNow) {
  http::Request r;
  r.method = "POST";
  r.path = "/";
  r.body = "Action=GetCallerIdentity&Version=2011-06-15";
  r.remote_ip = "192.0.2.7";
  r.secure = true;
  r.headers = {{"Host", "localhost:4566"},
               {"Content-Type", "application/x-www-form-urlencoded"},
               {"User-Agent", "test/1"}};
  Sign(r.method, r.path, r.query, r.headers, r.body, c,
       {.region = std::string(region), .service = std::string(service), .now_seconds = at});
  return r;
}

TEST(AuthenticateHttpTest, CallerCarriesTheOwnersPrincipalTemporaryAndMfaTime) {
  FakeIdentities ids;
  FakeClock clock(kNow * 1'000'000'000);
  auto out = AuthenticateHttp(Signed(ids.key, "sts", "ap-southeast-2"), ids, clock,
                              {.service = "sts", .region = "ap-southeast-2"});
  ASSERT_TRUE(out.verified) << out.failure.message;
  EXPECT_EQ(out.caller.access_key_id, ids.key.access_key_id);
  EXPECT_EQ(out.caller.principal_arn, ids.owner.principal_arn);
  EXPECT_TRUE(out.caller.temporary_credentials);
  EXPECT_EQ(out.caller.mfa_authenticated_at, kNow - 60);
  EXPECT_EQ(out.caller.source_ip, "192.0.2.7");
  EXPECT_EQ(out.caller.user_agent, "test/1");
  EXPECT_TRUE(out.caller.secure_transport);
  EXPECT_EQ(ids.used, (std::vector<std::string>{ids.key.access_key_id + "/sts/ap-southeast-2"}));
}

TEST(AuthenticateHttpTest, UnknownSessionKeyWithAnExpiredTokenIsExpiredToken) {
  FakeIdentities ids;
  ids.live = false;
  ids.expiration = kNow - 1;
  FakeClock clock(kNow * 1'000'000'000);
  auto out = AuthenticateHttp(Signed(ids.key, "kinesis", "ap-southeast-2"), ids, clock,
                              {.service = "kinesis", .region = "ap-southeast-2"});
  ASSERT_FALSE(out.verified);
  EXPECT_EQ(out.failure.error, AuthError::kExpiredToken);
  EXPECT_TRUE(ids.used.empty());
}

TEST(AuthenticateHttpTest, UnknownKeyWhoseTokenProvesNothingStaysUnknown) {
  FakeIdentities ids;
  ids.live = false;  // and not expired by its token
  FakeClock clock(kNow * 1'000'000'000);
  auto out = AuthenticateHttp(Signed(ids.key, "kinesis", "ap-southeast-2"), ids, clock,
                              {.service = "kinesis", .region = "ap-southeast-2"});
  ASSERT_FALSE(out.verified);
  EXPECT_EQ(out.failure.error, AuthError::kUnknownAccessKey);
}

TEST(AuthenticateHttpTest, KeyWithoutOwnerFailsAsUnknownOrExpired) {
  FakeIdentities ids;
  ids.owned = false;  // disabled between the two look-ups
  FakeClock clock(kNow * 1'000'000'000);
  auto out = AuthenticateHttp(Signed(ids.key, "s3", "ap-southeast-2"), ids, clock,
                              {.service = "s3", .region = "ap-southeast-2"});
  ASSERT_FALSE(out.verified);
  EXPECT_EQ(out.failure.error, AuthError::kUnknownAccessKey);
  ids.expiration = kNow;
  out = AuthenticateHttp(Signed(ids.key, "s3", "ap-southeast-2"), ids, clock,
                         {.service = "s3", .region = "ap-southeast-2"});
  EXPECT_EQ(out.failure.error, AuthError::kExpiredToken);
  EXPECT_TRUE(ids.used.empty());
}

TEST(AuthenticateHttpTest, AlsoRegionAcceptsAGlobalServicesSigningRegion) {
  FakeIdentities ids;
  FakeClock clock(kNow * 1'000'000'000);
  auto out = AuthenticateHttp(Signed(ids.key, "iam", "us-east-1"), ids, clock,
                              {.service = "iam", .region = "ap-southeast-2"});
  EXPECT_EQ(out.failure.error, AuthError::kWrongScope);
  out =
      AuthenticateHttp(Signed(ids.key, "iam", "us-east-1"), ids, clock,
                       {.service = "iam", .region = "ap-southeast-2", .also_region = "us-east-1"});
  EXPECT_TRUE(out.verified) << out.failure.message;
  out =
      AuthenticateHttp(Signed(ids.key, "iam", "eu-west-1"), ids, clock,
                       {.service = "iam", .region = "ap-southeast-2", .also_region = "us-east-1"});
  EXPECT_EQ(out.failure.error, AuthError::kWrongScope);
}

TEST(StaticCredentialStoreTest, OwnsItsKeysAsLongTermKeys) {
  StaticCredentialStore store;
  store.Add({"AKIAEXAMPLEEXAMPLE00", "s", ""}, "arn:aws:iam::000000000000:user/a");
  auto owner = store.OwnerOf("AKIAEXAMPLEEXAMPLE00");
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->principal_arn, "arn:aws:iam::000000000000:user/a");
  EXPECT_FALSE(owner->temporary);
  EXPECT_FALSE(owner->mfa_authenticated_at);
  EXPECT_FALSE(store.OwnerOf("AKIAOTHER"));
}

}  // namespace
}  // namespace muon::auth

namespace muon::auth {
namespace {

class DenyAll final : public Authorizer {
 public:
  using Authorizer::Authorize;
  Status Authorize(const Caller&, std::string_view, std::string_view) const override {
    return Status::PermissionDenied("no");
  }
};

TEST(BootstrapKeyAuthorizerTest, ExemptsOnlyTheBootstrapLongTermKey) {
  DenyAll deny;
  BootstrapKeyAuthorizer authz(&deny, "AKIABOOTSTRAP");
  Caller admin;
  admin.access_key_id = "AKIABOOTSTRAP";
  EXPECT_TRUE(authz.Authorize(admin, "kinesis:PutRecord", "*").ok());
  EXPECT_TRUE(authz.Authorize(admin, "s3:ListBucket", "*", {{"s3:prefix", "a"}}).ok());
  Caller other;
  other.access_key_id = "AKIAOTHER";
  EXPECT_EQ(authz.Authorize(other, "kinesis:PutRecord", "*").code(), StatusCode::kPermissionDenied);
  Caller session = admin;
  session.temporary_credentials = true;
  EXPECT_EQ(authz.Authorize(session, "kinesis:PutRecord", "*").code(),
            StatusCode::kPermissionDenied);
  BootstrapKeyAuthorizer none(&deny, "");
  Caller anonymous;
  EXPECT_EQ(none.Authorize(anonymous, "kinesis:PutRecord", "*").code(),
            StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace muon::auth
