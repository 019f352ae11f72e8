#include "identity/iam_service.h"

#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <fmt/format.h>
#include <pugixml.hpp>

#include "auth/sigv4.h"
#include "base/base64.h"
#include "iam/totp.h"
#include "identity/session_tokens.h"
#include "identity/sts.h"
#include "registry/test_util.h"

namespace muon::identity {
namespace {

constexpr const char* kAccount = "000000000000";
constexpr const char* kAllowAll =
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})";
constexpr const char* kTrust =
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]})";

// Records every question and refuses the actions in `deny`.
class RecordingAuthorizer final : public auth::Authorizer {
 public:
  using auth::Authorizer::Authorize;
  Status Authorize(const auth::Caller& caller, std::string_view action,
                   std::string_view resource) const override {
    std::lock_guard lock(mu_);
    asked_.emplace_back(std::string(action), std::string(resource));
    last_principal_ = caller.principal_arn;
    if (deny_.count(std::string(action))) {
      return Status::PermissionDenied(fmt::format("User: {} is not authorized to perform: {} on "
                                                  "resource: {}",
                                                  caller.principal_arn, action, resource));
    }
    return Status::Ok();
  }
  void Deny(std::string action) { deny_.insert(std::move(action)); }
  std::string last_principal() const {
    std::lock_guard lock(mu_);
    return last_principal_;
  }
  std::vector<std::pair<std::string, std::string>> TakeAsked() {
    std::lock_guard lock(mu_);
    return std::exchange(asked_, {});
  }

 private:
  mutable std::mutex mu_;
  mutable std::vector<std::pair<std::string, std::string>> asked_;
  mutable std::string last_principal_;
  std::set<std::string> deny_;
};

struct Reply {
  int status = 0;
  pugi::xml_document doc;
  pugi::xml_node result;  // <ActionResult>, or <Error> for an error
  std::string body;
  std::string Text(const char* path) const {
    return result.first_element_by_path(path).text().get();
  }
  std::string Code() const { return Text("Code"); }
};

class IamServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = registry::testing::FreshDatabaseUrl("sqlite", &skip);
    ASSERT_FALSE(url_.empty());
    auto s = IdentityStore::Open(url_, {}, &clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    service_ = std::make_unique<IamService>(store_.get(), &authz_, IamOptions{});
    caller_.access_key_id = "AKIAADMIN";
    caller_.principal_arn = fmt::format("arn:aws:iam::{}:user/admin", kAccount);
  }

  std::unique_ptr<Reply> Call(const std::string& action,
                              std::vector<std::pair<std::string, std::string>> params = {},
                              const auth::Caller* caller = nullptr) {
    query::Request req;
    req.action = action;
    req.version = "2010-05-08";
    req.params = query::Params(std::move(params));
    http::Response r = service_->Call(req, caller ? *caller : caller_, "req-1");
    auto out = std::make_unique<Reply>();
    out->status = r.status;
    out->body = r.body;
    auto parsed = out->doc.load_string(r.body.c_str());
    EXPECT_TRUE(parsed) << parsed.description() << ": " << r.body;
    if (r.status == 200) {
      auto root = out->doc.child(fmt::format("{}Response", action).c_str());
      EXPECT_STREQ(root.attribute("xmlns").value(), "https://iam.amazonaws.com/doc/2010-05-08/");
      EXPECT_EQ(std::string(root.child("ResponseMetadata").child("RequestId").text().get()),
                "req-1");
      out->result = root.child(fmt::format("{}Result", action).c_str());
      EXPECT_TRUE(out->result) << r.body;
    } else {
      out->result = out->doc.child("ErrorResponse").child("Error");
      EXPECT_TRUE(out->result) << r.body;
    }
    return out;
  }

  // Calls, expects success, and returns the reply.
  std::unique_ptr<Reply> Ok(const std::string& action,
                            std::vector<std::pair<std::string, std::string>> params = {}) {
    auto r = Call(action, std::move(params));
    EXPECT_EQ(r->status, 200) << action << ": " << r->body;
    return r;
  }

  void ExpectError(const std::string& action,
                   std::vector<std::pair<std::string, std::string>> params, int status,
                   const std::string& code) {
    auto r = Call(action, std::move(params));
    EXPECT_EQ(r->status, status) << action << ": " << r->body;
    EXPECT_EQ(r->Code(), code) << action << ": " << r->body;
    EXPECT_FALSE(r->Text("Message").empty()) << r->body;
    EXPECT_EQ(r->Text("Type"), status >= 500 ? "Receiver" : "Sender");
  }

  std::string Arn(const std::string& rest) { return fmt::format("arn:aws:iam::{}:{}", kAccount, rest); }

  FakeClock clock_;
  std::string url_;
  std::unique_ptr<IdentityStore> store_;
  RecordingAuthorizer authz_;
  std::unique_ptr<IamService> service_;
  auth::Caller caller_;
};

