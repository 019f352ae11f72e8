#include "identity/sts.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <vector>

#include "audit/auditing_authorizer.h"
#include "auth/http_auth.h"
#include "base/clock.h"
#include "iam/policy_authorizer.h"
#include "iam/totp.h"

namespace muon::identity {
namespace {

constexpr char kRegion[] = "ap-southeast-2";
constexpr char kAccount[] = "000000000000";
constexpr int64_t kStart = 1'795'842'000;  // 2026-11-28T05:00:00Z

struct Reply {
  int status = 0;
  pugi::xml_document doc;
  std::string body;
  std::string Code() const { return doc.child("ErrorResponse").child("Error").child_value("Code"); }
  std::string Type() const { return doc.child("ErrorResponse").child("Error").child_value("Type"); }
  pugi::xml_node Result(std::string_view action) const {
    return doc.child((std::string(action) + "Response").c_str())
        .child((std::string(action) + "Result").c_str());
  }
  auth::Credentials Credentials(std::string_view action) const {
    auto c = Result(action).child("Credentials");
    return {c.child_value("AccessKeyId"), c.child_value("SecretAccessKey"),
            c.child_value("SessionToken")};
  }
};

class FakeSink final : public audit::Sink {
 public:
  void Record(const audit::Event& e) override {
    std::lock_guard lock(mu_);
    events_.push_back(e);
  }
  std::vector<audit::Event> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(events_, {});
  }

 private:
  std::mutex mu_;
  std::vector<audit::Event> events_;
};

class StsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IdentityStoreOptions o;
    o.account_id = kAccount;
    o.admin_key =
        auth::Credentials{"AKIAADMINADMINADMIN0", "adminsecretadminsecretadminsecretadminse", ""};
    admin_ = *o.admin_key;
    auto store = IdentityStore::Open(":memory:", o, &clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    authorizer_ = std::make_unique<iam::PolicyAuthorizer>(store_->policies(), &clock_);
    identities_ = std::make_unique<StoreIdentities>(store_.get(), &tokens_);
    StsOptions options;
    options.region = kRegion;
    options.audit = &sink_;
    options.audit_identity = AuditIdentity();
    sts_ = std::make_unique<StsService>(store_.get(), authorizer_.get(), &tokens_, &clock_,
                                        std::move(options));
  }

  static audit::IdentityOptions AuditIdentity() {
    audit::IdentityOptions o;
    o.account_id = kAccount;
    return o;
  }

  std::string PolicyArn(std::string_view name) {
    return fmt::format("arn:aws:iam::{}:policy/{}", kAccount, name);
  }

  // A user with `policy` attached and a key; with `mfa`, an enabled device.
  auth::Credentials NewUser(std::string_view name, std::string_view policy, bool mfa = false) {
    EXPECT_TRUE(store_->CreateUser(name, "/", {}).ok());
    if (!policy.empty()) {
      EXPECT_TRUE(store_->AttachPolicy(AttachTarget::kUser, name, PolicyArn(policy)).ok());
    }
    auto key = store_->CreateAccessKey(name);
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    if (mfa) {
      auto device = store_->CreateVirtualMfaDevice(name, "/");
      EXPECT_TRUE(device.ok()) << device.status().ToString();
      seed_ = *iam::Base32Decode(device->base32_seed);
      serial_ = device->device.serial_number;
      // Enrolled half a minute ago with the two steps before now, so the
      // current step's code is fresh.
      int64_t now = clock_.NowSeconds();
      clock_.AdvanceSeconds(-30);
      Status enabled = store_->EnableMfaDevice(name, serial_, Code(now - 60), Code(now - 30));
      EXPECT_TRUE(enabled.ok()) << enabled.ToString();
      clock_.AdvanceSeconds(30);
    }
    return {key->key.access_key_id, key->secret_access_key, ""};
  }

  std::string Code(int64_t at) { return *iam::TotpCode(seed_, at); }
  std::string CodeNow() { return Code(clock_.NowSeconds()); }

