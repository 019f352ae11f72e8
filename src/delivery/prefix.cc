#include "delivery/prefix.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

namespace muon::delivery {
namespace {

constexpr std::string_view kDefaultTimestamp = "yyyy/MM/dd/HH/";

const char* const kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                               "July",    "August",   "September", "October", "November", "December"};
const char* const kDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                             "Thursday", "Friday", "Saturday"};

std::string Padded(int64_t v, size_t width) {
  std::string s = std::to_string(v);
  if (s.size() < width) s.insert(0, width - s.size(), '0');
  return s;
}

}  // namespace

Result<std::string> FormatTimestamp(std::string_view pattern, int64_t ms) {
  time_t secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int64_t frac_ms = ms - static_cast<int64_t>(secs) * 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    char c = pattern[i];
    if (c == '\'') {
      if (i + 1 < pattern.size() && pattern[i + 1] == '\'') {
        out.push_back('\'');
        i += 2;
        continue;
      }
      size_t end = i + 1;
      std::string lit;
      while (true) {
        if (end >= pattern.size()) {
          return Status::InvalidArgument(
              fmt::format("timestamp pattern '{}' has an unterminated quote", pattern));
        }
        if (pattern[end] == '\'') {
          if (end + 1 < pattern.size() && pattern[end + 1] == '\'') {
            lit.push_back('\'');
            end += 2;
            continue;
          }
          break;
        }
        lit.push_back(pattern[end++]);
      }
      out += lit;
      i = end + 1;
      continue;
    }
    if (!std::isalpha(static_cast<unsigned char>(c))) {
      if (c == '[' || c == ']' || c == '{' || c == '}' || c == '#') {
        return Status::InvalidArgument(
            fmt::format("timestamp pattern '{}': '{}' is reserved; quote it", pattern, c));
      }
      out.push_back(c);
      ++i;
      continue;
    }
    size_t n = 1;
    while (i + n < pattern.size() && pattern[i + n] == c) ++n;
    i += n;
    int year = tm.tm_year + 1900;
    switch (c) {
      case 'y':
      case 'u':
        out += n == 2 ? Padded(year % 100, 2) : Padded(year, n);
        break;
      case 'M':
        if (n >= 4) out += kMonths[tm.tm_mon];
        else if (n == 3) out += std::string(kMonths[tm.tm_mon]).substr(0, 3);
        else out += Padded(tm.tm_mon + 1, n);
        break;
      case 'd': out += Padded(tm.tm_mday, n); break;
      case 'D': out += Padded(tm.tm_yday + 1, n); break;
      case 'H': out += Padded(tm.tm_hour, n); break;
      case 'h': out += Padded(tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12, n); break;
      case 'm': out += Padded(tm.tm_min, n); break;
      case 's': out += Padded(tm.tm_sec, n); break;
      case 'S': {
        std::string f = Padded(frac_ms, 3) + "000000";
        out += f.substr(0, std::min<size_t>(n, 9));
        break;
      }
      case 'a': out += tm.tm_hour < 12 ? "AM" : "PM"; break;
      case 'E':
        out += n >= 4 ? std::string(kDays[tm.tm_wday]) : std::string(kDays[tm.tm_wday]).substr(0, 3);
        break;
      default:
        return Status::InvalidArgument(fmt::format(
            "timestamp pattern '{}': letter '{}' is not supported (use y u M d D H h m s S a E)",
            pattern, c));
    }
  }
  return out;
}

Result<PrefixTemplate> PrefixTemplate::Parse(std::string_view text) {
  if (text.size() > 1024) {
    return Status::InvalidArgument("a prefix is at most 1024 characters");
  }
  PrefixTemplate t;
  t.text_ = std::string(text);
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("!{", i);
    if (open == std::string_view::npos) {
      literal += text.substr(i);
      break;
    }
    literal += text.substr(i, open - i);
    size_t close = text.find('}', open);
    if (close == std::string_view::npos) {
      return Status::InvalidArgument(
          fmt::format("prefix '{}': '!{{' must start an expression !{{namespace:value}}", text));
    }
    std::string_view expr = text.substr(open + 2, close - open - 2);
    size_t colon = expr.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == expr.size()) {
      return Status::InvalidArgument(
          fmt::format("prefix '{}': '!{{{}}}' is not of the form !{{namespace:value}}", text, expr));
    }
    std::string_view ns = expr.substr(0, colon), value = expr.substr(colon + 1);
    if (!literal.empty()) t.parts_.push_back({Kind::kLiteral, std::move(literal)});
    literal.clear();
    if (ns == "timestamp") {
      MUON_RETURN_IF_ERROR(FormatTimestamp(value, 0).status());
      t.parts_.push_back({Kind::kTimestamp, std::string(value)});
      t.has_timestamp_ = true;
    } else if (ns == "firehose" && value == "random-string") {
      t.parts_.push_back({Kind::kRandom, ""});
    } else if (ns == "firehose" && value == "error-output-type") {
      t.parts_.push_back({Kind::kErrorType, ""});
      t.has_error_output_type_ = true;
    } else if (ns == "firehose") {
      return Status::InvalidArgument(fmt::format(
          "prefix '{}': firehose:{} is unknown (random-string or error-output-type)", text, value));
    } else if (ns == "partitionKeyFromQuery") {
      t.parts_.push_back({Kind::kPartitionKey, std::string(value)});
      t.partition_keys_.emplace_back(value);
    } else if (ns == "partitionKeyFromLambda") {
      return Status::InvalidArgument(fmt::format(
          "prefix '{}': partitionKeyFromLambda needs a Lambda processor, which muonpipe does not "
          "run; use partitionKeyFromQuery",
          text));
    } else {
      return Status::InvalidArgument(fmt::format(
          "prefix '{}': namespace '{}' is unknown (timestamp, firehose, partitionKeyFromQuery)",
          text, ns));
    }
    t.has_expressions_ = true;
    i = close + 1;
  }
  if (!literal.empty()) t.parts_.push_back({Kind::kLiteral, std::move(literal)});
  return t;
}

