// SigV4 building blocks shared by Verify, Sign and Presign. Private to
// src/auth (and its tests); other components use sigv4.h only.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/sigv4.h"

namespace muon::auth::internal {

using Digest = std::array<unsigned char, 32>;

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr int64_t kMaxPresignExpires = 604800;  // one week

// Percent-encodes every byte outside A-Za-z0-9-._~ as %XX (upper-case hex);
// '/' is kept when keep_slash.
std::string UriEncode(std::string_view in, bool keep_slash);
// Decodes %XX; anything else (including '+' and a malformed '%') is kept as is.
std::string PercentDecode(std::string_view in);

// Canonical URI from the path as received. S3: each segment decoded and
// re-encoded once, no normalisation ("%2F" inside a key survives). Others: dot
// segments and empty segments removed (botocore's remove_dot_segments), then the
// wire form encoded again, so "%20" on the wire becomes "%2520".
std::string CanonicalUri(std::string_view wire_path, bool s3_style_path);

// Canonical query from the query as received: every key and value decoded and
// re-encoded, sorted by key then value, "k=" for empty values. For presigned
// requests X-Amz-Signature is left out, and X-Amz-Security-Token too when
// drop_security_token.
std::string CanonicalQuery(std::string_view wire_query, bool presigned, bool drop_security_token);

// Header value as signed: trimmed, every run of whitespace (including the line
// breaks of folded headers) replaced by one space.
std::string TrimAll(std::string_view value);

// "host;x-amz-date" -> canonical header block ("host:...\nx-amz-date:...\n")
// from `headers` (repeated headers joined with ','). nullopt if a signed header
// is absent from the request.
std::optional<std::string> CanonicalHeaders(
    const std::vector<std::string>& signed_header_names,
    const std::vector<std::pair<std::string, std::string>>& headers);

std::string BuildCanonicalRequest(std::string_view method, std::string_view canonical_uri,
                                  std::string_view canonical_query,
                                  std::string_view canonical_headers,
                                  std::string_view signed_headers, std::string_view payload_hash);
std::string BuildStringToSign(std::string_view amz_date, std::string_view scope,
                              std::string_view canonical_request);

// Derived key for secret+date+region+service, from a bounded thread-safe cache.
Digest SigningKey(std::string_view secret, std::string_view date, std::string_view region,
                  std::string_view service);
// Lower-case hex HMAC-SHA256(signing_key, string_to_sign).
std::string SignatureHex(const Digest& signing_key, std::string_view string_to_sign);

// Compares in time that depends only on the lengths (CRYPTO_memcmp).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// "20150830T123600Z" <-> Unix seconds.
std::string FormatAmzDate(int64_t unix_seconds);
std::optional<int64_t> ParseAmzDate(std::string_view text);
// RFC 7231 IMF-fixdate: "Sun, 30 Aug 2015 12:36:00 GMT".
std::optional<int64_t> ParseHttpDate(std::string_view text);

// What Verify computes for `request` signed by `credentials` (no lookup, no
// time or token checks), one entry per canonical request it would accept, most
// likely first; empty if the request cannot be parsed. For tests and debugging.
struct SigningTrace {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
};
std::vector<SigningTrace> TraceVerify(const RequestToVerify& request,
                                      const Credentials& credentials,
                                      const VerifyOptions& options);

}  // namespace muon::auth::internal
