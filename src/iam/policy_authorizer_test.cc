#include "iam/policy_authorizer.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/env.h"

namespace muon::iam {
namespace {

constexpr const char* kAccount = "000000000000";
const std::string kRoles[] = {"Administrator", "Operator", "Analyst", "Device", "Auditor"};

std::string PolicyPath(const std::string& role) {
  return std::string(MUON_SOURCE_DIR) + "/src/iam/policies/" + role + ".json";
}

std::shared_ptr<const NamedPolicy> LoadRole(const std::string& role) {
  auto text = Env::Posix()->ReadFile(PolicyPath(role));
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  if (!text.ok()) return nullptr;
  auto p = ParsePolicy(*text);
  EXPECT_TRUE(p.ok()) << role << ": " << p.status().ToString();
  if (!p.ok()) return nullptr;
  return std::make_shared<const NamedPolicy>(
      NamedPolicy{std::string("arn:aws:iam::") + kAccount + ":policy/" + role, std::move(*p)});
}

TEST(ShippedPoliciesTest, EveryRoleParses) {
  for (const std::string& role : kRoles) {
    EXPECT_NE(LoadRole(role), nullptr) << role;
  }
}

TEST(ShippedPoliciesTest, EveryFileInTheFolderIsARole) {
  auto names = Env::Posix()->ListDir(std::string(MUON_SOURCE_DIR) + "/src/iam/policies");
  ASSERT_TRUE(names.ok());
  for (const std::string& name : *names) {
    bool known = false;
    for (const std::string& role : kRoles) known |= name == role + ".json";
    EXPECT_TRUE(known) << name << " is shipped but not tested";
  }
}

// How the caller authenticated.
enum class Auth { kLongTermKey, kSessionWithoutMfa, kSessionWithMfa };

struct RoleCase {
  const char* name;
  const char* role;
  Auth auth;
  const char* username;
  const char* action;
  const char* resource;
  auth::RequestKeys keys;
  Decision decision;
  const char* sid;  // the statement that decided; "" for an implicit deny
};

void PrintTo(const RoleCase& c, std::ostream* os) { *os << c.name; }

constexpr const char* kMfaDeny = "DenyAllExceptMfaSelfServiceUnlessSignedInWithMFA";
constexpr const char* kStreamArn =
    "arn:aws:kinesis:ap-southeast-2:000000000000:stream/muonpipe-live";

const RoleCase kRoleCases[] = {
    // Analyst: reads the archive and registry, exports, only with MFA.
    {"AnalystWithoutMfaIsDeniedArchive",
     "Analyst",
     Auth::kLongTermKey,
     "ana",
     "s3:GetObject",
     "arn:aws:s3:::muonpipe-data/archive/2026/11/28/a.ndjson",
     {},
     Decision::kExplicitDeny,
     kMfaDeny},
    {"AnalystSessionWithoutMfaIsDenied",
     "Analyst",
     Auth::kSessionWithoutMfa,
     "ana",
     "s3:GetObject",
     "arn:aws:s3:::muonpipe-data/archive/a",
     {},
     Decision::kExplicitDeny,
     kMfaDeny},
    {"AnalystWithMfaReadsArchive",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "s3:GetObject",
     "arn:aws:s3:::muonpipe-data/archive/2026/11/28/a.ndjson",
     {},
     Decision::kAllow,
     "ReadArchive"},
    {"AnalystWithMfaCannotWriteArchive",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "s3:PutObject",
     "arn:aws:s3:::muonpipe-data/archive/a",
     {},
     Decision::kImplicitDeny,
     ""},
    {"AnalystWithMfaCannotReadAudit",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "s3:GetObject",
     "arn:aws:s3:::muonpipe-data/audit/a",
     {},
     Decision::kImplicitDeny,
     ""},
    {"AnalystWithMfaCannotReadOtherBuckets",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "s3:GetObject",
     "arn:aws:s3:::elsewhere/archive/a",
     {},
     Decision::kImplicitDeny,
     ""},
    {"AnalystWithMfaListsBucket",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "s3:ListBucket",
     "arn:aws:s3:::muonpipe-data",
     {},
     Decision::kAllow,
     "ListArchive"},
    {"AnalystWithMfaExportsToOwnPrefix",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "s3:PutObject",
     "arn:aws:s3:::muonpipe-data/exports/ana/q1.csv",
     {},
     Decision::kAllow,
     "Export"},
    {"AnalystCannotExportToAnothersPrefix",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "s3:PutObject",
     "arn:aws:s3:::muonpipe-data/exports/bob/q1.csv",
     {},
     Decision::kImplicitDeny,
     ""},
    {"AnalystWithMfaReadsRegistry",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "registry:GetDetector",
     "arn:muonpipe:registry:::detector/d-17",
     {},
     Decision::kAllow,
     "ReadRegistry"},
    {"AnalystCannotWriteRegistry",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "registry:UpdateDetector",
     "arn:muonpipe:registry:::detector/d-17",
     {},
     Decision::kImplicitDeny,
     ""},
    {"AnalystCannotPutToStreams",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "kinesis:PutRecord",
     kStreamArn,
     {},
     Decision::kImplicitDeny,
     ""},
    {"AnalystWithoutMfaGetsSessionToken",
     "Analyst",
     Auth::kLongTermKey,
     "ana",
     "sts:GetSessionToken",
     "*",
     {},
     Decision::kAllow,
     "AllowGetSessionToken"},
    {"AnalystWithoutMfaCreatesVirtualMfaDevice",
     "Analyst",
     Auth::kLongTermKey,
     "ana",
     "iam:CreateVirtualMFADevice",
     "arn:aws:iam::000000000000:mfa/ana",
     {},
     Decision::kAllow,
     "AllowManageOwnVirtualMFADevice"},
    {"AnalystWithoutMfaEnablesOwnMfaDevice",
     "Analyst",
     Auth::kLongTermKey,
     "ana",
     "iam:EnableMFADevice",
     "arn:aws:iam::000000000000:user/ana",
     {},
     Decision::kAllow,
     "AllowManageOwnUserMFA"},
    {"AnalystCannotEnableAnotherUsersMfaDevice",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "iam:EnableMFADevice",
     "arn:aws:iam::000000000000:user/someone-else",
     {},
     Decision::kImplicitDeny,
     ""},
    {"AnalystWithoutMfaCannotDeactivateMfaDevice",
     "Analyst",
     Auth::kLongTermKey,
     "ana",
     "iam:DeactivateMFADevice",
     "arn:aws:iam::000000000000:user/ana",
     {},
     Decision::kExplicitDeny,
     kMfaDeny},
    {"OperatorWithoutMfaGetsSessionToken",
     "Operator",
     Auth::kLongTermKey,
     "ops",
     "sts:GetSessionToken",
     "*",
     {},
     Decision::kAllow,
     "AllowGetSessionToken"},
    {"OperatorWithoutMfaCreatesVirtualMfaDevice",
     "Operator",
     Auth::kLongTermKey,
     "ops",
     "iam:CreateVirtualMFADevice",
     "arn:aws:iam::000000000000:mfa/ops",
     {},
     Decision::kAllow,
     "AllowManageOwnVirtualMFADevice"},
    {"OperatorWithoutMfaEnablesOwnMfaDevice",
     "Operator",
     Auth::kLongTermKey,
     "ops",
     "iam:EnableMFADevice",
     "arn:aws:iam::000000000000:user/ops",
     {},
     Decision::kAllow,
     "AllowManageOwnUserMFA"},
    {"OperatorCannotEnableAnotherUsersMfaDevice",
     "Operator",
     Auth::kSessionWithMfa,
     "ops",
     "iam:EnableMFADevice",
     "arn:aws:iam::000000000000:user/someone-else",
     {},
     Decision::kImplicitDeny,
     ""},
    {"OperatorWithoutMfaCannotDeactivateMfaDevice",
     "Operator",
     Auth::kLongTermKey,
     "ops",
     "iam:DeactivateMFADevice",
     "arn:aws:iam::000000000000:user/ops",
     {},
     Decision::kExplicitDeny,
     kMfaDeny},
    {"AuditorWithoutMfaGetsSessionToken",
     "Auditor",
     Auth::kLongTermKey,
     "aud",
     "sts:GetSessionToken",
     "*",
     {},
     Decision::kAllow,
     "AllowGetSessionToken"},
    {"AuditorWithoutMfaCreatesVirtualMfaDevice",
     "Auditor",
     Auth::kLongTermKey,
     "aud",
     "iam:CreateVirtualMFADevice",
     "arn:aws:iam::000000000000:mfa/aud",
     {},
     Decision::kAllow,
     "AllowManageOwnVirtualMFADevice"},
    {"AuditorWithoutMfaEnablesOwnMfaDevice",
     "Auditor",
     Auth::kLongTermKey,
     "aud",
     "iam:EnableMFADevice",
     "arn:aws:iam::000000000000:user/aud",
     {},
     Decision::kAllow,
     "AllowManageOwnUserMFA"},
    {"AuditorCannotEnableAnotherUsersMfaDevice",
     "Auditor",
     Auth::kSessionWithMfa,
     "aud",
     "iam:EnableMFADevice",
     "arn:aws:iam::000000000000:user/someone-else",
     {},
     Decision::kImplicitDeny,
     ""},
    {"AuditorWithoutMfaCannotDeactivateMfaDevice",
     "Auditor",
     Auth::kLongTermKey,
     "aud",
     "iam:DeactivateMFADevice",
     "arn:aws:iam::000000000000:user/aud",
     {},
     Decision::kExplicitDeny,
     kMfaDeny},

    // Device: puts to its streams and uploads under incoming/<its name>/, no MFA.
    {"DevicePutsRecordWithoutMfa",
     "Device",
     Auth::kLongTermKey,
     "det-7",
     "kinesis:PutRecord",
     kStreamArn,
     {},
     Decision::kAllow,
     "PutToStream"},
    {"DevicePutsRecords",
     "Device",
     Auth::kLongTermKey,
     "det-7",
     "kinesis:PutRecords",
     kStreamArn,
     {},
     Decision::kAllow,
     "PutToStream"},
    {"DeviceCannotPutToOtherStreams",
     "Device",
     Auth::kLongTermKey,
     "det-7",
     "kinesis:PutRecord",
     "arn:aws:kinesis:ap-southeast-2:000000000000:stream/payroll",
     {},
     Decision::kImplicitDeny,
     ""},
    {"DeviceCannotReadStreams",
     "Device",
     Auth::kLongTermKey,
     "det-7",
     "kinesis:GetRecords",
     kStreamArn,
     {},
     Decision::kImplicitDeny,
     ""},
    {"DeviceCannotDeleteStreams",
     "Device",
     Auth::kLongTermKey,
     "det-7",
     "kinesis:DeleteStream",
     kStreamArn,
     {},
     Decision::kImplicitDeny,
     ""},
    {"DeviceUploadsUnderOwnName",
     "Device",
     Auth::kLongTermKey,
     "det-7",
     "s3:PutObject",
     "arn:aws:s3:::muonpipe-data/incoming/det-7/2026-11-28.ndjson.zst",
     {},
     Decision::kAllow,
     "UploadOwnBatches"},
    {"DeviceCannotUploadUnderAnothersName",
     "Device",
     Auth::kLongTermKey,
     "det-7",
     "s3:PutObject",
     "arn:aws:s3:::muonpipe-data/incoming/det-8/x",
     {},
     Decision::kImplicitDeny,
     ""},
    {"DeviceCannotUploadOutsideIncoming",
     "Device",
     Auth::kLongTermKey,
     "det-7",
     "s3:PutObject",
     "arn:aws:s3:::muonpipe-data/archive/det-7/x",
     {},
     Decision::kImplicitDeny,
     ""},
    {"DeviceWithoutUserNameUploadsNothing",
     "Device",
     Auth::kLongTermKey,
     "",
     "s3:PutObject",
     "arn:aws:s3:::muonpipe-data/incoming//x",
     {},
     Decision::kImplicitDeny,
     ""},
    {"DeviceCannotReadItsUploads",
     "Device",
     Auth::kLongTermKey,
     "det-7",
     "s3:GetObject",
     "arn:aws:s3:::muonpipe-data/incoming/det-7/x",
     {},
     Decision::kImplicitDeny,
     ""},
    {"DevicePutsToDelivery",
     "Device",
     Auth::kLongTermKey,
     "det-7",
     "firehose:PutRecordBatch",
     "arn:aws:firehose:ap-southeast-2:000000000000:deliverystream/muonpipe-archive",
     {},
     Decision::kAllow,
     "PutToDelivery"},
    {"DeviceCannotTouchIam",
     "Device",
     Auth::kLongTermKey,
     "det-7",
     "iam:CreateUser",
     "*",
     {},
     Decision::kImplicitDeny,
     ""},

    // Operator: registry writes, streams and delivery, reads data; MFA.
    {"OperatorWithoutMfaIsDenied",
     "Operator",
     Auth::kLongTermKey,
     "op",
     "kinesis:CreateStream",
     kStreamArn,
     {},
     Decision::kExplicitDeny,
     kMfaDeny},
    {"OperatorCreatesStreams",
     "Operator",
     Auth::kSessionWithMfa,
     "op",
     "kinesis:CreateStream",
     kStreamArn,
     {},
     Decision::kAllow,
     "ManageStreams"},
    {"OperatorListsStreams",
     "Operator",
     Auth::kSessionWithMfa,
     "op",
     "kinesis:ListStreams",
     "*",
     {},
     Decision::kAllow,
     "ListStreams"},
    {"OperatorWritesRegistry",
     "Operator",
     Auth::kSessionWithMfa,
     "op",
     "registry:CreateDeployment",
     "arn:muonpipe:registry:::deployment/dep-1",
     {},
     Decision::kAllow,
     "RegistryReadWrite"},
    {"OperatorReadsData",
     "Operator",
     Auth::kSessionWithMfa,
     "op",
     "s3:GetObject",
     "arn:aws:s3:::muonpipe-data/live/x",
     {},
     Decision::kAllow,
     "ReadData"},
    {"OperatorCannotWriteData",
     "Operator",
     Auth::kSessionWithMfa,
     "op",
     "s3:PutObject",
     "arn:aws:s3:::muonpipe-data/live/x",
     {},
     Decision::kImplicitDeny,
     ""},
    {"OperatorCannotManageUsers",
     "Operator",
     Auth::kSessionWithMfa,
     "op",
     "iam:CreateUser",
     "*",
     {},
     Decision::kImplicitDeny,
     ""},
    {"OperatorManagesDelivery",
     "Operator",
     Auth::kSessionWithMfa,
     "op",
     "firehose:CreateDeliveryStream",
     "arn:aws:firehose:ap-southeast-2:000000000000:deliverystream/muonpipe-archive",
     {},
     Decision::kAllow,
     "ManageDelivery"},

    // Auditor: reads the audit log; MFA.
    {"AuditorReadsAuditLog",
     "Auditor",
     Auth::kSessionWithMfa,
     "aud",
     "s3:GetObject",
     "arn:aws:s3:::muonpipe-data/audit/2026-11-28.jsonl",
     {},
     Decision::kAllow,
     "ReadAuditLog"},
    {"AuditorCannotReadArchive",
     "Auditor",
     Auth::kSessionWithMfa,
     "aud",
     "s3:GetObject",
     "arn:aws:s3:::muonpipe-data/archive/x",
     {},
     Decision::kImplicitDeny,
     ""},
    {"AuditorListsAuditPrefix",
     "Auditor",
     Auth::kSessionWithMfa,
     "aud",
     "s3:ListBucket",
     "arn:aws:s3:::muonpipe-data",
     {{"s3:prefix", "audit/2026/"}},
     Decision::kAllow,
     "ListAuditLog"},
    {"AuditorCannotListOtherPrefixes",
     "Auditor",
     Auth::kSessionWithMfa,
     "aud",
     "s3:ListBucket",
     "arn:aws:s3:::muonpipe-data",
     {{"s3:prefix", "archive/"}},
     Decision::kImplicitDeny,
     ""},
    {"AuditorCannotListWithoutPrefix",
     "Auditor",
     Auth::kSessionWithMfa,
     "aud",
     "s3:ListBucket",
     "arn:aws:s3:::muonpipe-data",
     {},
     Decision::kImplicitDeny,
     ""},
    {"AuditorWithoutMfaIsDenied",
     "Auditor",
     Auth::kLongTermKey,
     "aud",
     "s3:GetObject",
     "arn:aws:s3:::muonpipe-data/audit/x",
     {},
     Decision::kExplicitDeny,
     kMfaDeny},

    // Admin endpoints (/_muonpipe/usage, /_muonpipe/metrics): Operator both, Analyst usage
    // (capacity planning), Device and Auditor neither; MFA as for everything else.
    {"OperatorWithMfaGetsUsage",
     "Operator",
     Auth::kSessionWithMfa,
     "op",
     "admin:GetUsage",
     "arn:muonpipe:admin:::usage",
     {},
     Decision::kAllow,
     "ReadUsageAndMetrics"},
    {"OperatorWithMfaGetsMetrics",
     "Operator",
     Auth::kSessionWithMfa,
     "op",
     "admin:GetMetrics",
     "arn:muonpipe:admin:::metrics",
     {},
     Decision::kAllow,
     "ReadUsageAndMetrics"},
    {"OperatorWithoutMfaIsDeniedMetrics",
     "Operator",
     Auth::kLongTermKey,
     "op",
     "admin:GetMetrics",
     "arn:muonpipe:admin:::metrics",
     {},
     Decision::kExplicitDeny,
     kMfaDeny},
    {"AnalystWithMfaGetsUsage",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "admin:GetUsage",
     "arn:muonpipe:admin:::usage",
     {},
     Decision::kAllow,
     "ReadUsage"},
    {"AnalystCannotGetMetrics",
     "Analyst",
     Auth::kSessionWithMfa,
     "ana",
     "admin:GetMetrics",
     "arn:muonpipe:admin:::metrics",
     {},
     Decision::kImplicitDeny,
     ""},
    {"AnalystWithoutMfaIsDeniedUsage",
     "Analyst",
     Auth::kLongTermKey,
     "ana",
     "admin:GetUsage",
     "arn:muonpipe:admin:::usage",
     {},
     Decision::kExplicitDeny,
     kMfaDeny},
    {"DeviceCannotGetUsage",
     "Device",
     Auth::kLongTermKey,
     "dev-0042",
     "admin:GetUsage",
     "arn:muonpipe:admin:::usage",
     {},
     Decision::kImplicitDeny,
     ""},
    {"DeviceCannotGetMetrics",
     "Device",
     Auth::kLongTermKey,
     "dev-0042",
     "admin:GetMetrics",
     "arn:muonpipe:admin:::metrics",
     {},
     Decision::kImplicitDeny,
     ""},
    {"AuditorCannotGetUsage",
     "Auditor",
     Auth::kSessionWithMfa,
     "aud",
     "admin:GetUsage",
     "arn:muonpipe:admin:::usage",
     {},
     Decision::kImplicitDeny,
     ""},
    {"AdministratorWithMfaGetsMetrics",
     "Administrator",
     Auth::kSessionWithMfa,
     "adm",
     "admin:GetMetrics",
     "arn:muonpipe:admin:::metrics",
     {},
     Decision::kAllow,
     "AdministerEverything"},

    // Administrator: everything, with MFA; MFA self-service without it.
    {"AdministratorWithMfaDoesAnything",
     "Administrator",
     Auth::kSessionWithMfa,
     "root-ish",
     "iam:CreateUser",
     "arn:aws:iam::000000000000:user/new",
     {},
     Decision::kAllow,
     "AdministerEverything"},
    {"AdministratorWithoutMfaIsDenied",
     "Administrator",
     Auth::kLongTermKey,
     "adm",
     "iam:CreateUser",
     "arn:aws:iam::000000000000:user/new",
     {},
     Decision::kExplicitDeny,
     kMfaDeny},
    {"AdministratorWithoutMfaMayEnrolMfa",
     "Administrator",
     Auth::kLongTermKey,
     "adm",
     "iam:EnableMFADevice",
     "arn:aws:iam::000000000000:user/adm",
     {},
     Decision::kAllow,
     "AdministerEverything"},
    {"AdministratorWithoutMfaMayGetSessionToken",
     "Administrator",
     Auth::kLongTermKey,
     "adm",
     "sts:GetSessionToken",
     "*",
     {},
     Decision::kAllow,
     "AdministerEverything"},
};

class RoleTest : public testing::TestWithParam<RoleCase> {};

TEST_P(RoleTest, BehavesAsTheRolePromises) {
  const RoleCase& c = GetParam();
  FakeClock clock;
  InMemoryPolicyLookup lookup;
  std::string arn =
      std::string("arn:aws:iam::") + kAccount + ":user/" + (c.username[0] ? c.username : "anon");
  PrincipalInfo info;
  info.username = c.username;
  info.userid = "AIDAEXAMPLE";
  auto policy = LoadRole(c.role);
  ASSERT_NE(policy, nullptr);
  info.policies.push_back(policy);
  lookup.Put(arn, info);
  PolicyAuthorizer authz(&lookup, &clock);

  auth::Caller caller;
  caller.principal_arn = arn;
  caller.source_ip = "192.0.2.10";
  caller.secure_transport = true;
  if (c.auth != Auth::kLongTermKey) caller.temporary_credentials = true;
  if (c.auth == Auth::kSessionWithMfa) caller.mfa_authenticated_at = clock.NowSeconds() - 60;

  auto decided = authz.Decide(caller, c.action, c.resource, c.keys);
  ASSERT_TRUE(decided.ok());
  const EvaluationResult& r = decided->second;
  EXPECT_EQ(r.decision, c.decision) << DecisionName(r.decision);
  EXPECT_EQ(r.statement ? r.statement->sid : "", c.sid);
  if (r.statement) {
    EXPECT_EQ(r.statement->policy_name, policy->name);
  }

  Status s = authz.Authorize(caller, c.action, c.resource, c.keys);
  EXPECT_EQ(s.ok(), c.decision == Decision::kAllow);
  if (!s.ok()) {
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  }
}

INSTANTIATE_TEST_SUITE_P(Roles, RoleTest, testing::ValuesIn(kRoleCases),
                         [](const testing::TestParamInfo<RoleCase>& i) {
                           return std::string(i.param.name);
                         });

// ---------------------------------------------------------------------------
// PolicyAuthorizer itself.

std::shared_ptr<const NamedPolicy> Inline(const std::string& json) {
  auto p = ParsePolicy(json);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::make_shared<const NamedPolicy>(NamedPolicy{"inline", std::move(*p)});
}

class PolicyAuthorizerTest : public testing::Test {
 protected:
  void Give(const std::string& json, PrincipalInfo info = {}) {
    info.policies.push_back(Inline(json));
    lookup_.Put(kArn, std::move(info));
  }
  auth::Caller Caller() {
    auth::Caller c;
    c.principal_arn = kArn;
    return c;
  }

