// Console sign-in and sessions (docs/console.md), the JSON endpoints under
// /_muonpipe/console/v1/:
//   POST signin       {"user", "password"}  -> a session, or (users with an
//                     MFA device) a pending sign-in that asks for the code
//   POST signin/mfa   {"code"} or {"recovery_code"}, with the pending cookie
//   POST signin/password  {"old_password", "new_password"}, with the pending
//                     cookie: the password change a login profile with
//                     PasswordResetRequired demands before any session
//   POST signout      (session + X-CSRF-Token)
//   GET  session      who is signed in
//
// A user whose login profile has PasswordResetRequired gets no session from
// the password (and code): the pending sign-in moves on to the password
// change, and only a changed password (which clears the flag) gives the
// session. Until then no console call and no SessionCaller works for them.
//
// A session is a random 256-bit id in an HttpOnly, SameSite=Strict cookie on
// Path=/ (`__Host-muonpipe-session` over TLS, where it is also Secure;
// `muonpipe-session` over plain HTTP, where browsers refuse __Host- cookies).
// Only the id's SHA-256 is kept. A session ends after `idle_timeout_seconds`
// without a request or `absolute_timeout_seconds` after sign-in, whichever
// comes first (both on the Clock). Sessions live in this process's memory: a
// restart signs everyone out, and servers behind one load balancer need
// sticky sessions.
//
// CSRF: sign-in returns a per-session token; every state-changing request
// (anything but GET/HEAD) made with the cookie must send it in X-CSRF-Token,
// and a request carrying Origin must come from this server's own origin.
//
// Failures of either factor are counted per user name and per source
// address; `max_failures` within `failure_window_seconds` locks that user
// (or address) out for `lockout_seconds`. Every failure answers the same
// 401 SignInFailed message, whichever factor failed (a wrong old password at
// the password change too); a locked-out attempt answers 429 without
// checking anything. Sign-ins, failures and sign-outs are audited
// (AwsConsoleSignIn records ConsoleLogin and ConsoleLogout), and a password
// changed at sign-in as IAM's ChangePassword.
//
// A signed-in request is an auth::Caller with temporary credentials (and
// mfa_authenticated_at when a code was given), so the same Authorizer decides
// what it may do; SessionCaller is the registry API's seam for it.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.h"
#include "audit/event.h"
#include "auth/authorizer.h"
#include "base/clock.h"
#include "base/status.h"
#include "http/server.h"

namespace muon::console {

inline constexpr std::string_view kApiPrefix = "/_muonpipe/console/v1/";
inline constexpr std::string_view kSecureCookie = "__Host-muonpipe-session";
inline constexpr std::string_view kPlainCookie = "muonpipe-session";
inline constexpr std::string_view kSecurePendingCookie = "__Host-muonpipe-signin";
inline constexpr std::string_view kPlainPendingCookie = "muonpipe-signin";

// What sign-in needs of the identity store (identity::IdentityStore through
// NewIdentityStoreDirectory, or a fake). Every method is thread-safe.
class Directory {
 public:
  virtual ~Directory() = default;
  // OK, or PermissionDenied (wrong password, no such user, no password).
  virtual Status VerifyPassword(std::string_view user, std::string_view password) = 0;
  // Whether the user has an enabled MFA device.
  virtual Result<bool> HasMfa(std::string_view user) = 0;
  virtual Status VerifyMfaCode(std::string_view user, std::string_view code) = 0;
  virtual Status RedeemRecoveryCode(std::string_view user, std::string_view code) = 0;
  virtual Result<std::string> UserArn(std::string_view user) = 0;
  // Whether the user's login profile demands a new password before the
  // console may be used (IAM's PasswordResetRequired).
  virtual Result<bool> PasswordResetRequired(std::string_view user) = 0;
  // Replaces the password and clears PasswordResetRequired. PermissionDenied
  // when `old_password` is wrong; InvalidArgument when the new one breaks the
  // password policy (the message says how).
  virtual Status ChangePassword(std::string_view user, std::string_view old_password,
                                std::string_view new_password) = 0;
};

struct ConsoleOptions {
  int64_t idle_timeout_seconds = 15 * 60;
  int64_t absolute_timeout_seconds = 8 * 3600;
  int64_t pending_timeout_seconds = 5 * 60;  // to give the code after the password
  int max_failures = 5;
  int64_t failure_window_seconds = 15 * 60;
  int64_t lockout_seconds = 15 * 60;
  std::string account_id = "000000000000";
  std::string region = "ap-southeast-2";
};

bool IsConsoleRequest(const http::Request& request);

class Console {
 public:
  // `audit` may be null. Everything passed must outlive the Console.
  Console(Directory* directory, audit::Sink* audit, const Clock* clock, ConsoleOptions options);
  ~Console();

  // Serves one request under kApiPrefix.
  http::Response Handle(const http::Request& request);

  // The signed-in caller of a request carrying a session cookie, or nullopt
  // (no cookie, unknown or expired session, or a state-changing request
  // without the session's X-CSRF-Token or from another Origin). Counts as
  // activity for the idle timeout.
  std::optional<auth::Caller> SessionCaller(const http::Request& request);

  size_t session_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace muon::console
