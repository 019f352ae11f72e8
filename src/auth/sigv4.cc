#include "auth/sigv4.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "auth/sigv4_internal.h"
#include "base/strings.h"

namespace muon::auth {
namespace internal {
namespace {

constexpr char kHexLower[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

constexpr std::string_view kSignatureMismatchMessage =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";
constexpr std::string_view kInvalidTokenMessage =
    "The security token included in the request is invalid.";
constexpr std::string_view kUnknownS3KeyMessage =
    "The AWS Access Key Id you provided does not exist in our records.";

// Headers botocore never signs (hop-by-hop, or rewritten by proxies).
constexpr std::string_view kUnsignedHeaders[] = {
    "authorization", "connection", "expect",  "keep-alive", "proxy-authenticate",
    "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade",
    "user-agent", "x-amzn-trace-id"};

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string HexEncode(const unsigned char* data, size_t size) {
  std::string out(size * 2, '\0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kHexLower[data[i] >> 4];
    out[2 * i + 1] = kHexLower[data[i] & 0xf];
  }
  return out;
}

bool IsHexDigest(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return HexValue(c) >= 0; });
}

const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

// Digest contexts are reused per thread: fetching and allocating them per
// call costs more than hashing a canonical request.
bool Sha256(std::string_view data, Digest& out) {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  unsigned int len = 0;
  return ctx && Sha256Md() && EVP_DigestInit_ex(ctx.get(), Sha256Md(), nullptr) == 1 &&
         EVP_DigestUpdate(ctx.get(), data.data(), data.size()) == 1 &&
         EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size();
}

EVP_MAC_CTX* NewHmacSha256Ctx() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return nullptr;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  if (ctx == nullptr) return nullptr;
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(ctx, params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

bool HmacSha256(std::string_view key, std::string_view data, Digest& out) {
  thread_local std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(NewHmacSha256Ctx());
  size_t len = 0;
  return ctx &&
         EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                      nullptr) == 1 &&
         EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()),
                        data.size()) == 1 &&
         EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) == 1 && len == out.size();
}

std::string_view AsView(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// Derived keys change once a day per key and scope; deriving one costs four
// HMACs, so they are cached. Bounded: when full the cache is emptied, which is
// cheap and keeps memory flat if someone sprays random scopes at us.
class SigningKeyCache {
 public:
  static constexpr size_t kCapacity = 4096;

  bool Get(const std::string& cache_key, Digest& out) const {
    std::shared_lock lock(mu_);
    auto it = keys_.find(cache_key);
    if (it == keys_.end()) return false;
    out = it->second;
    return true;
  }

  void Put(std::string cache_key, const Digest& key) {
    std::unique_lock lock(mu_);
    if (keys_.size() >= kCapacity) keys_.clear();
    keys_.insert_or_assign(std::move(cache_key), key);
  }

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Digest> keys_;  // guarded by mu_
};

SigningKeyCache& KeyCache() {
  static auto* cache = new SigningKeyCache();
  return *cache;
}

std::string Scope(std::string_view date, std::string_view region, std::string_view service) {
  std::string scope;
  scope.reserve(date.size() + region.size() + service.size() + 16);
  scope.append(date).append("/").append(region).append("/").append(service).append(
      "/aws4_request");
  return scope;
}

// botocore's remove_dot_segments: drops "", "." and resolves ".."; keeps a
// leading and (if anything is left) trailing slash.
std::string RemoveDotSegments(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!seg.empty() && seg != ".") {
      out.push_back(seg);
    }
    start = end + 1;
  }
  std::string result = path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < out.size(); ++i) {
    if (i > 0) result += '/';
    result.append(out[i]);
  }
  if (path.back() == '/' && !out.empty()) result += '/';
  return result;
}

struct QueryParam {
  std::string key;    // decoded
  std::string value;  // decoded
};

std::vector<QueryParam> ParseQuery(std::string_view query) {
  std::vector<QueryParam> params;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(start, end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view k = pair.substr(0, eq);
      std::string_view v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      params.push_back({PercentDecode(k), PercentDecode(v)});
    }
    start = end + 1;
  }
  return params;
}

const std::string* FindParam(const std::vector<QueryParam>& params, std::string_view key,
                             int* count) {
  const std::string* found = nullptr;
  *count = 0;
  for (const auto& p : params) {
    if (p.key == key) {
      if (found == nullptr) found = &p.value;
      ++*count;
    }
  }
  return found;
}

