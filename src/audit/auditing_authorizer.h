// The recording point of the audit log: an auth::Authorizer that asks the
// real one and records every decision, allowed or denied (errorCode
// AccessDenied), as one CloudTrail-shaped event; and the record of a failed
// authentication (unknown key, bad signature, ...), which never reaches an
// authorizer.
//
// A request that needs several decisions (CopyObject reads one object and
// writes another; DeleteObjects decides per key) gives one record per
// decision, all with the request's requestID. A request refused before any
// decision for another reason (a malformed body) gives none.
#pragma once

#include <string_view>

#include "audit/audit_log.h"
#include "audit/event.h"
#include "auth/authorizer.h"
#include "auth/http_auth.h"
#include "base/clock.h"

namespace muon::audit {

class AuditingAuthorizer final : public auth::Authorizer {
 public:
  // Everything passed must outlive this authorizer.
  AuditingAuthorizer(const auth::Authorizer* inner, Sink* sink, const Clock* clock,
                     IdentityOptions identity);

  Status Authorize(const auth::Caller& caller, std::string_view action,
                   std::string_view resource) const override;
  Status Authorize(const auth::Caller& caller, std::string_view action, std::string_view resource,
                   const auth::RequestKeys& keys) const override;

 private:
  const auth::Authorizer* const inner_;
  Sink* const sink_;
  const Clock* const clock_;
  const IdentityOptions identity_;
};

// The event of one decision ("kinesis:PutRecords" on a stream ARN).
Event DecisionEvent(const auth::Caller& caller, std::string_view action, std::string_view resource,
                    const Status& decision, const Clock& clock, const IdentityOptions& identity);

// The event of one failed authentication: userIdentity of type "Unknown"
// with the access key id the request named, eventName the operation as far as
// the request says (X-Amz-Target, Action=, or the S3 method and path), and
// errorCode as AWS names the failure (InvalidClientTokenId,
// SignatureDoesNotMatch, IncompleteSignature, MissingAuthenticationToken,
// ExpiredToken, RequestExpired, InvalidSignature).
Event AuthFailureEvent(const auth::AuthFailureNotice& notice, const Clock& clock,
                       const IdentityOptions& identity);

}  // namespace muon::audit
