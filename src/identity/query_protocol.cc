#include "identity/query_protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

#include "auth/http_auth.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/uuid.h"

namespace muon::query {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Form decoding of one name or value; false on a malformed %XX.
bool FormDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool IsPresignParameter(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "X-Amz-Algorithm",     "X-Amz-Credential", "X-Amz-Date",          "X-Amz-Expires",
      "X-Amz-SignedHeaders", "X-Amz-Signature",  "X-Amz-Security-Token"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

// The length of the valid UTF-8 sequence XML 1.0 may carry at s[i], or 0.
size_t XmlCharLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') && c != 0x7F ? 1 : 0;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF) return 0;  // overlong or beyond Unicode
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;   // surrogates
  if (cp == 0xFFFE || cp == 0xFFFF) return 0;   // not XML characters
  if (cp >= 0x80 && cp <= 0x9F) return 0;       // C1 controls (discouraged; AWS drops)
  return n;
}

}  // namespace

Result<Params> Params::ParseForm(std::string_view form) {
  std::vector<std::pair<std::string, std::string>> entries;
  size_t start = 0;
  while (start <= form.size()) {
    size_t amp = form.find('&', start);
    std::string_view part = form.substr(start, amp == form.npos ? form.npos : amp - start);
    if (!part.empty()) {
      size_t eq = part.find('=');
      std::string_view raw_name = part.substr(0, eq);
      std::string_view raw_value = eq == part.npos ? std::string_view() : part.substr(eq + 1);
      std::string name, value;
      if (!FormDecode(raw_name, &name)) {
        return Status::InvalidArgument(
            fmt::format("parameter name '{}' has a malformed percent-encoding", raw_name));
      }
      if (!FormDecode(raw_value, &value)) {
        return Status::InvalidArgument(
            fmt::format("parameter '{}' has a malformed percent-encoding", name));
      }
      entries.emplace_back(std::move(name), std::move(value));
    }
    if (amp == form.npos) break;
    start = amp + 1;
  }
  return Params(std::move(entries));
}

const std::string* Params::Find(std::string_view name) const {
  for (const auto& [k, v] : entries_) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::string Params::Get(std::string_view name, std::string_view fallback) const {
  const std::string* v = Find(name);
  return v ? *v : std::string(fallback);
}

Result<std::optional<int64_t>> Params::Int(std::string_view name) const {
  const std::string* v = Find(name);
  if (!v) return std::optional<int64_t>();
  int64_t out = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size()) {
    return Status::InvalidArgument(
        fmt::format("Value '{}' at '{}' is not a valid integer", *v, name));
  }
  return std::optional<int64_t>(out);
}

Result<std::optional<bool>> Params::Bool(std::string_view name) const {
  const std::string* v = Find(name);
  if (!v) return std::optional<bool>();
  if (EqualsIgnoreCase(*v, "true")) return std::optional<bool>(true);
  if (EqualsIgnoreCase(*v, "false")) return std::optional<bool>(false);
  return Status::InvalidArgument(
      fmt::format("Value '{}' at '{}' is not a valid boolean (true or false)", *v, name));
}

Result<std::vector<Params::Indexed>> Params::Collect(std::string_view name,
                                                     std::string_view infix) const {
  std::string prefix = fmt::format("{}.{}.", name, infix);
  std::vector<Indexed> out;
  for (const auto& [k, v] : entries_) {
    if (k.size() < prefix.size() || k.compare(0, prefix.size(), prefix) != 0) continue;
    std::string_view tail = std::string_view(k).substr(prefix.size());
    size_t dot = tail.find('.');
    std::string_view digits = tail.substr(0, dot);
    uint64_t index = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || index == 0) {
      return Status::InvalidArgument(
          fmt::format("parameter '{}': '{}' is not a list index (1, 2, ...)", k, digits));
    }
    out.push_back(
        {index, dot == tail.npos ? std::string() : std::string(tail.substr(dot + 1)), &v});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Indexed& a, const Indexed& b) { return a.index < b.index; });
  return out;
}

Result<std::vector<std::string>> Params::List(std::string_view name, std::string_view infix) const {
  MUON_ASSIGN_OR_RETURN(auto indexed, Collect(name, infix));
  std::vector<std::string> out;
  uint64_t last = 0;
  for (const Indexed& e : indexed) {
    if (!e.rest.empty()) {
      return Status::InvalidArgument(
          fmt::format("parameter '{}.{}.{}.{}': '{}' is a list of strings", name, infix, e.index,
                      e.rest, name));
    }
    if (e.index == last) continue;  // a repeated index: the first value counts
    last = e.index;
    out.push_back(*e.value);
  }
  return out;
}

