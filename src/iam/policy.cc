#include "iam/policy.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "base/base64.h"
#include "base/strings.h"
#include "iam/variables.h"

namespace muon::iam {
namespace {

using nlohmann::json;

Status Malformed(std::string_view field, std::string_view problem) {
  return Status::InvalidArgument(fmt::format("{}: {}", field, problem));
}

// A string, or a non-empty array of strings (numbers and booleans are
// accepted where `scalars` and turned into their JSON text, as IAM does for
// condition values).
Result<std::vector<std::string>> StringList(const json& v, std::string_view field, bool scalars) {
  auto one = [&](const json& e, std::string* out) -> Status {
    if (e.is_string()) {
      *out = e.get<std::string>();
    } else if (scalars && e.is_boolean()) {
      *out = e.get<bool>() ? "true" : "false";
    } else if (scalars && e.is_number()) {
      *out = e.dump();
    } else {
      return Malformed(field, scalars ? "values must be strings, numbers or booleans"
                                      : "must be a string or an array of strings");
    }
    return Status::Ok();
  };
  std::vector<std::string> out;
  if (v.is_array()) {
    if (v.empty()) return Malformed(field, "must not be an empty array");
    for (const json& e : v) {
      MUON_RETURN_IF_ERROR(one(e, &out.emplace_back()));
    }
  } else {
    MUON_RETURN_IF_ERROR(one(v, &out.emplace_back()));
  }
  return out;
}

Status CheckAction(std::string_view a, std::string_view field) {
  if (a == "*") return Status::Ok();
  size_t colon = a.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == a.size()) {
    return Malformed(field, fmt::format("action \"{}\" must be prefaced by a service, e.g. "
                                        "\"kinesis:PutRecord\", or be \"*\"",
                                        a));
  }
  for (char c : a.substr(0, colon)) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) {
      return Malformed(field, fmt::format("action \"{}\" has an invalid service prefix", a));
    }
  }
  return Status::Ok();
}

Status CheckResource(std::string_view r, std::string_view field, bool variables) {
  if (r == "*") return Status::Ok();
  size_t colons = 0;
  for (char c : r) colons += c == ':';
  if (r.substr(0, 4) != "arn:" || colons < 5) {
    return Malformed(field, fmt::format("resource \"{}\" must be in ARN format "
                                        "(arn:partition:service:region:account:resource) or \"*\"",
                                        r));
  }
  if (variables) MUON_RETURN_IF_ERROR(CheckVariableSyntax(r, field));
  return Status::Ok();
}

Result<PrincipalSpec> ParsePrincipal(const json& v, std::string_view field) {
  PrincipalSpec spec;
  if (v.is_string()) {
    if (v.get<std::string>() != "*") {
      return Malformed(field, "must be \"*\" or an object such as {\"AWS\": \"arn:...\"}");
    }
    spec.any = true;
    return spec;
  }
  if (!v.is_object() || v.empty()) {
    return Malformed(field, "must be \"*\" or an object such as {\"AWS\": \"arn:...\"}");
  }
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& type = it.key();
    std::string sub = fmt::format("{}.{}", field, type);
    if (type != "AWS" && type != "Service" && type != "Federated" && type != "CanonicalUser") {
      return Malformed(sub, "principal type must be AWS, Service, Federated or CanonicalUser");
    }
    MUON_ASSIGN_OR_RETURN(std::vector<std::string> values, StringList(it.value(), sub, false));
    for (std::string& value : values) {
      if (value.empty()) return Malformed(sub, "a principal must not be empty");
      if (type == "AWS" && value != "*") {
        bool account =
            value.size() == 12 && value.find_first_not_of("0123456789") == std::string::npos;
        if (!account && value.substr(0, 4) != "arn:") {
          return Malformed(sub, fmt::format("invalid principal \"{}\" (an account id, an ARN, "
                                            "or \"*\")",
                                            value));
        }
      }
      spec.entries.emplace_back(type, std::move(value));
    }
  }
  return spec;
}

bool IsOneOf(std::string_view s, std::initializer_list<std::string_view> options) {
  for (auto o : options) {
    if (s == o) return true;
  }
  return false;
}