std::string PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

TEST_F(IamServiceTest, CreateUserAnswersTheUserAndAsksWithTheUsersArn) {
  auto r = Ok("CreateUser", {{"UserName", "alice"},
                             {"Path", "/team/"},
                             {"Tags.member.1.Key", "dept"},
                             {"Tags.member.1.Value", "physics"}});
  EXPECT_EQ(r->Text("User/UserName"), "alice");
  EXPECT_EQ(r->Text("User/Path"), "/team/");
  EXPECT_EQ(r->Text("User/Arn"), Arn("user/team/alice"));
  EXPECT_EQ(r->Text("User/UserId").substr(0, 4), "AIDA");
  EXPECT_EQ(r->Text("User/CreateDate").size(), 20u);  // 2026-11-28T05:00:00Z
  EXPECT_EQ(r->Text("User/Tags/member/Key"), "dept");
  EXPECT_EQ(r->Text("User/Tags/member/Value"), "physics");
  auto asked = authz_.TakeAsked();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0], std::make_pair(std::string("iam:CreateUser"), Arn("user/team/alice")));
}

TEST_F(IamServiceTest, GetUserWithoutANameIsTheCaller) {
  auto r = Ok("GetUser");
  EXPECT_EQ(r->Text("User/UserName"), "admin");
  EXPECT_EQ(r->Text("User/Arn"), Arn("user/admin"));

  auth::Caller role = caller_;
  role.principal_arn = "arn:aws:sts::000000000000:assumed-role/Reader/s1";
  auto e = Call("GetUser", {}, &role);
  EXPECT_EQ(e->status, 400);
  EXPECT_EQ(e->Code(), "ValidationError");
}

TEST_F(IamServiceTest, StoreErrorsBecomeIamCodesAndStatuses) {
  Ok("CreateUser", {{"UserName", "bob"}});
  ExpectError("GetUser", {{"UserName", "nobody"}}, 404, "NoSuchEntity");
  ExpectError("CreateUser", {{"UserName", "bob"}}, 409, "EntityAlreadyExists");
  ExpectError("CreateUser", {{"UserName", "bad name"}}, 400, "ValidationError");
  ExpectError("CreateUser", {}, 400, "ValidationError");
  Ok("CreateAccessKey", {{"UserName", "bob"}});
  Ok("CreateAccessKey", {{"UserName", "bob"}});
  ExpectError("CreateAccessKey", {{"UserName", "bob"}}, 409, "LimitExceeded");
  ExpectError("DeleteUser", {{"UserName", "bob"}}, 409, "DeleteConflict");
  ExpectError("CreatePolicy", {{"PolicyName", "p"}, {"PolicyDocument", "{not json"}}, 400,
              "MalformedPolicyDocument");
  ExpectError("CreateRole", {{"RoleName", "r"}, {"AssumeRolePolicyDocument", "[]"}}, 400,
              "MalformedPolicyDocument");
  ExpectError("CreateLoginProfile", {{"UserName", "bob"}, {"Password", "short"}}, 400,
              "PasswordPolicyViolation");
  ExpectError("UpdateAccessKey", {{"UserName", "bob"}, {"AccessKeyId", "AKIAX"}, {"Status", "On"}},
              400, "ValidationError");
  ExpectError("ListUsers", {{"MaxItems", "0"}}, 400, "ValidationError");
  ExpectError("ListAccessKeys", {{"UserName", "bob"}, {"Marker", "x1"}}, 400, "ValidationError");
  ExpectError("NoSuchAction", {}, 400, "InvalidAction");
  ExpectError("", {}, 400, "MissingAction");
}

