#include "s3api/s3_util.h"

#include <ctime>

#include <fmt/format.h>

namespace muon::s3api {
namespace {

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

std::string_view StripPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') return host;  // IPv6 literal: never a bucket
  auto colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string UrlDecode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexVal(s[i + 1]) >= 0 && HexVal(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexVal(s[i + 1]) * 16 + HexVal(s[i + 2])));
      i += 2;
    } else if (s[i] == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string UrlEncode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string name = UrlDecode(part.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : UrlDecode(part.substr(eq + 1), true);
    out.emplace(std::move(name), std::move(value));
  }
  return out;
}

std::string HttpDate(int64_t unix_ms) {
  time_t t = static_cast<time_t>(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string IsoTime(int64_t unix_ms) {
  time_t t = static_cast<time_t>(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(unix_ms % 1000));
}

std::optional<int64_t> ParseHttpDate(std::string_view s) {
  std::string str(s);
  for (const char* fmt : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                          "%a %b %d %H:%M:%S %Y", "%Y-%m-%dT%H:%M:%S"}) {
    struct tm tm = {};
    const char* end = strptime(str.c_str(), fmt, &tm);
    if (end == nullptr) continue;
    std::string_view rest(end);
    // ISO forms may carry fractions and a Z.
    if (!rest.empty() && rest != "Z" && rest.front() != '.') continue;
    return static_cast<int64_t>(timegm(&tm));
  }
  return std::nullopt;
}

RangeSpec ParseRange(std::string_view header, uint64_t size) {
  RangeSpec r;
  constexpr std::string_view kBytes = "bytes=";
  if (header.substr(0, kBytes.size()) != kBytes) return r;
  std::string_view spec = header.substr(kBytes.size());
  if (spec.find(',') != std::string_view::npos) return r;
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return r;
  auto number = [](std::string_view d, uint64_t* out) {
    if (d.empty() || d.size() > 19) return false;
    uint64_t v = 0;
    for (char c : d) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    *out = v;
    return true;
  };
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix: the last n bytes
    if (!number(b, &last)) return r;
    if (last == 0) {
      r.kind = RangeSpec::kUnsatisfiable;
      return r;
    }
    if (size == 0) {
      r.kind = RangeSpec::kUnsatisfiable;
      return r;
    }
    r.kind = RangeSpec::kSatisfiable;
    r.first = last >= size ? 0 : size - last;
    r.last = size - 1;
    return r;
  }
  if (!number(a, &first)) return r;
  if (b.empty()) {
    last = UINT64_MAX;
  } else if (!number(b, &last) || last < first) {
    return r;  // syntactically invalid: ignored, as S3 does
  }
  if (first >= size) {
    r.kind = RangeSpec::kUnsatisfiable;
    return r;
  }
  r.kind = RangeSpec::kSatisfiable;
  r.first = first;
  r.last = std::min(last, size - 1);
  return r;
}

Address ResolveAddress(std::string_view host, std::string_view raw_path,
                       const std::vector<std::string>& domains) {
  Address a;
  std::string h = Lower(StripPort(host));
  std::string_view path = raw_path;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::vector<std::string> all = domains;
  all.push_back("localhost");
  for (const std::string& domain : all) {
    const std::string suffix = "." + domain;
    if (h.size() <= suffix.size() || h.compare(h.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    std::string labels = h.substr(0, h.size() - suffix.size());
    // "s3" or "s3.<region>" alone names the service, not a bucket.
    if (labels == "s3" || labels.rfind("s3.", 0) == 0) break;
    auto s3 = labels.rfind(".s3");
    if (s3 != std::string::npos &&
        (s3 + 3 == labels.size() || labels[s3 + 3] == '.')) {
      labels = labels.substr(0, s3);
    }
    if (labels.empty()) break;
    a.bucket = labels;
    a.key = UrlDecode(path, false);
    a.virtual_host = true;
    return a;
  }
  auto slash = path.find('/');
  a.bucket = UrlDecode(path.substr(0, slash), false);
  if (slash != std::string_view::npos) a.key = UrlDecode(path.substr(slash + 1), false);
  return a;
}

Result<Listing> ListWithDelimiter(objectstore::ObjectStore* store, std::string_view bucket,
                                  const std::string& prefix, const std::string& delimiter,
                                  const std::string& cursor, size_t max_keys) {
  Listing out;
  objectstore::ListOptions o;
  o.prefix = prefix;
  o.start_after = cursor;
  if (max_keys == 0) {
    // Nothing is returned; S3 still says whether anything would be.
    o.max_keys = 1;
    MUON_ASSIGN_OR_RETURN(auto page, store->List(bucket, o));
    out.truncated = false;
    return out;
  }
  size_t count = 0;
  for (;;) {
    o.max_keys = std::min<size_t>(max_keys - count + 1, 1000);
    MUON_ASSIGN_OR_RETURN(auto page, store->List(bucket, o));
    bool restart = false;
    for (auto& meta : page.objects) {
      if (count == max_keys) {
        out.truncated = true;
        return out;
      }
      size_t pos = delimiter.empty() ? std::string::npos : meta.key.find(delimiter, prefix.size());
      if (pos != std::string::npos) {
        std::string cp = meta.key.substr(0, pos + delimiter.size());
        out.common_prefixes.push_back(cp);
        out.last_entry = cp;
        out.next_cursor = cp + '\xff';
        ++count;
        o.start_after = out.next_cursor;
        restart = true;  // skip everything under cp with a fresh query
        break;
      }
      out.last_entry = meta.key;
      out.next_cursor = meta.key;
      o.start_after = meta.key;
      out.objects.push_back(std::move(meta));
      ++count;
    }
    if (restart) continue;
    if (!page.truncated) return out;
  }
}

bool XmlSafe(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

}  // namespace muon::s3api
