#include "iam/evaluator.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include "base/strings.h"
#include "iam/variables.h"

namespace muon::iam {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<bool> ParseBool(std::string_view s) {
  if (EqualsIgnoreCase(s, "true")) return true;
  if (EqualsIgnoreCase(s, "false")) return false;
  return std::nullopt;
}

bool InNetwork(const IpNetwork& net, std::string_view address) {
  if (address.find('/') != std::string_view::npos) return false;
  auto addr = ParseIpNetwork(address);
  if (!addr || addr->family != net.family) return false;
  int full = net.prefix_len / 8, rest = net.prefix_len % 8;
  for (int i = 0; i < full; ++i) {
    if (addr->bytes[i] != net.bytes[i]) return false;
  }
  if (rest != 0) {
    uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
    if ((addr->bytes[full] & mask) != (net.bytes[full] & mask)) return false;
  }
  return true;
}

// One condition key under one operator, with its policy values expanded for
// this request (String* and Arn* only).
class ClauseEvaluator {
 public:
  ClauseEvaluator(const ConditionClause& c, const VariableLookup* lookup) : c_(c) {
    bool patterns = c.op == ConditionOp::kStringEquals ||
                    c.op == ConditionOp::kStringEqualsIgnoreCase ||
                    c.op == ConditionOp::kStringLike || c.op == ConditionOp::kArnEquals ||
                    c.op == ConditionOp::kArnLike;
    if (!patterns) return;
    bool wildcards = c.op == ConditionOp::kStringLike || c.op == ConditionOp::kArnEquals ||
                     c.op == ConditionOp::kArnLike;
    for (const ConditionValue& v : c.values) {
      auto p = ExpandPattern(v.text, lookup, wildcards);
      if (!p) {
        unresolved_ = true;
        return;
      }
      patterns_.push_back(std::move(*p));
    }
  }

  // A policy variable could not be resolved: the statement does not apply.
  bool unresolved() const { return unresolved_; }

  // Whether one context value matches any policy value under the positive
  // form of the operator.
  bool MatchesAny(const std::string& ctx) const {
    switch (c_.op) {
      case ConditionOp::kStringEquals:
        for (const Pattern& p : patterns_) {
          if (p.text == ctx) return true;
        }
        return false;
      case ConditionOp::kStringEqualsIgnoreCase:
        for (const Pattern& p : patterns_) {
          if (EqualsIgnoreCase(p.text, ctx)) return true;
        }
        return false;
      case ConditionOp::kStringLike:
        for (const Pattern& p : patterns_) {
          if (GlobMatch(p, ctx, false)) return true;
        }
        return false;
      case ConditionOp::kArnEquals:
      case ConditionOp::kArnLike:
        for (const Pattern& p : patterns_) {
          if (ArnMatch(p, ctx)) return true;
        }
        return false;
      case ConditionOp::kNumericEquals:
      case ConditionOp::kNumericLessThan:
      case ConditionOp::kNumericLessThanEquals:
      case ConditionOp::kNumericGreaterThan:
      case ConditionOp::kNumericGreaterThanEquals: {
        auto n = ParseIamNumber(ctx);
        if (!n) return false;
        for (const ConditionValue& v : c_.values) {
          if (Compare(*n, v.number)) return true;
        }
        return false;
      }
      case ConditionOp::kDateEquals:
      case ConditionOp::kDateLessThan:
      case ConditionOp::kDateLessThanEquals:
      case ConditionOp::kDateGreaterThan:
      case ConditionOp::kDateGreaterThanEquals: {
        auto d = ParseIamDate(ctx);
        if (!d) return false;
        for (const ConditionValue& v : c_.values) {
          if (Compare(*d, v.epoch_millis)) return true;
        }
        return false;
      }
      case ConditionOp::kBool: {
        auto b = ParseBool(ctx);
        if (!b) return false;
        for (const ConditionValue& v : c_.values) {
          if (*b == v.boolean) return true;
        }
        return false;
      }
      case ConditionOp::kBinaryEquals:
        for (const ConditionValue& v : c_.values) {
          if (v.binary == ctx) return true;
        }
        return false;
      case ConditionOp::kIpAddress:
        for (const ConditionValue& v : c_.values) {
          if (InNetwork(v.network, ctx)) return true;
        }
        return false;
      case ConditionOp::kNull:
        return false;  // handled by the caller
    }
    return false;
  }

