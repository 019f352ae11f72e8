#include "identity/sts.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "audit/auditing_authorizer.h"
#include "auth/credentials_file.h"
#include "base/log.h"
#include "iam/evaluator.h"
#include "iam/policy.h"
#include "iam/policy_authorizer.h"

namespace muon::identity {
namespace {

constexpr int64_t kMinDuration = 900;
constexpr int64_t kMaxSessionTokenDuration = 129600;
constexpr int64_t kDefaultSessionTokenDuration = 43200;
constexpr int64_t kDefaultRoleDuration = 3600;

constexpr std::string_view kMfaIncomplete =
    "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code.";
constexpr std::string_view kMfaInvalid =
    "MultiFactorAuthentication failed with invalid MFA one time pass code.";

bool IsStsAction(std::string_view action) {
  static constexpr std::array<std::string_view, 9> kActions = {
      "AssumeRole",        "AssumeRoleWithSAML",         "AssumeRoleWithWebIdentity",
      "AssumeRoot",        "DecodeAuthorizationMessage", "GetAccessKeyInfo",
      "GetCallerIdentity", "GetFederationToken",         "GetSessionToken"};
  return std::find(kActions.begin(), kActions.end(), action) != kActions.end();
}

// The last '/'-separated part of an ARN's resource ("user/path/NAME" -> NAME)
// when the resource starts with `type` + "/"; empty otherwise.
std::string NameInArn(std::string_view arn, std::string_view service, std::string_view type,
                      std::string_view account) {
  std::string prefix = fmt::format("arn:aws:{}::{}:{}/", service, account, type);
  if (arn.substr(0, prefix.size()) != prefix) return {};
  std::string_view rest = arn.substr(prefix.size());
  size_t slash = rest.rfind('/');
  return std::string(slash == rest.npos ? rest : rest.substr(slash + 1));
}

bool MatchesPattern(std::string_view s, std::string_view extra_chars) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           extra_chars.find(c) != std::string_view::npos;
  });
}

StsReply Fail(const query::Error& e, std::string_view request_id) {
  return {query::ErrorReply(kStsXmlns, e, request_id), e};
}

query::Error Internal(const Status& s) {
  log::error("sts: {}", s.ToString());
  return {500, "InternalFailure", "The request processing has failed because of an unknown error.",
          false};
}

// DurationSeconds within [kMinDuration, max], `fallback` when absent.
Result<int64_t> Duration(const query::Params& params, int64_t max, int64_t fallback,
                         query::Error* error) {
  auto d = params.Int("DurationSeconds");
  if (!d.ok()) {
    *error = query::ValidationError(params.Get("DurationSeconds"), "durationSeconds",
                                    "Member must be a number");
    return Status::InvalidArgument(error->message);
  }
  if (!d->has_value()) return fallback;
  int64_t v = **d;
  if (v < kMinDuration) {
    *error = query::ValidationError(std::to_string(v), "durationSeconds",
                                    "Member must have value greater than or equal to 900");
    return Status::InvalidArgument(error->message);
  }
  if (v > max) {
    *error =
        query::ValidationError(std::to_string(v), "durationSeconds",
                               fmt::format("Member must have value less than or equal to {}", max));
    return Status::InvalidArgument(error->message);
  }
  return v;
}

}  // namespace

bool IsStsRequest(const http::Request& request) {
  if (!query::IsQueryShaped(request)) return false;
  std::string service = query::SigningService(request);
  if (service == "sts") return true;
  if (!service.empty()) return false;
  auto parsed = query::ParseRequest(request);
  return parsed.ok() && IsStsAction(parsed->action);
}

StsService::StsService(IdentityStore* store, const auth::Authorizer* authorizer,
                       const SessionTokens* tokens, const Clock* clock, StsOptions options)
    : store_(store),
      authorizer_(authorizer),
      tokens_(tokens),
      clock_(clock),
      options_(std::move(options)) {}