  http::Request Signed(const auth::Credentials& c, std::string body, std::string service = "sts") {
    http::Request r;
    r.method = "POST";
    r.path = "/";
    r.body = std::move(body);
    r.remote_ip = "127.0.0.1";
    r.headers = {{"Host", "localhost:4566"},
                 {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    auth::Sign(r.method, r.path, r.query, r.headers, r.body, c,
               {.region = kRegion, .service = service, .now_seconds = clock_.NowSeconds()});
    return r;
  }

  std::unique_ptr<Reply> Call(const auth::Credentials& c, std::string params) {
    http::Response resp = HandleSts(sts_.get(), identities_.get(), &clock_,
                                    Signed(c, "Version=2011-06-15&" + params));
    auto out = std::make_unique<Reply>();
    out->status = resp.status;
    out->body = resp.body;
    EXPECT_TRUE(out->doc.load_string(resp.body.c_str())) << resp.body;
    return out;
  }

  // Authenticates a request signed with `c` as another edge would, then asks
  // the authorizer; "" when allowed, else the auth error or "AccessDenied".
  std::string Try(const auth::Credentials& c, std::string_view action, std::string_view resource) {
    http::Request r = Signed(c, "", "kinesis");
    auto out =
        auth::AuthenticateHttp(r, *identities_, clock_, {.service = "kinesis", .region = kRegion});
    if (!out.verified) {
      switch (out.failure.error) {
        case auth::AuthError::kExpiredToken:
          return "ExpiredToken";
        case auth::AuthError::kUnknownAccessKey:
          return "UnknownKey";
        default:
          return "AuthFailure";
      }
    }
    Status s = authorizer_->Authorize(out.caller, action, resource);
    return s.ok() ? "" : "AccessDenied";
  }

  static constexpr char kStream[] =
      "arn:aws:kinesis:ap-southeast-2:000000000000:stream/muonpipe-live";

  FakeSink sink_;
  FakeClock clock_{kStart * 1'000'000'000};
  SessionTokens tokens_{std::string(32, 'k')};
  std::unique_ptr<IdentityStore> store_;
  std::unique_ptr<iam::PolicyAuthorizer> authorizer_;
  std::unique_ptr<StoreIdentities> identities_;
  std::unique_ptr<StsService> sts_;
  auth::Credentials admin_;
  std::string seed_;
  std::string serial_;
};

TEST_F(StsTest, GetCallerIdentityNamesTheUser) {
  auto r = Call(admin_, "Action=GetCallerIdentity");
  ASSERT_EQ(r->status, 200) << r->body;
  auto result = r->Result("GetCallerIdentity");
  EXPECT_STREQ(result.child_value("Arn"), "arn:aws:iam::000000000000:user/admin");
  EXPECT_STREQ(result.child_value("Account"), kAccount);
  EXPECT_EQ(std::string(result.child_value("UserId")).substr(0, 4), "AIDA");
  EXPECT_STREQ(r->doc.child("GetCallerIdentityResponse").attribute("xmlns").value(),
               "https://sts.amazonaws.com/doc/2011-06-15/");
}

TEST_F(StsTest, UnknownActionAndOtherVersionAreInvalidAction) {
  EXPECT_EQ(Call(admin_, "Action=GetFederationToken&Name=x")->Code(), "InvalidAction");
  http::Response resp = HandleSts(sts_.get(), identities_.get(), &clock_,
                                  Signed(admin_, "Action=GetCallerIdentity&Version=2010-05-08"));
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("InvalidAction"), std::string::npos);
}

TEST_F(StsTest, UnsignedAndUnknownKeysGetStsErrorShapes) {
  http::Request unsigned_request;
  unsigned_request.method = "POST";
  unsigned_request.path = "/";
  unsigned_request.body = "Action=GetCallerIdentity&Version=2011-06-15";
  http::Response r = HandleSts(sts_.get(), identities_.get(), &clock_, unsigned_request);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("<Code>MissingAuthenticationToken</Code>"), std::string::npos);
  auto unknown = Call({"AKIANOSUCHKEY0000000", "x", ""}, "Action=GetCallerIdentity");
  EXPECT_EQ(unknown->status, 403);
  EXPECT_EQ(unknown->Code(), "InvalidClientTokenId");
  EXPECT_EQ(unknown->Type(), "Sender");
}

// Failed authentications reach serve's auth-failure observer, not STS; with
// the observer serve installs, every call leaves exactly one record.
class StsAuditTest : public StsTest {
 protected:
  void SetUp() override {
    StsTest::SetUp();
    auth::SetAuthFailureObserver([this](const auth::AuthFailureNotice& n) {
      sink_.Record(audit::AuthFailureEvent(n, clock_, AuditIdentity()));
    });
  }
  void TearDown() override { auth::SetAuthFailureObserver(nullptr); }

