#include "audit/auditing_authorizer.h"

#include "base/uuid.h"

namespace muon::audit {
namespace {

// The access key id a request names (Credential=AKID/... in the header or
// X-Amz-Credential=AKID%2F... in the query), whether or not it verified.
std::string ClaimedAccessKey(const http::Request& req) {
  std::string_view auth = req.Header("Authorization");
  size_t pos = auth.find("Credential=");
  if (pos != auth.npos) {
    std::string_view rest = auth.substr(pos + 11);
    return std::string(rest.substr(0, rest.find('/')));
  }
  std::string_view q = req.query;
  pos = q.find("X-Amz-Credential=");
  if (pos != q.npos) {
    std::string_view rest = q.substr(pos + 17);
    size_t end = std::min(rest.find("%2F"), rest.find('/'));
    end = std::min(end, rest.find('&'));
    return std::string(rest.substr(0, end));
  }
  return "";
}

std::string FormValue(std::string_view body, std::string_view key) {
  size_t start = 0;
  while (start < body.size()) {
    size_t amp = body.find('&', start);
    std::string_view pair = body.substr(start, amp == body.npos ? body.npos : amp - start);
    if (pair.substr(0, key.size()) == key && pair.size() > key.size() && pair[key.size()] == '=') {
      return std::string(pair.substr(key.size() + 1));
    }
    if (amp == body.npos) break;
    start = amp + 1;
  }
  return "";
}

// The S3 operation a method and path-style path most likely name.
std::string S3OperationOf(const http::Request& req) {
  std::string_view path = req.path;
  size_t slash = path.find('/', 1);
  bool object = slash != path.npos && slash + 1 < path.size();
  bool service = path.size() <= 1;
  const std::string& m = req.method;
  if (service) return "ListBuckets";
  if (object) {
    if (m == "GET") return "GetObject";
    if (m == "HEAD") return "HeadObject";
    if (m == "PUT") return "PutObject";
    if (m == "DELETE") return "DeleteObject";
    if (m == "POST") return "PostObject";
  } else {
    if (m == "GET") return "ListObjects";
    if (m == "HEAD") return "HeadBucket";
    if (m == "PUT") return "CreateBucket";
    if (m == "DELETE") return "DeleteBucket";
    if (m == "POST") return "DeleteObjects";
  }
  return m;
}

std::string ErrorCodeOf(auth::AuthError e) {
  switch (e) {
    case auth::AuthError::kMissingAuthentication: return "MissingAuthenticationToken";
    case auth::AuthError::kIncompleteSignature: return "IncompleteSignature";
    case auth::AuthError::kUnknownAccessKey: return "InvalidClientTokenId";
    case auth::AuthError::kSignatureMismatch: return "SignatureDoesNotMatch";
    case auth::AuthError::kRequestExpired: return "RequestExpired";
    case auth::AuthError::kInvalidSessionToken: return "ExpiredToken";
    case auth::AuthError::kExpiredToken: return "ExpiredToken";
    case auth::AuthError::kPayloadHashMismatch: return "XAmzContentSHA256Mismatch";
    case auth::AuthError::kWrongScope: return "InvalidSignature";
  }
  return "InvalidSignature";
}

}  // namespace

AuditingAuthorizer::AuditingAuthorizer(const auth::Authorizer* inner, Sink* sink,
                                       const Clock* clock, IdentityOptions identity)
    : inner_(inner), sink_(sink), clock_(clock), identity_(std::move(identity)) {}

Status AuditingAuthorizer::Authorize(const auth::Caller& caller, std::string_view action,
                                     std::string_view resource) const {
  Status s = inner_->Authorize(caller, action, resource);
  sink_->Record(DecisionEvent(caller, action, resource, s, *clock_, identity_));
  return s;
}

Status AuditingAuthorizer::Authorize(const auth::Caller& caller, std::string_view action,
                                     std::string_view resource,
                                     const auth::RequestKeys& keys) const {
  Status s = inner_->Authorize(caller, action, resource, keys);
  sink_->Record(DecisionEvent(caller, action, resource, s, *clock_, identity_));
  return s;
}

Event DecisionEvent(const auth::Caller& caller, std::string_view action, std::string_view resource,
                    const Status& decision, const Clock& clock, const IdentityOptions& identity) {
  Event e;
  e.event_time_nanos = clock.NowNanos();
  e.user = IdentityOf(caller, identity);
  size_t colon = action.find(':');
  std::string_view service = colon == action.npos ? std::string_view() : action.substr(0, colon);
  e.event_source = EventSourceOf(service);
  e.event_name = std::string(colon == action.npos ? action : action.substr(colon + 1));
  e.region = caller.region;
  e.source_ip = caller.source_ip;
  e.user_agent = caller.user_agent;
  if (resource != "*") {
    e.request_parameters = RequestParametersOf(resource);
    if (std::string type = ResourceTypeOf(resource); !type.empty()) {
      e.resources.push_back({std::string(resource), std::move(type)});
    }
  }
  if (!decision.ok()) {
    e.error_code = "AccessDenied";
    e.error_message = decision.message().empty() ? "Access Denied" : decision.message();
  }
  e.request_id = caller.request_id;
  e.event_id = NewUuid();
  e.read_only = IsReadOnly(e.event_name);
  return e;
}

Event AuthFailureEvent(const auth::AuthFailureNotice& n, const Clock& clock,
                       const IdentityOptions& identity) {
  Event e;
  e.event_time_nanos = clock.NowNanos();
  e.user.type = "Unknown";
  e.user.account_id = identity.account_id;
  e.user.access_key_id = ClaimedAccessKey(n.request);
  e.user.principal_id = e.user.access_key_id;
  e.event_source = EventSourceOf(n.service);
  // Signing name "muonpipe" covers the registry and the admin endpoints; the
  // path tells them apart.
  if (n.service == "muonpipe" && !n.request.path.starts_with("/_muonpipe/registry")) {
    e.event_source = EventSourceOf("admin");
  }
  std::string_view target = n.request.Header("X-Amz-Target");
  if (!target.empty()) {
    e.event_name = std::string(target.substr(target.rfind('.') + 1));
  } else if (std::string action = FormValue(n.request.body, "Action"); !action.empty()) {
    e.event_name = action;
  } else if (n.service == "s3") {
    e.event_name = S3OperationOf(n.request);
  } else {
    e.event_name = n.request.method + " " + n.request.path;
  }
  e.region = std::string(n.region);
  e.source_ip = n.request.remote_ip;
  e.user_agent = std::string(n.request.Header("User-Agent"));
  e.error_code = ErrorCodeOf(n.failure.error);
  e.error_message = n.failure.message;
  e.request_id = std::string(n.request_id);
  e.event_id = NewUuid();
  e.read_only = IsReadOnly(e.event_name);
  return e;
}

}  // namespace muon::audit
