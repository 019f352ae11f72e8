// aws-chunked payloads (Content-Encoding: aws-chunked), the body form S3
// clients use for streaming uploads. The x-amz-content-sha256 value names the
// variant:
//   STREAMING-AWS4-HMAC-SHA256-PAYLOAD          signed chunks
//   STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER  signed chunks + signed trailer
//   STREAMING-UNSIGNED-PAYLOAD-TRAILER          plain chunks + trailer
// Layout (CRLF line ends):
//   chunk   = hex-size [";chunk-signature=" 64hex] CRLF data CRLF
//   last    = "0" [";chunk-signature=" 64hex] CRLF
//   trailer = *(name ":" value CRLF) ["x-amz-trailer-signature:" 64hex CRLF]
//   CRLF
// Chunk signature i = HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\n" date-time
// "\n" scope "\n" previous signature "\n" SHA256("") "\n" SHA256(chunk data)),
// seeded with the request's own signature; the trailer signature is
// HMAC(signing key, "AWS4-HMAC-SHA256-TRAILER\n" date-time "\n" scope "\n"
// last chunk signature "\n" SHA256(trailer lines)).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/sigv4.h"
#include "base/status.h"

namespace muon::auth {

inline constexpr std::string_view kStreamingSigned = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr std::string_view kStreamingSignedTrailer =
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
inline constexpr std::string_view kStreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

// True for the three STREAMING-* payload hashes above.
bool IsAwsChunked(std::string_view payload_hash);

struct ChunkedPayload {
  std::string data;
  // Trailer fields in order, names lower-cased (e.g. "x-amz-checksum-crc32"),
  // without the trailer signature.
  std::vector<std::pair<std::string, std::string>> trailers;
};

// Decodes `body` sent with `verified.payload_hash` (one of the STREAMING-*
// values). Verifies every chunk signature and the trailer signature for the
// signed forms, and the decoded size against x-amz-decoded-content-length when
// given. Errors: Unauthenticated when a signature does not match (the S3 edge
// answers SignatureDoesNotMatch), InvalidArgument for a malformed body or a
// wrong decoded length (IncompleteBody / InvalidRequest). Nothing partial is
// returned on error.
Result<ChunkedPayload> DecodeAwsChunked(std::string_view body, const VerifiedRequest& verified,
                                        std::optional<uint64_t> decoded_content_length);

// Encodes `data` as a signed aws-chunked body (for tests and clients),
// given the seed signature of the request that carries it.
std::string EncodeAwsChunkedForTest(std::string_view data, size_t chunk_size,
                                    const VerifiedRequest& seed,
                                    const std::vector<std::pair<std::string, std::string>>&
                                        trailers = {});

}  // namespace muon::auth