  // The one record `params` (signed with `c`) leaves, checked to be STS's.
  audit::Event OneRecord(const auth::Credentials& c, std::string params) {
    sink_.Take();
    auto reply = Call(c, std::move(params));
    std::vector<audit::Event> events = sink_.Take();
    EXPECT_EQ(events.size(), 1u) << reply->body;
    if (events.empty()) return {};
    EXPECT_EQ(events[0].event_source, "sts.amazonaws.com");
    EXPECT_EQ(events[0].error_code, reply->status == 200 ? "" : reply->Code()) << reply->body;
    return events[0];
  }
};

TEST_F(StsAuditTest, EachCallIsRecordedOnceWithTheErrorCodeOfItsReply) {
  auth::Credentials user = NewUser("dev1", "Device");
  audit::Event ok = OneRecord(user, "Action=GetCallerIdentity");
  EXPECT_EQ(ok.event_name, "GetCallerIdentity");
  EXPECT_EQ(ok.error_code, "");
  EXPECT_EQ(ok.user.type, "IAMUser");
  EXPECT_EQ(ok.user.user_name, "dev1");
  EXPECT_TRUE(ok.read_only);

  audit::Event invalid = OneRecord(user, "Action=GetSessionToken&DurationSeconds=10");
  EXPECT_EQ(invalid.event_name, "GetSessionToken");
  EXPECT_EQ(invalid.error_code, "ValidationError");
  EXPECT_NE(invalid.error_message.find("greater than or equal to 900"), std::string::npos);

  EXPECT_EQ(OneRecord(user, "Action=GetFederationToken&Name=x").error_code, "InvalidAction");

  audit::Event unknown = OneRecord({"AKIANOSUCHKEY0000000", "x", ""}, "Action=GetCallerIdentity");
  EXPECT_EQ(unknown.error_code, "InvalidClientTokenId");
  EXPECT_EQ(unknown.event_name, "GetCallerIdentity");

  auth::Credentials session =
      Call(user, "Action=GetSessionToken&DurationSeconds=900")->Credentials("GetSessionToken");
  EXPECT_EQ(OneRecord(session, "Action=GetSessionToken").error_code, "AccessDenied");
  clock_.AdvanceSeconds(900);
  EXPECT_EQ(OneRecord(session, "Action=GetCallerIdentity").error_code, "ExpiredToken");
}

TEST_F(StsAuditTest, RequestsRefusedBeforeTheirActionAreRecordedOnce) {
  sink_.Take();
  http::Response resp = HandleSts(sts_.get(), identities_.get(), &clock_,
                                  Signed(admin_, "Action=GetCallerIdentity&Version=2010-05-08"));
  std::vector<audit::Event> events = sink_.Take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].error_code, "InvalidAction");
  EXPECT_EQ(events[0].event_name, "GetCallerIdentity");
  EXPECT_NE(resp.body.find("<RequestId>" + events[0].request_id + "</RequestId>"),
            std::string::npos);
  HandleSts(sts_.get(), identities_.get(), &clock_, Signed(admin_, "Version=2011-06-15"));
  events = sink_.Take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].error_code, "MissingAction");
}

TEST_F(StsTest, SessionTokenWithoutMfaIsTemporaryWithoutMfa) {
  auth::Credentials analyst = NewUser("ann", "Analyst");
  auto r = Call(analyst, "Action=GetSessionToken&DurationSeconds=900");
  ASSERT_EQ(r->status, 200) << r->body;
  auth::Credentials session = r->Credentials("GetSessionToken");
  EXPECT_EQ(session.access_key_id.substr(0, 4), "ASIA");
  EXPECT_EQ(session.secret_access_key.size(), 40u);
  EXPECT_FALSE(session.session_token.empty());
  EXPECT_STREQ(r->Result("GetSessionToken").child("Credentials").child_value("Expiration"),
               "2026-11-28T05:15:00Z");
  auto owner = identities_->OwnerOf(session.access_key_id);
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->principal_arn, "arn:aws:iam::000000000000:user/ann");
  EXPECT_TRUE(owner->temporary);
  EXPECT_FALSE(owner->mfa_authenticated_at);
  // Analyst's deny-unless-MFA applies: MFA is known to be absent.
  EXPECT_EQ(Try(session, "registry:GetSite", "arn:muonpipe:registry:::site/x"), "AccessDenied");
}