// Values of every header named `name` (case-insensitive), in order.
std::vector<std::string_view> HeaderValues(
    const std::vector<std::pair<std::string, std::string>>& headers, std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) values.push_back(v);
  }
  return values;
}

std::vector<std::string> SplitSignedHeaders(std::string_view list) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(';', start);
    if (end == std::string_view::npos) end = list.size();
    std::string_view name = Trim(list.substr(start, end - start));
    if (!name.empty()) names.push_back(ToLower(name));
    start = end + 1;
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::string JoinSignedHeaders(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ';';
    out += n;
  }
  return out;
}

std::string SkewText(int64_t seconds) {
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + " min.";
  return std::to_string(seconds) + " sec.";
}

AuthFailure Fail(AuthError error, std::string message) { return {error, std::move(message)}; }

// Everything Verify learns from the request before it knows the secret.
struct ParsedAuth {
  bool presigned = false;
  std::string access_key_id;
  std::string date;  // YYYYMMDD of the scope
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;
  std::string signature;
  std::string amz_date;  // ISO-8601 basic, as signed
  int64_t request_time = 0;
  int64_t expires = 0;  // presigned only
  std::optional<std::string> security_token;
  std::optional<std::string> content_sha256;  // x-amz-content-sha256 as sent
};

using ParseResult = std::pair<std::optional<ParsedAuth>, AuthFailure>;

ParseResult ParseFailure(AuthError error, std::string message) {
  return {std::nullopt, Fail(error, std::move(message))};
}