Status ParseConditionValue(const ConditionClause& c, std::string_view field, bool variables,
                           ConditionValue* v) {
  const std::string& t = v->text;
  switch (c.op) {
    case ConditionOp::kStringEquals:
    case ConditionOp::kStringEqualsIgnoreCase:
    case ConditionOp::kStringLike:
    case ConditionOp::kArnEquals:
    case ConditionOp::kArnLike:
      if (variables) return CheckVariableSyntax(t, field);
      return Status::Ok();
    case ConditionOp::kNumericEquals:
    case ConditionOp::kNumericLessThan:
    case ConditionOp::kNumericLessThanEquals:
    case ConditionOp::kNumericGreaterThan:
    case ConditionOp::kNumericGreaterThanEquals: {
      auto n = ParseIamNumber(t);
      if (!n) return Malformed(field, fmt::format("\"{}\" is not a number", t));
      v->number = *n;
      return Status::Ok();
    }
    case ConditionOp::kDateEquals:
    case ConditionOp::kDateLessThan:
    case ConditionOp::kDateLessThanEquals:
    case ConditionOp::kDateGreaterThan:
    case ConditionOp::kDateGreaterThanEquals: {
      auto d = ParseIamDate(t);
      if (!d) {
        return Malformed(field, fmt::format("\"{}\" is not a date (ISO 8601, e.g. "
                                            "2026-01-31T00:00:00Z, or epoch seconds)",
                                            t));
      }
      v->epoch_millis = *d;
      return Status::Ok();
    }
    case ConditionOp::kBool:
    case ConditionOp::kNull:
      if (EqualsIgnoreCase(t, "true")) {
        v->boolean = true;
      } else if (EqualsIgnoreCase(t, "false")) {
        v->boolean = false;
      } else {
        return Malformed(field, fmt::format("\"{}\" must be \"true\" or \"false\"", t));
      }
      return Status::Ok();
    case ConditionOp::kBinaryEquals: {
      auto b = Base64Decode(t);
      if (!b) return Malformed(field, fmt::format("\"{}\" is not base64", t));
      v->binary = std::move(*b);
      return Status::Ok();
    }
    case ConditionOp::kIpAddress: {
      auto n = ParseIpNetwork(t);
      if (!n) {
        return Malformed(field, fmt::format("\"{}\" is not an IP address or CIDR block", t));
      }
      v->network = *n;
      return Status::Ok();
    }
  }
  return Status::Ok();
}

Result<std::vector<ConditionClause>> ParseCondition(const json& v, std::string_view field,
                                                    bool variables) {
  if (!v.is_object()) return Malformed(field, "must be an object of condition operators");
  std::vector<ConditionClause> out;
  for (auto op = v.begin(); op != v.end(); ++op) {
    std::string op_field = fmt::format("{}.{}", field, op.key());
    auto parsed = ParseConditionOperator(op.key());
    if (!parsed.ok()) return Malformed(op_field, parsed.status().message());
    if (!op.value().is_object() || op.value().empty()) {
      return Malformed(op_field, "must be an object of condition keys and values");
    }
    for (auto key = op.value().begin(); key != op.value().end(); ++key) {
      std::string key_field = fmt::format("{}.{}", op_field, key.key());
      size_t colon = key.key().find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == key.key().size()) {
        return Malformed(key_field,
                         "condition key must be prefaced by a vendor, e.g. "
                         "\"aws:SourceIp\"");
      }
      ConditionClause clause = *parsed;
      clause.key = key.key();
      MUON_ASSIGN_OR_RETURN(std::vector<std::string> texts,
                            StringList(key.value(), key_field, true));
      for (std::string& t : texts) {
        ConditionValue cv;
        cv.text = std::move(t);
        MUON_RETURN_IF_ERROR(ParseConditionValue(clause, key_field, variables, &cv));
        clause.values.push_back(std::move(cv));
      }
      out.push_back(std::move(clause));
    }
  }
  return out;
}