TEST_F(StsTest, AnalystWithoutMfaIsDeniedAndWithAnMfaSessionMayReadButNotWrite) {
  auth::Credentials analyst = NewUser("ann", "Analyst", /*mfa=*/true);
  const std::string site = "arn:muonpipe:registry:::site/north";
  EXPECT_EQ(Try(analyst, "registry:GetSite", site), "AccessDenied");
  auto r =
      Call(analyst, "Action=GetSessionToken&SerialNumber=" + serial_ + "&TokenCode=" + CodeNow());
  ASSERT_EQ(r->status, 200) << r->body;
  auth::Credentials session = r->Credentials("GetSessionToken");
  auto owner = identities_->OwnerOf(session.access_key_id);
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->mfa_authenticated_at, kStart);
  EXPECT_EQ(Try(session, "registry:GetSite", site), "");
  EXPECT_EQ(Try(session, "s3:GetObject", "arn:aws:s3:::muonpipe-data/archive/a"), "");
  EXPECT_EQ(Try(session, "registry:UpdateSite", site), "AccessDenied");
  EXPECT_EQ(Try(session, "kinesis:PutRecord", kStream), "AccessDenied");
}

TEST_F(StsTest, ReplayedWrongAndIncompleteMfaAreAccessDenied) {
  auth::Credentials analyst = NewUser("ann", "Analyst", /*mfa=*/true);
  std::string code = CodeNow();
  ASSERT_EQ(Call(analyst, "Action=GetSessionToken&SerialNumber=" + serial_ + "&TokenCode=" + code)
                ->status,
            200);
  auto replay =
      Call(analyst, "Action=GetSessionToken&SerialNumber=" + serial_ + "&TokenCode=" + code);
  EXPECT_EQ(replay->status, 403);
  EXPECT_EQ(replay->Code(), "AccessDenied");
  EXPECT_NE(replay->body.find("invalid MFA one time pass code"), std::string::npos);
  std::string wrong = code == "000000" ? "111111" : "000000";
  clock_.AdvanceSeconds(30);
  EXPECT_EQ(Call(analyst, "Action=GetSessionToken&SerialNumber=" + serial_ + "&TokenCode=" + wrong)
                ->Code(),
            "AccessDenied");
  auto incomplete = Call(analyst, "Action=GetSessionToken&SerialNumber=" + serial_);
  EXPECT_EQ(incomplete->Code(), "AccessDenied");
  EXPECT_NE(incomplete->body.find("must provide both"), std::string::npos);
  EXPECT_EQ(
      Call(analyst, "Action=GetSessionToken&SerialNumber=" + serial_ + "&TokenCode=12ab56")->Code(),
      "ValidationError");
}

TEST_F(StsTest, DurationSecondsIsValidated) {
  auth::Credentials user = NewUser("ann", "Analyst");
  EXPECT_EQ(Call(user, "Action=GetSessionToken&DurationSeconds=899")->Code(), "ValidationError");
  EXPECT_EQ(Call(user, "Action=GetSessionToken&DurationSeconds=129601")->Code(), "ValidationError");
  EXPECT_EQ(Call(user, "Action=GetSessionToken&DurationSeconds=ten")->Code(), "ValidationError");
  auto r = Call(user, "Action=GetSessionToken");
  ASSERT_EQ(r->status, 200);
  EXPECT_STREQ(r->Result("GetSessionToken").child("Credentials").child_value("Expiration"),
               "2026-11-28T17:00:00Z");  // 43200 s
}

TEST_F(StsTest, SessionCredentialsCannotGetAnotherSessionToken) {
  auth::Credentials user = NewUser("ann", "Analyst");
  auth::Credentials session = Call(user, "Action=GetSessionToken")->Credentials("GetSessionToken");
  auto r = Call(session, "Action=GetSessionToken");
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->Code(), "AccessDenied");
}

