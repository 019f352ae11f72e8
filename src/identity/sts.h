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
};

class StsService {
 public:
  // Everything passed must outlive the service. `tokens` issues the session
  // tokens StoreIdentities later recognises.
  StsService(IdentityStore* store, const auth::Authorizer* authorizer, const SessionTokens* tokens,
             const Clock* clock, StsOptions options);

  // One authenticated request: runs the action and returns its reply (an
  // ErrorResponse on failure).
  http::Response Handle(const query::Request& request, const auth::Caller& caller,
                        std::string_view request_id);

  const StsOptions& options() const { return options_; }

 private:
  http::Response GetCallerIdentity(const auth::Caller& caller, std::string_view request_id);
  http::Response GetSessionToken(const query::Request& request, const auth::Caller& caller,
                                 std::string_view request_id);
  http::Response AssumeRole(const query::Request& request, const auth::Caller& caller,
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
// errors in STS's shape). `sts` and `identities` must outlive it.
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