Result<Statement> ParseStatement(const json& s, std::string_view field, PolicyKind kind,
                                 bool variables) {
  if (!s.is_object()) return Malformed(field, "each statement must be an object");
  Statement st;
  for (auto it = s.begin(); it != s.end(); ++it) {
    if (!IsOneOf(it.key(), {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                            "Principal", "NotPrincipal", "Condition"})) {
      return Malformed(fmt::format("{}.{}", field, it.key()), "unknown statement element");
    }
  }
  auto sub = [&](std::string_view name) { return fmt::format("{}.{}", field, name); };

  if (s.contains("Sid")) {
    const json& sid = s["Sid"];
    if (!sid.is_string()) return Malformed(sub("Sid"), "must be a string");
    st.sid = sid.get<std::string>();
    if (kind == PolicyKind::kIdentity) {
      for (char c : st.sid) {
        if (!std::isalnum(static_cast<unsigned char>(c))) {
          return Malformed(sub("Sid"), fmt::format("\"{}\" must be alphanumeric", st.sid));
        }
      }
    }
  }

  if (!s.contains("Effect")) return Malformed(sub("Effect"), "is required");
  const json& effect = s["Effect"];
  if (effect == "Allow") {
    st.effect = Effect::kAllow;
  } else if (effect == "Deny") {
    st.effect = Effect::kDeny;
  } else {
    return Malformed(sub("Effect"),
                     fmt::format("must be \"Allow\" or \"Deny\", not {}", effect.dump()));
  }

  bool action = s.contains("Action"), not_action = s.contains("NotAction");
  if (action == not_action) {
    return Malformed(sub("Action"), "exactly one of Action and NotAction is required");
  }
  st.not_action = not_action;
  std::string action_field = sub(not_action ? "NotAction" : "Action");
  MUON_ASSIGN_OR_RETURN(st.actions,
                        StringList(s[not_action ? "NotAction" : "Action"], action_field, false));
  for (const std::string& a : st.actions) MUON_RETURN_IF_ERROR(CheckAction(a, action_field));

  bool resource = s.contains("Resource"), not_resource = s.contains("NotResource");
  if (resource && not_resource) {
    return Malformed(sub("Resource"), "only one of Resource and NotResource may appear");
  }
  if (kind == PolicyKind::kIdentity && !resource && !not_resource) {
    return Malformed(sub("Resource"), "exactly one of Resource and NotResource is required");
  }
  if (resource || not_resource) {
    st.has_resource = true;
    st.not_resource = not_resource;
    std::string resource_field = sub(not_resource ? "NotResource" : "Resource");
    MUON_ASSIGN_OR_RETURN(st.resources, StringList(s[not_resource ? "NotResource" : "Resource"],
                                                   resource_field, false));
    for (const std::string& r : st.resources) {
      MUON_RETURN_IF_ERROR(CheckResource(r, resource_field, variables));
    }
  }

  bool principal = s.contains("Principal"), not_principal = s.contains("NotPrincipal");
  if (kind == PolicyKind::kIdentity && (principal || not_principal)) {
    return Malformed(sub(principal ? "Principal" : "NotPrincipal"),
                     "an identity policy must not name a principal");
  }
  if (kind == PolicyKind::kResource) {
    if (principal == not_principal) {
      return Malformed(sub("Principal"), "exactly one of Principal and NotPrincipal is required");
    }
    st.has_principal = true;
    st.not_principal = not_principal;
    const char* name = not_principal ? "NotPrincipal" : "Principal";
    MUON_ASSIGN_OR_RETURN(st.principal, ParsePrincipal(s[name], sub(name)));
  }

  if (s.contains("Condition")) {
    MUON_ASSIGN_OR_RETURN(st.conditions,
                          ParseCondition(s["Condition"], sub("Condition"), variables));
  }
  return st;
}