TEST_F(StsTest, SessionExpiresOnTimeWithExpiredToken) {
  auth::Credentials user = NewUser("dev1", "Device");
  auth::Credentials session =
      Call(user, "Action=GetSessionToken&DurationSeconds=900")->Credentials("GetSessionToken");
  EXPECT_EQ(Try(session, "kinesis:PutRecord", kStream), "");
  clock_.AdvanceSeconds(899);
  EXPECT_EQ(Try(session, "kinesis:PutRecord", kStream), "");
  clock_.AdvanceSeconds(1);
  EXPECT_EQ(Try(session, "kinesis:PutRecord", kStream), "ExpiredToken");
  auto r = Call(session, "Action=GetCallerIdentity");
  EXPECT_EQ(r->Code(), "ExpiredToken");
  EXPECT_EQ(r->status, 400);
  ASSERT_TRUE(store_->PurgeExpiredSessions().ok());
  EXPECT_EQ(Try(session, "kinesis:PutRecord", kStream), "ExpiredToken");
}

TEST_F(StsTest, AlteredSessionTokenIsRefused) {
  auth::Credentials user = NewUser("dev1", "Device");
  auth::Credentials session = Call(user, "Action=GetSessionToken")->Credentials("GetSessionToken");
  auth::Credentials altered = session;
  altered.session_token[10] = altered.session_token[10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Try(altered, "kinesis:PutRecord", kStream), "AuthFailure");
  auth::Credentials without = session;
  without.session_token.clear();
  EXPECT_EQ(Try(without, "kinesis:PutRecord", kStream), "AuthFailure");
}

TEST_F(StsTest, DisabledKeyStopsAtOnce) {
  auth::Credentials device = NewUser("dev1", "Device");
  EXPECT_EQ(Try(device, "kinesis:PutRecord", kStream), "");
  ASSERT_TRUE(store_->UpdateAccessKey("dev1", device.access_key_id, false).ok());
  EXPECT_EQ(Try(device, "kinesis:PutRecord", kStream), "UnknownKey");
  EXPECT_EQ(Call(device, "Action=GetCallerIdentity")->Code(), "InvalidClientTokenId");
}

class AssumeRoleTest : public StsTest {
 protected:
  void CreateRole(std::string_view trust, int64_t max_duration = 3600) {
    auto role = store_->CreateRole("ops", "/", trust, "operators", max_duration, {});
    ASSERT_TRUE(role.ok()) << role.status().ToString();
    ASSERT_TRUE(store_->AttachPolicy(AttachTarget::kRole, "ops", PolicyArn("Device")).ok());
  }
  static constexpr char kRoleArn[] = "arn:aws:iam::000000000000:role/ops";
  static std::string TrustUser(std::string_view user, bool require_mfa) {
    return fmt::format(
        R"({{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::000000000000:user/{}"}},"Action":"sts:AssumeRole"{}}}]}})",
        user, require_mfa ? R"(,"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}})" : "");
  }
};

TEST_F(AssumeRoleTest, TrustPolicyRequiringMfaRefusesWithoutAndAcceptsWithACode) {
  auth::Credentials user = NewUser("olga", "", /*mfa=*/true);
  CreateRole(TrustUser("olga", true));
  auto denied = Call(user, std::string("Action=AssumeRole&RoleSessionName=s1&RoleArn=") + kRoleArn);
  EXPECT_EQ(denied->status, 403);
  EXPECT_EQ(denied->Code(), "AccessDenied");
  auto r = Call(user, std::string("Action=AssumeRole&RoleSessionName=s1&DurationSeconds=900&") +
                          "RoleArn=" + kRoleArn + "&SerialNumber=" + serial_ +
                          "&TokenCode=" + CodeNow());
  ASSERT_EQ(r->status, 200) << r->body;
  auto result = r->Result("AssumeRole");
  EXPECT_STREQ(result.child("AssumedRoleUser").child_value("Arn"),
               "arn:aws:sts::000000000000:assumed-role/ops/s1");
  EXPECT_EQ(std::string(result.child("AssumedRoleUser").child_value("AssumedRoleId")).substr(0, 4),
            "AROA");
  auth::Credentials session = r->Credentials("AssumeRole");
  auto owner = identities_->OwnerOf(session.access_key_id);
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->principal_arn, "arn:aws:sts::000000000000:assumed-role/ops/s1");
  EXPECT_EQ(owner->mfa_authenticated_at, kStart);
  // The role's policies apply (Device), not the user's (none).
  EXPECT_EQ(Try(session, "kinesis:PutRecord", kStream), "");
  EXPECT_EQ(Try(session, "kinesis:DeleteStream", kStream), "AccessDenied");
  auto who = Call(session, "Action=GetCallerIdentity");
  EXPECT_STREQ(who->Result("GetCallerIdentity").child_value("Arn"),
               "arn:aws:sts::000000000000:assumed-role/ops/s1");
  clock_.AdvanceSeconds(900);
  EXPECT_EQ(Try(session, "kinesis:PutRecord", kStream), "ExpiredToken");
}