// "AKID/20150830/us-east-1/service/aws4_request".
std::optional<AuthFailure> ParseCredential(std::string_view credential, ParsedAuth& auth) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = credential.find('/', start);
    parts.push_back(credential.substr(start, end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (parts.size() != 5 || parts[0].empty()) {
    return Fail(AuthError::kIncompleteSignature,
                "Credential should be scoped to a valid region, service and terminator: '" +
                    std::string(credential) +
                    "'. Expected 'ACCESS_KEY_ID/YYYYMMDD/region/service/aws4_request'.");
  }
  if (parts[4] != "aws4_request") {
    return Fail(AuthError::kIncompleteSignature,
                "Credential should be scoped with a valid terminator: 'aws4_request', not '" +
                    std::string(parts[4]) + "'.");
  }
  if (parts[1].size() != 8 ||
      !std::all_of(parts[1].begin(), parts[1].end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Fail(AuthError::kIncompleteSignature,
                "Invalid credential date. Date is not the required format: yyyyMMdd.");
  }
  if (parts[2].empty()) {
    return Fail(AuthError::kIncompleteSignature, "Credential should be scoped to a valid region.");
  }
  if (parts[3].empty()) {
    return Fail(AuthError::kIncompleteSignature, "Credential should be scoped to a valid service.");
  }
  auth.access_key_id = parts[0];
  auth.date = parts[1];
  auth.region = parts[2];
  auth.service = parts[3];
  return std::nullopt;
}

std::optional<AuthFailure> CheckScopeDate(const ParsedAuth& auth) {
  if (auth.amz_date.compare(0, 8, auth.date) != 0) {
    return Fail(AuthError::kSignatureMismatch,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                "from HTTP: '" +
                    auth.date + "' != '" + auth.amz_date.substr(0, 8) + "', from '" +
                    auth.amz_date + "'.");
  }
  return std::nullopt;
}

std::optional<AuthFailure> CheckHostSigned(const ParsedAuth& auth) {
  if (!std::binary_search(auth.signed_headers.begin(), auth.signed_headers.end(), "host")) {
    return Fail(AuthError::kIncompleteSignature,
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  return std::nullopt;
}

ParseResult ParseAuthorizationHeader(std::string_view value,
                                     const std::vector<std::pair<std::string, std::string>>& headers) {
  ParsedAuth auth;
  std::string_view rest = Trim(value);
  size_t space = rest.find(' ');
  std::string_view algorithm = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);

  std::optional<std::string_view> credential, signed_headers, signature;
  size_t start = 0;
  while (start < rest.size()) {
    size_t end = rest.find(',', start);
    if (end == std::string_view::npos) end = rest.size();
    std::string_view item = Trim(rest.substr(start, end - start));
    start = end + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return ParseFailure(AuthError::kIncompleteSignature,
                          "'" + std::string(item) +
                              "' not a valid key=value pair (missing equal-sign) in "
                              "Authorization header: '" +
                              std::string(value) + "'.");
    }
    std::string_view k = item.substr(0, eq);
    std::string_view v = item.substr(eq + 1);
    if (k == "Credential") credential = v;
    else if (k == "SignedHeaders") signed_headers = v;
    else if (k == "Signature") signature = v;
  }

  std::vector<std::string_view> date_values = HeaderValues(headers, "x-amz-date");
  bool use_http_date = date_values.empty();
  if (use_http_date) date_values = HeaderValues(headers, "date");

  std::string missing;
  if (!credential) missing += "Authorization header requires 'Credential' parameter. ";
  if (!signature) missing += "Authorization header requires 'Signature' parameter. ";
  if (!signed_headers) missing += "Authorization header requires 'SignedHeaders' parameter. ";
  if (date_values.empty()) {
    missing += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
               "header. ";
  }
  if (!missing.empty()) {
    return ParseFailure(AuthError::kIncompleteSignature,
                        missing + "Authorization=" + std::string(value));
  }
  if (algorithm != kAlgorithm) {
    return ParseFailure(AuthError::kIncompleteSignature,
                        "Unsupported AWS 'algorithm': '" + std::string(algorithm) +
                            "'. Only AWS4-HMAC-SHA256 is supported.");
  }
  if (auto f = ParseCredential(*credential, auth)) return {std::nullopt, *f};
  auth.signed_headers = SplitSignedHeaders(*signed_headers);
  auth.signature = *signature;

  if (date_values.size() != 1) {
    return ParseFailure(AuthError::kIncompleteSignature,
                        "The request must carry exactly one X-Amz-Date (or Date) header.");
  }
  std::string_view date_text = Trim(date_values[0]);
  std::optional<int64_t> t = use_http_date ? ParseHttpDate(date_text) : ParseAmzDate(date_text);
  if (!t) {
    return ParseFailure(AuthError::kIncompleteSignature,
                        "Date must be in ISO-8601 'basic format'. Got '" + std::string(date_text) +
                            "'. See http://en.wikipedia.org/wiki/ISO_8601");
  }
  auth.request_time = *t;
  auth.amz_date = use_http_date ? FormatAmzDate(*t) : std::string(date_text);
  if (auto f = CheckScopeDate(auth)) return {std::nullopt, *f};
  if (auto f = CheckHostSigned(auth)) return {std::nullopt, *f};

  std::vector<std::string_view> tokens = HeaderValues(headers, "x-amz-security-token");
  if (tokens.size() > 1) {
    return ParseFailure(AuthError::kInvalidSessionToken, std::string(kInvalidTokenMessage));
  }
  if (!tokens.empty()) auth.security_token = std::string(Trim(tokens[0]));
  return {std::move(auth), {}};
}

ParseResult ParsePresignedQuery(const std::vector<QueryParam>& params,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
  ParsedAuth auth;
  auth.presigned = true;
  int count = 0;
  auto get = [&](std::string_view key, bool& duplicate) {
    const std::string* v = FindParam(params, key, &count);
    if (count > 1) duplicate = true;
    return v;
  };
  bool duplicate = false;
  const std::string* algorithm = get("X-Amz-Algorithm", duplicate);
  const std::string* credential = get("X-Amz-Credential", duplicate);
  const std::string* signature = get("X-Amz-Signature", duplicate);
  const std::string* date = get("X-Amz-Date", duplicate);
  const std::string* signed_headers = get("X-Amz-SignedHeaders", duplicate);
  const std::string* expires = get("X-Amz-Expires", duplicate);
  const std::string* token = get("X-Amz-Security-Token", duplicate);
  if (!algorithm || !credential || !signature || !date || !signed_headers || !expires) {
    return ParseFailure(AuthError::kIncompleteSignature,
                        "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                        "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                        "X-Amz-Expires parameters.");
  }
  if (duplicate) {
    return ParseFailure(AuthError::kIncompleteSignature,
                        "Query-string authentication parameters must not be repeated.");
  }
  if (*algorithm != kAlgorithm) {
    return ParseFailure(AuthError::kIncompleteSignature,
                        "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }
  if (auto f = ParseCredential(*credential, auth)) return {std::nullopt, *f};
  std::optional<int64_t> t = ParseAmzDate(*date);
  if (!t) {
    return ParseFailure(AuthError::kIncompleteSignature,
                        "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  }
  auth.request_time = *t;
  auth.amz_date = *date;
  int64_t expires_value = 0;
  auto [ptr, ec] = std::from_chars(expires->data(), expires->data() + expires->size(),
                                   expires_value);
  if (ec != std::errc() || ptr != expires->data() + expires->size()) {
    return ParseFailure(AuthError::kIncompleteSignature, "X-Amz-Expires should be a number");
  }
  if (expires_value < 1) {
    return ParseFailure(AuthError::kIncompleteSignature, "X-Amz-Expires must be positive");
  }
  if (expires_value > kMaxPresignExpires) {
    return ParseFailure(AuthError::kIncompleteSignature,
                        "X-Amz-Expires must be less than a week (in seconds) that is 604800");
  }
  auth.expires = expires_value;
  auth.signed_headers = SplitSignedHeaders(*signed_headers);
  auth.signature = *signature;
  if (auto f = CheckScopeDate(auth)) return {std::nullopt, *f};
  if (auto f = CheckHostSigned(auth)) return {std::nullopt, *f};
  std::vector<std::string_view> header_tokens = HeaderValues(headers, "x-amz-security-token");
  if (token) {
    auth.security_token = *token;
    if (!header_tokens.empty() && Trim(header_tokens[0]) != *token) {
      return ParseFailure(AuthError::kInvalidSessionToken, std::string(kInvalidTokenMessage));
    }
  } else if (!header_tokens.empty()) {
    auth.security_token = std::string(Trim(header_tokens[0]));
  }
  return {std::move(auth), {}};
}

ParseResult ParseRequest(const RequestToVerify& request, const std::vector<QueryParam>& params) {
  static const std::vector<std::pair<std::string, std::string>> kNoHeaders;
  const auto& headers = request.headers != nullptr ? *request.headers : kNoHeaders;
  std::vector<std::string_view> authorization = HeaderValues(headers, "authorization");
  int algorithm_count = 0;
  FindParam(params, "X-Amz-Algorithm", &algorithm_count);
  if (!authorization.empty() && algorithm_count > 0) {
    return ParseFailure(AuthError::kIncompleteSignature,
                        "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                        "parameter, Signature query string parameter or the Authorization header "
                        "should be specified");
  }
  ParseResult parsed;
  if (!authorization.empty()) {
    if (authorization.size() > 1) {
      return ParseFailure(AuthError::kIncompleteSignature,
                          "The request must carry exactly one Authorization header.");
    }
    parsed = ParseAuthorizationHeader(authorization[0], headers);
  } else if (algorithm_count > 0) {
    parsed = ParsePresignedQuery(params, headers);
  } else {
    return ParseFailure(AuthError::kMissingAuthentication, "Missing Authentication Token");
  }
  if (!parsed.first) return parsed;
  std::vector<std::string_view> sha = HeaderValues(headers, "x-amz-content-sha256");
  if (sha.size() > 1) {
    return ParseFailure(AuthError::kPayloadHashMismatch,
                        "The request must carry at most one x-amz-content-sha256 header.");
  }
  if (!sha.empty()) parsed.first->content_sha256 = std::string(Trim(sha[0]));
  return parsed;
}

// Payload hashes to try, most likely first. A signed x-amz-content-sha256 is
// the only candidate. Without it a header-signed request covers the body's
// hash; a presigned URL covers UNSIGNED-PAYLOAD (what SDKs presign for S3) or
// the body's hash (botocore's presigning for other services), so both are
// tried, the service's usual one first.
std::pair<std::vector<std::string>, std::optional<AuthFailure>> PayloadCandidates(
    const ParsedAuth& auth, const RequestToVerify& request, const VerifyOptions& options) {
  std::vector<std::string> out;
  if (auth.content_sha256) {
    const std::string& v = *auth.content_sha256;
    if (IsHexDigest(v)) {
      if (!EqualsIgnoreCase(v, request.body_sha256_hex)) {
        return {out, Fail(AuthError::kPayloadHashMismatch,
                          "The provided 'x-amz-content-sha256' header does not match what was "
                          "computed.")};
      }
    } else if (v != kUnsignedPayload && v.rfind("STREAMING-", 0) != 0) {
      return {out, Fail(AuthError::kPayloadHashMismatch,
                        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-* or a valid "
                        "sha256 value.")};
    }
    out.push_back(v);
  } else if (!auth.presigned) {
    out.emplace_back(request.body_sha256_hex);
  } else if (options.s3_style_path) {
    out.emplace_back(kUnsignedPayload);
    out.emplace_back(request.body_sha256_hex);
  } else {
    out.emplace_back(request.body_sha256_hex);
    out.emplace_back(kUnsignedPayload);
  }
  return {out, std::nullopt};
}

struct Attempt {
  std::string canonical_request;
  std::string string_to_sign;
  std::string payload_hash;
};

// The canonical requests Verify will accept a signature over, most likely
// first. A presigned URL may carry an X-Amz-Security-Token that was added
// after signing (AWS IoT style, the suite's post-sts-header-after case); it is
// still checked against the stored token, so leaving it out of the signed
// query does not let anyone act as someone else.
std::pair<std::vector<Attempt>, std::optional<AuthFailure>> BuildAttempts(
    const ParsedAuth& auth, const RequestToVerify& request, const VerifyOptions& options) {
  static const std::vector<std::pair<std::string, std::string>> kNoHeaders;
  const auto& headers = request.headers != nullptr ? *request.headers : kNoHeaders;
  std::vector<Attempt> attempts;
  auto [payloads, payload_failure] = PayloadCandidates(auth, request, options);
  if (payload_failure) return {attempts, payload_failure};
  std::optional<std::string> canonical_headers = CanonicalHeaders(auth.signed_headers, headers);
  if (!canonical_headers) {
    return {attempts, Fail(AuthError::kSignatureMismatch, std::string(kSignatureMismatchMessage))};
  }
  std::string uri = CanonicalUri(request.path, options.s3_style_path);
  std::string signed_list = JoinSignedHeaders(auth.signed_headers);
  std::string scope = Scope(auth.date, auth.region, auth.service);
  std::vector<std::string> queries = {CanonicalQuery(request.query, auth.presigned, false)};
  if (auth.presigned && auth.security_token) {
    queries.push_back(CanonicalQuery(request.query, true, true));
  }
  for (const auto& query : queries) {
    for (const auto& payload : payloads) {
      Attempt a;
      a.canonical_request = BuildCanonicalRequest(request.method, uri, query, *canonical_headers,
                                                  signed_list, payload);
      a.string_to_sign = BuildStringToSign(auth.amz_date, scope, a.canonical_request);
      a.payload_hash = payload;
      attempts.push_back(std::move(a));
    }
  }
  return {attempts, std::nullopt};
}

std::optional<AuthFailure> CheckTime(const ParsedAuth& auth, const VerifyOptions& options) {
  const int64_t now = options.now_seconds;
  const int64_t skew = options.max_skew_seconds;
  if (auth.presigned) {
    if (auth.request_time - skew > now) {
      return Fail(AuthError::kRequestExpired, "Request is not valid yet");
    }
    if (now > auth.request_time + auth.expires) {
      return Fail(AuthError::kRequestExpired, "Request has expired");
    }
    return std::nullopt;
  }
  if (auth.request_time < now - skew) {
    return Fail(AuthError::kRequestExpired,
                "Signature expired: " + auth.amz_date + " is now earlier than " +
                    FormatAmzDate(now - skew) + " (" + FormatAmzDate(now) + " - " +
                    SkewText(skew) + ")");
  }
  if (auth.request_time > now + skew) {
    return Fail(AuthError::kRequestExpired,
                "Signature not yet current: " + auth.amz_date + " is still later than " +
                    FormatAmzDate(now + skew) + " (" + FormatAmzDate(now) + " + " +
                    SkewText(skew) + ")");
  }
  return std::nullopt;
}

std::optional<AuthFailure> CheckSessionToken(const ParsedAuth& auth,
                                             const Credentials& credentials) {
  const bool sent = auth.security_token.has_value();
  const bool stored = !credentials.session_token.empty();
  if (!sent && !stored) return std::nullopt;
  if (sent && stored && ConstantTimeEquals(*auth.security_token, credentials.session_token)) {
    return std::nullopt;
  }
  return Fail(AuthError::kInvalidSessionToken, std::string(kInvalidTokenMessage));
}

bool IsUnsignedHeader(std::string_view lower_name) {
  return std::find(std::begin(kUnsignedHeaders), std::end(kUnsignedHeaders), lower_name) !=
         std::end(kUnsignedHeaders);
}

std::vector<std::string> HeadersToSign(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::string> names;
  for (const auto& [name, value] : headers) {
    std::string lower = ToLower(Trim(name));
    if (!IsUnsignedHeader(lower)) names.push_back(std::move(lower));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

void EraseHeader(std::vector<std::pair<std::string, std::string>>& headers,
                 std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return EqualsIgnoreCase(h.first, name); });
}

}  // namespace

std::string UriEncode(std::string_view in, bool keep_slash) {
  std::string out;
  out.reserve(in.size() + in.size() / 2);
  for (unsigned char c : in) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 0xf];
    }
  }
  return out;
}

std::string PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += in[i];
  }
  return out;
}