TEST_F(IamServiceTest, AMessageWithoutTheMalformedPrefixNamesTheProblem) {
  auto r = Call("CreatePolicy", {{"PolicyName", "p"}, {"PolicyDocument", "{not json"}});
  EXPECT_EQ(r->Code(), "MalformedPolicyDocument");
  EXPECT_EQ(r->Text("Message").find("MalformedPolicyDocument:"), std::string::npos);
}

TEST_F(IamServiceTest, ADeniedActionIsAccessDeniedAndChangesNothing) {
  authz_.Deny("iam:CreateUser");
  ExpectError("CreateUser", {{"UserName", "mallory"}}, 403, "AccessDenied");
  EXPECT_EQ(store_->GetUser("mallory").status().code(), StatusCode::kNotFound);
  authz_.Deny("iam:EnableMFADevice");
  ExpectError("EnableMFADevice",
              {{"UserName", "admin"}, {"SerialNumber", Arn("mfa/x")},
               {"AuthenticationCode1", "111111"}, {"AuthenticationCode2", "222222"}},
              403, "AccessDenied");
}

TEST_F(IamServiceTest, EveryActionIsAskedWithItsIamResource) {
  Ok("CreateUser", {{"UserName", "u"}, {"Path", "/p/"}});
  Ok("CreateGroup", {{"GroupName", "g"}});
  Ok("CreateRole", {{"RoleName", "r"}, {"AssumeRolePolicyDocument", kTrust}});
  Ok("CreatePolicy", {{"PolicyName", "pol"}, {"PolicyDocument", kAllowAll}});
  authz_.TakeAsked();
  const std::string user = Arn("user/p/u"), group = Arn("group/g"), role = Arn("role/r"),
                    policy = Arn("policy/pol");
  struct Case {
    std::string action;
    std::vector<std::pair<std::string, std::string>> params;
    std::string resource;
  };
  std::vector<Case> cases = {
      {"GetUser", {{"UserName", "u"}}, user},
      {"ListUsers", {}, "*"},
      {"ListGroups", {}, "*"},
      {"ListRoles", {}, "*"},
      {"ListPolicies", {}, "*"},
      {"ListVirtualMFADevices", {}, "*"},
      {"ListAccessKeys", {{"UserName", "u"}}, user},
      {"ListAccessKeys", {}, Arn("user/admin")},
      {"ListGroupsForUser", {{"UserName", "u"}}, user},
      {"ListMFADevices", {{"UserName", "u"}}, user},
      {"AddUserToGroup", {{"GroupName", "g"}, {"UserName", "u"}}, group},
      {"GetGroup", {{"GroupName", "g"}}, group},
      {"RemoveUserFromGroup", {{"GroupName", "g"}, {"UserName", "u"}}, group},
      {"AttachUserPolicy", {{"UserName", "u"}, {"PolicyArn", policy}}, user},
      {"ListAttachedUserPolicies", {{"UserName", "u"}}, user},
      {"DetachUserPolicy", {{"UserName", "u"}, {"PolicyArn", policy}}, user},
      {"AttachGroupPolicy", {{"GroupName", "g"}, {"PolicyArn", policy}}, group},
      {"ListAttachedGroupPolicies", {{"GroupName", "g"}}, group},
      {"DetachGroupPolicy", {{"GroupName", "g"}, {"PolicyArn", policy}}, group},
      {"AttachRolePolicy", {{"RoleName", "r"}, {"PolicyArn", policy}}, role},
      {"ListAttachedRolePolicies", {{"RoleName", "r"}}, role},
      {"DetachRolePolicy", {{"RoleName", "r"}, {"PolicyArn", policy}}, role},
      {"GetRole", {{"RoleName", "r"}}, role},
      {"GetPolicy", {{"PolicyArn", policy}}, policy},
      {"GetPolicyVersion", {{"PolicyArn", policy}, {"VersionId", "v1"}}, policy},
      {"CreatePolicyVersion", {{"PolicyArn", policy}, {"PolicyDocument", kAllowAll}}, policy},
      {"ListPolicyVersions", {{"PolicyArn", policy}}, policy},
      {"SetDefaultPolicyVersion", {{"PolicyArn", policy}, {"VersionId", "v2"}}, policy},
      {"DeletePolicyVersion", {{"PolicyArn", policy}, {"VersionId", "v1"}}, policy},
      {"CreateLoginProfile", {{"UserName", "u"}, {"Password", "correct horse"}}, user},
      {"GetLoginProfile", {{"UserName", "u"}}, user},
      {"UpdateLoginProfile", {{"UserName", "u"}, {"PasswordResetRequired", "true"}}, user},
      {"DeleteLoginProfile", {{"UserName", "u"}}, user},
      {"CreateVirtualMFADevice", {{"VirtualMFADeviceName", "phone"}}, Arn("mfa/phone")},
      {"DeleteVirtualMFADevice", {{"SerialNumber", Arn("mfa/phone")}}, Arn("mfa/phone")},
      {"DeleteRole", {{"RoleName", "r"}}, role},
      {"DeleteGroup", {{"GroupName", "g"}}, group},
      {"DeletePolicy", {{"PolicyArn", policy}}, policy},
      {"DeleteUser", {{"UserName", "u"}}, user},
  };
  for (const auto& c : cases) {
    auto r = Call(c.action, c.params);
    EXPECT_EQ(r->status, 200) << c.action << ": " << r->body;
    auto asked = authz_.TakeAsked();
    ASSERT_EQ(asked.size(), 1u) << c.action;
    EXPECT_EQ(asked[0].first, "iam:" + c.action);
    EXPECT_EQ(asked[0].second, c.resource) << c.action;
  }
}

