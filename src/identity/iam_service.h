// The IAM Query API over the IdentityStore: form POSTs (or GETs) to "/"
// signed with SigV4 for service "iam", answered with the XML shapes of
// botocore's iam 2010-05-08 model (query_protocol.h writes the envelopes).
// docs/iam.md ("The IAM API") lists the actions.
//
// Every action is put to the Authorizer as "iam:<Action>" with the resource
// IAM names for it: the user's ARN for actions on a user and what belongs to
// it (keys, login profile, MFA enable/deactivate/list), the group's, role's or
// policy's ARN, arn:aws:iam::ACCOUNT:mfa/PATH/NAME for a virtual MFA device,
// and "*" for ListUsers, ListGroups, ListRoles, ListPolicies and
// ListVirtualMFADevices. Actions whose UserName may be left out act on the
// caller's own user.
//
// Store errors become IAM's codes and statuses: NoSuchEntity 404,
// EntityAlreadyExists 409, DeleteConflict 409, LimitExceeded 409,
// MalformedPolicyDocument 400, PasswordPolicyViolation 400, ValidationError
// 400, InvalidAuthenticationCode 403 (EnableMFADevice), AccessDenied 403;
// anything else is ServiceFailure 500 with its detail only in the log.
//
// Thread safety: Call and HandleIam may run on many threads at once.
#pragma once

#include <string>
#include <string_view>

#include "auth/authorizer.h"
#include "auth/identities.h"
#include "base/clock.h"
#include "http/server.h"
#include "identity/identity_store.h"
#include "identity/query_protocol.h"

namespace muon::identity {

inline constexpr std::string_view kIamXmlns = "https://iam.amazonaws.com/doc/2010-05-08/";
inline constexpr std::string_view kIamVersion = "2010-05-08";

// A Query-shaped request whose SigV4 scope names service "iam".
bool IsIamRequest(const http::Request& request);

struct IamOptions {
  // The server's region. IAM is global and botocore signs it for us-east-1;
  // a scope naming either region is accepted.
  std::string region = "us-east-1";
};

class IamService {
 public:
  // `store` and `authorizer` must outlive this.
  IamService(IdentityStore* store, const auth::Authorizer* authorizer, IamOptions options);

  // One parsed request from an authenticated caller (every action completes
  // before it returns).
  http::Response Call(const query::Request& request, const auth::Caller& caller,
                      std::string_view request_id) const;

  const IamOptions& options() const { return options_; }

 private:
  IdentityStore* const store_;
  const auth::Authorizer* const authorizer_;
  const IamOptions options_;
};

// Answers one IAM request through query::Handle: authentication by
// auth::AuthenticateHttp against `identities` (scope "iam" in us-east-1 or the
// server's region), parsing, and errors in IAM's shape; then IamService::Call.
// Everything passed must outlive the call.
http::Response HandleIam(const IamService* iam, const auth::Identities* identities,
                         const Clock* clock, const http::Request& request);
inline void ServeIam(const IamService* iam, const auth::Identities* identities, const Clock* clock,
                     http::Request&& request, http::Responder respond) {
  respond(HandleIam(iam, identities, clock, request));
}

// RFC 3986 percent-encoding of everything but A-Z a-z 0-9 - _ . ~, the form
// IAM returns policy documents in (botocore decodes them).
std::string PercentEncode(std::string_view text);

}  // namespace muon::identity
