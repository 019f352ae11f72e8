// The AWS Query protocol, as IAM and STS speak it: a request is a set of
// form-encoded parameters (a POST body of type
// application/x-www-form-urlencoded, or a GET query string) naming an Action
// and a Version; the reply is XML:
//
//   <{Action}Response xmlns="NS">
//     <{Action}Result>...</{Action}Result>
//     <ResponseMetadata><RequestId>ID</RequestId></ResponseMetadata>
//   </{Action}Response>
//
// and an error is
//
//   <ErrorResponse xmlns="NS">
//     <Error><Type>Sender|Receiver</Type><Code>C</Code><Message>M</Message></Error>
//     <RequestId>ID</RequestId>
//   </ErrorResponse>
//
// Lists travel flattened: a list member "Names" is sent as Names.member.1,
// Names.member.2, ... and a list of structures as Tags.member.1.Key,
// Tags.member.1.Value, ...; an empty list as "Names=" (botocore). The wire
// contract is botocore's query serializer and the sts/iam service models.
//
// This module knows no service: the IAM and STS edges name their actions,
// namespaces and error codes. Thread safety: pure functions and value types.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/authorizer.h"
#include "auth/identities.h"
#include "base/clock.h"
#include "base/status.h"
#include "http/server.h"

namespace muon::query {

// The parameters of one request, decoded, in the order received.
class Params {
 public:
  Params() = default;
  explicit Params(std::vector<std::pair<std::string, std::string>> entries)
      : entries_(std::move(entries)) {}

  // Decodes an application/x-www-form-urlencoded string ('+' is a space,
  // %XX a byte). InvalidArgument naming the parameter for a malformed escape.
  static Result<Params> ParseForm(std::string_view form);

  // The first value of `name` (names are case-sensitive, as on AWS), or nullptr.
  const std::string* Find(std::string_view name) const;
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
  // The value, or `fallback` when absent.
  std::string Get(std::string_view name, std::string_view fallback = {}) const;
  // An integer parameter: nullopt when absent, InvalidArgument when it is not
  // a decimal integer that fits in 64 bits.
  Result<std::optional<int64_t>> Int(std::string_view name) const;
  // A boolean parameter ("true"/"false", as botocore sends them): nullopt when
  // absent, InvalidArgument otherwise.
  Result<std::optional<bool>> Bool(std::string_view name) const;

  // The values of a list of strings: NAME.member.1, NAME.member.2, ... in
  // index order (indexes need not be contiguous). Empty when absent or sent
  // as an empty list. InvalidArgument for an index that is not a positive
  // integer.
  Result<std::vector<std::string>> List(std::string_view name,
                                        std::string_view infix = "member") const;
  // The elements of a list of structures: for NAME.member.N.FIELD, one Params
  // per N (in index order) holding FIELD=value (FIELD may itself be dotted, for
  // nested lists). `infix` is "member" for lists and "entry" for maps.
  Result<std::vector<Params>> Structs(std::string_view name,
                                      std::string_view infix = "member") const;

  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

 private:
  // For each parameter NAME.infix.N[.REST]: (N, REST, value).
  struct Indexed {
    uint64_t index;
    std::string rest;
    const std::string* value;
  };
  Result<std::vector<Indexed>> Collect(std::string_view name, std::string_view infix) const;

  std::vector<std::pair<std::string, std::string>> entries_;
};

struct Request {
  std::string action;
  std::string version;
  Params params;  // every parameter except Action, Version and SigV4's X-Amz-*
};

// Reads a Query request: the query string's parameters, then (for a POST of
// type application/x-www-form-urlencoded) the body's. Presigned SigV4
// parameters (X-Amz-Algorithm, X-Amz-Credential, ...) are left out.
// InvalidArgument for a malformed encoding; a missing Action is the caller's
// to answer (action empty).
Result<Request> ParseRequest(const http::Request& request);

// The service named by a SigV4 request's credential scope (Authorization
// header, else the X-Amz-Credential query parameter); empty when unsigned or
// malformed. The shared listener routes Query requests by it.
std::string SigningService(const http::Request& request);

// True for a POST whose Content-Type is application/x-www-form-urlencoded,
// or a GET whose query string carries Action=.
bool IsQueryShaped(const http::Request& request);

// A streaming XML writer for replies. Text is escaped (& < > " ' and CR);
// characters XML 1.0 cannot carry (other control characters, invalid UTF-8,
// U+FFFE/U+FFFF) become U+FFFD, so any input yields a well-formed document.
// Element names are the caller's constants and are written as given.
class XmlWriter {
 public:
  XmlWriter();  // starts with the XML declaration
  // <name> or <name xmlns="ns">.
  XmlWriter& Open(std::string_view name, std::string_view xmlns = {});
  // Closes the innermost open element.
  XmlWriter& Close();
  // <name>text</name>.
  XmlWriter& Element(std::string_view name, std::string_view text);
  XmlWriter& Element(std::string_view name, int64_t value);
  // Closes whatever is still open and returns the document.
  std::string Finish();