TEST_F(IamServiceTest, PolicyDocumentsComeBackPercentEncoded) {
  auto created = Ok("CreatePolicy", {{"PolicyName", "all"},
                                     {"PolicyDocument", kAllowAll},
                                     {"Description", "everything"}});
  std::string arn = created->Text("Policy/Arn");
  EXPECT_EQ(arn, Arn("policy/all"));
  EXPECT_EQ(created->Text("Policy/DefaultVersionId"), "v1");
  EXPECT_EQ(created->Text("Policy/IsAttachable"), "true");
  EXPECT_EQ(created->Text("Policy/Description"), "everything");
  auto v = Ok("GetPolicyVersion", {{"PolicyArn", arn}, {"VersionId", "v1"}});
  std::string doc = v->Text("PolicyVersion/Document");
  EXPECT_EQ(doc.find('{'), std::string::npos);
  EXPECT_EQ(doc.find('"'), std::string::npos);
  EXPECT_EQ(PercentDecode(doc), kAllowAll);
  EXPECT_EQ(v->Text("PolicyVersion/IsDefaultVersion"), "true");

  auto role = Ok("CreateRole", {{"RoleName", "reader"},
                                {"AssumeRolePolicyDocument", kTrust},
                                {"MaxSessionDuration", "7200"}});
  EXPECT_EQ(role->Text("Role/MaxSessionDuration"), "7200");
  auto got = Ok("GetRole", {{"RoleName", "reader"}});
  EXPECT_EQ(PercentDecode(got->Text("Role/AssumeRolePolicyDocument")), kTrust);
  EXPECT_EQ(got->Text("Role/RoleId").substr(0, 4), "AROA");
}