 private:
  template <typename T>
  bool Compare(T ctx, T policy) const {
    switch (c_.op) {
      case ConditionOp::kNumericEquals:
      case ConditionOp::kDateEquals:
        return ctx == policy;
      case ConditionOp::kNumericLessThan:
      case ConditionOp::kDateLessThan:
        return ctx < policy;
      case ConditionOp::kNumericLessThanEquals:
      case ConditionOp::kDateLessThanEquals:
        return ctx <= policy;
      case ConditionOp::kNumericGreaterThan:
      case ConditionOp::kDateGreaterThan:
        return ctx > policy;
      case ConditionOp::kNumericGreaterThanEquals:
      case ConditionOp::kDateGreaterThanEquals:
        return ctx >= policy;
      default:
        return false;
    }
  }

  const ConditionClause& c_;
  std::vector<Pattern> patterns_;
  bool unresolved_ = false;
};

bool ClauseHolds(const ConditionClause& c, const VariableLookup* lookup,
                 const RequestContext& context) {
  const std::vector<std::string>* values = context.Find(c.key);
  bool absent = values == nullptr || values->empty();
  if (c.op == ConditionOp::kNull) {
    // "true" asks for an absent key, "false" for a present one; values ORed.
    for (const ConditionValue& v : c.values) {
      if (v.boolean == absent) return true;
    }
    return false;
  }
  if (absent) {
    if (c.if_exists) return true;
    if (c.qualifier == SetQualifier::kForAllValues) return true;
    if (c.qualifier == SetQualifier::kForAnyValue) return false;
    return c.negated;
  }
  ClauseEvaluator eval(c, lookup);
  if (eval.unresolved()) return false;
  // Whether one context value satisfies the operator as written (a negated
  // operator: the value matches none of the policy values).
  auto satisfies = [&](const std::string& v) { return eval.MatchesAny(v) != c.negated; };
  switch (c.qualifier) {
    case SetQualifier::kForAllValues:
      for (const std::string& v : *values) {
        if (!satisfies(v)) return false;
      }
      return true;
    case SetQualifier::kForAnyValue:
      for (const std::string& v : *values) {
        if (satisfies(v)) return true;
      }
      return false;
    case SetQualifier::kNone: {
      bool any_match = false;
      for (const std::string& v : *values) {
        if (eval.MatchesAny(v)) {
          any_match = true;
          break;
        }
      }
      return any_match != c.negated;
    }
  }
  return false;
}

std::string AccountOf(std::string_view arn) {
  size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    pos = arn.find(':', pos);
    if (pos == std::string_view::npos) return "";
    ++pos;
  }
  size_t end = arn.find(':', pos);
  if (end == std::string_view::npos) return "";
  return std::string(arn.substr(pos, end - pos));
}

bool PrincipalCovered(const PrincipalSpec& spec, std::string_view principal) {
  if (spec.any) return true;
  for (const auto& [type, value] : spec.entries) {
    if (type == "AWS") {
      if (value == "*") return true;
      bool account =
          value.size() == 12 && value.find_first_not_of("0123456789") == std::string::npos;
      std::string account_id;
      if (account) {
        account_id = value;
      } else if (value.substr(0, 13) == "arn:aws:iam::" && value.size() > 5 &&
                 value.substr(value.size() - 5) == ":root") {
        account_id = AccountOf(value);
      }
      if (!account_id.empty()) {
        if (AccountOf(principal) == account_id) return true;
        continue;
      }
    }
    if (value == principal) return true;
  }
  return false;
}

}  // namespace

void RequestContext::Set(std::string_view key, std::string value) {
  keys_[Lower(key)] = {std::move(value)};
}