TEST_F(AssumeRoleTest, AccountTrustNeedsAnIdentityPolicyToo) {
  ASSERT_TRUE(
      store_
          ->CreatePolicy(
              "AssumeOps", "/",
              R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::000000000000:role/ops"}]})",
              "")
          .ok());
  auth::Credentials without = NewUser("ann", "");
  auth::Credentials with = NewUser("olga", "AssumeOps");
  CreateRole(
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]})");
  std::string call = std::string("Action=AssumeRole&RoleSessionName=s1&RoleArn=") + kRoleArn;
  EXPECT_EQ(Call(without, call)->Code(), "AccessDenied");
  auto r = Call(with, call);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(AssumeRoleTest, ExplicitDenyInIdentityPolicyRefusesEvenWhenTrustNamesTheUser) {
  ASSERT_TRUE(
      store_
          ->CreatePolicy(
              "NoOps", "/",
              R"({"Version":"2012-10-17","Statement":[{"Sid":"NeverOps","Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::000000000000:role/ops"}]})",
              "")
          .ok());
  auth::Credentials denied_user = NewUser("ann", "NoOps");
  auth::Credentials named_only = NewUser("olga", "");
  CreateRole(
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::000000000000:user/ann","arn:aws:iam::000000000000:user/olga"]},"Action":"sts:AssumeRole"}]})");
  std::string call = std::string("Action=AssumeRole&RoleSessionName=s1&RoleArn=") + kRoleArn;
  auto refused = Call(denied_user, call);
  EXPECT_EQ(refused->status, 403) << refused->body;
  EXPECT_EQ(refused->Code(), "AccessDenied");
  // Named in the trust policy and without any identity policy: the trust policy suffices.
  auto r = Call(named_only, call);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(AssumeRoleTest, AnyAllowingTrustStatementNamingTheCallerSuffices) {
  auth::Credentials olga = NewUser("olga", "");
  auth::Credentials ann = NewUser("ann", "");
  CreateRole(
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/olga"},"Action":"sts:AssumeRole"}]})");
  std::string call = std::string("Action=AssumeRole&RoleSessionName=s1&RoleArn=") + kRoleArn;
  auto r = Call(olga, call);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Call(ann, call)->Code(), "AccessDenied") << "trusted through the account only";
}

TEST_F(AssumeRoleTest, ExplicitDenyInTrustPolicyWinsOverAnAllow) {
  ASSERT_TRUE(
      store_
          ->CreatePolicy(
              "AssumeOps", "/",
              R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::000000000000:role/ops"}]})",
              "")
          .ok());
  auth::Credentials user = NewUser("olga", "AssumeOps");
  CreateRole(
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"},{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/olga"},"Action":"sts:AssumeRole"}]})");
  auto r = Call(user, std::string("Action=AssumeRole&RoleSessionName=s1&RoleArn=") + kRoleArn);
  EXPECT_EQ(r->Code(), "AccessDenied") << r->body;
}