TEST_F(IamServiceTest, PolicyVersionsAttachmentsAndTheirLists) {
  std::string arn = Ok("CreatePolicy", {{"PolicyName", "p"}, {"PolicyDocument", kAllowAll}})
                        ->Text("Policy/Arn");
  auto v2 = Ok("CreatePolicyVersion",
                {{"PolicyArn", arn}, {"PolicyDocument", kAllowAll}, {"SetAsDefault", "true"}});
  EXPECT_EQ(v2->Text("PolicyVersion/VersionId"), "v2");
  EXPECT_EQ(v2->Text("PolicyVersion/IsDefaultVersion"), "true");
  auto versions = Ok("ListPolicyVersions", {{"PolicyArn", arn}});
  int n = 0;
  for (auto m : versions->result.child("Versions").children("member")) {
    (void)m;
    ++n;
  }
  EXPECT_EQ(n, 2);
  ExpectError("DeletePolicyVersion", {{"PolicyArn", arn}, {"VersionId", "v2"}}, 409,
              "DeleteConflict");
  Ok("CreateUser", {{"UserName", "u"}});
  Ok("AttachUserPolicy", {{"UserName", "u"}, {"PolicyArn", arn}});
  auto attached = Ok("ListAttachedUserPolicies", {{"UserName", "u"}});
  EXPECT_EQ(attached->Text("AttachedPolicies/member/PolicyName"), "p");
  EXPECT_EQ(attached->Text("AttachedPolicies/member/PolicyArn"), arn);
  EXPECT_EQ(attached->Text("IsTruncated"), "false");
  ExpectError("DeletePolicy", {{"PolicyArn", arn}}, 409, "DeleteConflict");
  EXPECT_EQ(Ok("GetPolicy", {{"PolicyArn", arn}})->Text("Policy/AttachmentCount"), "1");
  auto only = Ok("ListPolicies", {{"OnlyAttached", "true"}});
  std::set<std::string> names;
  for (auto m : only->result.child("Policies").children("member")) {
    names.insert(m.child("PolicyName").text().get());
  }
  EXPECT_TRUE(names.count("p"));
  EXPECT_TRUE(names.count("Administrator"));  // the bootstrap admin's
  EXPECT_FALSE(names.count("Auditor"));
  EXPECT_FALSE(Ok("ListPolicies", {{"Scope", "AWS"}})->result.child("Policies").child("member"));
  ExpectError("AttachUserPolicy", {{"UserName", "u"}, {"PolicyArn", Arn("policy/none")}}, 404,
              "NoSuchEntity");
}