http::Response StsService::Handle(const query::Request& request, const auth::Caller& caller,
                                  std::string_view request_id) {
  StsReply answer = Dispatch(request, caller, request_id);
  Record(request, caller, answer.error ? &*answer.error : nullptr);
  return std::move(answer.reply);
}

void StsService::Record(const query::Request& request, const auth::Caller& caller,
                        const query::Error* error) const {
  if (options_.audit == nullptr) return;
  options_.audit->Record(StsCallEvent(request, caller, error, *clock_, options_.audit_identity));
}

audit::Event StsCallEvent(const query::Request& request, const auth::Caller& caller,
                          const query::Error* error, const Clock& clock,
                          const audit::IdentityOptions& identity) {
  audit::Event e =
      audit::DecisionEvent(caller, "sts:" + request.action, "*", Status::Ok(), clock, identity);
  const query::Params& p = request.params;
  // CloudTrail's requestParameters names for what each call asked.
  for (auto [param, name] : {std::pair<std::string_view, std::string_view>{"RoleArn", "roleArn"},
                             {"RoleSessionName", "roleSessionName"},
                             {"DurationSeconds", "durationSeconds"},
                             {"SerialNumber", "serialNumber"}}) {
    if (const std::string* v = p.Find(param)) e.request_parameters.emplace_back(name, *v);
  }
  if (request.action == "AssumeRole") {
    if (const std::string* role = p.Find("RoleArn");
        role && audit::ResourceTypeOf(*role) == "AWS::IAM::Role") {
      e.resources.push_back({*role, "AWS::IAM::Role"});
    }
  }
  if (error != nullptr) {
    e.error_code = error->code;
    e.error_message = error->message;
  }
  return e;
}

StsReply StsService::Dispatch(const query::Request& request, const auth::Caller& caller,
                              std::string_view request_id) {
  if (request.action == "GetCallerIdentity") return GetCallerIdentity(caller, request_id);
  if (request.action == "GetSessionToken") return GetSessionToken(request, caller, request_id);
  if (request.action == "AssumeRole") return AssumeRole(request, caller, request_id);
  return Fail(query::InvalidAction(request.action, request.version), request_id);
}

Result<Session> StsService::NewSession(std::string principal_arn, std::string policy_principal_arn,
                                       std::string source_identity, int64_t duration_seconds,
                                       std::optional<int64_t> mfa_authenticated_at) {
  Session s;
  s.credentials = auth::GenerateAccessKey();
  s.credentials.access_key_id.replace(0, 4, "ASIA");
  s.created_at = clock_->NowSeconds();
  s.expiration = *s.created_at + duration_seconds;
  s.credentials.session_token = tokens_->Issue(s.credentials.access_key_id, s.expiration);
  s.principal_arn = std::move(principal_arn);
  s.policy_principal_arn = std::move(policy_principal_arn);
  s.source_identity = std::move(source_identity);
  s.mfa_authenticated_at = mfa_authenticated_at;
  MUON_RETURN_IF_ERROR(store_->PutSession(s));
  return s;
}

namespace {
void WriteCredentials(query::XmlWriter& w, const Session& s) {
  w.Open("Credentials")
      .Element("AccessKeyId", s.credentials.access_key_id)
      .Element("SecretAccessKey", s.credentials.secret_access_key)
      .Element("SessionToken", s.credentials.session_token)
      .Element("Expiration", query::Iso8601(s.expiration))
      .Close();
}
}  // namespace