void RequestContext::SetMulti(std::string_view key, std::vector<std::string> values) {
  keys_[Lower(key)] = std::move(values);
}

void RequestContext::Erase(std::string_view key) {
  auto it = keys_.find(Lower(key));
  if (it != keys_.end()) keys_.erase(it);
}

const std::vector<std::string>* RequestContext::Find(std::string_view key) const {
  auto it = keys_.find(Lower(key));
  return it == keys_.end() ? nullptr : &it->second;
}

std::string_view DecisionName(Decision d) {
  switch (d) {
    case Decision::kAllow:
      return "Allow";
    case Decision::kExplicitDeny:
      return "ExplicitDeny";
    case Decision::kImplicitDeny:
      return "ImplicitDeny";
  }
  return "ImplicitDeny";
}

std::string EvaluationResult::DenialMessage(const Request& request) const {
  std::string who = fmt::format("User: {} is not authorized to perform: {} on resource: {}",
                                request.principal_arn.empty() ? "anonymous" : request.principal_arn,
                                request.action, request.resource);
  if (decision == Decision::kExplicitDeny && statement) {
    std::string sid =
        statement->sid.empty() ? fmt::format("statement {}", statement->index) : statement->sid;
    return fmt::format("{} with an explicit deny in an identity-based policy: {} ({})", who,
                       statement->policy_name, sid);
  }
  return fmt::format("{} because no identity-based policy allows the {} action", who,
                     request.action);
}

bool StatementApplies(const Statement& st, bool variables_enabled, const Request& request) {
  bool action_listed = false;
  for (const std::string& a : st.actions) {
    if (WildcardMatch(a, request.action, /*ignore_case=*/true)) {
      action_listed = true;
      break;
    }
  }
  if (action_listed == st.not_action) return false;

  VariableLookup lookup = [&](std::string_view key) -> std::optional<std::string> {
    const std::vector<std::string>* v = request.context.Find(key);
    if (v == nullptr || v->size() != 1) return std::nullopt;
    return (*v)[0];
  };
  const VariableLookup* vars = variables_enabled ? &lookup : nullptr;

  if (st.has_resource) {
    bool resource_listed = false;
    for (const std::string& r : st.resources) {
      auto p = ExpandPattern(r, vars, /*wildcards=*/true);
      if (!p) return false;  // an unresolvable variable voids the statement
      if (ArnMatch(*p, request.resource)) {
        resource_listed = true;
        break;
      }
    }
    if (resource_listed == st.not_resource) return false;
  }

  for (const ConditionClause& c : st.conditions) {
    if (!ClauseHolds(c, vars, request.context)) return false;
  }
  return true;
}

EvaluationResult Evaluate(const Request& request, std::span<const NamedPolicy* const> policies) {
  EvaluationResult result;
  for (const NamedPolicy* p : policies) {
    for (const Statement& st : p->policy.statements) {
      if (result.decision == Decision::kAllow && st.effect == Effect::kAllow) continue;
      if (!StatementApplies(st, p->policy.variables_enabled(), request)) continue;
      DecidingStatement d{p->name, st.sid, st.index};
      if (st.effect == Effect::kDeny) {
        return {Decision::kExplicitDeny, std::move(d)};
      }
      result = {Decision::kAllow, std::move(d)};
    }
  }
  return result;
}

EvaluationResult EvaluateResourcePolicy(const Request& request, const NamedPolicy& policy) {
  EvaluationResult result;
  for (const Statement& st : policy.policy.statements) {
    if (st.has_principal &&
        PrincipalCovered(st.principal, request.principal_arn) == st.not_principal) {
      continue;
    }
    if (result.decision == Decision::kAllow && st.effect == Effect::kAllow) continue;
    if (!StatementApplies(st, policy.policy.variables_enabled(), request)) continue;
    DecidingStatement d{policy.name, st.sid, st.index};
    if (st.effect == Effect::kDeny) return {Decision::kExplicitDeny, std::move(d)};
    result = {Decision::kAllow, std::move(d)};
  }
  return result;
}

}  // namespace muon::iam
