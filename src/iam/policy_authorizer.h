// iam::PolicyAuthorizer: the auth::Authorizer that decides by IAM policies.
// For each request it looks up the caller's principal (its policies, user
// name, user id and tags), builds the request context AWS would build
// (aws:PrincipalArn, aws:username, aws:userid, aws:PrincipalTag/*,
// aws:SourceIp, aws:SecureTransport, aws:CurrentTime, aws:EpochTime,
// aws:UserAgent, aws:MultiFactorAuthPresent, aws:MultiFactorAuthAge) and runs
// Evaluate. Denials are PermissionDenied with AWS's AccessDenied wording.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/authorizer.h"
#include "base/clock.h"
#include "base/status.h"
#include "iam/evaluator.h"

namespace muon::iam {

// What authorisation needs to know about one principal.
struct PrincipalInfo {
  std::string username;  // aws:username; IAM users only (empty: key absent)
  std::string userid;    // aws:userid (empty: key absent)
  std::vector<std::pair<std::string, std::string>> tags;  // aws:PrincipalTag/<key>
  // Every identity policy in force: attached, inline, and through groups.
  std::vector<std::shared_ptr<const NamedPolicy>> policies;
};

// Principal ARN -> PrincipalInfo. The registry-backed implementation replaces
// the in-memory one once identities are stored. Thread-safe.
class PolicyLookup {
 public:
  virtual ~PolicyLookup() = default;
  // NotFound for an unknown principal; other errors when the store fails.
  virtual Result<PrincipalInfo> Lookup(std::string_view principal_arn) const = 0;
};

class InMemoryPolicyLookup final : public PolicyLookup {
 public:
  // Replaces what is known about `principal_arn`.
  void Put(std::string principal_arn, PrincipalInfo info);
  void Remove(std::string_view principal_arn);
  Result<PrincipalInfo> Lookup(std::string_view principal_arn) const override;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, PrincipalInfo> principals_;  // guarded by mu_
};

class PolicyAuthorizer final : public auth::Authorizer {
 public:
  // `lookup` and `clock` must outlive the authorizer.
  PolicyAuthorizer(const PolicyLookup* lookup, const Clock* clock);

  Status Authorize(const auth::Caller& caller, std::string_view action,
                   std::string_view resource) const override;
  Status Authorize(const auth::Caller& caller, std::string_view action, std::string_view resource,
                   const auth::RequestKeys& keys) const override;

  // The full decision and the request it was made for (for the audit log).
  // Errors only when the lookup fails for a reason other than NotFound; an
  // unknown principal is an implicit deny.
  Result<std::pair<Request, EvaluationResult>> Decide(const auth::Caller& caller,
                                                      std::string_view action,
                                                      std::string_view resource,
                                                      const auth::RequestKeys& keys) const;

  // The context keys AWS would put in this caller's request at `now_nanos`.
  static RequestContext ContextFor(const auth::Caller& caller, const PrincipalInfo& info,
                                   int64_t now_nanos);

 private:
  const PolicyLookup* const lookup_;
  const Clock* const clock_;
};

}  // namespace muon::iam
