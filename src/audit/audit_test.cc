#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "audit/auditing_authorizer.h"
#include "audit/cloudtrail_api.h"
#include "audit/event.h"
#include "audit/reader.h"
#include "base/clock.h"
#include "base/env.h"
#include "base/fault_env.h"

namespace muon::audit {
namespace {

using Json = nlohmann::json;

constexpr int64_t kSecond = 1'000'000'000;
// 2023-11-14T22:13:20Z, FakeClock's default.
constexpr int64_t kStart = 1'700'000'000;

auth::Caller UserCaller(std::string name = "alice") {
  auth::Caller c;
  c.access_key_id = "AKIAEXAMPLE" + name;
  c.principal_arn = "arn:aws:iam::000000000000:user/" + name;
  c.source_ip = "192.0.2.7";
  c.user_agent = "aws-cli/1.45";
  c.request_id = "req-1";
  c.region = "ap-southeast-2";
  return c;
}

class DenyList final : public auth::Authorizer {
 public:
  using auth::Authorizer::Authorize;
  Status Authorize(const auth::Caller&, std::string_view action,
                   std::string_view) const override {
    if (action == "s3:DeleteObject") return Status::PermissionDenied("no deleting here");
    return Status::Ok();
  }
};

class FakeSink final : public Sink {
 public:
  void Record(const Event& e) override { events.push_back(e); }
  std::vector<Event> events;
};

Event SampleEvent(const Clock& clock, std::string name, std::string user = "alice") {
  return DecisionEvent(UserCaller(user), "kinesis:" + name,
                       "arn:aws:kinesis:ap-southeast-2:000000000000:stream/telemetry", Status::Ok(),
                       clock, {});
}

AuditLogOptions ManualSync() {
  AuditLogOptions o;
  o.sync_interval_millis = 0;
  return o;
}

std::vector<std::string> AllNames(Env* env, const std::string& dir) {
  std::vector<std::string> names;
  Status s = ScanEvents(env, dir, {}, [&](const StoredEvent& e) {
    names.push_back(e.event_name);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return names;
}

// --- record shape ---

TEST(EventTest, AllowedCallIsACloudTrailRecord) {
  FakeClock clock(kStart * kSecond);
  auth::Caller c = UserCaller();
  Event e = DecisionEvent(c, "s3:PutObject", "arn:aws:s3:::raw/site-a/run1.csv", Status::Ok(),
                          clock, {});
  Json j = Json::parse(ToJson(e));
  EXPECT_EQ(j["eventVersion"], "1.08");
  EXPECT_EQ(j["eventTime"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(j["eventSource"], "s3.amazonaws.com");
  EXPECT_EQ(j["eventName"], "PutObject");
  EXPECT_EQ(j["awsRegion"], "ap-southeast-2");
  EXPECT_EQ(j["sourceIPAddress"], "192.0.2.7");
  EXPECT_EQ(j["userAgent"], "aws-cli/1.45");
  EXPECT_EQ(j["userIdentity"]["type"], "IAMUser");
  EXPECT_EQ(j["userIdentity"]["arn"], c.principal_arn);
  EXPECT_EQ(j["userIdentity"]["accountId"], "000000000000");
  EXPECT_EQ(j["userIdentity"]["accessKeyId"], c.access_key_id);
  EXPECT_EQ(j["userIdentity"]["userName"], "alice");
  EXPECT_EQ(j["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"], "false");
  EXPECT_FALSE(j["userIdentity"]["sessionContext"]["attributes"].contains("creationDate"));
  EXPECT_EQ(j["requestParameters"]["bucketName"], "raw");
  EXPECT_EQ(j["requestParameters"]["key"], "site-a/run1.csv");
  ASSERT_EQ(j["resources"].size(), 1u);
  EXPECT_EQ(j["resources"][0]["ARN"], "arn:aws:s3:::raw/site-a/run1.csv");
  EXPECT_EQ(j["resources"][0]["type"], "AWS::S3::Object");
  EXPECT_FALSE(j.contains("errorCode"));
  EXPECT_EQ(j["requestID"], "req-1");
  EXPECT_EQ(j["eventID"].get<std::string>().size(), 36u);
  EXPECT_EQ(j["readOnly"], false);
  EXPECT_EQ(j["eventType"], "AwsApiCall");
}

TEST(EventTest, EveryRecordHasItsOwnEventId) {
  FakeClock clock;
  EXPECT_NE(SampleEvent(clock, "PutRecord").event_id, SampleEvent(clock, "PutRecord").event_id);
}

TEST(EventTest, AssumedRoleWithMfaCarriesSessionContext) {
  FakeClock clock(kStart * kSecond);
  auth::Caller c;
  c.access_key_id = "ASIAEXAMPLE";
  c.principal_arn = "arn:aws:sts::000000000000:assumed-role/Operator/alice";
  c.temporary_credentials = true;
  c.mfa_authenticated_at = kStart - 60;
  c.session_created_at = kStart - 120;
  Event e = DecisionEvent(c, "kinesis:ListStreams", "*", Status::Ok(), clock, {});
  Json j = Json::parse(ToJson(e));
  const Json& u = j["userIdentity"];
  EXPECT_EQ(u["type"], "AssumedRole");
  EXPECT_FALSE(u.contains("userName"));
  EXPECT_EQ(u["sessionContext"]["sessionIssuer"]["arn"], "arn:aws:iam::000000000000:role/Operator");
  EXPECT_EQ(u["sessionContext"]["sessionIssuer"]["userName"], "Operator");
  EXPECT_EQ(u["sessionContext"]["attributes"]["mfaAuthenticated"], "true");
  EXPECT_EQ(u["sessionContext"]["attributes"]["creationDate"], "2023-11-14T22:11:20Z");
  EXPECT_EQ(j["readOnly"], true);
  EXPECT_FALSE(j.contains("resources"));
  EXPECT_EQ(UsernameOf(e.user), "alice");
}

TEST(EventTest, UserSessionWithMfaIsAnIamUserWithItsCreationDate) {
  FakeClock clock(kStart * kSecond);
  auth::Caller c;
  c.access_key_id = "ASIAEXAMPLE";
  c.principal_arn = "arn:aws:iam::000000000000:user/alice";
  c.temporary_credentials = true;
  c.mfa_authenticated_at = kStart - 60;
  c.session_created_at = kStart - 30;
  Json j =
      Json::parse(ToJson(DecisionEvent(c, "kinesis:ListStreams", "*", Status::Ok(), clock, {})));
  const Json& u = j["userIdentity"];
  EXPECT_EQ(u["type"], "IAMUser");
  EXPECT_EQ(u["userName"], "alice");
  EXPECT_EQ(u["accessKeyId"], "ASIAEXAMPLE");
  EXPECT_FALSE(u["sessionContext"].contains("sessionIssuer"));
  EXPECT_EQ(u["sessionContext"]["attributes"]["mfaAuthenticated"], "true");
  EXPECT_EQ(u["sessionContext"]["attributes"]["creationDate"], "2023-11-14T22:12:50Z");
}

TEST(EventTest, SessionOfUnknownCreationHasNoCreationDateRatherThanItsMfaTime) {
  FakeClock clock(kStart * kSecond);
  auth::Caller c;
  c.access_key_id = "ASIAEXAMPLE";
  c.principal_arn = "arn:aws:iam::000000000000:user/alice";
  c.temporary_credentials = true;
  c.mfa_authenticated_at = kStart - 60;
  Json j =
      Json::parse(ToJson(DecisionEvent(c, "kinesis:ListStreams", "*", Status::Ok(), clock, {})));
  EXPECT_EQ(j["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"], "true");
  EXPECT_FALSE(j["userIdentity"]["sessionContext"]["attributes"].contains("creationDate"));
}

TEST(EventTest, BootstrapAdministratorIsRecordedAsRoot) {
  FakeClock clock;
  IdentityOptions o;
  o.root_arns = {"arn:aws:iam::000000000000:user/admin"};
  Event e = DecisionEvent(UserCaller("admin"), "s3:ListAllMyBuckets", "*", Status::Ok(), clock, o);
  EXPECT_EQ(e.user.type, "Root");
  EXPECT_EQ(Json::parse(ToJson(e))["userIdentity"]["userName"], "admin");
}

TEST(EventTest, EventSourcesAndResourceTypes) {
  EXPECT_EQ(EventSourceOf("kinesis"), "kinesis.amazonaws.com");
  EXPECT_EQ(EventSourceOf("firehose"), "firehose.amazonaws.com");
  EXPECT_EQ(EventSourceOf("registry"), "registry.muonpipe");
  EXPECT_EQ(EventSourceOf("muonpipe"), "registry.muonpipe");
  EXPECT_EQ(EventSourceOf("admin"), "admin.muonpipe");
  EXPECT_EQ(ResourceTypeOf("arn:muonpipe:admin:::usage"), "Muonpipe::Admin::Endpoint");
  EXPECT_EQ(ResourceTypeOf("arn:aws:s3:::raw"), "AWS::S3::Bucket");
  EXPECT_EQ(ResourceTypeOf("arn:aws:firehose:r:1:deliverystream/d"),
            "AWS::KinesisFirehose::DeliveryStream");
  EXPECT_EQ(ResourceTypeOf("arn:muonpipe:registry:::detector/d-1"),
            "Muonpipe::Registry::Detector");
  EXPECT_EQ(ResourceTypeOf("*"), "");
  EXPECT_TRUE(IsReadOnly("GetRecords"));
  EXPECT_FALSE(IsReadOnly("PutRecords"));
}

TEST(EventTest, IsoTimeRoundTrips) {
  EXPECT_EQ(IsoTime(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(ParseIsoTime(IsoTime(kStart)), kStart);
  EXPECT_EQ(ParseIsoTime("2023-11-14 22:13:20"), std::nullopt);
}

// --- the decorator ---

TEST(AuditingAuthorizerTest, RecordsEveryDecisionWithItsOutcome) {
  FakeClock clock;
  DenyList inner;
  FakeSink sink;
  AuditingAuthorizer a(&inner, &sink, &clock, {});
  EXPECT_TRUE(a.Authorize(UserCaller(), "s3:GetObject", "arn:aws:s3:::b/k").ok());
  Status denied = a.Authorize(UserCaller(), "s3:DeleteObject", "arn:aws:s3:::b/k",
                              auth::RequestKeys{{"s3:prefix", "k"}});
  EXPECT_EQ(denied.code(), StatusCode::kPermissionDenied);
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(sink.events[0].event_name, "GetObject");
  EXPECT_EQ(sink.events[0].error_code, "");
  EXPECT_EQ(sink.events[1].event_name, "DeleteObject");
  EXPECT_EQ(sink.events[1].error_code, "AccessDenied");
  EXPECT_EQ(sink.events[1].error_message, "no deleting here");
}

TEST(AuditingAuthorizerTest, FailedAuthenticationIsRecordedAsUnknownCaller) {
  FakeClock clock;
  http::Request req;
  req.method = "POST";
  req.path = "/";
  req.remote_ip = "198.51.100.4";
  req.headers = {{"X-Amz-Target", "Kinesis_20131202.PutRecord"},
                 {"Authorization",
                  "AWS4-HMAC-SHA256 Credential=AKIANOBODY/20231114/ap-southeast-2/kinesis/"
                  "aws4_request, SignedHeaders=host, Signature=00"},
                 {"User-Agent", "Boto3/1.40"}};
  auth::AuthFailure failure{auth::AuthError::kUnknownAccessKey, "The security token is invalid."};
  Event e = AuthFailureEvent({req, failure, "kinesis", "ap-southeast-2", "req-9"}, clock, {});
  Json j = Json::parse(ToJson(e));
  EXPECT_EQ(j["userIdentity"]["type"], "Unknown");
  EXPECT_EQ(j["userIdentity"]["accessKeyId"], "AKIANOBODY");
  EXPECT_EQ(j["eventName"], "PutRecord");
  EXPECT_EQ(j["eventSource"], "kinesis.amazonaws.com");
  EXPECT_EQ(j["errorCode"], "InvalidClientTokenId");
  EXPECT_EQ(j["sourceIPAddress"], "198.51.100.4");
  EXPECT_EQ(j["requestID"], "req-9");
}

TEST(AuditingAuthorizerTest, FailedS3AuthenticationNamesTheOperationFromMethodAndPath) {
  FakeClock clock;
  http::Request req;
  req.method = "PUT";
  req.path = "/raw/a/b.csv";
  auth::AuthFailure failure{auth::AuthError::kSignatureMismatch, "no"};
  Event e = AuthFailureEvent({req, failure, "s3", "ap-southeast-2", "r"}, clock, {});
  EXPECT_EQ(e.event_name, "PutObject");
  EXPECT_EQ(e.error_code, "SignatureDoesNotMatch");
}

TEST(AuditingAuthorizerTest, FailedAdminAuthenticationIsFromTheAdminSource) {
  FakeClock clock;
  http::Request req;
  req.method = "GET";
  req.path = "/_muonpipe/usage";
  auth::AuthFailure failure{auth::AuthError::kMissingAuthentication, ""};
  Event admin = AuthFailureEvent({req, failure, "muonpipe", "ap-southeast-2", "r"}, clock, {});
  EXPECT_EQ(admin.event_source, "admin.muonpipe");
  EXPECT_EQ(admin.event_name, "GET /_muonpipe/usage");
  EXPECT_EQ(admin.error_code, "MissingAuthenticationToken");
  req.path = "/_muonpipe/registry/v1/sites";
  Event reg = AuthFailureEvent({req, failure, "muonpipe", "ap-southeast-2", "r"}, clock, {});
  EXPECT_EQ(reg.event_source, "registry.muonpipe");
}

TEST(AuditingAuthorizerTest, AdminDecisionNamesTheEndpoint) {
  FakeClock clock;
  Event e = DecisionEvent(UserCaller("ops"), "admin:GetMetrics", "arn:muonpipe:admin:::metrics",
                          Status::PermissionDenied("no"), clock, {});
  EXPECT_EQ(e.event_source, "admin.muonpipe");
  EXPECT_EQ(e.event_name, "GetMetrics");
  EXPECT_EQ(e.error_code, "AccessDenied");
  EXPECT_TRUE(e.read_only);
  ASSERT_EQ(e.resources.size(), 1u);
  EXPECT_EQ(e.resources[0].type, "Muonpipe::Admin::Endpoint");
}

// --- the log ---

TEST(AuditLogTest, AppendsStayAcrossReopenAndOldFilesAreNeverRewritten) {
  auto env = NewMemEnv();
  FakeClock clock(kStart * kSecond);
  {
    auto log = AuditLog::Open("/a", ManualSync(), env.get(), &clock);
    ASSERT_TRUE(log.ok());
    (*log)->Record(SampleEvent(clock, "CreateStream"));
    (*log)->Record(SampleEvent(clock, "PutRecord"));
    ASSERT_TRUE((*log)->Close().ok());
  }
  auto first = env->ListDir("/a");
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  std::string before = *env->ReadFile(JoinPath("/a", (*first)[0]));
  {
    auto log = AuditLog::Open("/a", ManualSync(), env.get(), &clock);
    ASSERT_TRUE(log.ok());
    (*log)->Record(SampleEvent(clock, "GetRecords"));
    ASSERT_TRUE((*log)->Sync().ok());
  }
  EXPECT_EQ(*env->ReadFile(JoinPath("/a", (*first)[0])), before);
  EXPECT_EQ(AllNames(env.get(), "/a"),
            (std::vector<std::string>{"CreateStream", "PutRecord", "GetRecords"}));
}

TEST(AuditLogTest, RotatesHourlyAndBySize) {
  auto env = NewMemEnv();
  FakeClock clock(kStart * kSecond);
  AuditLogOptions o = ManualSync();
  o.max_file_bytes = 2000;
  auto log = AuditLog::Open("/a", o, env.get(), &clock);
  ASSERT_TRUE(log.ok());
  (*log)->Record(SampleEvent(clock, "A"));
  ASSERT_TRUE((*log)->Sync().ok());
  clock.AdvanceSeconds(3600);
  (*log)->Record(SampleEvent(clock, "B"));
  ASSERT_TRUE((*log)->Sync().ok());
  EXPECT_EQ(env->ListDir("/a")->size(), 2u);
  for (int i = 0; i < 10; ++i) {
    (*log)->Record(SampleEvent(clock, "C"));
    ASSERT_TRUE((*log)->Sync().ok());
  }
  auto names = *env->ListDir("/a");
  EXPECT_GT(names.size(), 4u);
  for (const std::string& n : names) {
    auto size = env->FileSize(JoinPath("/a", n));
    EXPECT_LE(*size, 2000u) << n;
    EXPECT_TRUE(ParseAuditFileName(n).has_value()) << n;
  }
  EXPECT_EQ(AllNames(env.get(), "/a").size(), 12u);
}

TEST(AuditLogTest, FileNamesSortInWriteOrder) {
  EXPECT_EQ(AuditFileName(7, kStart), "00000007-20231114T221320Z.jsonl");
  auto info = ParseAuditFileName("00000007-20231114T221320Z.jsonl");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->seq, 7u);
  EXPECT_EQ(info->opened_at, kStart);
  EXPECT_FALSE(ParseAuditFileName("notes.txt").has_value());
}

TEST(AuditLogTest, UnsyncedRecordsAreWhatACrashLoses) {
  auto mem = NewMemEnv();
  FaultInjectionEnv env(mem.get());
  FakeClock clock(kStart * kSecond);
  auto log = AuditLog::Open("/a", ManualSync(), &env, &clock);
  ASSERT_TRUE(log.ok());
  (*log)->Record(SampleEvent(clock, "Synced"));
  ASSERT_TRUE((*log)->Sync().ok());
  (*log)->Record(SampleEvent(clock, "Flushed"));
  ASSERT_TRUE((*log)->Flush().ok());
  env.SimulateCrash();
  env.SetFilesystemActive(false);
  log->reset();
  env.SetFilesystemActive(true);
  EXPECT_EQ(AllNames(&env, "/a"), std::vector<std::string>{"Synced"});
}

TEST(AuditLogTest, AnIdleLogDoesNotSync) {
  auto mem = NewMemEnv();
  FaultInjectionEnv env(mem.get());
  FakeClock clock(kStart * kSecond);
  auto log = AuditLog::Open("/a", ManualSync(), &env, &clock);
  ASSERT_TRUE(log.ok());
  (*log)->Record(SampleEvent(clock, "First"));
  ASSERT_TRUE((*log)->Sync().ok());
  const uint64_t syncs = env.sync_count();
  EXPECT_GT(syncs, 0u);
  // The background loop calls Sync every interval: with nothing recorded
  // since, the disk is left alone.
  ASSERT_TRUE((*log)->Sync().ok());
  ASSERT_TRUE((*log)->Sync().ok());
  EXPECT_EQ(env.sync_count(), syncs);
  (*log)->Record(SampleEvent(clock, "Second"));
  ASSERT_TRUE((*log)->Sync().ok());
  EXPECT_EQ(env.sync_count(), syncs + 1);
  env.SimulateCrash();
  env.SetFilesystemActive(false);
  log->reset();
  env.SetFilesystemActive(true);
  EXPECT_EQ(AllNames(&env, "/a"), (std::vector<std::string>{"First", "Second"}));
}

TEST(AuditLogTest, TornLastLineIsSkippedAndNeverBreaksLaterAppends) {
  auto env = NewMemEnv();
  FakeClock clock(kStart * kSecond);
  {
    auto log = AuditLog::Open("/a", ManualSync(), env.get(), &clock);
    ASSERT_TRUE(log.ok());
    (*log)->Record(SampleEvent(clock, "Before"));
    ASSERT_TRUE((*log)->Close().ok());
  }
  // A crash in the middle of a write: half a record, no newline.
  std::string name = (*env->ListDir("/a"))[0];
  std::string half = ToJson(SampleEvent(clock, "Torn")).substr(0, 100);
  {
    auto f = env->NewAppendableFile(JoinPath("/a", name));
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append(half).ok());
  }
  {
    auto log = AuditLog::Open("/a", ManualSync(), env.get(), &clock);
    ASSERT_TRUE(log.ok());
    (*log)->Record(SampleEvent(clock, "After"));
    ASSERT_TRUE((*log)->Sync().ok());
  }
  uint64_t skipped = 0;
  std::vector<std::string> names;
  ASSERT_TRUE(ScanEvents(env.get(), "/a", {}, [&](const StoredEvent& e) {
                names.push_back(e.event_name);
                return true;
              }, &skipped).ok());
  EXPECT_EQ(names, (std::vector<std::string>{"Before", "After"}));
  EXPECT_EQ(skipped, 1u);
  auto page = LookupEvents(env.get(), "/a", {}, 50, "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->events.size(), 2u);
  EXPECT_EQ(page->skipped_lines, 1u);
}

TEST(AuditLogTest, AFailedWriteMovesToANewFileAndLosesNoRecord) {
  auto mem = NewMemEnv();
  FaultInjectionEnv env(mem.get());
  FakeClock clock(kStart * kSecond);
  auto log = AuditLog::Open("/a", ManualSync(), &env, &clock);
  ASSERT_TRUE(log.ok());
  (*log)->Record(SampleEvent(clock, "One"));
  ASSERT_TRUE((*log)->Sync().ok());
  (*log)->Record(SampleEvent(clock, "Two"));
  env.FailNthWrite(1);  // half of "Two" reaches the file: a torn line
  EXPECT_FALSE((*log)->Sync().ok());
  (*log)->Record(SampleEvent(clock, "Three"));
  ASSERT_TRUE((*log)->Sync().ok());
  EXPECT_EQ(env.ListDir("/a")->size(), 2u);
  EXPECT_EQ(AllNames(&env, "/a"), (std::vector<std::string>{"One", "Two", "Three"}));
}

TEST(AuditLogTest, AFileThatCannotBeCreatedLosesNoRecord) {
  auto mem = NewMemEnv();
  FaultInjectionEnv env(mem.get());
  FakeClock clock(kStart * kSecond);
  auto log = AuditLog::Open("/a", ManualSync(), &env, &clock);
  ASSERT_TRUE(log.ok());
  (*log)->Record(SampleEvent(clock, "One"));
  env.SetFilesystemActive(false);
  EXPECT_FALSE((*log)->Sync().ok());
  env.SetFilesystemActive(true);
  (*log)->Record(SampleEvent(clock, "Two"));
  ASSERT_TRUE((*log)->Sync().ok());
  EXPECT_EQ(AllNames(&env, "/a"), (std::vector<std::string>{"One", "Two"}));
}

TEST(AuditLogTest, RecordsBeyondTheBufferBoundAreDroppedAndCounted) {
  auto env = NewMemEnv();
  FakeClock clock;
  AuditLogOptions o = ManualSync();
  o.max_buffered_bytes = 1500;
  auto log = AuditLog::Open("/a", o, env.get(), &clock);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 5; ++i) (*log)->Record(SampleEvent(clock, "PutRecord"));
  EXPECT_GT((*log)->dropped(), 0u);
  ASSERT_TRUE((*log)->Sync().ok());
  EXPECT_EQ(AllNames(env.get(), "/a").size(), 5u - (*log)->dropped());
}

TEST(AuditLogTest, BackgroundThreadSyncsWithoutBeingAsked) {
  auto mem = NewMemEnv();
  FaultInjectionEnv env(mem.get());
  FakeClock clock;
  AuditLogOptions o;
  o.sync_interval_millis = 1;
  auto log = AuditLog::Open("/a", o, &env, &clock);
  ASSERT_TRUE(log.ok());
  (*log)->Record(SampleEvent(clock, "PutRecord"));
  // Bounded wait for the committer (no timing is asserted).
  for (int i = 0; i < 5000 && env.sync_count() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GT(env.sync_count(), 0u);
  env.DropUnsyncedData();
  EXPECT_EQ(AllNames(&env, "/a").size(), 1u);
}

// --- reading: filters and pagination ---

class ReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = AuditLog::Open("/a", ManualSync(), env_.get(), &clock_);
    ASSERT_TRUE(log.ok());
    // 30 records, one a minute: alice puts, bob reads, every fifth denied.
    for (int i = 0; i < 30; ++i) {
      std::string user = i % 2 ? "bob" : "alice";
      std::string action = i % 2 ? "s3:GetObject" : "s3:PutObject";
      Status decision = i % 5 == 0 ? Status::PermissionDenied("no") : Status::Ok();
      auth::Caller c = UserCaller(user);
      (*log)->Record(DecisionEvent(c, action, "arn:aws:s3:::raw/k" + std::to_string(i), decision,
                                   clock_, {}));
      clock_.AdvanceSeconds(60);
      if (i == 14) {
        ASSERT_TRUE((*log)->Sync().ok());
        clock_.AdvanceSeconds(3600);  // the rest lands in a second file
      }
    }
    ASSERT_TRUE((*log)->Close().ok());
    ASSERT_EQ(env_->ListDir("/a")->size(), 2u);
  }
  std::vector<std::string> Keys(const std::vector<StoredEvent>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.resources.at(0).arn.substr(17));
    return out;
  }
  std::unique_ptr<Env> env_ = NewMemEnv();
  FakeClock clock_{kStart * kSecond};
};

TEST_F(ReaderTest, PagesGoNewestFirstAndCoverEveryRecordOnce) {
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = LookupEvents(env_.get(), "/a", {}, 7, token);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->events.size(), 7u);
    for (auto& k : Keys(page->events)) seen.push_back(k);
    token = page->next_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 5);
  ASSERT_EQ(seen.size(), 30u);
  EXPECT_EQ(seen.front(), "k29");
  EXPECT_EQ(seen.back(), "k0");
}

TEST_F(ReaderTest, AFullLastPageHasNoToken) {
  auto page = LookupEvents(env_.get(), "/a", {}, 30, "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->events.size(), 30u);
  EXPECT_EQ(page->next_token, "");
}

TEST_F(ReaderTest, FiltersByUserNameErrorAndTime) {
  Filter by_user;
  by_user.attributes = {{"Username", "bob"}};
  auto page = LookupEvents(env_.get(), "/a", by_user, 50, "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->events.size(), 15u);
  for (const auto& e : page->events) EXPECT_EQ(e.username, "bob");

  Filter by_name;
  by_name.attributes = {{"EventName", "PutObject"}, {"ReadOnly", "false"}};
  page = LookupEvents(env_.get(), "/a", by_name, 50, "");
  EXPECT_EQ(page->events.size(), 15u);

  Filter by_resource;
  by_resource.attributes = {{"ResourceName", "raw/k3"}};
  page = LookupEvents(env_.get(), "/a", by_resource, 50, "");
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(page->events[0].error_code, "");

  Filter by_key;
  by_key.attributes = {{"AccessKeyId", "AKIAEXAMPLEalice"}, {"EventSource", "s3.amazonaws.com"}};
  page = LookupEvents(env_.get(), "/a", by_key, 50, "");
  EXPECT_EQ(page->events.size(), 15u);

  // Records 20..24 (the second file starts after record 14 and an hour's gap).
  Filter window;
  window.start_time = kStart + 20 * 60 + 3600;
  window.end_time = kStart + 24 * 60 + 3600;
  page = LookupEvents(env_.get(), "/a", window, 50, "");
  EXPECT_EQ(Keys(page->events), (std::vector<std::string>{"k24", "k23", "k22", "k21", "k20"}));

  Filter early;
  early.end_time = kStart + 60;
  std::vector<std::string> forward;
  ASSERT_TRUE(ScanEvents(env_.get(), "/a", early, [&](const StoredEvent& e) {
                forward.push_back(e.resources[0].arn.substr(17));
                return true;
              }).ok());
  EXPECT_EQ(forward, (std::vector<std::string>{"k0", "k1"}));
}

TEST_F(ReaderTest, PaginationKeepsTheFilter) {
  Filter f;
  f.attributes = {{"Username", "alice"}};
  auto first = LookupEvents(env_.get(), "/a", f, 10, "");
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_token.empty());
  auto second = LookupEvents(env_.get(), "/a", f, 10, first->next_token);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->events.size(), 5u);
  EXPECT_EQ(second->next_token, "");
  EXPECT_EQ(Keys(second->events).back(), "k0");
}

TEST_F(ReaderTest, ATokenNotIssuedHereIsRefused) {
  auto page = LookupEvents(env_.get(), "/a", {}, 10, "bm9wZQ==");
  EXPECT_EQ(page.status().code(), StatusCode::kInvalidArgument);
}

TEST(ReaderEmptyTest, AMissingDirectoryHasNoRecords) {
  auto env = NewMemEnv();
  auto page = LookupEvents(env.get(), "/none", {}, 10, "");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->events.empty());
}

// --- the CloudTrail API ---

TEST(CloudTrailApiTest, LookupEventsAnswersInCloudTrailsShape) {
  auto env = NewMemEnv();
  FakeClock clock(kStart * kSecond);
  auto log = AuditLog::Open("/a", ManualSync(), env.get(), &clock);
  ASSERT_TRUE(log.ok());
  auth::AllowAllAuthorizer allow;
  AuditingAuthorizer audited(&allow, log->get(), &clock, {});
  ASSERT_TRUE(audited.Authorize(UserCaller(), "kinesis:CreateStream",
                                "arn:aws:kinesis:ap-southeast-2:000000000000:stream/t").ok());
  CloudTrailApi api{env.get(), "/a", log->get(), &audited};
  auto [status, body] = CallCloudTrail(
      api, "LookupEvents",
      R"({"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"CreateStream"}],)"
      R"("StartTime":1699999000,"MaxResults":5})",
      UserCaller());
  ASSERT_EQ(status, 200) << body;
  Json j = Json::parse(body);
  ASSERT_EQ(j["Events"].size(), 1u);
  const Json& e = j["Events"][0];
  EXPECT_EQ(e["EventName"], "CreateStream");
  EXPECT_EQ(e["EventSource"], "kinesis.amazonaws.com");
  EXPECT_EQ(e["Username"], "alice");
  EXPECT_EQ(e["ReadOnly"], "false");
  EXPECT_EQ(e["EventTime"], kStart);
  EXPECT_EQ(e["Resources"][0]["ResourceType"], "AWS::Kinesis::Stream");
  EXPECT_EQ(Json::parse(e["CloudTrailEvent"].get<std::string>())["eventName"], "CreateStream");
  EXPECT_FALSE(j.contains("NextToken"));
}