TEST_F(AssumeRoleTest, EachAssumeRoleIsRecordedOnceWithTheRoleAsResource) {
  auth::Credentials olga = NewUser("olga", "");
  auth::Credentials ann = NewUser("ann", "");
  CreateRole(TrustUser("olga", false));
  std::string call = std::string("Action=AssumeRole&RoleSessionName=s1&RoleArn=") + kRoleArn;
  sink_.Take();
  ASSERT_EQ(Call(olga, call)->status, 200);
  ASSERT_EQ(Call(ann, call)->Code(), "AccessDenied");
  std::vector<audit::Event> events = sink_.Take();
  ASSERT_EQ(events.size(), 2u);
  for (const audit::Event& e : events) {
    EXPECT_EQ(e.event_source, "sts.amazonaws.com");
    EXPECT_EQ(e.event_name, "AssumeRole");
    EXPECT_FALSE(e.read_only);
    ASSERT_EQ(e.resources.size(), 1u);
    EXPECT_EQ(e.resources[0].arn, kRoleArn);
    EXPECT_EQ(e.resources[0].type, "AWS::IAM::Role");
    EXPECT_EQ(e.request_parameters, (std::vector<std::pair<std::string, std::string>>{
                                        {"roleArn", kRoleArn}, {"roleSessionName", "s1"}}));
  }
  EXPECT_EQ(events[0].user.user_name, "olga");
  EXPECT_EQ(events[0].error_code, "");
  EXPECT_EQ(events[1].user.user_name, "ann");
  EXPECT_EQ(events[1].error_code, "AccessDenied");
}

TEST_F(AssumeRoleTest, SessionRecordsCarryTheirTypeMfaAndCreationDate) {
  auth::Credentials olga = NewUser("olga", "", /*mfa=*/true);
  CreateRole(TrustUser("olga", true));
  auto mfa_session =
      Call(olga, "Action=GetSessionToken&SerialNumber=" + serial_ + "&TokenCode=" + CodeNow());
  ASSERT_EQ(mfa_session->status, 200) << mfa_session->body;
  auth::Credentials user_session = mfa_session->Credentials("GetSessionToken");
  EXPECT_EQ(identities_->OwnerOf(user_session.access_key_id)->session_created_at, kStart);

  clock_.AdvanceSeconds(100);
  auto assumed =
      Call(user_session, std::string("Action=AssumeRole&RoleSessionName=s1&RoleArn=") + kRoleArn);
  ASSERT_EQ(assumed->status, 200) << assumed->body;
  auth::Credentials role_session = assumed->Credentials("AssumeRole");
  auto owner = identities_->OwnerOf(role_session.access_key_id);
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->session_created_at, kStart + 100);
  EXPECT_EQ(owner->mfa_authenticated_at, kStart) << "the MFA of the session it was assumed with";

  clock_.AdvanceSeconds(50);
  sink_.Take();
  ASSERT_EQ(Call(user_session, "Action=GetCallerIdentity")->status, 200);
  ASSERT_EQ(Call(role_session, "Action=GetCallerIdentity")->status, 200);
  std::vector<audit::Event> events = sink_.Take();
  ASSERT_EQ(events.size(), 2u);
  auto user = nlohmann::json::parse(audit::ToJson(events[0]))["userIdentity"];
  EXPECT_EQ(user["type"], "IAMUser");
  EXPECT_EQ(user["userName"], "olga");
  EXPECT_EQ(user["accessKeyId"], user_session.access_key_id);
  EXPECT_FALSE(user["sessionContext"].contains("sessionIssuer"));
  EXPECT_EQ(user["sessionContext"]["attributes"]["mfaAuthenticated"], "true");
  EXPECT_EQ(user["sessionContext"]["attributes"]["creationDate"], "2026-11-28T05:00:00Z");
  auto role = nlohmann::json::parse(audit::ToJson(events[1]))["userIdentity"];
  EXPECT_EQ(role["type"], "AssumedRole");
  EXPECT_EQ(role["arn"], "arn:aws:sts::000000000000:assumed-role/ops/s1");
  EXPECT_EQ(role["sessionContext"]["sessionIssuer"]["type"], "Role");
  EXPECT_EQ(role["sessionContext"]["sessionIssuer"]["arn"], kRoleArn);
  EXPECT_EQ(role["sessionContext"]["sessionIssuer"]["userName"], "ops");
  EXPECT_EQ(role["sessionContext"]["attributes"]["mfaAuthenticated"], "true");
  EXPECT_EQ(role["sessionContext"]["attributes"]["creationDate"], "2026-11-28T05:01:40Z");
}

