#include "iam/policy_authorizer.h"

#include <fmt/format.h>

#include <ctime>

namespace muon::iam {
namespace {

std::string Iso8601(int64_t now_nanos) {
  time_t secs = static_cast<time_t>(now_nanos / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

bool InAwsNamespace(std::string_view key) {
  if (key.size() < 4) return false;
  return (key[0] == 'a' || key[0] == 'A') && (key[1] == 'w' || key[1] == 'W') &&
         (key[2] == 's' || key[2] == 'S') && key[3] == ':';
}

}  // namespace

void InMemoryPolicyLookup::Put(std::string principal_arn, PrincipalInfo info) {
  std::lock_guard lock(mu_);
  principals_[std::move(principal_arn)] = std::move(info);
}

void InMemoryPolicyLookup::Remove(std::string_view principal_arn) {
  std::lock_guard lock(mu_);
  principals_.erase(std::string(principal_arn));
}

Result<PrincipalInfo> InMemoryPolicyLookup::Lookup(std::string_view principal_arn) const {
  std::lock_guard lock(mu_);
  auto it = principals_.find(std::string(principal_arn));
  if (it == principals_.end()) {
    return Status::NotFound(fmt::format("principal {} is not known", principal_arn));
  }
  return it->second;
}

PolicyAuthorizer::PolicyAuthorizer(const PolicyLookup* lookup, const Clock* clock)
    : lookup_(lookup), clock_(clock) {}

RequestContext PolicyAuthorizer::ContextFor(const auth::Caller& caller, const PrincipalInfo& info,
                                            int64_t now_nanos) {
  RequestContext ctx;
  if (!caller.principal_arn.empty()) ctx.Set("aws:PrincipalArn", caller.principal_arn);
  if (!info.username.empty()) ctx.Set("aws:username", info.username);
  if (!info.userid.empty()) ctx.Set("aws:userid", info.userid);
  for (const auto& [key, value] : info.tags) ctx.Set("aws:PrincipalTag/" + key, value);
  if (!caller.source_ip.empty()) ctx.Set("aws:SourceIp", caller.source_ip);
  if (!caller.user_agent.empty()) ctx.Set("aws:UserAgent", caller.user_agent);
  ctx.Set("aws:SecureTransport", caller.secure_transport ? "true" : "false");
  ctx.Set("aws:CurrentTime", Iso8601(now_nanos));
  ctx.Set("aws:EpochTime", std::to_string(now_nanos / 1'000'000'000));
  if (caller.temporary_credentials) {
    ctx.Set("aws:MultiFactorAuthPresent", caller.mfa_authenticated_at ? "true" : "false");
    if (caller.mfa_authenticated_at) {
      int64_t age = now_nanos / 1'000'000'000 - *caller.mfa_authenticated_at;
      ctx.Set("aws:MultiFactorAuthAge", std::to_string(age < 0 ? 0 : age));
    }
  }
  return ctx;
}

Result<std::pair<Request, EvaluationResult>> PolicyAuthorizer::Decide(
    const auth::Caller& caller, std::string_view action, std::string_view resource,
    const auth::RequestKeys& keys) const {
  PrincipalInfo info;
  if (!caller.principal_arn.empty()) {
    auto found = lookup_->Lookup(caller.principal_arn);
    if (found.ok()) {
      info = std::move(found).value();
    } else if (found.status().code() != StatusCode::kNotFound) {
      return found.status();
    }
  }
  Request request;
  request.principal_arn = caller.principal_arn;
  request.action = std::string(action);
  request.resource = std::string(resource);
  request.context = ContextFor(caller, info, clock_->NowNanos());
  std::unordered_map<std::string, std::vector<std::string>> extra;
  std::vector<std::string> order;
  for (const auto& [key, value] : keys) {
    if (InAwsNamespace(key)) continue;
    auto [it, inserted] = extra.try_emplace(key);
    if (inserted) order.push_back(key);
    it->second.push_back(value);
  }
  for (const std::string& key : order) request.context.SetMulti(key, std::move(extra[key]));

  std::vector<const NamedPolicy*> policies;
  policies.reserve(info.policies.size());
  for (const auto& p : info.policies) policies.push_back(p.get());
  EvaluationResult result = Evaluate(request, policies);
  return std::make_pair(std::move(request), std::move(result));
}

Status PolicyAuthorizer::Authorize(const auth::Caller& caller, std::string_view action,
                                   std::string_view resource) const {
  return Authorize(caller, action, resource, {});
}

Status PolicyAuthorizer::Authorize(const auth::Caller& caller, std::string_view action,
                                   std::string_view resource, const auth::RequestKeys& keys) const {
  auto decided = Decide(caller, action, resource, keys);
  if (!decided.ok()) return decided.status();
  const auto& [request, result] = *decided;
  if (result.allowed()) return Status::Ok();
  return Status::PermissionDenied(result.DenialMessage(request));
}

}  // namespace muon::iam