  static constexpr const char* kArn = "arn:aws:iam::000000000000:user/alice";
  FakeClock clock_{1'764'295'200'000'000'000};  // 2025-11-28T02:00:00Z
  InMemoryPolicyLookup lookup_;
  PolicyAuthorizer authz_{&lookup_, &clock_};
};

TEST_F(PolicyAuthorizerTest, UnknownPrincipalIsDeniedWithAwsWording) {
  Status s = authz_.Authorize(Caller(), "kinesis:PutRecord", "arn:aws:kinesis:r:a:stream/s");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.message(),
            "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: "
            "kinesis:PutRecord on resource: arn:aws:kinesis:r:a:stream/s because no "
            "identity-based policy allows the kinesis:PutRecord action");
}

TEST_F(PolicyAuthorizerTest, ExplicitDenyMessageNamesTheStatement) {
  Give(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
       {"Sid":"NoDeletes","Effect":"Deny","Action":"kinesis:DeleteStream","Resource":"*"}]})");
  Status s = authz_.Authorize(Caller(), "kinesis:DeleteStream", "arn:aws:kinesis:r:a:stream/s");
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("with an explicit deny in an identity-based policy: inline "
                             "(NoDeletes)"),
            std::string::npos)
      << s.message();
}

TEST_F(PolicyAuthorizerTest, LongTermKeysCarryNoMfaKeys) {
  PrincipalInfo info;
  RequestContext ctx = PolicyAuthorizer::ContextFor(Caller(), info, clock_.NowNanos());
  EXPECT_EQ(ctx.Find("aws:MultiFactorAuthPresent"), nullptr);
  EXPECT_EQ(ctx.Find("aws:MultiFactorAuthAge"), nullptr);
}