  static void Escape(std::string_view text, std::string* out);

 private:
  std::string out_;
  std::vector<std::string> open_;
};

// Seconds since the epoch as ISO 8601 UTC with whole seconds
// ("2026-11-28T05:00:00Z"), botocore's timestamp form for Query replies.
std::string Iso8601(int64_t unix_seconds);

// A fresh request id (a random UUID), as Query services send them.
std::string NewRequestId();

// A successful reply: the Action{Response,Result} envelope around what
// `result` writes (nothing for actions without a result), 200, text/xml and
// x-amzn-RequestId.
http::Response Reply(std::string_view xmlns, std::string_view action, std::string_view request_id,
                     const std::function<void(XmlWriter&)>& result);

struct Error {
  int http_status = 400;
  std::string code;     // "AccessDenied", "ValidationError", ...
  std::string message;  // safe to show the caller
  bool sender = true;   // <Type>Sender</Type>, else Receiver (the server's fault)
};

// The ErrorResponse document with the error's status.
http::Response ErrorReply(std::string_view xmlns, const Error& error, std::string_view request_id);

// Errors every Query service shares, worded as AWS words them.
Error MissingAction();
Error InvalidAction(std::string_view action, std::string_view version);
Error MissingParameter(std::string_view name);
Error MalformedQueryString(std::string_view detail);
// "1 validation error detected: Value 'V' at 'field' failed to satisfy
// constraint: Member must ..." (ValidationError, 400).
Error ValidationError(std::string_view value, std::string_view field, std::string_view rule);
// 403 AccessDenied: what an edge answers for the Authorizer's PermissionDenied.
Error AccessDenied(std::string message);
// A failed authentication as IAM and STS name it (MissingAuthenticationToken,
// InvalidClientTokenId, SignatureDoesNotMatch, ExpiredToken, ...).
Error ErrorOfAuthFailure(const auth::AuthFailure& failure);

// The edge every Query service shares: authenticates the request (SigV4 with
// the service's signing name, in the endpoint's region or `global_region`),
// parses it, refuses a missing Action or another Version, and hands the rest
// to `call` on the calling thread. Auth and parse failures come back as
// ErrorResponse documents; every reply carries the request id.
struct Service {
  std::string_view signing_name;  // "sts", "iam"
  std::string_view xmlns;         // "https://sts.amazonaws.com/doc/2011-06-15/"
  std::string_view version;       // "2011-06-15"
  // Also accepted as the credential scope's region: clients sign calls to a
  // global service (IAM) for us-east-1 whatever region they are set to.
  std::string_view global_region = "us-east-1";
};
using Call = std::function<http::Response(const Request& request, const auth::Caller& caller,
                                          std::string_view request_id)>;
// Told of an authenticated request refused before `call` (a malformed query,
// no Action, another Version): the parsed request as far as it parsed, and
// the error answered.
using Refused = std::function<void(const Request& request, const auth::Caller& caller,
                                   const Error& error, std::string_view request_id)>;
// The reply to one request, on the calling thread. `identities` and `clock`
// must outlive the call.
http::Response Handle(const Service& service, const auth::Identities* identities,
                      const Clock* clock, std::string_view region, const http::Request& request,
                      const Call& call, const Refused& refused = nullptr);
inline void Serve(const Service& service, const auth::Identities* identities, const Clock* clock,
                  std::string_view region, http::Request&& request, http::Responder respond,
                  const Call& call, const Refused& refused = nullptr) {
  respond(Handle(service, identities, clock, region, request, call, refused));
}

}  // namespace muon::query
