// Policy evaluation with AWS's semantics, for one account.
//
// A request {principal, action, resource, context} is decided against the
// identity policies of its principal:
//   1. any applicable Deny statement  -> kExplicitDeny (it always wins);
//   2. else any applicable Allow      -> kAllow;
//   3. else                           -> kImplicitDeny.
// A statement applies when its Action/NotAction covers the action (case-
// insensitive, * and ? wildcards), its Resource/NotResource covers the
// resource (case-sensitive, ARN parts matched one by one, policy variables
// expanded) and every condition holds. The decision names the statement that
// decided (the first in policy order), for audit and AccessDenied messages.
//
// Conditions, as AWS defines them (docs/roles.md has the table):
//  - operators in a Condition, and keys under an operator, are ANDed; the
//    values of one key are ORed (positive operators) or NORed (negated ones);
//  - a key absent from the context makes a positive operator false and a
//    negated one true; ...IfExists makes any operator true on an absent key;
//    Null tests presence only;
//  - ForAnyValue: at least one context value satisfies the operator (false on
//    an absent or empty key); ForAllValues: every context value does (true on
//    an absent or empty key). Without a qualifier a multi-valued key behaves
//    as ForAnyValue for positive operators and as "no value matches" for
//    negated ones;
//  - context values that do not parse for the operator (a non-number under
//    Numeric*, ...) match no policy value.
//
// Thread safety: everything here is a pure function of its arguments.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "iam/policy.h"

namespace muon::iam {

// Condition keys of one request. Key names compare case-insensitively (stored
// lower-cased); values are kept as given. A key may hold several values.
class RequestContext {
 public:
  void Set(std::string_view key, std::string value);
  void SetMulti(std::string_view key, std::vector<std::string> values);
  void Erase(std::string_view key);
  // nullptr when absent.
  const std::vector<std::string>* Find(std::string_view key) const;

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> keys_;
};

struct Request {
  std::string principal_arn;
  std::string action;    // "kinesis:PutRecord"
  std::string resource;  // "arn:aws:kinesis:ap-southeast-2:000000000000:stream/x"
  RequestContext context;
};

// A policy and the name it is known by (a managed policy's ARN or name, or
// "user/alice/inline-name"), shown in decisions.
struct NamedPolicy {
  std::string name;
  Policy policy;
};

enum class Decision { kAllow, kExplicitDeny, kImplicitDeny };

std::string_view DecisionName(Decision d);

struct DecidingStatement {
  std::string policy_name;
  std::string sid;  // may be empty
  int index = 0;    // position in the policy's Statement list
};

struct EvaluationResult {
  Decision decision = Decision::kImplicitDeny;
  // Set for kAllow and kExplicitDeny.
  std::optional<DecidingStatement> statement;

  bool allowed() const { return decision == Decision::kAllow; }
  // AWS's wording: "User: ARN is not authorized to perform: ACTION on
  // resource: RES because no identity-based policy allows the ACTION action"
  // or "... with an explicit deny in an identity-based policy: NAME (Sid)".
  std::string DenialMessage(const Request& request) const;
};

// Decides `request` against identity policies.
EvaluationResult Evaluate(const Request& request, std::span<const NamedPolicy* const> policies);

// Decides `request` against one resource policy (a role trust policy): only
// statements whose Principal/NotPrincipal cover request.principal_arn apply.
// Principal "*" and {"AWS": "*"} cover everyone; an account id or
// arn:aws:iam::ACCOUNT:root covers every principal of that account; other
// entries must equal the principal's ARN (or, for "Service", its name).
EvaluationResult EvaluateResourcePolicy(const Request& request, const NamedPolicy& policy);

// Whether one statement applies to the request. Exposed for tests and tools.
bool StatementApplies(const Statement& statement, bool variables_enabled, const Request& request);

}  // namespace muon::iam
