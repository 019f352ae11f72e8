#include "identity/iam_service.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "base/base64.h"
#include "base/log.h"

namespace muon::identity {

using query::Error;
using query::XmlWriter;

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3 / 2);
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool IsIamRequest(const http::Request& request) {
  return query::IsQueryShaped(request) && query::SigningService(request) == "iam";
}

namespace {

using Writer = std::function<void(XmlWriter&)>;

// What an action produced: the result's writer, or an error.
struct Outcome {
  std::optional<Error> error;
  Writer write;
};

#define IAM_CHECK(expr)                                       \
  do {                                                        \
    if (std::optional<Error> iam_e_ = (expr)) return Outcome{std::move(*iam_e_), {}}; \
  } while (0)
#define IAM_ASSIGN_IMPL_(tmp, lhs, expr)                     \
  auto tmp = (expr);                                         \
  if (!tmp.ok()) return Outcome{StoreError(tmp.status()), {}}; \
  lhs = std::move(*tmp)
#define IAM_ASSIGN(lhs, expr) IAM_ASSIGN_IMPL_(MUON_CONCAT_(iam_r_, __LINE__), lhs, expr)
#define IAM_STATUS(expr)                                      \
  do {                                                        \
    if (Status iam_s_ = (expr); !iam_s_.ok()) return Outcome{StoreError(iam_s_), {}}; \
  } while (0)

Outcome Done(Writer w = {}) { return Outcome{std::nullopt, std::move(w)}; }

const char* Bool(bool b) { return b ? "true" : "false"; }

// "UserName" -> "userName", as IAM names fields in validation messages.
std::string FieldName(std::string_view name) {
  std::string s(name);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

void WriteTags(XmlWriter& w, const Tags& tags) {
  if (tags.empty()) return;
  w.Open("Tags");
  for (const auto& [k, v] : tags) w.Open("member").Element("Key", k).Element("Value", v).Close();
  w.Close();
}

void WriteUserBody(XmlWriter& w, const User& u) {
  w.Element("Path", u.path)
      .Element("UserName", u.name)
      .Element("UserId", u.user_id)
      .Element("Arn", u.arn)
      .Element("CreateDate", query::Iso8601(u.create_date));
  if (u.password_last_used) w.Element("PasswordLastUsed", query::Iso8601(*u.password_last_used));
  WriteTags(w, u.tags);
}

void WriteGroupBody(XmlWriter& w, const Group& g) {
  w.Element("Path", g.path)
      .Element("GroupName", g.name)
      .Element("GroupId", g.group_id)
      .Element("Arn", g.arn)
      .Element("CreateDate", query::Iso8601(g.create_date));
}

void WriteRoleBody(XmlWriter& w, const Role& r) {
  w.Element("Path", r.path)
      .Element("RoleName", r.name)
      .Element("RoleId", r.role_id)
      .Element("Arn", r.arn)
      .Element("CreateDate", query::Iso8601(r.create_date))
      .Element("AssumeRolePolicyDocument", PercentEncode(r.assume_role_policy_document));
  if (!r.description.empty()) w.Element("Description", r.description);
  w.Element("MaxSessionDuration", r.max_session_duration);
  WriteTags(w, r.tags);
}

void WritePolicyBody(XmlWriter& w, const ManagedPolicy& p) {
  w.Element("PolicyName", p.name)
      .Element("PolicyId", p.policy_id)
      .Element("Arn", p.arn)
      .Element("Path", p.path)
      .Element("DefaultVersionId", p.default_version_id)
      .Element("AttachmentCount", p.attachment_count)
      .Element("PermissionsBoundaryUsageCount", int64_t{0})
      .Element("IsAttachable", "true");
  if (!p.description.empty()) w.Element("Description", p.description);
  w.Element("CreateDate", query::Iso8601(p.create_date))
      .Element("UpdateDate", query::Iso8601(p.update_date));
}

void WriteVersionBody(XmlWriter& w, const PolicyVersion& v, bool with_document) {
  if (with_document) w.Element("Document", PercentEncode(v.document));
  w.Element("VersionId", v.version_id)
      .Element("IsDefaultVersion", Bool(v.is_default))
      .Element("CreateDate", query::Iso8601(v.create_date));
}

void WriteTruncation(XmlWriter& w, const std::string& next_marker) {
  w.Element("IsTruncated", Bool(!next_marker.empty()));
  if (!next_marker.empty()) w.Element("Marker", next_marker);
}

// The caller's own user name (from an IAM user ARN), or empty for roles and
// other principals.
std::string CallerUserName(const auth::Caller& caller) {
  std::string_view arn = caller.principal_arn;
  auto at = arn.find(":user/");
  if (!StartsWith(arn, "arn:aws:iam::") || at == std::string_view::npos) return {};
  return std::string(arn.substr(arn.rfind('/') + 1));
}

// One request being answered.
class IamCall {
 public:
  IamCall(IdentityStore* store, const auth::Authorizer* authorizer, const query::Request& request,
       const auth::Caller& caller)
      : store_(store), authorizer_(authorizer), action_(request.action), p_(request.params),
        caller_(caller) {}

  // The IAM error for a store (or parameter) error.
  Error StoreError(const Status& s) const {
    std::string m = s.message();
    switch (s.code()) {
      case StatusCode::kNotFound: return {404, "NoSuchEntity", m};
      case StatusCode::kAlreadyExists: return {409, "EntityAlreadyExists", m};
      case StatusCode::kFailedPrecondition: return {409, "DeleteConflict", m};
      case StatusCode::kResourceExhausted: return {409, "LimitExceeded", m};
      case StatusCode::kInvalidArgument: {
        for (std::string_view code : {"MalformedPolicyDocument", "PasswordPolicyViolation"}) {
          std::string prefix = fmt::format("{}: ", code);
          if (StartsWith(m, prefix)) return {400, std::string(code), m.substr(prefix.size())};
        }
        // A trust policy's parse error names the field it came from.
        if (StartsWith(m, "AssumeRolePolicyDocument")) return {400, "MalformedPolicyDocument", m};
        return {400, "ValidationError", m};
      }
      case StatusCode::kPermissionDenied:
        if (action_ == "EnableMFADevice") return {403, "InvalidAuthenticationCode", m};
        return {403, "AccessDenied", m};
      default:
        log::warn("iam: {} failed: {}", action_, s.ToString());
        return {500, "ServiceFailure", "The request processing has failed because of an unknown "
                                       "error, exception or failure.", false};
    }
  }

  // "iam:<Action>" on `resource`, asked of the Authorizer.
  std::optional<Error> Allow(std::string_view resource) const {
    Status s = authorizer_->Authorize(caller_, fmt::format("iam:{}", action_), resource);
    if (s.ok()) return std::nullopt;
    return Error{403, "AccessDenied",
                 s.message().empty()
                     ? fmt::format("User: {} is not authorized to perform: iam:{} on resource: {}",
                                   caller_.principal_arn, action_, resource)
                     : s.message()};
  }

  Result<std::string> Required(std::string_view name) const {
    const std::string* v = p_.Find(name);
    if (v == nullptr || v->empty()) {
      return Status::InvalidArgument(fmt::format(
          "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member "
          "must not be null",
          FieldName(name)));
    }
    return *v;
  }

  // UserName, or the caller's own user when it is left out.
  Result<std::string> UserOrCaller() const {
    if (const std::string* v = p_.Find("UserName"); v != nullptr && !v->empty()) return *v;
    std::string own = CallerUserName(caller_);
    if (own.empty()) {
      return Status::InvalidArgument("Must specify userName when calling with non-User credentials");
    }
    return own;
  }

  Result<bool> BoolParam(std::string_view name, bool fallback) const {
    auto v = p_.Bool(name);
    if (!v.ok()) {
      return Status::InvalidArgument(fmt::format(
          "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: Member "
          "must be true or false",
          p_.Get(name), FieldName(name)));
    }
    return v->value_or(fallback);
  }

  Result<ListOptions> Paging() const {
    ListOptions o;
    o.path_prefix = p_.Get("PathPrefix", "/");
    o.marker = p_.Get("Marker");
    auto max = p_.Int("MaxItems");
    if (!max.ok() || (max->has_value() && (**max < 1 || **max > 1000))) {
      return Status::InvalidArgument(fmt::format(
          "1 validation error detected: Value '{}' at 'maxItems' failed to satisfy constraint: "
          "Member must have value between 1 and 1000",
          p_.Get("MaxItems")));
    }
    if (max->has_value()) o.max_items = static_cast<int>(**max);
    return o;
  }

  // A page of a list the store returns whole: the marker is the index of the
  // next item.
  template <typename T>
  Result<Listing<T>> Page(std::vector<T> all) const {
    MUON_ASSIGN_OR_RETURN(ListOptions o, Paging());
    size_t start = 0;
    if (!o.marker.empty()) {
      size_t index = 0;
      auto [last, ec] = std::from_chars(o.marker.data(), o.marker.data() + o.marker.size(), index);
      if (ec != std::errc() || last != o.marker.data() + o.marker.size()) {
        return Status::InvalidArgument(fmt::format("Invalid Marker '{}'", o.marker));
      }
      start = std::min(index, all.size());
    }
    size_t end = std::min(all.size(), start + static_cast<size_t>(o.max_items));
    Listing<T> out;
    out.items.assign(std::make_move_iterator(all.begin() + start),
                     std::make_move_iterator(all.begin() + end));
    if (end < all.size()) out.next_marker = std::to_string(end);
    return out;
  }

  std::string Arn(std::string_view kind, std::string_view path, std::string_view name) const {
    return fmt::format("arn:aws:iam::{}:{}{}{}", store_->account_id(), kind,
                       path.empty() ? "/" : path, name);
  }
  // The ARN of an existing entity, else the one it would have at path "/".
  std::string UserArn(std::string_view name) const {
    auto u = store_->GetUser(name);
    return u.ok() ? u->arn : Arn("user", "/", name);
  }
  std::string GroupArn(std::string_view name) const {
    auto g = store_->GetGroup(name);
    return g.ok() ? g->first.arn : Arn("group", "/", name);
  }
  std::string RoleArn(std::string_view name) const {
    auto r = store_->GetRole(name);
    return r.ok() ? r->arn : Arn("role", "/", name);
  }

  Result<Tags> TagsParam() const {
    MUON_ASSIGN_OR_RETURN(auto entries, p_.Structs("Tags"));
    Tags tags;
    for (const auto& e : entries) tags.emplace_back(e.Get("Key"), e.Get("Value"));
    return tags;
  }

  // --- users ---
  Outcome CreateUser() {
    IAM_ASSIGN(std::string name, Required("UserName"));
    std::string path = p_.Get("Path", "/");
    IAM_CHECK(Allow(Arn("user", path, name)));
    IAM_ASSIGN(Tags tags, TagsParam());
    IAM_ASSIGN(User u, store_->CreateUser(name, path, tags));
    return Done([u](XmlWriter& w) { w.Open("User"); WriteUserBody(w, u); w.Close(); });
  }
  Outcome GetUser() {
    IAM_ASSIGN(std::string name, UserOrCaller());
    IAM_CHECK(Allow(UserArn(name)));
    IAM_ASSIGN(User u, store_->GetUser(name));
    return Done([u](XmlWriter& w) { w.Open("User"); WriteUserBody(w, u); w.Close(); });
  }
  Outcome ListUsers() {
    IAM_CHECK(Allow("*"));
    IAM_ASSIGN(ListOptions o, Paging());
    IAM_ASSIGN(Listing<User> l, store_->ListUsers(o));
    return Done([l](XmlWriter& w) {
      w.Open("Users");
      for (const auto& u : l.items) { w.Open("member"); WriteUserBody(w, u); w.Close(); }
      w.Close();
      WriteTruncation(w, l.next_marker);
    });
  }
  Outcome DeleteUser() {
    IAM_ASSIGN(std::string name, Required("UserName"));
    IAM_CHECK(Allow(UserArn(name)));
    IAM_STATUS(store_->DeleteUser(name));
    return Done();
  }

  // --- login profiles ---
  static Writer LoginProfileWriter(const LoginProfile& lp) {
    return [lp](XmlWriter& w) {
      w.Open("LoginProfile")
          .Element("UserName", lp.user_name)
          .Element("CreateDate", query::Iso8601(lp.create_date))
          .Element("PasswordResetRequired", Bool(lp.password_reset_required))
          .Close();
    };
  }
  Outcome CreateLoginProfile() {
    IAM_ASSIGN(std::string name, UserOrCaller());
    IAM_CHECK(Allow(UserArn(name)));
    IAM_ASSIGN(std::string password, Required("Password"));
    IAM_ASSIGN(bool reset, BoolParam("PasswordResetRequired", false));
    IAM_STATUS(store_->CreateLoginProfile(name, password, reset));
    IAM_ASSIGN(LoginProfile lp, store_->GetLoginProfile(name));
    return Done(LoginProfileWriter(lp));
  }
  Outcome GetLoginProfile() {
    IAM_ASSIGN(std::string name, UserOrCaller());
    IAM_CHECK(Allow(UserArn(name)));
    IAM_ASSIGN(LoginProfile lp, store_->GetLoginProfile(name));
    return Done(LoginProfileWriter(lp));
  }
  Outcome UpdateLoginProfile() {
    IAM_ASSIGN(std::string name, Required("UserName"));
    IAM_CHECK(Allow(UserArn(name)));
    IAM_ASSIGN(LoginProfile lp, store_->GetLoginProfile(name));
    IAM_ASSIGN(bool reset, BoolParam("PasswordResetRequired", lp.password_reset_required));
    IAM_STATUS(store_->UpdateLoginProfile(name, p_.Get("Password"), reset));
    return Done();
  }
  Outcome DeleteLoginProfile() {
    IAM_ASSIGN(std::string name, UserOrCaller());
    IAM_CHECK(Allow(UserArn(name)));
    IAM_STATUS(store_->DeleteLoginProfile(name));
    return Done();
  }
  Outcome ChangePassword() {
    std::string name = CallerUserName(caller_);
    if (name.empty()) {
      return Outcome{Error{400, "InvalidUserType",
                           "Only IAM users can change their own password."}, {}};
    }
    IAM_ASSIGN(std::string old_password, Required("OldPassword"));
    IAM_ASSIGN(std::string new_password, Required("NewPassword"));
    IAM_CHECK(Allow(UserArn(name)));
    IAM_STATUS(store_->ChangePassword(name, old_password, new_password));
    return Done();
  }

  // --- access keys ---
  // The user a key belongs to: UserName, else the owner of the key that
  // signed the request.
  Outcome CreateAccessKey() {
    IAM_ASSIGN(std::string name, UserOrCaller());
    IAM_CHECK(Allow(UserArn(name)));
    IAM_ASSIGN(NewAccessKey k, store_->CreateAccessKey(name));
    return Done([k](XmlWriter& w) {
      w.Open("AccessKey")
          .Element("UserName", k.key.user_name)
          .Element("AccessKeyId", k.key.access_key_id)
          .Element("Status", k.key.active ? "Active" : "Inactive")
          .Element("SecretAccessKey", k.secret_access_key)
          .Element("CreateDate", query::Iso8601(k.key.create_date))
          .Close();
    });
  }
  Outcome ListAccessKeys() {
    IAM_ASSIGN(std::string name, UserOrCaller());
    IAM_CHECK(Allow(UserArn(name)));
    IAM_ASSIGN(std::vector<AccessKey> keys, store_->ListAccessKeys(name));
    IAM_ASSIGN(Listing<AccessKey> l, Page(std::move(keys)));
    return Done([l](XmlWriter& w) {
      w.Open("AccessKeyMetadata");
      for (const auto& k : l.items) {
        w.Open("member")
            .Element("UserName", k.user_name)
            .Element("AccessKeyId", k.access_key_id)
            .Element("Status", k.active ? "Active" : "Inactive")
            .Element("CreateDate", query::Iso8601(k.create_date))
            .Close();
      }
      w.Close();
      WriteTruncation(w, l.next_marker);
    });
  }
  Outcome UpdateAccessKey() {
    IAM_ASSIGN(std::string name, UserOrCaller());
    IAM_ASSIGN(std::string key, Required("AccessKeyId"));
    IAM_ASSIGN(std::string status, Required("Status"));
    if (status != "Active" && status != "Inactive") {
      return Outcome{query::ValidationError(status, "status",
                                            "Member must satisfy enum value set: [Active, "
                                            "Inactive]"),
                     {}};
    }
    IAM_CHECK(Allow(UserArn(name)));
    IAM_STATUS(store_->UpdateAccessKey(name, key, status == "Active"));
    return Done();
  }
  Outcome DeleteAccessKey() {
    IAM_ASSIGN(std::string name, UserOrCaller());
    IAM_ASSIGN(std::string key, Required("AccessKeyId"));
    IAM_CHECK(Allow(UserArn(name)));
    IAM_STATUS(store_->DeleteAccessKey(name, key));
    return Done();
  }
  Outcome GetAccessKeyLastUsed() {
    IAM_ASSIGN(std::string key, Required("AccessKeyId"));
    auto k = store_->GetAccessKeyLastUsed(key);
    // The key's owner is the resource; an unknown key is asked about as any user.
    IAM_CHECK(Allow(k.ok() ? UserArn(k->user_name) : Arn("user", "/", "*")));
    if (!k.ok()) return Outcome{StoreError(k.status()), {}};
    AccessKey a = *k;
    return Done([a](XmlWriter& w) {
      w.Element("UserName", a.user_name);
      w.Open("AccessKeyLastUsed");
      if (a.last_used_date) w.Element("LastUsedDate", query::Iso8601(*a.last_used_date));
      w.Element("ServiceName", a.last_used_service.empty() ? "N/A" : a.last_used_service)
          .Element("Region", a.last_used_region.empty() ? "N/A" : a.last_used_region)
          .Close();
    });
  }

  // --- groups ---
  Outcome CreateGroup() {
    IAM_ASSIGN(std::string name, Required("GroupName"));
    std::string path = p_.Get("Path", "/");
    IAM_CHECK(Allow(Arn("group", path, name)));
    IAM_ASSIGN(Group g, store_->CreateGroup(name, path));
    return Done([g](XmlWriter& w) { w.Open("Group"); WriteGroupBody(w, g); w.Close(); });
  }
  Outcome GetGroup() {
    IAM_ASSIGN(std::string name, Required("GroupName"));
    IAM_CHECK(Allow(GroupArn(name)));
    IAM_ASSIGN(auto gu, store_->GetGroup(name));
    Group g = gu.first;
    IAM_ASSIGN(Listing<User> l, Page(std::move(gu.second)));
    return Done([g, l](XmlWriter& w) {
      w.Open("Group");
      WriteGroupBody(w, g);
      w.Close();
      w.Open("Users");
      for (const auto& u : l.items) { w.Open("member"); WriteUserBody(w, u); w.Close(); }
      w.Close();
      WriteTruncation(w, l.next_marker);
    });
  }
  static Writer GroupsWriter(const Listing<Group>& l) {
    return [l](XmlWriter& w) {
      w.Open("Groups");
      for (const auto& g : l.items) { w.Open("member"); WriteGroupBody(w, g); w.Close(); }
      w.Close();
      WriteTruncation(w, l.next_marker);
    };
  }
  Outcome ListGroups() {
    IAM_CHECK(Allow("*"));
    IAM_ASSIGN(ListOptions o, Paging());
    IAM_ASSIGN(Listing<Group> l, store_->ListGroups(o));
    return Done(GroupsWriter(l));
  }
  Outcome ListGroupsForUser() {
    IAM_ASSIGN(std::string name, Required("UserName"));
    IAM_CHECK(Allow(UserArn(name)));
    IAM_ASSIGN(std::vector<Group> groups, store_->ListGroupsForUser(name));
    IAM_ASSIGN(Listing<Group> l, Page(std::move(groups)));
    return Done(GroupsWriter(l));
  }
  Outcome DeleteGroup() {
    IAM_ASSIGN(std::string name, Required("GroupName"));
    IAM_CHECK(Allow(GroupArn(name)));
    IAM_STATUS(store_->DeleteGroup(name));
    return Done();
  }
  Outcome AddUserToGroup() {
    IAM_ASSIGN(std::string group, Required("GroupName"));
    IAM_ASSIGN(std::string user, Required("UserName"));
    IAM_CHECK(Allow(GroupArn(group)));
    IAM_STATUS(store_->AddUserToGroup(group, user));
    return Done();
  }
  Outcome RemoveUserFromGroup() {
    IAM_ASSIGN(std::string group, Required("GroupName"));
    IAM_ASSIGN(std::string user, Required("UserName"));
    IAM_CHECK(Allow(GroupArn(group)));
    IAM_STATUS(store_->RemoveUserFromGroup(group, user));
    return Done();
  }

  // --- managed policies ---
  static Writer PolicyWriter(const ManagedPolicy& p) {
    return [p](XmlWriter& w) { w.Open("Policy"); WritePolicyBody(w, p); w.Close(); };
  }
  static Writer VersionWriter(const PolicyVersion& v) {
    return [v](XmlWriter& w) { w.Open("PolicyVersion"); WriteVersionBody(w, v, true); w.Close(); };
  }
  Outcome CreatePolicy() {
    IAM_ASSIGN(std::string name, Required("PolicyName"));
    IAM_ASSIGN(std::string document, Required("PolicyDocument"));
    std::string path = p_.Get("Path", "/");
    IAM_CHECK(Allow(Arn("policy", path, name)));
    IAM_ASSIGN(ManagedPolicy p, store_->CreatePolicy(name, path, document, p_.Get("Description")));
    return Done(PolicyWriter(p));
  }
  Outcome GetPolicy() {
    IAM_ASSIGN(std::string arn, Required("PolicyArn"));
    IAM_CHECK(Allow(arn));
    IAM_ASSIGN(ManagedPolicy p, store_->GetPolicy(arn));
    return Done(PolicyWriter(p));
  }
  Outcome GetPolicyVersion() {
    IAM_ASSIGN(std::string arn, Required("PolicyArn"));
    IAM_ASSIGN(std::string version, Required("VersionId"));
    IAM_CHECK(Allow(arn));
    IAM_ASSIGN(PolicyVersion v, store_->GetPolicyVersion(arn, version));
    return Done(VersionWriter(v));
  }
  Outcome ListPolicies() {
    IAM_CHECK(Allow("*"));
    IAM_ASSIGN(ListOptions o, Paging());
    IAM_ASSIGN(bool only_attached, BoolParam("OnlyAttached", false));
    std::string scope = p_.Get("Scope", "All");
    if (scope != "All" && scope != "AWS" && scope != "Local") {
      return Outcome{query::ValidationError(scope, "scope",
                                            "Member must satisfy enum value set: [All, AWS, Local]"),
                     {}};
    }
    Listing<ManagedPolicy> l;
    // Every policy here is the account's own (Local); none is AWS-managed.
    if (scope != "AWS") {
      IAM_ASSIGN(l, store_->ListPolicies(o, only_attached));
    }
    return Done([l](XmlWriter& w) {
      w.Open("Policies");
      for (const auto& p : l.items) { w.Open("member"); WritePolicyBody(w, p); w.Close(); }
      w.Close();
      WriteTruncation(w, l.next_marker);
    });
  }
  Outcome ListPolicyVersions() {
    IAM_ASSIGN(std::string arn, Required("PolicyArn"));
    IAM_CHECK(Allow(arn));
    IAM_ASSIGN(std::vector<PolicyVersion> all, store_->ListPolicyVersions(arn));
    IAM_ASSIGN(Listing<PolicyVersion> l, Page(std::move(all)));
    return Done([l](XmlWriter& w) {
      w.Open("Versions");
      for (const auto& v : l.items) { w.Open("member"); WriteVersionBody(w, v, false); w.Close(); }
      w.Close();
      WriteTruncation(w, l.next_marker);
    });
  }
  Outcome CreatePolicyVersion() {
    IAM_ASSIGN(std::string arn, Required("PolicyArn"));
    IAM_ASSIGN(std::string document, Required("PolicyDocument"));
    IAM_ASSIGN(bool set_default, BoolParam("SetAsDefault", false));
    IAM_CHECK(Allow(arn));
    IAM_ASSIGN(PolicyVersion v, store_->CreatePolicyVersion(arn, document, set_default));
    // IAM answers with the version's metadata only.
    return Done([v](XmlWriter& w) {
      w.Open("PolicyVersion");
      WriteVersionBody(w, v, false);
      w.Close();
    });
  }
  Outcome DeletePolicyVersion() {
    IAM_ASSIGN(std::string arn, Required("PolicyArn"));
    IAM_ASSIGN(std::string version, Required("VersionId"));
    IAM_CHECK(Allow(arn));
    IAM_STATUS(store_->DeletePolicyVersion(arn, version));
    return Done();
  }
  Outcome SetDefaultPolicyVersion() {
    IAM_ASSIGN(std::string arn, Required("PolicyArn"));
    IAM_ASSIGN(std::string version, Required("VersionId"));
    IAM_CHECK(Allow(arn));
    IAM_STATUS(store_->SetDefaultPolicyVersion(arn, version));
    return Done();
  }
  Outcome DeletePolicy() {
    IAM_ASSIGN(std::string arn, Required("PolicyArn"));
    IAM_CHECK(Allow(arn));
    IAM_STATUS(store_->DeletePolicy(arn));
    return Done();
  }

  // --- attachments ---
  struct TargetInfo {
    const char* name_param;
    std::function<std::string(const IamCall&, std::string_view)> arn;
  };
  static TargetInfo Info(AttachTarget t) {
    switch (t) {
      case AttachTarget::kUser:
        return {"UserName", [](const IamCall& c, std::string_view n) { return c.UserArn(n); }};
      case AttachTarget::kGroup:
        return {"GroupName", [](const IamCall& c, std::string_view n) { return c.GroupArn(n); }};
      case AttachTarget::kRole:
        break;
    }
    return {"RoleName", [](const IamCall& c, std::string_view n) { return c.RoleArn(n); }};
  }
  Outcome Attach(AttachTarget t, bool attach) {
    TargetInfo info = Info(t);
    IAM_ASSIGN(std::string name, Required(info.name_param));
    IAM_ASSIGN(std::string arn, Required("PolicyArn"));
    IAM_CHECK(Allow(info.arn(*this, name)));
    IAM_STATUS(attach ? store_->AttachPolicy(t, name, arn) : store_->DetachPolicy(t, name, arn));
    return Done();
  }
  Outcome ListAttached(AttachTarget t) {
    TargetInfo info = Info(t);
    IAM_ASSIGN(std::string name, Required(info.name_param));
    IAM_CHECK(Allow(info.arn(*this, name)));
    IAM_ASSIGN(std::vector<ManagedPolicy> all, store_->ListAttachedPolicies(t, name));
    std::string prefix = p_.Get("PathPrefix", "/");
    std::erase_if(all, [&](const ManagedPolicy& p) { return !StartsWith(p.path, prefix); });
    IAM_ASSIGN(Listing<ManagedPolicy> l, Page(std::move(all)));
    return Done([l](XmlWriter& w) {
      w.Open("AttachedPolicies");
      for (const auto& p : l.items) {
        w.Open("member").Element("PolicyName", p.name).Element("PolicyArn", p.arn).Close();
      }
      w.Close();
      WriteTruncation(w, l.next_marker);
    });
  }

  // --- roles ---
  static Writer RoleWriter(const Role& r) {
    return [r](XmlWriter& w) { w.Open("Role"); WriteRoleBody(w, r); w.Close(); };
  }
  Outcome CreateRole() {
    IAM_ASSIGN(std::string name, Required("RoleName"));
    IAM_ASSIGN(std::string trust, Required("AssumeRolePolicyDocument"));
    std::string path = p_.Get("Path", "/");
    IAM_CHECK(Allow(Arn("role", path, name)));
    auto duration = p_.Int("MaxSessionDuration");
    if (!duration.ok()) {
      return Outcome{query::ValidationError(p_.Get("MaxSessionDuration"), "maxSessionDuration",
                                            "Member must have value between 3600 and 43200"),
                     {}};
    }
    IAM_ASSIGN(Tags tags, TagsParam());
    IAM_ASSIGN(Role r, store_->CreateRole(name, path, trust, p_.Get("Description"),
                                          duration->value_or(3600), tags));
    return Done(RoleWriter(r));
  }
  Outcome GetRole() {
    IAM_ASSIGN(std::string name, Required("RoleName"));
    IAM_CHECK(Allow(RoleArn(name)));
    IAM_ASSIGN(Role r, store_->GetRole(name));
    return Done(RoleWriter(r));
  }
  Outcome ListRoles() {
    IAM_CHECK(Allow("*"));
    IAM_ASSIGN(ListOptions o, Paging());
    IAM_ASSIGN(Listing<Role> l, store_->ListRoles(o));
    return Done([l](XmlWriter& w) {
      w.Open("Roles");
      for (const auto& r : l.items) { w.Open("member"); WriteRoleBody(w, r); w.Close(); }
      w.Close();
      WriteTruncation(w, l.next_marker);
    });
  }
  Outcome DeleteRole() {
    IAM_ASSIGN(std::string name, Required("RoleName"));
    IAM_CHECK(Allow(RoleArn(name)));
    IAM_STATUS(store_->DeleteRole(name));
    return Done();
  }

  // --- virtual MFA devices ---
  Outcome CreateVirtualMFADevice() {
    IAM_ASSIGN(std::string name, Required("VirtualMFADeviceName"));
    std::string path = p_.Get("Path", "/");
    IAM_CHECK(Allow(Arn("mfa", path, name)));
    IAM_ASSIGN(NewMfaDevice d, store_->CreateVirtualMfaDevice(name, path));
    return Done([d](XmlWriter& w) {
      // Both are blobs in IAM's model: Base64 on the wire.
      w.Open("VirtualMFADevice")
          .Element("SerialNumber", d.device.serial_number)
          .Element("Base32StringSeed", Base64Encode(d.base32_seed))
          .Element("QRCodePNG", Base64Encode(d.qr_png))
          .Close();
    });
  }
  Outcome EnableMFADevice() {
    IAM_ASSIGN(std::string user, Required("UserName"));
    IAM_ASSIGN(std::string serial, Required("SerialNumber"));
    IAM_ASSIGN(std::string code1, Required("AuthenticationCode1"));
    IAM_ASSIGN(std::string code2, Required("AuthenticationCode2"));
    IAM_CHECK(Allow(UserArn(user)));
    IAM_STATUS(store_->EnableMfaDevice(user, serial, code1, code2));
    return Done();
  }
  Outcome DeactivateMFADevice() {
    IAM_ASSIGN(std::string user, UserOrCaller());
    IAM_ASSIGN(std::string serial, Required("SerialNumber"));
    IAM_CHECK(Allow(UserArn(user)));
    IAM_STATUS(store_->DeactivateMfaDevice(user, serial));
    return Done();
  }
  Outcome DeleteVirtualMFADevice() {
    IAM_ASSIGN(std::string serial, Required("SerialNumber"));
    IAM_CHECK(Allow(serial));
    IAM_STATUS(store_->DeleteVirtualMfaDevice(serial));
    return Done();
  }
  Outcome ListMFADevices() {
    IAM_ASSIGN(std::string user, UserOrCaller());
    IAM_CHECK(Allow(UserArn(user)));
    IAM_ASSIGN(std::vector<MfaDevice> all, store_->ListMfaDevices(user));
    IAM_ASSIGN(Listing<MfaDevice> l, Page(std::move(all)));
    return Done([l](XmlWriter& w) {
      w.Open("MFADevices");
      for (const auto& d : l.items) {
        w.Open("member")
            .Element("UserName", d.user_name)
            .Element("SerialNumber", d.serial_number)
            .Element("EnableDate", query::Iso8601(d.enable_date.value_or(0)))
            .Close();
      }
      w.Close();
      WriteTruncation(w, l.next_marker);
    });
  }
  Outcome ListVirtualMFADevices() {
    IAM_CHECK(Allow("*"));
    std::string status = p_.Get("AssignmentStatus", "Any");
    std::optional<bool> assigned;
    if (status == "Assigned") {
      assigned = true;
    } else if (status == "Unassigned") {
      assigned = false;
    } else if (status != "Any") {
      return Outcome{query::ValidationError(status, "assignmentStatus",
                                            "Member must satisfy enum value set: [Assigned, "
                                            "Unassigned, Any]"),
                     {}};
    }
    IAM_ASSIGN(std::vector<MfaDevice> all, store_->ListVirtualMfaDevices(assigned));
    IAM_ASSIGN(Listing<MfaDevice> l, Page(std::move(all)));
    std::vector<std::optional<User>> users;
    for (const auto& d : l.items) {
      std::optional<User> u;
      if (!d.user_name.empty()) {
        if (auto got = store_->GetUser(d.user_name); got.ok()) u = *got;
      }
      users.push_back(std::move(u));
    }
    return Done([l, users](XmlWriter& w) {
      w.Open("VirtualMFADevices");
      for (size_t i = 0; i < l.items.size(); ++i) {
        const MfaDevice& d = l.items[i];
        w.Open("member").Element("SerialNumber", d.serial_number);
        if (users[i]) {
          w.Open("User");
          WriteUserBody(w, *users[i]);
          w.Close();
        }
        if (d.enable_date) w.Element("EnableDate", query::Iso8601(*d.enable_date));
        w.Close();
      }
      w.Close();
      WriteTruncation(w, l.next_marker);
    });
  }

  using Handler = std::function<Outcome(IamCall&)>;
  static const std::map<std::string, Handler, std::less<>>& Handlers() {
    static const auto* handlers = [] {
      auto* m = new std::map<std::string, Handler, std::less<>>();
#define IAM_ACTION(name) (*m)[#name] = [](IamCall& c) { return c.name(); }
      IAM_ACTION(CreateUser);
      IAM_ACTION(GetUser);
      IAM_ACTION(ListUsers);
      IAM_ACTION(DeleteUser);
      IAM_ACTION(CreateLoginProfile);
      IAM_ACTION(GetLoginProfile);
      IAM_ACTION(UpdateLoginProfile);
      IAM_ACTION(DeleteLoginProfile);
      IAM_ACTION(ChangePassword);
      IAM_ACTION(CreateAccessKey);
      IAM_ACTION(ListAccessKeys);
      IAM_ACTION(UpdateAccessKey);
      IAM_ACTION(DeleteAccessKey);
      IAM_ACTION(GetAccessKeyLastUsed);
      IAM_ACTION(CreateGroup);
      IAM_ACTION(GetGroup);
      IAM_ACTION(ListGroups);
      IAM_ACTION(ListGroupsForUser);
      IAM_ACTION(DeleteGroup);
      IAM_ACTION(AddUserToGroup);
      IAM_ACTION(RemoveUserFromGroup);
      IAM_ACTION(CreatePolicy);
      IAM_ACTION(GetPolicy);
      IAM_ACTION(GetPolicyVersion);
      IAM_ACTION(ListPolicies);
      IAM_ACTION(ListPolicyVersions);
      IAM_ACTION(CreatePolicyVersion);
      IAM_ACTION(DeletePolicyVersion);
      IAM_ACTION(SetDefaultPolicyVersion);
      IAM_ACTION(DeletePolicy);
      IAM_ACTION(CreateRole);
      IAM_ACTION(GetRole);
      IAM_ACTION(ListRoles);
      IAM_ACTION(DeleteRole);
      IAM_ACTION(CreateVirtualMFADevice);
      IAM_ACTION(EnableMFADevice);
      IAM_ACTION(DeactivateMFADevice);
      IAM_ACTION(DeleteVirtualMFADevice);
      IAM_ACTION(ListMFADevices);
      IAM_ACTION(ListVirtualMFADevices);
#undef IAM_ACTION
      for (auto [name, target] : {std::pair{"User", AttachTarget::kUser},
                                  std::pair{"Group", AttachTarget::kGroup},
                                  std::pair{"Role", AttachTarget::kRole}}) {
        (*m)[fmt::format("Attach{}Policy", name)] = [t = target](IamCall& c) { return c.Attach(t, true); };
        (*m)[fmt::format("Detach{}Policy", name)] = [t = target](IamCall& c) { return c.Attach(t, false); };
        (*m)[fmt::format("ListAttached{}Policies", name)] = [t = target](IamCall& c) {
          return c.ListAttached(t);
        };
      }
      return m;
    }();
    return *handlers;
  }

 private:
  IdentityStore* const store_;
  const auth::Authorizer* const authorizer_;
  const std::string& action_;
  const query::Params& p_;
  const auth::Caller& caller_;
};

}  // namespace

IamService::IamService(IdentityStore* store, const auth::Authorizer* authorizer,
                       IamOptions options)
    : store_(store), authorizer_(authorizer), options_(std::move(options)) {}

http::Response IamService::Call(const query::Request& request, const auth::Caller& caller,
                                std::string_view request_id) const {
  if (request.action.empty()) return query::ErrorReply(kIamXmlns, query::MissingAction(), request_id);
  const auto& handlers = IamCall::Handlers();
  auto it = handlers.find(request.action);
  if (it == handlers.end() || (!request.version.empty() && request.version != kIamVersion)) {
    return query::ErrorReply(kIamXmlns, query::InvalidAction(request.action, request.version),
                             request_id);
  }
  IamCall call(store_, authorizer_, request, caller);
  Outcome out = it->second(call);
  if (out.error) return query::ErrorReply(kIamXmlns, *out.error, request_id);
  return query::Reply(kIamXmlns, request.action, request_id, out.write);
}

http::Response HandleIam(const IamService* iam, const auth::Identities* identities,
                         const Clock* clock, const http::Request& request) {
  return query::Handle(
      {.signing_name = "iam", .xmlns = kIamXmlns, .version = kIamVersion}, identities, clock,
      iam->options().region, request,
      [iam](const query::Request& r, const auth::Caller& caller, std::string_view request_id) {
        return iam->Call(r, caller, request_id);
      });
}

}  // namespace muon::identity