TEST_F(PolicyAuthorizerTest, SessionWithoutMfaSaysFalseAndHasNoAge) {
  auth::Caller c = Caller();
  c.temporary_credentials = true;
  RequestContext ctx = PolicyAuthorizer::ContextFor(c, {}, clock_.NowNanos());
  ASSERT_NE(ctx.Find("aws:MultiFactorAuthPresent"), nullptr);
  EXPECT_EQ(ctx.Find("aws:MultiFactorAuthPresent")->at(0), "false");
  EXPECT_EQ(ctx.Find("aws:MultiFactorAuthAge"), nullptr);
}

TEST_F(PolicyAuthorizerTest, ContextCarriesEveryGlobalKey) {
  auth::Caller c = Caller();
  c.source_ip = "203.0.113.5";
  c.user_agent = "aws-cli/2.15";
  c.secure_transport = true;
  c.temporary_credentials = true;
  c.mfa_authenticated_at = clock_.NowSeconds() - 125;
  PrincipalInfo info;
  info.username = "alice";
  info.userid = "AIDAALICE";
  info.tags = {{"team", "physics"}};
  RequestContext ctx = PolicyAuthorizer::ContextFor(c, info, clock_.NowNanos());
  auto one = [&](const char* key) {
    const auto* v = ctx.Find(key);
    return v && v->size() == 1 ? (*v)[0] : std::string("<absent>");
  };
  EXPECT_EQ(one("aws:PrincipalArn"), kArn);
  EXPECT_EQ(one("aws:username"), "alice");
  EXPECT_EQ(one("aws:userid"), "AIDAALICE");
  EXPECT_EQ(one("aws:PrincipalTag/team"), "physics");
  EXPECT_EQ(one("aws:SourceIp"), "203.0.113.5");
  EXPECT_EQ(one("aws:UserAgent"), "aws-cli/2.15");
  EXPECT_EQ(one("aws:SecureTransport"), "true");
  EXPECT_EQ(one("aws:CurrentTime"), "2025-11-28T02:00:00Z");
  EXPECT_EQ(one("aws:EpochTime"), "1764295200");
  EXPECT_EQ(one("aws:MultiFactorAuthPresent"), "true");
  EXPECT_EQ(one("aws:MultiFactorAuthAge"), "125");
}