// Rejects repeated keys in any object: nlohmann would keep the last silently.
class DuplicateKeyCheck {
 public:
  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        keys_.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys_.empty()) keys_.pop_back();
        break;
      case json::parse_event_t::key: {
        std::string k = parsed.get<std::string>();
        if (!keys_.empty() && !keys_.back().insert(k).second && duplicate_.empty()) {
          duplicate_ = k;
        }
        break;
      }
      default:
        break;
    }
    return true;
  }
  const std::string& duplicate() const { return duplicate_; }

 private:
  std::vector<std::set<std::string>> keys_;
  std::string duplicate_;
};

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool ReadDigits(std::string_view s, size_t* i, size_t n, int* out) {
  if (*i + n > s.size()) return false;
  int v = 0;
  for (size_t k = 0; k < n; ++k) {
    char c = s[*i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

}  // namespace

Result<ConditionClause> ParseConditionOperator(std::string_view name) {
  ConditionClause c;
  c.operator_text = std::string(name);
  std::string_view rest = name;
  if (rest.substr(0, 12) == "ForAnyValue:") {
    c.qualifier = SetQualifier::kForAnyValue;
    rest.remove_prefix(12);
  } else if (rest.substr(0, 13) == "ForAllValues:") {
    c.qualifier = SetQualifier::kForAllValues;
    rest.remove_prefix(13);
  }
  constexpr std::string_view kIfExists = "IfExists";
  if (rest.size() > kIfExists.size() && rest.substr(rest.size() - kIfExists.size()) == kIfExists) {
    c.if_exists = true;
    rest.remove_suffix(kIfExists.size());
  }
  struct Entry {
    std::string_view name;
    ConditionOp op;
    bool negated;
  };
  static constexpr Entry kOps[] = {
      {"StringEquals", ConditionOp::kStringEquals, false},
      {"StringNotEquals", ConditionOp::kStringEquals, true},
      {"StringEqualsIgnoreCase", ConditionOp::kStringEqualsIgnoreCase, false},
      {"StringNotEqualsIgnoreCase", ConditionOp::kStringEqualsIgnoreCase, true},
      {"StringLike", ConditionOp::kStringLike, false},
      {"StringNotLike", ConditionOp::kStringLike, true},
      {"NumericEquals", ConditionOp::kNumericEquals, false},
      {"NumericNotEquals", ConditionOp::kNumericEquals, true},
      {"NumericLessThan", ConditionOp::kNumericLessThan, false},
      {"NumericLessThanEquals", ConditionOp::kNumericLessThanEquals, false},
      {"NumericGreaterThan", ConditionOp::kNumericGreaterThan, false},
      {"NumericGreaterThanEquals", ConditionOp::kNumericGreaterThanEquals, false},
      {"DateEquals", ConditionOp::kDateEquals, false},
      {"DateNotEquals", ConditionOp::kDateEquals, true},
      {"DateLessThan", ConditionOp::kDateLessThan, false},
      {"DateLessThanEquals", ConditionOp::kDateLessThanEquals, false},
      {"DateGreaterThan", ConditionOp::kDateGreaterThan, false},
      {"DateGreaterThanEquals", ConditionOp::kDateGreaterThanEquals, false},
      {"Bool", ConditionOp::kBool, false},
      {"BinaryEquals", ConditionOp::kBinaryEquals, false},
      {"IpAddress", ConditionOp::kIpAddress, false},
      {"NotIpAddress", ConditionOp::kIpAddress, true},
      {"ArnEquals", ConditionOp::kArnEquals, false},
      {"ArnNotEquals", ConditionOp::kArnEquals, true},
      {"ArnLike", ConditionOp::kArnLike, false},
      {"ArnNotLike", ConditionOp::kArnLike, true},
      {"Null", ConditionOp::kNull, false},
  };
  for (const Entry& e : kOps) {
    if (rest != e.name) continue;
    if (e.op == ConditionOp::kNull && (c.if_exists || c.qualifier != SetQualifier::kNone)) {
      return Status::InvalidArgument(
          "the Null operator takes neither IfExists nor a ForAnyValue:/ForAllValues: qualifier");
    }
    c.op = e.op;
    c.negated = e.negated;
    return c;
  }
  return Status::InvalidArgument(fmt::format("unknown condition operator \"{}\"", name));
}

std::optional<double> ParseIamNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double v = 0;
  auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::general);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> ParseIamDate(std::string_view s) {
  if (s.empty()) return std::nullopt;
  // Epoch seconds.
  if (s.find_first_not_of("0123456789") == std::string_view::npos ||
      (s[0] == '-' && s.size() > 1 &&
       s.find_first_not_of("0123456789", 1) == std::string_view::npos)) {
    if (s.size() > 15) return std::nullopt;
    int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v * 1000;
  }
  size_t i = 0;
  int year, month, day, hour = 0, minute = 0, second = 0, millis = 0;
  if (!ReadDigits(s, &i, 4, &year) || i >= s.size() || s[i++] != '-' ||
      !ReadDigits(s, &i, 2, &month) || i >= s.size() || s[i++] != '-' ||
      !ReadDigits(s, &i, 2, &day)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1]) return std::nullopt;
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) return std::nullopt;
  int offset_minutes = 0;
  if (i < s.size()) {
    if (s[i++] != 'T') return std::nullopt;
    if (!ReadDigits(s, &i, 2, &hour) || i >= s.size() || s[i++] != ':' ||
        !ReadDigits(s, &i, 2, &minute)) {
      return std::nullopt;
    }
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!ReadDigits(s, &i, 2, &second)) return std::nullopt;
      if (i < s.size() && s[i] == '.') {
        ++i;
        size_t start = i;
        int scale = 100;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
          millis += (s[i] - '0') * scale;
          scale /= 10;
          ++i;
        }
        if (i == start) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (i < s.size()) {
      char tz = s[i++];
      if (tz == 'Z') {
        // UTC
      } else if (tz == '+' || tz == '-') {
        int oh, om;
        if (!ReadDigits(s, &i, 2, &oh) || i >= s.size() || s[i++] != ':' ||
            !ReadDigits(s, &i, 2, &om) || oh > 23 || om > 59) {
          return std::nullopt;
        }
        offset_minutes = (oh * 60 + om) * (tz == '+' ? 1 : -1);
      } else {
        return std::nullopt;
      }
    }
    if (i != s.size()) return std::nullopt;
  }
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1000 + millis;
}

