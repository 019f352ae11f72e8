// Standard base64 (RFC 4648 section 4, with padding), as AWS JSON protocols use
// for blobs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace muon {

std::string Base64Encode(std::string_view data);
// Appends the encoding of data to *out.
void Base64EncodeAppend(std::string_view data, std::string* out);
// Strict decode: padded, no whitespace. nullopt on any invalid input.
std::optional<std::string> Base64Decode(std::string_view text);
// Decodes into *out (replacing its contents); false on invalid input.
bool Base64DecodeInto(std::string_view text, std::string* out);
// Appends the decoding to *out; on invalid input returns false and leaves *out
// as it was.
bool Base64DecodeAppend(std::string_view text, std::string* out);
// URL-safe alphabet without padding (RFC 4648 section 5), for opaque tokens.
std::string Base64UrlEncode(std::string_view data);
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace muon
