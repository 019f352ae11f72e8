// AWS Signature Version 4: verification of incoming requests (Authorization
// header and presigned query string) and signing of outgoing ones.
// Spec: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace muon::auth {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
};

// Looks up the secret for an access key id. Implementations must be thread-safe.
class CredentialStore {
 public:
  virtual ~CredentialStore() = default;
  // nullopt: the key is unknown (or disabled).
  virtual std::optional<Credentials> Lookup(std::string_view access_key_id) const = 0;
};

// Why verification failed; each API edge maps these to its protocol's names
// (Kinesis JSON __type, S3 XML Code).
enum class AuthError {
  kMissingAuthentication,  // no Authorization header and no presigned query
  kIncompleteSignature,    // malformed Authorization / credential scope / missing X-Amz-Date
  kUnknownAccessKey,       // access key id not in the store
  kSignatureMismatch,      // computed signature differs
  kRequestExpired,         // X-Amz-Date outside +-15 minutes, or presigned URL expired
  kInvalidSessionToken,    // session token missing or not matching the key
  kExpiredToken,           // temporary credentials past their expiration (never from Verify)
  kPayloadHashMismatch,    // x-amz-content-sha256 differs from the body's hash
  kWrongScope,             // credential scope names another service or region
};

struct AuthFailure {
  AuthError error;
  std::string message;  // human-readable, safe to return to the client
};

// A request as the verifier sees it.
struct RequestToVerify {
  std::string_view method;
  std::string_view path;   // percent-encoded, as received
  std::string_view query;  // percent-encoded, as received, without '?'
  const std::vector<std::pair<std::string, std::string>>* headers = nullptr;  // names as sent
  // Hex SHA-256 of the body as received. The verifier uses x-amz-content-sha256
  // when the request carries it (UNSIGNED-PAYLOAD, STREAMING-...) and checks it
  // against this hash when it is a plain hex digest.
  std::string_view body_sha256_hex;
};

struct VerifiedRequest {
  Credentials credentials;   // of the signer
  std::string region;        // from the credential scope
  std::string service;       // from the credential scope
  std::string date;          // YYYYMMDD of the scope
  int64_t request_time = 0;  // Unix seconds of X-Amz-Date
  std::string signature;     // hex (seed for aws-chunked chunk signatures)
  std::string payload_hash;  // the signed x-amz-content-sha256 value (or body hash)
  bool presigned = false;
};

struct VerifyOptions {
  int64_t now_seconds = 0;          // Unix seconds
  int64_t max_skew_seconds = 900;   // 15 minutes
  // S3 does not normalise paths and encodes them once; every other service
  // normalises ("/a/./b/../c" -> "/a/c") and encodes twice.
  bool s3_style_path = false;
};

// Verifies a request. On success returns who signed it.
std::pair<std::optional<VerifiedRequest>, AuthFailure> Verify(const RequestToVerify& request,
                                                              const CredentialStore& store,
                                                              const VerifyOptions& options);

// Signs an outgoing request: adds X-Amz-Date, (X-Amz-Security-Token,)
// X-Amz-Content-Sha256 when asked, and Authorization to `headers`. `headers`
// must already hold Host. `now_seconds` is Unix time.
struct SignOptions {
  std::string region;
  std::string service;
  int64_t now_seconds = 0;
  bool add_content_sha256_header = false;
  bool s3_style_path = false;
};
void Sign(std::string_view method, std::string_view path, std::string_view query,
          std::vector<std::pair<std::string, std::string>>& headers, std::string_view body,
          const Credentials& credentials, const SignOptions& options);

// Presigns a request the way botocore's generate_presigned_url does and returns
// the query string to send (without '?'): `query` as given, then X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
// (X-Amz-Security-Token,) X-Amz-Signature. Every header in `headers` except
// hop-by-hop ones and User-Agent is signed; `headers` must hold Host. The payload
// hash is UNSIGNED-PAYLOAD for S3 and the body's SHA-256 otherwise (as botocore).
struct PresignOptions {
  std::string region;
  std::string service;
  int64_t now_seconds = 0;
  int64_t expires_seconds = 3600;  // 1..604800
  bool s3_style_path = false;
};
std::string Presign(std::string_view method, std::string_view path, std::string_view query,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    std::string_view body, const Credentials& credentials,
                    const PresignOptions& options);

// Lower-case hex SHA-256 of data.
std::string Sha256Hex(std::string_view data);

}  // namespace muon::auth