std::optional<IpNetwork> ParseIpNetwork(std::string_view text) {
  std::string addr(text);
  std::optional<int> prefix;
  if (size_t slash = addr.find('/'); slash != std::string::npos) {
    std::string_view p = std::string_view(addr).substr(slash + 1);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    int v = 0;
    std::from_chars(p.data(), p.data() + p.size(), v);
    prefix = v;
    addr.resize(slash);
  }
  IpNetwork n;
  if (inet_pton(AF_INET, addr.c_str(), n.bytes.data()) == 1) {
    n.family = AF_INET;
    n.prefix_len = prefix.value_or(32);
    if (n.prefix_len > 32) return std::nullopt;
  } else if (inet_pton(AF_INET6, addr.c_str(), n.bytes.data()) == 1) {
    n.family = AF_INET6;
    n.prefix_len = prefix.value_or(128);
    if (n.prefix_len > 128) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return n;
}

Result<Policy> ParsePolicy(std::string_view text, PolicyKind kind) {
  DuplicateKeyCheck dup;
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), std::ref(dup));
  } catch (const json::parse_error& e) {
    return Status::InvalidArgument(fmt::format("policy document is not valid JSON: {}", e.what()));
  }
  if (!dup.duplicate().empty()) {
    return Malformed(dup.duplicate(), "appears twice in one object");
  }
  if (!doc.is_object()) return Malformed("Policy", "a policy document must be a JSON object");
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (!IsOneOf(it.key(), {"Version", "Id", "Statement"})) {
      return Malformed(it.key(), "unknown policy element (Version, Id and Statement allowed)");
    }
  }
  Policy policy;
  policy.version = "2008-10-17";
  if (doc.contains("Version")) {
    const json& v = doc["Version"];
    if (!v.is_string() || (v != "2012-10-17" && v != "2008-10-17")) {
      return Malformed("Version", fmt::format("must be \"2012-10-17\" (or the older "
                                              "\"2008-10-17\"), not {}",
                                              v.dump()));
    }
    policy.version = v.get<std::string>();
  }
  if (doc.contains("Id")) {
    if (!doc["Id"].is_string()) return Malformed("Id", "must be a string");
    policy.id = doc["Id"].get<std::string>();
  }
  if (!doc.contains("Statement")) return Malformed("Statement", "is required");
  const json& statements = doc["Statement"];
  bool variables = policy.variables_enabled();
  std::set<std::string> sids;
  auto add = [&](const json& s, std::string field, int index) -> Status {
    MUON_ASSIGN_OR_RETURN(Statement st, ParseStatement(s, field, kind, variables));
    st.index = index;
    if (!st.sid.empty() && !sids.insert(st.sid).second) {
      return Malformed(field + ".Sid", fmt::format("\"{}\" is not unique in the policy", st.sid));
    }
    policy.statements.push_back(std::move(st));
    return Status::Ok();
  };
  if (statements.is_array()) {
    if (statements.empty()) return Malformed("Statement", "must not be empty");
    for (size_t i = 0; i < statements.size(); ++i) {
      MUON_RETURN_IF_ERROR(
          add(statements[i], fmt::format("Statement[{}]", i), static_cast<int>(i)));
    }
  } else if (statements.is_object()) {
    MUON_RETURN_IF_ERROR(add(statements, "Statement", 0));
  } else {
    return Malformed("Statement", "must be an object or an array of objects");
  }
  return policy;
}

}  // namespace muon::iam