TEST(CloudTrailApiTest, LookupIsAuthorisedAndRefusesBadInput) {
  auto env = NewMemEnv();
  class DenyAll final : public auth::Authorizer {
   public:
    using auth::Authorizer::Authorize;
    Status Authorize(const auth::Caller&, std::string_view, std::string_view) const override {
      return Status::PermissionDenied("");
    }
  } deny;
  auth::AllowAllAuthorizer allow;
  CloudTrailApi denied{env.get(), "/a", nullptr, &deny};
  auto [s1, b1] = CallCloudTrail(denied, "LookupEvents", "{}", UserCaller());
  EXPECT_EQ(s1, 400);
  EXPECT_NE(b1.find("AccessDeniedException"), std::string::npos);
  CloudTrailApi api{env.get(), "/a", nullptr, &allow};
  auto bad = [&](std::string body) { return CallCloudTrail(api, "LookupEvents", body, UserCaller()).second; };
  EXPECT_NE(bad(R"({"MaxResults":51})").find("InvalidMaxResultsException"), std::string::npos);
  EXPECT_NE(bad(R"({"StartTime":20,"EndTime":10})").find("InvalidTimeRangeException"),
            std::string::npos);
  EXPECT_NE(bad(R"({"LookupAttributes":[{"AttributeKey":"Colour","AttributeValue":"x"}]})")
                .find("InvalidLookupAttributesException"),
            std::string::npos);
  EXPECT_NE(bad(R"({"NextToken":"zzz"})").find("InvalidNextTokenException"), std::string::npos);
  EXPECT_NE(CallCloudTrail(api, "CreateTrail", "{}", UserCaller()).second.find(
                "UnknownOperationException"),
            std::string::npos);
}

}  // namespace
}  // namespace muon::audit