StsReply StsService::GetCallerIdentity(const auth::Caller& caller, std::string_view request_id) {
  const std::string& account = store_->account_id();
  std::string user_id = caller.access_key_id;
  if (std::string user = NameInArn(caller.principal_arn, "iam", "user", account); !user.empty()) {
    if (auto u = store_->GetUser(user); u.ok()) user_id = u->user_id;
  } else if (std::string_view arn = caller.principal_arn;
             arn.rfind(fmt::format("arn:aws:sts::{}:assumed-role/", account), 0) == 0) {
    constexpr std::string_view kAssumedRole = ":assumed-role/";
    std::string_view rest = arn.substr(arn.find(kAssumedRole) + kAssumedRole.size());
    size_t slash = rest.find('/');
    if (slash != rest.npos) {
      if (auto r = store_->GetRole(rest.substr(0, slash)); r.ok()) {
        user_id = fmt::format("{}:{}", r->role_id, rest.substr(slash + 1));
      }
    }
  }
  return query::Reply(kStsXmlns, "GetCallerIdentity", request_id, [&](query::XmlWriter& w) {
    w.Element("UserId", user_id).Element("Account", account).Element("Arn", caller.principal_arn);
  });
}

namespace {
// Verifies SerialNumber + TokenCode for `user` when given. Returns the time of
// verification, nullopt when neither was given, or the error to answer.
std::optional<int64_t> VerifyMfa(IdentityStore* store, const query::Params& params,
                                 std::string_view user, const Clock* clock,
                                 std::optional<query::Error>* error) {
  const std::string* serial = params.Find("SerialNumber");
  const std::string* code = params.Find("TokenCode");
  if (!serial && !code) return std::nullopt;
  if (!serial || !code) {
    *error = query::AccessDenied(std::string(kMfaIncomplete));
    return std::nullopt;
  }
  if (serial->size() < 9 || serial->size() > 256 || !MatchesPattern(*serial, "+=/:,.@-")) {
    *error = query::ValidationError(*serial, "serialNumber",
                                    "Member must satisfy regular expression pattern: "
                                    "[\\w+=/:,.@-]* and have length between 9 and 256");
    return std::nullopt;
  }
  if (code->size() != 6 ||
      !std::all_of(code->begin(), code->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    *error = query::ValidationError(*code, "tokenCode",
                                    "Member must satisfy regular expression pattern: [\\d]* and "
                                    "have length 6");
    return std::nullopt;
  }
  if (user.empty()) {
    *error = query::AccessDenied(std::string(kMfaInvalid));
    return std::nullopt;
  }
  Status s = store->VerifyMfaCode(user, *serial, *code);
  if (s.code() == StatusCode::kPermissionDenied || s.code() == StatusCode::kNotFound ||
      s.code() == StatusCode::kInvalidArgument) {
    *error = query::AccessDenied(std::string(kMfaInvalid));
    return std::nullopt;
  }
  if (!s.ok()) {
    *error = Internal(s);
    return std::nullopt;
  }
  return clock->NowSeconds();
}
}  // namespace

StsReply StsService::GetSessionToken(const query::Request& request, const auth::Caller& caller,
                                     std::string_view request_id) {
  if (caller.temporary_credentials) {
    return Fail(query::AccessDenied("Cannot call GetSessionToken with session credentials"),
                request_id);
  }
  std::string user = NameInArn(caller.principal_arn, "iam", "user", store_->account_id());
  if (user.empty()) {
    return Fail(query::AccessDenied(fmt::format(
                    "{} may not call GetSessionToken: only IAM users' long-term keys may",
                    caller.principal_arn)),
                request_id);
  }
  query::Error invalid;
  auto duration =
      Duration(request.params, kMaxSessionTokenDuration, kDefaultSessionTokenDuration, &invalid);
  if (!duration.ok()) return Fail(invalid, request_id);
  std::optional<query::Error> mfa_error;
  std::optional<int64_t> mfa_at = VerifyMfa(store_, request.params, user, clock_, &mfa_error);
  if (mfa_error) return Fail(*mfa_error, request_id);
  auto session = NewSession(caller.principal_arn, caller.principal_arn, caller.principal_arn,
                            *duration, mfa_at);
  if (!session.ok()) return Fail(Internal(session.status()), request_id);
  log::info("sts: {} obtained session {} until {}{}", caller.principal_arn,
            session->credentials.access_key_id, query::Iso8601(session->expiration),
            mfa_at ? " with MFA" : "");
  return query::Reply(kStsXmlns, "GetSessionToken", request_id,
                      [&](query::XmlWriter& w) { WriteCredentials(w, *session); });
}

StsReply StsService::AssumeRole(const query::Request& request, const auth::Caller& caller,
                                std::string_view request_id) {
  const query::Params& p = request.params;
  const std::string& account = store_->account_id();
  const std::string* role_arn = p.Find("RoleArn");
  const std::string* session_name = p.Find("RoleSessionName");
  if (!role_arn) {
    return Fail(query::ValidationError("null", "roleArn", "Member must not be null"), request_id);
  }
  if (!session_name) {
    return Fail(query::ValidationError("null", "roleSessionName", "Member must not be null"),
                request_id);
  }
  if (role_arn->size() < 20 || role_arn->size() > 2048) {
    return Fail(
        query::ValidationError(*role_arn, "roleArn", "Member must have length between 20 and 2048"),
        request_id);
  }
  if (session_name->size() < 2 || session_name->size() > 64 ||
      !MatchesPattern(*session_name, "+=,.@-")) {
    return Fail(query::ValidationError(*session_name, "roleSessionName",
                                       "Member must satisfy regular expression pattern: "
                                       "[\\w+=,.@-]* and have length between 2 and 64"),
                request_id);
  }
  const query::Error denied = query::AccessDenied(
      fmt::format("User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                  caller.principal_arn, *role_arn));

  // The role (an unknown role is denied alike, as on AWS: nothing is revealed).
  std::string role_name = NameInArn(*role_arn, "iam", "role", account);
  if (role_name.empty()) return Fail(denied, request_id);
  auto role = store_->GetRole(role_name);
  if (!role.ok()) {
    if (role.status().code() == StatusCode::kNotFound) return Fail(denied, request_id);
    return Fail(Internal(role.status()), request_id);
  }
  if (role->arn != *role_arn) return Fail(denied, request_id);

  query::Error invalid;
  int64_t max = role->max_session_duration > 0 ? role->max_session_duration : kDefaultRoleDuration;
  auto duration = Duration(p, 43200, std::min(kDefaultRoleDuration, max), &invalid);
  if (!duration.ok()) return Fail(invalid, request_id);
  if (*duration > max) {
    return Fail({400, "ValidationError",
                 fmt::format("The requested DurationSeconds exceeds the MaxSessionDuration set "
                             "for this role.")},
                request_id);
  }

  // MFA given with the call counts for the trust policy and the session.
  std::string user = NameInArn(caller.principal_arn, "iam", "user", account);
  std::optional<query::Error> mfa_error;
  std::optional<int64_t> mfa_at = VerifyMfa(store_, p, user, clock_, &mfa_error);
  if (mfa_error) return Fail(*mfa_error, request_id);
  auth::Caller trust_caller = caller;
  if (mfa_at) {
    trust_caller.temporary_credentials = true;
    trust_caller.mfa_authenticated_at = mfa_at;
  }

  // The trust policy.
  auto trust = iam::ParsePolicy(role->assume_role_policy_document, iam::PolicyKind::kResource);
  if (!trust.ok()) {
    log::warn("sts: role {} has an unusable trust policy: {}", role->arn, trust.status().message());
    return Fail(denied, request_id);
  }
  iam::PrincipalInfo info;
  if (auto found = store_->policies()->Lookup(caller.principal_arn); found.ok()) {
    info = std::move(found).value();
  }
  iam::Request trust_request;
  trust_request.principal_arn = caller.principal_arn;
  trust_request.action = "sts:AssumeRole";
  trust_request.resource = role->arn;
  trust_request.context = iam::PolicyAuthorizer::ContextFor(trust_caller, info, clock_->NowNanos());
  iam::NamedPolicy named{role->arn, std::move(trust).value()};
  iam::EvaluationResult decision = iam::EvaluateResourcePolicy(trust_request, named);
  // AWS within one account: the trust policy must allow (an explicit deny in
  // it refuses), and an explicit deny in the caller's identity policies
  // refuses too. A trust policy naming the caller's ARN itself is enough
  // without an identity policy's allow; one that trusts the account (or
  // everyone) needs the identity policies to allow as well.
  if (!decision.allowed()) return Fail(denied, request_id);
  // Named directly: some allowing statement that applies names the caller's
  // ARN itself (not the account, not "*").
  bool named_directly = false;
  for (const iam::Statement& st : named.policy.statements) {
    if (st.effect != iam::Effect::kAllow || st.not_principal) continue;
    bool names_caller = false;
    for (const auto& [type, value] : st.principal.entries) {
      if (type == "AWS" && value == caller.principal_arn) names_caller = true;
    }
    if (names_caller &&
        iam::StatementApplies(st, named.policy.variables_enabled(), trust_request)) {
      named_directly = true;
    }
  }
  Status identity_decision = authorizer_->Authorize(trust_caller, "sts:AssumeRole", role->arn);
  if (identity_decision.code() == StatusCode::kPermissionDenied) {
    if (!named_directly) return Fail(denied, request_id);
    // The authorizer does not say whether its denial was explicit; the
    // caller's own identity policies do.
    std::vector<const iam::NamedPolicy*> own;
    for (const auto& policy : info.policies) own.push_back(policy.get());
    iam::EvaluationResult mine = iam::Evaluate(trust_request, own);
    if (mine.decision == iam::Decision::kExplicitDeny) return Fail(denied, request_id);
  } else if (!identity_decision.ok()) {
    return Fail(Internal(identity_decision), request_id);
  }

  std::string assumed_arn =
      fmt::format("arn:aws:sts::{}:assumed-role/{}/{}", account, role->name, *session_name);
  auto session = NewSession(assumed_arn, role->arn, caller.principal_arn, *duration,
                            mfa_at ? mfa_at : caller.mfa_authenticated_at);
  if (!session.ok()) return Fail(Internal(session.status()), request_id);
  log::info("sts: {} assumed {} as {} until {}{}", caller.principal_arn, role->arn,
            session->credentials.access_key_id, query::Iso8601(session->expiration),
            session->mfa_authenticated_at ? " with MFA" : "");
  return query::Reply(kStsXmlns, "AssumeRole", request_id, [&](query::XmlWriter& w) {
    WriteCredentials(w, *session);
    w.Open("AssumedRoleUser")
        .Element("AssumedRoleId", fmt::format("{}:{}", role->role_id, *session_name))
        .Element("Arn", assumed_arn)
        .Close();
  });
}

http::Response HandleSts(StsService* sts, const auth::Identities* identities, const Clock* clock,
                         const http::Request& request) {
  return query::Handle(
      {.signing_name = "sts", .xmlns = kStsXmlns, .version = kStsVersion}, identities, clock,
      sts->options().region, request,
      [sts](const query::Request& r, const auth::Caller& caller, std::string_view request_id) {
        return sts->Handle(r, caller, request_id);
      },
      [sts](const query::Request& r, const auth::Caller& caller, const query::Error& error,
            std::string_view) { sts->Record(r, caller, &error); });
}

std::optional<auth::KeyOwner> StoreIdentities::OwnerOf(std::string_view access_key_id) const {
  auto resolved = store_->Resolve(access_key_id);
  if (!resolved) return std::nullopt;
  auth::KeyOwner owner;
  owner.principal_arn = resolved->principal_arn;
  owner.temporary = resolved->temporary;
  owner.mfa_authenticated_at = resolved->mfa_authenticated_at;
  owner.session_created_at = resolved->created_at;
  return owner;
}

bool StoreIdentities::IsExpiredSession(std::string_view access_key_id,
                                       std::string_view session_token, int64_t now_seconds) const {
  auto expiration = tokens_->ExpirationOf(access_key_id, session_token);
  return expiration && *expiration <= now_seconds;
}

}  // namespace muon::identity