Result<std::vector<Params>> Params::Structs(std::string_view name, std::string_view infix) const {
  MUON_ASSIGN_OR_RETURN(auto indexed, Collect(name, infix));
  std::vector<Params> out;
  uint64_t last = 0;
  for (const Indexed& e : indexed) {
    if (e.rest.empty()) {
      return Status::InvalidArgument(fmt::format(
          "parameter '{}.{}.{}' names no field of the structure", name, infix, e.index));
    }
    if (out.empty() || e.index != last) out.emplace_back();
    last = e.index;
    out.back().entries_.emplace_back(e.rest, *e.value);
  }
  return out;
}

Result<Request> ParseRequest(const http::Request& request) {
  std::vector<std::pair<std::string, std::string>> all;
  auto take = [&all](std::string_view form) -> Status {
    MUON_ASSIGN_OR_RETURN(Params p, Params::ParseForm(form));
    for (const auto& e : p.entries()) all.push_back(e);
    return Status::Ok();
  };
  MUON_RETURN_IF_ERROR(take(request.query));
  if (request.method == "POST") {
    std::string_view type = request.Header("Content-Type");
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    if (EqualsIgnoreCase(type, "application/x-www-form-urlencoded")) {
      MUON_RETURN_IF_ERROR(take(request.body));
    }
  }
  Request out;
  std::vector<std::pair<std::string, std::string>> params;
  bool have_action = false, have_version = false;
  for (auto& [k, v] : all) {
    if (k == "Action") {
      if (!have_action) out.action = std::move(v);
      have_action = true;
    } else if (k == "Version") {
      if (!have_version) out.version = std::move(v);
      have_version = true;
    } else if (!IsPresignParameter(k)) {
      params.emplace_back(std::move(k), std::move(v));
    }
  }
  out.params = Params(std::move(params));
  return out;
}

std::string SigningService(const http::Request& request) {
  // Credential=AKID/DATE/REGION/SERVICE/aws4_request
  std::string credential;
  std::string_view authz = request.Header("Authorization");
  if (!authz.empty()) {
    size_t at = authz.find("Credential=");
    if (at == authz.npos) return {};
    std::string_view rest = authz.substr(at + 11);
    credential = std::string(rest.substr(0, rest.find_first_of(", ")));
  } else {
    auto q = Params::ParseForm(request.query);
    if (!q.ok()) return {};
    const std::string* c = q->Find("X-Amz-Credential");
    if (!c) return {};
    credential = *c;
  }
  // The service is the fourth of five '/'-separated parts.
  std::vector<std::string_view> parts;
  std::string_view s = credential;
  while (true) {
    size_t slash = s.find('/');
    parts.push_back(s.substr(0, slash));
    if (slash == s.npos) break;
    s = s.substr(slash + 1);
  }
  if (parts.size() != 5) return {};
  return std::string(parts[3]);
}

bool IsQueryShaped(const http::Request& request) {
  if (request.method == "POST") {
    std::string_view type = request.Header("Content-Type");
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    return EqualsIgnoreCase(type, "application/x-www-form-urlencoded");
  }
  if (request.method == "GET") {
    std::string_view q = request.query;
    return q.rfind("Action=", 0) == 0 || q.find("&Action=") != q.npos;
  }
  return false;
}

XmlWriter::XmlWriter() { out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"; }

XmlWriter& XmlWriter::Open(std::string_view name, std::string_view xmlns) {
  out_.push_back('<');
  out_.append(name);
  if (!xmlns.empty()) {
    out_.append(" xmlns=\"");
    Escape(xmlns, &out_);
    out_.push_back('"');
  }
  out_.push_back('>');
  open_.emplace_back(name);
  return *this;
}

XmlWriter& XmlWriter::Close() {
  if (open_.empty()) return *this;
  out_.append("</").append(open_.back()).push_back('>');
  open_.pop_back();
  return *this;
}

XmlWriter& XmlWriter::Element(std::string_view name, std::string_view text) {
  out_.push_back('<');
  out_.append(name).push_back('>');
  Escape(text, &out_);
  out_.append("</").append(name).push_back('>');
  return *this;
}

XmlWriter& XmlWriter::Element(std::string_view name, int64_t value) {
  return Element(name, std::to_string(value));
}

std::string XmlWriter::Finish() {
  while (!open_.empty()) Close();
  return std::move(out_);
}

void XmlWriter::Escape(std::string_view text, std::string* out) {
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    switch (c) {
      case '&':
        out->append("&amp;");
        ++i;
        continue;
      case '<':
        out->append("&lt;");
        ++i;
        continue;
      case '>':
        out->append("&gt;");
        ++i;
        continue;
      case '"':
        out->append("&quot;");
        ++i;
        continue;
      case '\'':
        out->append("&apos;");
        ++i;
        continue;
      case '\r':
        out->append("&#13;");
        ++i;
        continue;  // parsers would turn a raw CR into LF
      default:
        break;
    }
    size_t n = XmlCharLength(text, i);
    if (n == 0) {
      out->append("\xEF\xBF\xBD");  // U+FFFD
      ++i;
    } else {
      out->append(text.substr(i, n));
      i += n;
    }
  }
}