TEST_F(IamServiceTest, ListsArePagedWithMarkers) {
  for (const char* n : {"a1", "a2", "a3"}) Ok("CreateUser", {{"UserName", n}, {"Path", "/a/"}});
  std::vector<std::string> seen;
  std::string marker;
  for (int page = 0; page < 5; ++page) {
    std::vector<std::pair<std::string, std::string>> params = {{"PathPrefix", "/a/"},
                                                               {"MaxItems", "2"}};
    if (!marker.empty()) params.emplace_back("Marker", marker);
    auto r = Ok("ListUsers", params);
    for (auto m : r->result.child("Users").children("member")) {
      seen.push_back(m.child("UserName").text().get());
    }
    if (r->Text("IsTruncated") != "true") break;
    marker = r->Text("Marker");
    ASSERT_FALSE(marker.empty());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a1", "a2", "a3"}));

  // A list the store returns whole is paged by the edge.
  Ok("CreateGroup", {{"GroupName", "g"}});
  for (const char* n : {"a1", "a2", "a3"}) Ok("AddUserToGroup", {{"GroupName", "g"}, {"UserName", n}});
  auto first = Ok("GetGroup", {{"GroupName", "g"}, {"MaxItems", "2"}});
  EXPECT_EQ(first->Text("Group/GroupName"), "g");
  EXPECT_EQ(first->Text("IsTruncated"), "true");
  auto rest = Ok("GetGroup", {{"GroupName", "g"}, {"Marker", first->Text("Marker")}});
  EXPECT_EQ(rest->Text("Users/member/UserName"), "a3");
  EXPECT_EQ(rest->Text("IsTruncated"), "false");
  auto groups = Ok("ListGroupsForUser", {{"UserName", "a2"}});
  EXPECT_EQ(groups->Text("Groups/member/GroupName"), "g");
}

TEST_F(IamServiceTest, AccessKeysCreatedListedDisabledAndDeleted) {
  Ok("CreateUser", {{"UserName", "dev"}});
  auto k = Ok("CreateAccessKey", {{"UserName", "dev"}});
  std::string id = k->Text("AccessKey/AccessKeyId");
  EXPECT_EQ(id.substr(0, 4), "AKIA");
  EXPECT_EQ(k->Text("AccessKey/SecretAccessKey").size(), 40u);
  EXPECT_EQ(k->Text("AccessKey/Status"), "Active");
  EXPECT_EQ(k->Text("AccessKey/UserName"), "dev");
  ASSERT_TRUE(store_->credentials()->Lookup(id).has_value());

  auto list = Ok("ListAccessKeys", {{"UserName", "dev"}});
  EXPECT_EQ(list->Text("AccessKeyMetadata/member/AccessKeyId"), id);
  EXPECT_EQ(list->Text("AccessKeyMetadata/member/SecretAccessKey"), "");

  Ok("UpdateAccessKey", {{"UserName", "dev"}, {"AccessKeyId", id}, {"Status", "Inactive"}});
  EXPECT_FALSE(store_->credentials()->Lookup(id).has_value());
  EXPECT_EQ(Ok("ListAccessKeys", {{"UserName", "dev"}})->Text("AccessKeyMetadata/member/Status"),
            "Inactive");

  auto last = Ok("GetAccessKeyLastUsed", {{"AccessKeyId", id}});
  EXPECT_EQ(last->Text("UserName"), "dev");
  EXPECT_EQ(last->Text("AccessKeyLastUsed/ServiceName"), "N/A");
  EXPECT_EQ(last->Text("AccessKeyLastUsed/Region"), "N/A");
  EXPECT_EQ(last->Text("AccessKeyLastUsed/LastUsedDate"), "");

  Ok("DeleteAccessKey", {{"UserName", "dev"}, {"AccessKeyId", id}});
  ExpectError("DeleteAccessKey", {{"UserName", "dev"}, {"AccessKeyId", id}}, 404, "NoSuchEntity");
  Ok("DeleteUser", {{"UserName", "dev"}});
}

TEST_F(IamServiceTest, LoginProfileAndTheCallersOwnPassword) {
  Ok("CreateUser", {{"UserName", "carol"}});
  auto lp = Ok("CreateLoginProfile", {{"UserName", "carol"},
                                      {"Password", "first password"},
                                      {"PasswordResetRequired", "true"}});
  EXPECT_EQ(lp->Text("LoginProfile/UserName"), "carol");
  EXPECT_EQ(lp->Text("LoginProfile/PasswordResetRequired"), "true");
  ExpectError("CreateLoginProfile", {{"UserName", "carol"}, {"Password", "first password"}}, 409,
              "EntityAlreadyExists");
  Ok("UpdateLoginProfile", {{"UserName", "carol"}, {"PasswordResetRequired", "false"}});
  EXPECT_EQ(Ok("GetLoginProfile", {{"UserName", "carol"}})->Text("LoginProfile/PasswordResetRequired"),
            "false");

  auth::Caller carol = caller_;
  carol.principal_arn = Arn("user/carol");
  auto wrong = Call("ChangePassword", {{"OldPassword", "not it at all"}, {"NewPassword", "second password"}},
                    &carol);
  EXPECT_EQ(wrong->status, 403);
  EXPECT_EQ(wrong->Code(), "AccessDenied");
  auto right = Call("ChangePassword",
                    {{"OldPassword", "first password"}, {"NewPassword", "second password"}}, &carol);
  EXPECT_EQ(right->status, 200) << right->body;
  EXPECT_TRUE(store_->VerifyPassword("carol", "second password").ok());
  Ok("DeleteLoginProfile", {{"UserName", "carol"}});
  ExpectError("GetLoginProfile", {{"UserName", "carol"}}, 404, "NoSuchEntity");
}

TEST_F(IamServiceTest, VirtualMfaDeviceEnrolmentWithTwoCodes) {
  Ok("CreateUser", {{"UserName", "dana"}});
  auto d = Ok("CreateVirtualMFADevice", {{"VirtualMFADeviceName", "dana-phone"}});
  std::string serial = d->Text("VirtualMFADevice/SerialNumber");
  EXPECT_EQ(serial, Arn("mfa/dana-phone"));
  auto seed_text = Base64Decode(d->Text("VirtualMFADevice/Base32StringSeed"));
  ASSERT_TRUE(seed_text.has_value());
  auto png = Base64Decode(d->Text("VirtualMFADevice/QRCodePNG"));
  ASSERT_TRUE(png.has_value());
  EXPECT_EQ(png->substr(1, 3), "PNG");
  auto seed = iam::Base32Decode(*seed_text);
  ASSERT_TRUE(seed.has_value());

  int64_t now = clock_.NowSeconds();
  ExpectError("EnableMFADevice",
              {{"UserName", "dana"}, {"SerialNumber", serial},
               {"AuthenticationCode1", "000000"}, {"AuthenticationCode2", "000000"}},
              403, "InvalidAuthenticationCode");
  Ok("EnableMFADevice", {{"UserName", "dana"},
                         {"SerialNumber", serial},
                         {"AuthenticationCode1", *iam::TotpCode(*seed, now - 30)},
                         {"AuthenticationCode2", *iam::TotpCode(*seed, now)}});
  auto mine = Ok("ListMFADevices", {{"UserName", "dana"}});
  EXPECT_EQ(mine->Text("MFADevices/member/SerialNumber"), serial);
  EXPECT_EQ(mine->Text("MFADevices/member/UserName"), "dana");
  EXPECT_FALSE(mine->Text("MFADevices/member/EnableDate").empty());
  auto assigned = Ok("ListVirtualMFADevices", {{"AssignmentStatus", "Assigned"}});
  EXPECT_EQ(assigned->Text("VirtualMFADevices/member/User/UserName"), "dana");
  EXPECT_EQ(assigned->Text("VirtualMFADevices/member/Base32StringSeed"), "");
  ExpectError("DeleteVirtualMFADevice", {{"SerialNumber", serial}}, 409, "DeleteConflict");
  ExpectError("DeleteUser", {{"UserName", "dana"}}, 409, "DeleteConflict");
  Ok("DeactivateMFADevice", {{"UserName", "dana"}, {"SerialNumber", serial}});
  EXPECT_FALSE(Ok("ListVirtualMFADevices", {{"AssignmentStatus", "Unassigned"}})
                   ->Text("VirtualMFADevices/member/SerialNumber")
                   .empty());
  Ok("DeleteVirtualMFADevice", {{"SerialNumber", serial}});
  ExpectError("ListVirtualMFADevices", {{"AssignmentStatus", "Some"}}, 400, "ValidationError");
}

TEST_F(IamServiceTest, RepliesStayWellFormedWhateverTheInput) {
  auto r = Call("CreateUser", {{"UserName", "<x>&\"'\x01"}});
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->Code(), "ValidationError");
}