std::string CanonicalUri(std::string_view wire_path, bool s3_style_path) {
  if (wire_path.empty()) return "/";
  if (!s3_style_path) return UriEncode(RemoveDotSegments(wire_path), /*keep_slash=*/true);
  std::string out;
  out.reserve(wire_path.size() + 8);
  size_t start = 0;
  while (true) {
    size_t end = wire_path.find('/', start);
    std::string_view seg = wire_path.substr(start, end - start);
    out += UriEncode(PercentDecode(seg), /*keep_slash=*/false);
    if (end == std::string_view::npos) break;
    out += '/';
    start = end + 1;
  }
  return out;
}

std::string CanonicalQuery(std::string_view wire_query, bool presigned, bool drop_security_token) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (auto& p : ParseQuery(wire_query)) {
    if (presigned && p.key == "X-Amz-Signature") continue;
    if (drop_security_token && p.key == "X-Amz-Security-Token") continue;
    pairs.emplace_back(UriEncode(p.key, false), UriEncode(p.value, false));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out += '&';
    out.append(k).append("=").append(v);
  }
  return out;
}

std::string TrimAll(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : Trim(value)) {
    if (IsSpace(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::optional<std::string> CanonicalHeaders(
    const std::vector<std::string>& signed_header_names,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out;
  for (const std::string& name : signed_header_names) {
    bool found = false;
    out.append(name).append(":");
    for (const auto& [k, v] : headers) {
      if (!EqualsIgnoreCase(Trim(k), name)) continue;
      if (found) out += ',';
      out += TrimAll(v);
      found = true;
    }
    if (!found) return std::nullopt;
    out += '\n';
  }
  return out;
}

std::string BuildCanonicalRequest(std::string_view method, std::string_view canonical_uri,
                                  std::string_view canonical_query,
                                  std::string_view canonical_headers,
                                  std::string_view signed_headers, std::string_view payload_hash) {
  std::string out;
  out.reserve(method.size() + canonical_uri.size() + canonical_query.size() +
              canonical_headers.size() + signed_headers.size() + payload_hash.size() + 8);
  out.append(method).append("\n");
  out.append(canonical_uri).append("\n");
  out.append(canonical_query).append("\n");
  out.append(canonical_headers).append("\n");
  out.append(signed_headers).append("\n");
  out.append(payload_hash);
  return out;
}

std::string BuildStringToSign(std::string_view amz_date, std::string_view scope,
                              std::string_view canonical_request) {
  std::string out;
  out.reserve(kAlgorithm.size() + amz_date.size() + scope.size() + 67);
  out.append(kAlgorithm).append("\n").append(amz_date).append("\n").append(scope).append("\n");
  out += Sha256Hex(canonical_request);
  return out;
}

Digest SigningKey(std::string_view secret, std::string_view date, std::string_view region,
                  std::string_view service) {
  std::string cache_key;
  cache_key.reserve(secret.size() + date.size() + region.size() + service.size() + 3);
  cache_key.append(secret).append(1, '\0').append(date).append(1, '\0').append(region).append(
      1, '\0').append(service);
  Digest key{};
  if (KeyCache().Get(cache_key, key)) return key;
  std::string seed = "AWS4";
  seed.append(secret);
  Digest k_date{}, k_region{}, k_service{};
  bool ok = HmacSha256(seed, date, k_date) && HmacSha256(AsView(k_date), region, k_region) &&
            HmacSha256(AsView(k_region), service, k_service) &&
            HmacSha256(AsView(k_service), "aws4_request", key);
  OPENSSL_cleanse(seed.data(), seed.size());
  if (!ok) return Digest{};  // never cached; signatures made with it never verify
  KeyCache().Put(std::move(cache_key), key);
  return key;
}

std::string SignatureHex(const Digest& signing_key, std::string_view string_to_sign) {
  Digest mac{};
  if (!HmacSha256(AsView(signing_key), string_to_sign, mac)) return std::string();
  return HexEncode(mac.data(), mac.size());
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string FormatAmzDate(int64_t unix_seconds) {
  using namespace std::chrono;
  sys_seconds tp{seconds{unix_seconds}};
  sys_days day = floor<days>(tp);
  year_month_day ymd{day};
  int64_t secs = (tp - day).count();
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60));
  return buf;
}

namespace {

bool ParseDigits(std::string_view s, int& out) {
  if (s.empty()) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

std::optional<int64_t> ToUnix(int y, int mo, int d, int h, int mi, int s) {
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
  return sys_days{ymd}.time_since_epoch().count() * 86400LL + h * 3600 + mi * 60 + s;
}

}  // namespace

std::optional<int64_t> ParseAmzDate(std::string_view t) {
  if (t.size() != 16 || t[8] != 'T' || t[15] != 'Z') return std::nullopt;
  int y, mo, d, h, mi, s;
  if (!ParseDigits(t.substr(0, 4), y) || !ParseDigits(t.substr(4, 2), mo) ||
      !ParseDigits(t.substr(6, 2), d) || !ParseDigits(t.substr(9, 2), h) ||
      !ParseDigits(t.substr(11, 2), mi) || !ParseDigits(t.substr(13, 2), s)) {
    return std::nullopt;
  }
  return ToUnix(y, mo, d, h, mi, s);
}

std::optional<int64_t> ParseHttpDate(std::string_view t) {
  // "Sun, 30 Aug 2015 12:36:00 GMT"
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (t.size() != 29 || t.substr(3, 2) != ", " || t[7] != ' ' || t[11] != ' ' || t[16] != ' ' ||
      t[19] != ':' || t[22] != ':' || t.substr(25) != " GMT") {
    return std::nullopt;
  }
  int d, y, h, mi, s;
  if (!ParseDigits(t.substr(5, 2), d) || !ParseDigits(t.substr(12, 4), y) ||
      !ParseDigits(t.substr(17, 2), h) || !ParseDigits(t.substr(20, 2), mi) ||
      !ParseDigits(t.substr(23, 2), s)) {
    return std::nullopt;
  }
  std::string_view mon = t.substr(8, 3);
  auto it = std::find(std::begin(kMonths), std::end(kMonths), mon);
  if (it == std::end(kMonths)) return std::nullopt;
  return ToUnix(y, static_cast<int>(it - std::begin(kMonths)) + 1, d, h, mi, s);
}

std::vector<SigningTrace> TraceVerify(const RequestToVerify& request,
                                      const Credentials& credentials,
                                      const VerifyOptions& options) {
  std::vector<SigningTrace> traces;
  std::vector<QueryParam> params = ParseQuery(request.query);
  auto [auth, failure] = ParseRequest(request, params);
  if (!auth) return traces;
  auto [attempts, attempt_failure] = BuildAttempts(*auth, request, options);
  if (attempt_failure) return traces;
  Digest key = SigningKey(credentials.secret_access_key, auth->date, auth->region, auth->service);
  for (Attempt& a : attempts) {
    SigningTrace trace;
    trace.signature = SignatureHex(key, a.string_to_sign);
    trace.canonical_request = std::move(a.canonical_request);
    trace.string_to_sign = std::move(a.string_to_sign);
    traces.push_back(std::move(trace));
  }
  return traces;
}

}  // namespace internal

std::pair<std::optional<VerifiedRequest>, AuthFailure> Verify(const RequestToVerify& request,
                                                              const CredentialStore& store,
                                                              const VerifyOptions& options) {
  using namespace internal;
  std::vector<QueryParam> params = ParseQuery(request.query);
  auto [auth, failure] = ParseRequest(request, params);
  if (!auth) return {std::nullopt, failure};
  if (auto f = CheckTime(*auth, options)) return {std::nullopt, *f};

  std::optional<Credentials> credentials = store.Lookup(auth->access_key_id);
  if (!credentials) {
    return {std::nullopt,
            Fail(AuthError::kUnknownAccessKey, std::string(options.s3_style_path
                                                               ? kUnknownS3KeyMessage
                                                               : kInvalidTokenMessage))};
  }
  if (auto f = CheckSessionToken(*auth, *credentials)) return {std::nullopt, *f};

  auto [attempts, attempt_failure] = BuildAttempts(*auth, request, options);
  if (attempt_failure) return {std::nullopt, *attempt_failure};

  Digest key =
      SigningKey(credentials->secret_access_key, auth->date, auth->region, auth->service);
  for (const Attempt& attempt : attempts) {
    std::string expected = SignatureHex(key, attempt.string_to_sign);
    if (expected.empty() || !ConstantTimeEquals(expected, auth->signature)) continue;
    VerifiedRequest verified;
    verified.credentials = std::move(*credentials);
    verified.region = std::move(auth->region);
    verified.service = std::move(auth->service);
    verified.date = std::move(auth->date);
    verified.request_time = auth->request_time;
    verified.signature = std::move(expected);
    verified.payload_hash = attempt.payload_hash;
    verified.presigned = auth->presigned;
    return {std::move(verified), {}};
  }
  return {std::nullopt,
          Fail(AuthError::kSignatureMismatch, std::string(kSignatureMismatchMessage))};
}

void Sign(std::string_view method, std::string_view path, std::string_view query,
          std::vector<std::pair<std::string, std::string>>& headers, std::string_view body,
          const Credentials& credentials, const SignOptions& options) {
  using namespace internal;
  const std::string amz_date = FormatAmzDate(options.now_seconds);
  const std::string date = amz_date.substr(0, 8);
  EraseHeader(headers, "authorization");
  EraseHeader(headers, "x-amz-date");
  headers.emplace_back("X-Amz-Date", amz_date);
  if (!credentials.session_token.empty()) {
    EraseHeader(headers, "x-amz-security-token");
    headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  if (options.add_content_sha256_header) {
    EraseHeader(headers, "x-amz-content-sha256");
    headers.emplace_back("X-Amz-Content-SHA256", Sha256Hex(body));
  }
  std::vector<std::string_view> sha = HeaderValues(headers, "x-amz-content-sha256");
  const std::string payload = sha.empty() ? Sha256Hex(body) : std::string(Trim(sha[0]));

  std::vector<std::string> names = HeadersToSign(headers);
  std::string signed_list = JoinSignedHeaders(names);
  std::string canonical_headers = CanonicalHeaders(names, headers).value_or(std::string());
  std::string canonical_request = BuildCanonicalRequest(
      method, CanonicalUri(path, options.s3_style_path), CanonicalQuery(query, false, false),
      canonical_headers, signed_list, payload);
  std::string scope = Scope(date, options.region, options.service);
  std::string signature =
      SignatureHex(SigningKey(credentials.secret_access_key, date, options.region, options.service),
                   BuildStringToSign(amz_date, scope, canonical_request));
  std::string authorization = "AWS4-HMAC-SHA256 Credential=";
  authorization.append(credentials.access_key_id).append("/").append(scope);
  authorization.append(", SignedHeaders=").append(signed_list);
  authorization.append(", Signature=").append(signature);
  headers.emplace_back("Authorization", std::move(authorization));
}

std::string Presign(std::string_view method, std::string_view path, std::string_view query,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    std::string_view body, const Credentials& credentials,
                    const PresignOptions& options) {
  using namespace internal;
  const std::string amz_date = FormatAmzDate(options.now_seconds);
  const std::string date = amz_date.substr(0, 8);
  std::string scope = Scope(date, options.region, options.service);
  std::vector<std::string> names = HeadersToSign(headers);
  std::string signed_list = JoinSignedHeaders(names);

  std::string auth_query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=";
  auth_query += UriEncode(credentials.access_key_id + "/" + scope, false);
  auth_query.append("&X-Amz-Date=").append(amz_date);
  auth_query.append("&X-Amz-Expires=").append(std::to_string(options.expires_seconds));
  auth_query.append("&X-Amz-SignedHeaders=").append(UriEncode(signed_list, false));
  if (!credentials.session_token.empty()) {
    auth_query.append("&X-Amz-Security-Token=")
        .append(UriEncode(credentials.session_token, false));
  }
  std::string full_query(query);
  if (!full_query.empty()) full_query += '&';
  full_query += auth_query;

  std::string payload;
  std::vector<std::string_view> sha = HeaderValues(headers, "x-amz-content-sha256");
  if (options.s3_style_path) {
    payload = std::string(kUnsignedPayload);
  } else if (!sha.empty()) {
    payload = std::string(Trim(sha[0]));
  } else {
    payload = Sha256Hex(body);
  }
  std::string canonical_request = BuildCanonicalRequest(
      method, CanonicalUri(path, options.s3_style_path), CanonicalQuery(full_query, true, false),
      CanonicalHeaders(names, headers).value_or(std::string()), signed_list, payload);
  std::string signature =
      SignatureHex(SigningKey(credentials.secret_access_key, date, options.region, options.service),
                   BuildStringToSign(amz_date, scope, canonical_request));
  full_query.append("&X-Amz-Signature=").append(signature);
  return full_query;
}

std::string Sha256Hex(std::string_view data) {
  internal::Digest d{};
  if (!internal::Sha256(data, d)) return std::string();
  return internal::HexEncode(d.data(), d.size());
}

}  // namespace muon::auth
