// STS on the shared listener (AWS Query protocol, signing name "sts";
// docs/iam.md): GetCallerIdentity, GetSessionToken and AssumeRole. Temporary
// credentials are an ASIA access key, a secret and a session token
// (session_tokens.h), stored with IdentityStore::PutSession; every later
// request signed with them is checked against the stored token and refused
// once they expire.
//
//  - GetCallerIdentity needs no permission (as on AWS).
//  - GetSessionToken: long-term keys of an IAM user only. DurationSeconds
//    900..129600 (default 43200). With SerialNumber and TokenCode the code is
//    verified (IdentityStore::VerifyMfaCode: once only) and the session
//    carries the time of verification, which policies see as
//    aws:MultiFactorAuthPresent / aws:MultiFactorAuthAge.
//  - AssumeRole: the role's trust policy decides (iam::EvaluateResourcePolicy,
//    action sts:AssumeRole, with the caller's context and, when SerialNumber
//    and TokenCode verify, MFA present) and must allow. An explicit deny in
//    the trust policy or in the caller's identity policies refuses. Unless
//    the allowing trust statement names the caller's ARN itself, the
//    caller's identity policies must also allow sts:AssumeRole on the role
//    (AWS's evaluation within one account). DurationSeconds 900..the role's
//    MaxSessionDuration (default 3600). The session's principal is
//    arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION and its policies are the
//    role's. Its MFA time is that of the code given, else the caller's own.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "audit/audit_log.h"
#include "audit/event.h"
#include "auth/authorizer.h"
#include "auth/identities.h"
#include "base/clock.h"
#include "http/server.h"
#include "identity/identity_store.h"
#include "identity/query_protocol.h"
#include "identity/session_tokens.h"

namespace muon::identity {

inline constexpr std::string_view kStsXmlns = "https://sts.amazonaws.com/doc/2011-06-15/";
inline constexpr std::string_view kStsVersion = "2011-06-15";

// True for a Query-shaped request (query::IsQueryShaped) signed for "sts", or
// unsigned/other-signed with an STS action (so that its refusal is STS's).
bool IsStsRequest(const http::Request& request);

struct StsOptions {
  std::string region = "ap-southeast-2";
  // Where the record of every authenticated call goes (nullptr: none), and
  // how its caller is named there. A call refused by authentication is not
  // STS's to record: auth::SetAuthFailureObserver's observer records it.
  audit::Sink* audit = nullptr;
  audit::IdentityOptions audit_identity;
};

// A reply and, when it is an ErrorResponse, the error it carries.
struct StsReply {
  StsReply(http::Response r) : reply(std::move(r)) {}  // NOLINT(google-explicit-constructor)
  StsReply(http::Response r, query::Error e) : reply(std::move(r)), error(std::move(e)) {}
  http::Response reply;
  std::optional<query::Error> error;
};

// The audit record of one authenticated STS call: eventSource
// sts.amazonaws.com, eventName the action, the parameters naming what was
// asked for (never a token code), the role as resource for AssumeRole, and
// errorCode/errorMessage of the error answered (`error` nullptr: success).
audit::Event StsCallEvent(const query::Request& request, const auth::Caller& caller,
                          const query::Error* error, const Clock& clock,
                          const audit::IdentityOptions& identity);

class StsService {
 public:
  // Everything passed must outlive the service. `tokens` issues the session
  // tokens StoreIdentities later recognises. `authorizer` decides
  // AssumeRole's identity-policy step; it should not record decisions
  // itself, since each call is recorded once, here (options.audit).
  StsService(IdentityStore* store, const auth::Authorizer* authorizer, const SessionTokens* tokens,
             const Clock* clock, StsOptions options);

  // One authenticated request: runs the action, records it (one record,
  // with the error code of the reply when it failed) and returns its reply
  // (an ErrorResponse on failure).
  http::Response Handle(const query::Request& request, const auth::Caller& caller,
                        std::string_view request_id);
  // Records an authenticated request refused before its action ran
  // (query::Refused: a malformed query, no Action, another Version).
  void Record(const query::Request& request, const auth::Caller& caller,
              const query::Error* error) const;

  const StsOptions& options() const { return options_; }

 private:
  StsReply Dispatch(const query::Request& request, const auth::Caller& caller,
                    std::string_view request_id);
  StsReply GetCallerIdentity(const auth::Caller& caller, std::string_view request_id);
  StsReply GetSessionToken(const query::Request& request, const auth::Caller& caller,
                           std::string_view request_id);
  StsReply AssumeRole(const query::Request& request, const auth::Caller& caller,
                      std::string_view request_id);
  // Stores a new session and writes its Credentials element.
  Result<Session> NewSession(std::string principal_arn, std::string policy_principal_arn,
                             std::string source_identity, int64_t duration_seconds,
                             std::optional<int64_t> mfa_authenticated_at);

  IdentityStore* const store_;
  const auth::Authorizer* const authorizer_;
  const SessionTokens* const tokens_;
  const Clock* const clock_;
  const StsOptions options_;
};

// Answers one STS request through query::Handle (authentication, parsing,
// errors in STS's shape), recording it as StsService::Handle says.
// `sts` and `identities` must outlive it.
http::Response HandleSts(StsService* sts, const auth::Identities* identities, const Clock* clock,
                         const http::Request& request);
inline void ServeSts(StsService* sts, const auth::Identities* identities, const Clock* clock,
                     http::Request&& request, http::Responder respond) {
  respond(HandleSts(sts, identities, clock, request));
}

// auth::Identities over an IdentityStore: the secrets of active keys and live
// sessions, each key's principal with its temporary/MFA facts, last-used
// notes, and expired-token recognition through `tokens`. Both must outlive it.
class StoreIdentities final : public auth::Identities {
 public:
  StoreIdentities(IdentityStore* store, const SessionTokens* tokens)
      : store_(store), tokens_(tokens) {}
  const auth::CredentialStore& credentials() const override { return *store_->credentials(); }
  std::optional<auth::KeyOwner> OwnerOf(std::string_view access_key_id) const override;
  void NoteKeyUsed(std::string_view access_key_id, std::string_view service,
                   std::string_view region) const override {
    store_->NoteKeyUsed(access_key_id, service, region);
  }
  bool IsExpiredSession(std::string_view access_key_id, std::string_view session_token,
                        int64_t now_seconds) const override;

 private:
  IdentityStore* const store_;
  const SessionTokens* const tokens_;
};

}  // namespace muon::identity