TEST_F(PolicyAuthorizerTest, MfaAgeLimitFollowsTheClock) {
  Give(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
       "Resource":"*","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}}})");
  auth::Caller c = Caller();
  c.temporary_credentials = true;
  c.mfa_authenticated_at = clock_.NowSeconds();
  EXPECT_TRUE(authz_.Authorize(c, "s3:GetObject", "arn:aws:s3:::b/k").ok());
  clock_.AdvanceSeconds(3599);
  EXPECT_TRUE(authz_.Authorize(c, "s3:GetObject", "arn:aws:s3:::b/k").ok());
  clock_.AdvanceSeconds(1);
  EXPECT_FALSE(authz_.Authorize(c, "s3:GetObject", "arn:aws:s3:::b/k").ok());
}

TEST_F(PolicyAuthorizerTest, TimeWindowFollowsTheClock) {
  Give(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
       "Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2025-11-28T03:00:00Z"}}}})");
  EXPECT_TRUE(authz_.Authorize(Caller(), "s3:GetObject", "arn:aws:s3:::b/k").ok());
  clock_.AdvanceSeconds(3600);
  EXPECT_FALSE(authz_.Authorize(Caller(), "s3:GetObject", "arn:aws:s3:::b/k").ok());
}

TEST_F(PolicyAuthorizerTest, SourceIpAndSecureTransportComeFromTheCaller) {
  Give(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
       "Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},
       "Bool":{"aws:SecureTransport":"true"}}}})");
  auth::Caller c = Caller();
  c.source_ip = "10.9.8.7";
  EXPECT_FALSE(authz_.Authorize(c, "s3:GetObject", "arn:aws:s3:::b/k").ok());
  c.secure_transport = true;
  EXPECT_TRUE(authz_.Authorize(c, "s3:GetObject", "arn:aws:s3:::b/k").ok());
  c.source_ip = "192.0.2.1";
  EXPECT_FALSE(authz_.Authorize(c, "s3:GetObject", "arn:aws:s3:::b/k").ok());
}

