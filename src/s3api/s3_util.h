// Pieces of the S3 wire format that need no server: percent-coding, dates,
// Range headers, request addressing (path-style and virtual-host style) and
// listing with a delimiter.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "objectstore/object_store.h"

namespace muon::s3api {

// %XX decoding; '+' becomes a space when plus_as_space (query strings).
std::string UrlDecode(std::string_view s, bool plus_as_space);
// S3's encoding-type=url: every byte except unreserved characters (and '/'
// when keep_slash) as %XX.
std::string UrlEncode(std::string_view s, bool keep_slash);

// Query parameters, decoded; a name without '=' maps to "".
std::map<std::string, std::string> ParseQuery(std::string_view query);

// "Sat, 28 Nov 2026 01:59:36 GMT" (RFC 7231).
std::string HttpDate(int64_t unix_ms);
// "2026-11-28T01:59:36.000Z" (ISO 8601, as S3 XML carries times).
std::string IsoTime(int64_t unix_ms);
// Unix seconds from an RFC 7231 date (also RFC 850 and asctime forms, and ISO 8601).
std::optional<int64_t> ParseHttpDate(std::string_view s);

// A Range header against an object of `size` bytes.
struct RangeSpec {
  enum Kind { kNone, kSatisfiable, kUnsatisfiable } kind = kNone;
  uint64_t first = 0, last = 0;  // inclusive, when kSatisfiable
};
// "bytes=a-b", "bytes=a-", "bytes=-n". Anything S3 ignores (other units,
// several ranges, malformed) is kNone: the whole object.
RangeSpec ParseRange(std::string_view header, uint64_t size);

// Where a request is addressed: the bucket (empty for the service) and the
// decoded key (empty for a bucket).
struct Address {
  std::string bucket;
  std::string key;
  bool virtual_host = false;
};
// Virtual-host style when Host is "<bucket>.localhost[:port]" or
// "<bucket>.s3[.<region>].localhost[:port]" (or the same under any domain
// given in `domains`); otherwise path-style "/<bucket>/<key>".
Address ResolveAddress(std::string_view host, std::string_view raw_path,
                       const std::vector<std::string>& domains);

// One page of a listing with S3's delimiter rules: keys with `prefix`, after
// `cursor` (exclusive); a key holding `delimiter` after the prefix rolls up
// into its common prefix. At most max_keys keys and prefixes together.
struct Listing {
  std::vector<objectstore::ObjectMeta> objects;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  // Where the next page starts (exclusive): the last key returned, or a
  // common prefix followed by 0xFF (after every key under it).
  std::string next_cursor;
  // The last key or common prefix returned (ListObjects' NextMarker).
  std::string last_entry;
};
Result<Listing> ListWithDelimiter(objectstore::ObjectStore* store, std::string_view bucket,
                                  const std::string& prefix, const std::string& delimiter,
                                  const std::string& cursor, size_t max_keys);

// Validates XML-unsafe bytes out: S3 keys may hold characters XML 1.0 cannot
// carry (e.g. U+0001); such keys must be listed with encoding-type=url.
bool XmlSafe(std::string_view s);

}  // namespace muon::s3api