TEST_F(AssumeRoleTest, DurationIsBoundByTheRolesMaximum) {
  auth::Credentials user = NewUser("olga", "");
  CreateRole(TrustUser("olga", false), 3600);
  std::string call = std::string("Action=AssumeRole&RoleSessionName=s1&RoleArn=") + kRoleArn;
  auto too_long = Call(user, call + "&DurationSeconds=3601");
  EXPECT_EQ(too_long->Code(), "ValidationError");
  EXPECT_NE(too_long->body.find("MaxSessionDuration"), std::string::npos);
  auto r = Call(user, call);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_STREQ(r->Result("AssumeRole").child("Credentials").child_value("Expiration"),
               "2026-11-28T06:00:00Z");
}

TEST_F(AssumeRoleTest, UnknownRoleAndBadParametersAreRefused) {
  auth::Credentials user = NewUser("olga", "");
  EXPECT_EQ(Call(user,
                 "Action=AssumeRole&RoleSessionName=s1&RoleArn="
                 "arn:aws:iam::000000000000:role/nope")
                ->Code(),
            "AccessDenied");
  EXPECT_EQ(Call(user, "Action=AssumeRole&RoleSessionName=s1")->Code(), "ValidationError");
  EXPECT_EQ(Call(user, std::string("Action=AssumeRole&RoleSessionName=a%20b&RoleArn=") + kRoleArn)
                ->Code(),
            "ValidationError");
}

TEST(SessionTokensTest, ProvesItsExpirationForItsKeyOnly) {
  SessionTokens tokens(std::string(32, 'k'));
  std::string t = tokens.Issue("ASIAONE", 1234567890);
  EXPECT_EQ(tokens.ExpirationOf("ASIAONE", t), 1234567890);
  EXPECT_FALSE(tokens.ExpirationOf("ASIATWO", t));
  EXPECT_NE(t, tokens.Issue("ASIAONE", 1234567890));  // random
  SessionTokens other(std::string(32, 'o'));
  EXPECT_FALSE(other.ExpirationOf("ASIAONE", t));
  std::string altered = t;
  altered[20] = altered[20] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(tokens.ExpirationOf("ASIAONE", altered));
  EXPECT_FALSE(tokens.ExpirationOf("ASIAONE", "not a token"));
  EXPECT_FALSE(tokens.ExpirationOf("ASIAONE", ""));
}

}  // namespace
}  // namespace muon::identity

namespace muon::identity {
namespace {

http::Request FormPost(std::string body, std::string service) {
  http::Request r;
  r.method = "POST";
  r.path = "/";
  r.body = std::move(body);
  r.headers = {{"Host", "localhost:4566"}, {"Content-Type", "application/x-www-form-urlencoded"}};
  if (!service.empty()) {
    auth::Sign(r.method, r.path, r.query, r.headers, r.body, {"AKIAEXAMPLE", "secret", ""},
               {.region = "ap-southeast-2", .service = service, .now_seconds = kStart});
  }
  return r;
}

TEST(IsStsRequestTest, RoutesByScopeThenByAction) {
  EXPECT_TRUE(IsStsRequest(FormPost("Action=GetCallerIdentity&Version=2011-06-15", "sts")));
  EXPECT_TRUE(IsStsRequest(FormPost("Action=AnythingElse", "sts")));
  EXPECT_TRUE(IsStsRequest(FormPost("Action=GetSessionToken", "")));  // unsigned: by action
  EXPECT_FALSE(IsStsRequest(FormPost("Action=ListUsers", "")));
  EXPECT_FALSE(IsStsRequest(FormPost("Action=ListUsers&Version=2010-05-08", "iam")));
  // An S3 multipart upload created with that content type stays S3's.
  http::Request s3 = FormPost("", "s3");
  s3.query = "uploads";
  EXPECT_FALSE(IsStsRequest(s3));
  http::Request json = FormPost("Action=GetCallerIdentity", "");
  json.headers[1].second = "application/x-amz-json-1.1";
  EXPECT_FALSE(IsStsRequest(json));
}

}  // namespace
}  // namespace muon::identity