// Requests over HTTP, signed as botocore signs them.
class IamHttpTest : public IamServiceTest {
 protected:
  void SetUp() override {
    std::string skip;
    url_ = registry::testing::FreshDatabaseUrl("sqlite", &skip);
    ASSERT_FALSE(url_.empty());
    IdentityStoreOptions o;
    o.admin_key = admin_;
    auto s = IdentityStore::Open(url_, o, &clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    service_ = std::make_unique<IamService>(store_.get(), &authz_,
                                            IamOptions{.region = "ap-southeast-2"});
    identities_ = std::make_unique<StoreIdentities>(store_.get(), &tokens_);
  }

  http::Response Handle(const http::Request& request) {
    return HandleIam(service_.get(), identities_.get(), &clock_, request);
  }

  http::Request Signed(const std::string& body, const auth::Credentials& key,
                       const std::string& region = "us-east-1",
                       const std::string& service = "iam") {
    http::Request r;
    r.method = "POST";
    r.path = "/";
    r.target = "/";
    r.body = body;
    r.headers = {{"Host", "127.0.0.1:4566"},
                 {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    auth::Sign("POST", "/", "", r.headers, r.body, key,
               {.region = region, .service = service, .now_seconds = clock_.NowSeconds()});
    return r;
  }

  std::pair<int, std::string> CodeOf(const http::Response& r) {
    pugi::xml_document doc;
    doc.load_string(r.body.c_str());
    return {r.status, doc.child("ErrorResponse").child("Error").child("Code").text().get()};
  }

  auth::Credentials admin_{"AKIAADMINADMINADMIN2", "adminsecretadminsecretadminsecretadminse", ""};
  SessionTokens tokens_{"a session token key for the tests"};
  std::unique_ptr<StoreIdentities> identities_;
};

TEST_F(IamHttpTest, ASignedRequestIsAnsweredAsItsKeysUser) {
  auto r = Handle(Signed("Action=GetUser&Version=2010-05-08", admin_));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<UserName>admin</UserName>"), std::string::npos) << r.body;
  EXPECT_EQ(authz_.last_principal(), "arn:aws:iam::000000000000:user/admin");
  // The server's own region is accepted as well as us-east-1.
  r = Handle(Signed("Action=ListUsers&Version=2010-05-08", admin_, "ap-southeast-2"));
  EXPECT_EQ(r.status, 200) << r.body;
  // The key's use is noted for GetAccessKeyLastUsed.
  ASSERT_TRUE(store_->FlushKeyUses().ok());
  auto used = store_->GetAccessKeyLastUsed(admin_.access_key_id);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(used->last_used_service, "iam");
}

TEST_F(IamHttpTest, AuthenticationFailuresHaveIamsCodes) {
  EXPECT_EQ(CodeOf(Handle(Signed("Action=ListUsers", admin_, "eu-west-1"))),
            std::make_pair(403, std::string("SignatureDoesNotMatch")));
  EXPECT_EQ(CodeOf(Handle(Signed("Action=ListUsers", admin_, "us-east-1", "sts"))),
            std::make_pair(403, std::string("SignatureDoesNotMatch")));
  auth::Credentials wrong = admin_;
  wrong.secret_access_key[0] ^= 1;
  EXPECT_EQ(CodeOf(Handle(Signed("Action=ListUsers", wrong))),
            std::make_pair(403, std::string("SignatureDoesNotMatch")));
  auth::Credentials unknown{"AKIAUNKNOWNUNKNOWN22", admin_.secret_access_key, ""};
  EXPECT_EQ(CodeOf(Handle(Signed("Action=ListUsers", unknown))),
            std::make_pair(403, std::string("InvalidClientTokenId")));
  http::Request unsigned_request = Signed("Action=ListUsers", admin_);
  std::erase_if(unsigned_request.headers,
                [](const http::Header& h) { return h.first == "Authorization"; });
  EXPECT_EQ(CodeOf(Handle(unsigned_request)),
            std::make_pair(403, std::string("MissingAuthenticationToken")));
  EXPECT_EQ(CodeOf(Handle(Signed("Action=ListUsers&X=%zz", admin_))),
            std::make_pair(400, std::string("MalformedQueryString")));
  EXPECT_TRUE(authz_.TakeAsked().empty());
}

TEST_F(IamHttpTest, ADisabledKeyIsRefusedAtTheNextRequest) {
  ASSERT_TRUE(store_->CreateUser("dev", "/", {}).ok());
  auto k = store_->CreateAccessKey("dev");
  ASSERT_TRUE(k.ok());
  auth::Credentials dev{k->key.access_key_id, k->secret_access_key, ""};
  auto r = Handle(Signed("Action=GetUser", dev));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("<UserName>dev</UserName>"), std::string::npos);
  r = Handle(Signed(fmt::format("Action=UpdateAccessKey&UserName=dev&AccessKeyId={}"
                                          "&Status=Inactive",
                                          dev.access_key_id),
                              admin_));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(CodeOf(Handle(Signed("Action=GetUser", dev))),
            std::make_pair(403, std::string("InvalidClientTokenId")));
}

TEST(PercentEncodeTest, LeavesOnlyUnreservedCharacters) {
  EXPECT_EQ(PercentEncode(R"({"A": "b/c~d-e_f.g"})"), "%7B%22A%22%3A%20%22b%2Fc~d-e_f.g%22%7D");
  EXPECT_EQ(PercentEncode("\xE2\x9C\x93"), "%E2%9C%93");
}

}  // namespace
}  // namespace muon::identity