std::string PrefixTemplate::Expand(const PrefixValues& v) const {
  std::string out;
  for (const auto& p : parts_) {
    switch (p.kind) {
      case Kind::kLiteral: out += p.value; break;
      case Kind::kTimestamp: {
        auto s = FormatTimestamp(p.value, v.timestamp_ms);
        if (s.ok()) out += *s;  // patterns were checked by Parse
        break;
      }
      case Kind::kRandom: out += v.random_string; break;
      case Kind::kErrorType: out += v.error_output_type; break;
      case Kind::kPartitionKey: {
        auto it = v.partition_keys.find(p.value);
        if (it != v.partition_keys.end()) out += it->second;
        break;
      }
    }
  }
  return out;
}

Status ValidatePrefixes(std::string_view prefix, std::string_view error_prefix,
                        bool dynamic_partitioning, const std::vector<std::string>& query_keys) {
  MUON_ASSIGN_OR_RETURN(PrefixTemplate p, PrefixTemplate::Parse(prefix));
  MUON_ASSIGN_OR_RETURN(PrefixTemplate e, PrefixTemplate::Parse(error_prefix));
  if (p.has_error_output_type()) {
    return Status::InvalidArgument(
        "Prefix cannot use !{firehose:error-output-type}; it belongs in ErrorOutputPrefix");
  }
  if (!e.partition_keys().empty()) {
    return Status::InvalidArgument("ErrorOutputPrefix cannot use !{partitionKeyFromQuery:...}");
  }
  if (e.has_expressions() && !e.has_error_output_type()) {
    return Status::InvalidArgument(
        "ErrorOutputPrefix with expressions must use !{firehose:error-output-type} at least once");
  }
  if (p.has_expressions() && error_prefix.empty()) {
    return Status::InvalidArgument(
        "ErrorOutputPrefix must be specified when Prefix contains expressions");
  }
  if (!dynamic_partitioning && !p.partition_keys().empty()) {
    return Status::InvalidArgument(
        "Prefix uses !{partitionKeyFromQuery:...} but DynamicPartitioningConfiguration is not "
        "enabled");
  }
  if (dynamic_partitioning) {
    if (p.partition_keys().empty()) {
      return Status::InvalidArgument(
          "with dynamic partitioning enabled, Prefix must use at least one "
          "!{partitionKeyFromQuery:KEY}");
    }
    for (const auto& k : p.partition_keys()) {
      if (std::find(query_keys.begin(), query_keys.end(), k) == query_keys.end()) {
        return Status::InvalidArgument(fmt::format(
            "Prefix uses partitionKeyFromQuery:{} but the MetadataExtractionQuery does not "
            "define '{}'",
            k, k));
      }
    }
  }
  return Status::Ok();
}

Result<ResolvedPrefixes> ResolvePrefixes(std::string_view prefix, std::string_view error_prefix,
                                         bool dynamic_partitioning,
                                         const std::vector<std::string>& query_keys) {
  MUON_RETURN_IF_ERROR(ValidatePrefixes(prefix, error_prefix, dynamic_partitioning, query_keys));
  MUON_ASSIGN_OR_RETURN(PrefixTemplate p, PrefixTemplate::Parse(prefix));
  std::string success(prefix);
  if (!dynamic_partitioning && !p.has_timestamp()) {
    success += fmt::format("!{{timestamp:{}}}", kDefaultTimestamp);
  }
  std::string error(error_prefix);
  if (error.empty()) {
    error = fmt::format("{}!{{firehose:error-output-type}}/!{{timestamp:{}}}", prefix,
                        kDefaultTimestamp);
  }
  ResolvedPrefixes r;
  MUON_ASSIGN_OR_RETURN(r.success, PrefixTemplate::Parse(success));
  MUON_ASSIGN_OR_RETURN(r.error, PrefixTemplate::Parse(error));
  return r;
}

}  // namespace muon::delivery