std::string Iso8601(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string NewRequestId() { return NewUuid(); }

namespace {
http::Response XmlResponse(int status, std::string body, std::string_view request_id) {
  http::Response r;
  r.status = status;
  r.Set("Content-Type", "text/xml");
  r.Set("x-amzn-RequestId", std::string(request_id));
  r.body = std::move(body);
  return r;
}
}  // namespace

http::Response Reply(std::string_view xmlns, std::string_view action, std::string_view request_id,
                     const std::function<void(XmlWriter&)>& result) {
  XmlWriter w;
  w.Open(fmt::format("{}Response", action), xmlns);
  w.Open(fmt::format("{}Result", action));
  if (result) result(w);
  w.Close();
  w.Open("ResponseMetadata").Element("RequestId", request_id).Close();
  return XmlResponse(200, w.Finish(), request_id);
}

http::Response ErrorReply(std::string_view xmlns, const Error& error, std::string_view request_id) {
  XmlWriter w;
  w.Open("ErrorResponse", xmlns);
  w.Open("Error")
      .Element("Type", error.sender ? "Sender" : "Receiver")
      .Element("Code", error.code)
      .Element("Message", error.message)
      .Close();
  w.Element("RequestId", request_id);
  return XmlResponse(error.http_status, w.Finish(), request_id);
}

Error MissingAction() {
  return {400, "MissingAction", "The request must contain the parameter Action."};
}

Error InvalidAction(std::string_view action, std::string_view version) {
  return {400, "InvalidAction",
          fmt::format("Could not find operation {} for version {}", action,
                      version.empty() ? "NO_VERSION_SPECIFIED" : version)};
}

Error MissingParameter(std::string_view name) {
  return {400, "MissingParameter", fmt::format("The request must contain the parameter {}.", name)};
}

Error MalformedQueryString(std::string_view detail) {
  return {400, "MalformedQueryString", std::string(detail)};
}

Error ValidationError(std::string_view value, std::string_view field, std::string_view rule) {
  return {400, "ValidationError",
          fmt::format("1 validation error detected: Value '{}' at '{}' failed to satisfy "
                      "constraint: {}",
                      value, field, rule)};
}

Error AccessDenied(std::string message) { return {403, "AccessDenied", std::move(message)}; }

Error ErrorOfAuthFailure(const auth::AuthFailure& f) {
  using auth::AuthError;
  switch (f.error) {
    case AuthError::kMissingAuthentication:
      return {403, "MissingAuthenticationToken", "Request is missing Authentication Token"};
    case AuthError::kIncompleteSignature:
      return {400, "IncompleteSignature", f.message};
    case AuthError::kUnknownAccessKey:
    case AuthError::kInvalidSessionToken:
      return {403, "InvalidClientTokenId",
              "The security token included in the request is invalid."};
    case AuthError::kExpiredToken:
      return {400, "ExpiredToken", "The security token included in the request is expired"};
    case AuthError::kRequestExpired:
    case AuthError::kSignatureMismatch:
    case AuthError::kWrongScope:
      return {403, "SignatureDoesNotMatch", f.message};
    case AuthError::kPayloadHashMismatch:
      return {400, "XAmzContentSHA256Mismatch", f.message};
  }
  return {403, "SignatureDoesNotMatch", f.message};
}

http::Response Handle(const Service& service, const auth::Identities* identities,
                      const Clock* clock, std::string_view region, const http::Request& request,
                      const Call& call, const Refused& refused) {
  std::string request_id = NewRequestId();
  auto fail = [&](const Error& e) { return ErrorReply(service.xmlns, e, request_id); };
  auto outcome = auth::AuthenticateHttp(
      request, *identities, *clock,
      {.service = service.signing_name,
       .region = region,
       .also_region = service.global_region,
       .request_id = request_id});
  if (!outcome.verified) {
    Error e = ErrorOfAuthFailure(outcome.failure);
    log::debug("{}: request from {} refused: {}", service.signing_name, request.remote_ip,
               outcome.failure.message);
    return fail(e);
  }
  auto refuse = [&](const Request& r, const Error& e) {
    if (refused) refused(r, outcome.caller, e, request_id);
    return fail(e);
  };
  auto parsed = ParseRequest(request);
  if (!parsed.ok()) return refuse({}, MalformedQueryString(parsed.status().message()));
  if (parsed->action.empty()) return refuse(*parsed, MissingAction());
  if (!parsed->version.empty() && parsed->version != service.version) {
    return refuse(*parsed, InvalidAction(parsed->action, parsed->version));
  }
  return call(*parsed, outcome.caller, request_id);
}

}  // namespace muon::query
