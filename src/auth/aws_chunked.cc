#include "auth/aws_chunked.h"

#include <charconv>

#include "auth/sigv4_internal.h"

namespace muon::auth {
namespace {

using internal::Digest;

// SHA-256 of the empty string, the constant third line of a chunk's string to sign.
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kChunkSignatureKey = ";chunk-signature=";
constexpr std::string_view kTrailerSignatureName = "x-amz-trailer-signature";
// A chunk-size line longer than this is garbage, not a size.
constexpr size_t kMaxChunkHeader = 4096;

struct Signer {
  Digest key;
  std::string amz_date;
  std::string scope;

  explicit Signer(const VerifiedRequest& v)
      : key(internal::SigningKey(v.credentials.secret_access_key, v.date, v.region, v.service)),
        amz_date(internal::FormatAmzDate(v.request_time)),
        scope(v.date + "/" + v.region + "/" + v.service + "/aws4_request") {}

  std::string Chunk(std::string_view previous, std::string_view data) const {
    std::string sts;
    sts.reserve(256);
    sts.append("AWS4-HMAC-SHA256-PAYLOAD\n").append(amz_date).append("\n").append(scope);
    sts.append("\n").append(previous).append("\n").append(kEmptySha256).append("\n");
    sts.append(Sha256Hex(data));
    return internal::SignatureHex(key, sts);
  }
  std::string Trailer(std::string_view previous, std::string_view trailer_lines) const {
    std::string sts;
    sts.append("AWS4-HMAC-SHA256-TRAILER\n").append(amz_date).append("\n").append(scope);
    sts.append("\n").append(previous).append("\n").append(Sha256Hex(trailer_lines));
    return internal::SignatureHex(key, sts);
  }
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Reads one CRLF-terminated line at *pos; advances past the CRLF.
std::optional<std::string_view> ReadLine(std::string_view body, size_t* pos, size_t limit) {
  const size_t end = body.find("\r\n", *pos);
  if (end == std::string_view::npos || end - *pos > limit) return std::nullopt;
  std::string_view line = body.substr(*pos, end - *pos);
  *pos = end + 2;
  return line;
}

}  // namespace

bool IsAwsChunked(std::string_view payload_hash) {
  return payload_hash == kStreamingSigned || payload_hash == kStreamingSignedTrailer ||
         payload_hash == kStreamingUnsignedTrailer;
}

Result<ChunkedPayload> DecodeAwsChunked(std::string_view body, const VerifiedRequest& verified,
                                        std::optional<uint64_t> decoded_content_length) {
  const std::string_view mode = verified.payload_hash;
  if (!IsAwsChunked(mode)) {
    return Status::InvalidArgument("x-amz-content-sha256 '" + std::string(mode) +
                                   "' is not an aws-chunked payload");
  }
  const bool signed_chunks = mode != kStreamingUnsignedTrailer;
  const bool has_trailer = mode != kStreamingSigned;
  std::optional<Signer> signer;
  if (signed_chunks) signer.emplace(verified);
  std::string previous = verified.signature;

  ChunkedPayload out;
  if (decoded_content_length) out.data.reserve(*decoded_content_length);
  size_t pos = 0;
  while (true) {
    auto header = ReadLine(body, &pos, kMaxChunkHeader);
    if (!header) return Status::InvalidArgument("aws-chunked body: chunk header missing or too long");
    std::string_view size_text = *header;
    std::string_view signature;
    if (const size_t semi = header->find(';'); semi != std::string_view::npos) {
      size_text = header->substr(0, semi);
      std::string_view ext = header->substr(semi);
      if (ext.substr(0, kChunkSignatureKey.size()) != kChunkSignatureKey) {
        return Status::InvalidArgument("aws-chunked body: unknown chunk extension");
      }
      signature = ext.substr(kChunkSignatureKey.size());
    }
    uint64_t size = 0;
    auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (ec != std::errc() || p != size_text.data() + size_text.size() || size_text.empty()) {
      return Status::InvalidArgument("aws-chunked body: bad chunk size '" +
                                     std::string(size_text.substr(0, 32)) + "'");
    }
    if (size > body.size() - pos) {
      return Status::InvalidArgument("aws-chunked body: chunk runs past the end of the body");
    }
    const std::string_view data = body.substr(pos, size);
    pos += size;
    if (signed_chunks) {
      if (signature.empty()) return Status::Unauthenticated("aws-chunked body: chunk signature missing");
      const std::string expected = signer->Chunk(previous, data);
      if (!internal::ConstantTimeEquals(expected, signature)) {
        return Status::Unauthenticated("The chunk signature we calculated does not match the one sent");
      }
      previous = expected;
    } else if (!signature.empty()) {
      return Status::InvalidArgument("aws-chunked body: chunk signature on an unsigned payload");
    }
    if (size == 0) break;
    out.data.append(data);
    if (body.substr(pos, 2) != "\r\n") {
      return Status::InvalidArgument("aws-chunked body: chunk data not followed by CRLF");
    }
    pos += 2;
  }

  // After the last chunk: CRLF (no trailer), or trailer lines then CRLF.
  std::string_view trailer_signature;
  while (true) {
    auto line = ReadLine(body, &pos, 64 * 1024);
    if (!line) {
      // Some clients end the body right after the last trailer line.
      if (pos == body.size() && has_trailer) break;
      return Status::InvalidArgument("aws-chunked body: trailer not terminated");
    }
    if (line->empty()) break;
    const size_t colon = line->find(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("aws-chunked body: malformed trailer line");
    }
    std::string name = Lower(Trim(line->substr(0, colon)));
    std::string_view value = Trim(line->substr(colon + 1));
    if (name == kTrailerSignatureName) {
      trailer_signature = value;
      continue;
    }
    if (!has_trailer) return Status::InvalidArgument("aws-chunked body: trailer on a payload without one");
    if (!trailer_signature.empty()) {
      return Status::InvalidArgument("aws-chunked body: trailer field after its signature");
    }
    out.trailers.emplace_back(std::move(name), std::string(value));
  }
  if (pos != body.size()) return Status::InvalidArgument("aws-chunked body: bytes after the end");
  if (signed_chunks && has_trailer) {
    if (trailer_signature.empty()) {
      return Status::Unauthenticated("aws-chunked body: trailer signature missing");
    }
    // The trailer lines as sent, each ending "\n" (the signer hashes
    // "name:value\n" lines).
    std::string lines;
    for (const auto& [name, value] : out.trailers) lines.append(name).append(":").append(value).append("\n");
    const std::string expected = signer->Trailer(previous, lines);
    if (!internal::ConstantTimeEquals(expected, trailer_signature)) {
      return Status::Unauthenticated("The trailer signature we calculated does not match the one sent");
    }
  }
  if (decoded_content_length && *decoded_content_length != out.data.size()) {
    return Status::InvalidArgument("aws-chunked body: " + std::to_string(out.data.size()) +
                                   " bytes decoded, x-amz-decoded-content-length says " +
                                   std::to_string(*decoded_content_length));
  }
  return out;
}

std::string EncodeAwsChunkedForTest(std::string_view data, size_t chunk_size,
                                    const VerifiedRequest& seed,
                                    const std::vector<std::pair<std::string, std::string>>& trailers) {
  const bool signed_chunks = seed.payload_hash != kStreamingUnsignedTrailer;
  std::optional<Signer> signer;
  if (signed_chunks) signer.emplace(seed);
  std::string previous = seed.signature;
  std::string out;
  char hex[32];
  auto emit = [&](std::string_view chunk) {
    auto [end, ec] = std::to_chars(hex, hex + sizeof(hex), chunk.size(), 16);
    out.append(hex, end);
    if (signed_chunks) {
      previous = signer->Chunk(previous, chunk);
      out.append(kChunkSignatureKey).append(previous);
    }
    out.append("\r\n").append(chunk);
    if (!chunk.empty()) out.append("\r\n");
  };
  for (size_t i = 0; i < data.size(); i += chunk_size) emit(data.substr(i, chunk_size));
  emit("");
  out.append("\r\n");
  if (!trailers.empty()) {
    out.resize(out.size() - 2);
    std::string lines;
    for (const auto& [name, value] : trailers) {
      lines.append(name).append(":").append(value).append("\n");
      out.append(name).append(":").append(value).append("\r\n");
    }
    if (signed_chunks) {
      out.append(kTrailerSignatureName).append(":").append(signer->Trailer(previous, lines));
      out.append("\r\n");
    }
    out.append("\r\n");
  }
  return out;
}

}  // namespace muon::auth