TEST_F(PolicyAuthorizerTest, RequestKeysCannotSpoofGlobalKeys) {
  Give(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
       "Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}})");
  auth::RequestKeys keys = {{"aws:MultiFactorAuthPresent", "true"},
                            {"AWS:MultiFactorAuthPresent", "true"}};
  EXPECT_FALSE(authz_.Authorize(Caller(), "s3:GetObject", "arn:aws:s3:::b/k", keys).ok());
}

TEST_F(PolicyAuthorizerTest, RepeatedRequestKeysAreOneMultiValuedKey) {
  Give(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:PutObject",
       "Resource":"*","Condition":{"ForAllValues:StringEquals":{"s3:tag-keys":["a","b"]}}}})");
  EXPECT_TRUE(authz_
                  .Authorize(Caller(), "s3:PutObject", "arn:aws:s3:::b/k",
                             {{"s3:tag-keys", "a"}, {"s3:tag-keys", "b"}})
                  .ok());
  EXPECT_FALSE(authz_
                   .Authorize(Caller(), "s3:PutObject", "arn:aws:s3:::b/k",
                              {{"s3:tag-keys", "a"}, {"s3:tag-keys", "c"}})
                   .ok());
}

TEST_F(PolicyAuthorizerTest, PrincipalTagsAreVariables) {
  PrincipalInfo info;
  info.tags = {{"site", "mine-3"}};
  Give(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"registry:Get*",
       "Resource":"arn:muonpipe:registry:::site/${aws:PrincipalTag/site}"}})",
       info);
  EXPECT_TRUE(
      authz_.Authorize(Caller(), "registry:GetSite", "arn:muonpipe:registry:::site/mine-3").ok());
  EXPECT_FALSE(
      authz_.Authorize(Caller(), "registry:GetSite", "arn:muonpipe:registry:::site/mine-4").ok());
}

TEST_F(PolicyAuthorizerTest, RemovedPrincipalLosesAccessAtOnce) {
  Give(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}})");
  EXPECT_TRUE(authz_.Authorize(Caller(), "s3:GetObject", "arn:aws:s3:::b/k").ok());
  lookup_.Remove(kArn);
  EXPECT_FALSE(authz_.Authorize(Caller(), "s3:GetObject", "arn:aws:s3:::b/k").ok());
}

class FailingLookup final : public PolicyLookup {
 public:
  Result<PrincipalInfo> Lookup(std::string_view) const override {
    return Status::Unavailable("database is down");
  }
};

TEST(PolicyAuthorizerFailureTest, LookupFailureDenies) {
  FailingLookup lookup;
  FakeClock clock;
  PolicyAuthorizer authz(&lookup, &clock);
  auth::Caller c;
  c.principal_arn = "arn:aws:iam::000000000000:user/alice";
  Status s = authz.Authorize(c, "s3:GetObject", "arn:aws:s3:::b/k");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace muon::iam
