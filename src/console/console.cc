#include "console/console.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <deque>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "auth/sigv4.h"
#include "base/base64.h"
#include "base/log.h"
#include "base/uuid.h"

namespace muon::console {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kFailedMessage = "The user name, password or code is incorrect.";

std::string RandomToken() {
  unsigned char b[32];
  RAND_bytes(b, sizeof b);
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(b), sizeof b));
}

bool SameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

http::Response JsonReply(int status, const Json& body) {
  http::Response r;
  r.status = status;
  r.Set("Content-Type", "application/json");
  r.Set("Cache-Control", "no-store");
  r.body = body.dump();
  return r;
}

http::Response ErrorReply(int status, std::string_view code, std::string_view message) {
  return JsonReply(status, Json{{"error", {{"code", code}, {"message", message}}}});
}

// The value of cookie `name` in the request's Cookie headers.
std::string CookieValue(const http::Request& req, std::string_view name) {
  for (const auto& [k, v] : req.headers) {
    if (k.size() != 6 || strncasecmp(k.c_str(), "cookie", 6) != 0) continue;
    std::string_view rest = v;
    while (!rest.empty()) {
      size_t semi = rest.find(';');
      std::string_view part = rest.substr(0, semi);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      size_t eq = part.find('=');
      if (eq != part.npos && part.substr(0, eq) == name) return std::string(part.substr(eq + 1));
      if (semi == rest.npos) break;
      rest.remove_prefix(semi + 1);
    }
  }
  return "";
}

std::string SetCookie(std::string_view name, std::string_view value, bool secure,
                      std::optional<int64_t> max_age) {
  std::string c = fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict", name, value);
  if (secure) c += "; Secure";
  if (max_age) c += fmt::format("; Max-Age={}", *max_age);
  return c;
}

// A request's Origin, when present, must be this server's own.
bool OriginAllowed(const http::Request& req) {
  std::string_view origin = req.Header("Origin");
  if (origin.empty()) return true;
  std::string_view host = req.Header("Host");
  return origin == fmt::format("{}://{}", req.secure ? "https" : "http", host);
}

bool IsStateChanging(std::string_view method) { return method != "GET" && method != "HEAD"; }

}  // namespace

bool IsConsoleRequest(const http::Request& request) {
  return request.path.rfind("/_muonpipe/console/", 0) == 0;
}

struct Console::Impl {
  struct Session {
    std::string user;
    std::string arn;
    std::string csrf_token;
    std::string handle;  // ASIA-like id for the audit log; not a secret
    int64_t created_at = 0;
    int64_t last_seen = 0;
    std::optional<int64_t> mfa_at;
  };
  // A sign-in between its factors and its session.
  enum class Step { kMfaCode, kNewPassword };
  struct Pending {
    std::string user;
    int64_t expires_at = 0;
    Step step = Step::kMfaCode;
    bool mfa = false;  // a code was given (kNewPassword)
  };
  struct Failures {
    std::deque<int64_t> times;
    int64_t locked_until = 0;
  };

  Directory* directory;
  audit::Sink* audit;
  const Clock* clock;
  ConsoleOptions options;

  mutable std::mutex mu;
  std::map<std::string, Session> sessions;  // by SHA-256 of the id
  std::map<std::string, Pending> pending;   // by SHA-256 of the pending token
  std::map<std::string, Failures> failures;  // "user:NAME", "ip:ADDR"
  int64_t last_sweep = 0;

  int64_t Now() const { return clock->NowSeconds(); }

  bool Locked(const std::string& key, int64_t now) {
    auto it = failures.find(key);
    return it != failures.end() && it->second.locked_until > now;
  }
  void NoteFailure(const std::string& key, int64_t now) {
    Failures& f = failures[key];
    f.times.push_back(now);
    while (!f.times.empty() && f.times.front() <= now - options.failure_window_seconds) {
      f.times.pop_front();
    }
    if (static_cast<int>(f.times.size()) >= options.max_failures) {
      f.locked_until = now + options.lockout_seconds;
      f.times.clear();
    }
  }
  // Forgets expired sessions, pending sign-ins and failure counts; at most
  // once a minute, so a stream of failures cannot make every request pay for
  // a walk over all the maps.
  void Sweep(int64_t now) {
    if (now - last_sweep < 60) return;
    last_sweep = now;
    std::erase_if(sessions, [&](const auto& kv) { return Expired(kv.second, now); });
    std::erase_if(pending, [&](const auto& kv) { return kv.second.expires_at <= now; });
    std::erase_if(failures, [&](const auto& kv) {
      return kv.second.locked_until <= now &&
             (kv.second.times.empty() ||
              kv.second.times.back() <= now - options.failure_window_seconds);
    });
  }
  bool Expired(const Session& s, int64_t now) const {
    return now >= s.last_seen + options.idle_timeout_seconds ||
           now >= s.created_at + options.absolute_timeout_seconds;
  }

  auth::Caller CallerOf(const Session& s) const {
    auth::Caller c;
    c.principal_arn = s.arn;
    c.access_key_id = s.handle;
    c.temporary_credentials = true;
    c.mfa_authenticated_at = s.mfa_at;
    c.session_created_at = s.created_at;
    return c;
  }
  audit::IdentityOptions AuditIdentity() const {
    audit::IdentityOptions o;
    o.account_id = options.account_id;
    return o;
  }
  audit::Event NewEvent(const http::Request& req) const {
    audit::Event e;
    e.event_time_nanos = clock->NowNanos();
    e.region = options.region;
    e.source_ip = req.remote_ip;
    e.user_agent = std::string(req.Header("User-Agent"));
    e.user.account_id = options.account_id;
    e.event_id = NewUuid();
    e.request_id = NewUuid();
    return e;
  }

  // CloudTrail's sign-in event reference names no sign-out event; ours is
  // ConsoleLogout, beside ConsoleLogin.
  void AuditSignOut(const http::Request& req, const Session& s) {
    if (!audit) return;
    audit::Event e = NewEvent(req);
    e.event_type = std::string(audit::kConsoleSignIn);
    e.event_source = "signin.amazonaws.com";
    e.event_name = "ConsoleLogout";
    e.user = audit::IdentityOf(CallerOf(s), AuditIdentity());
    e.response_elements = {{"ConsoleLogout", "Success"}};
    audit->Record(e);
  }

  // The password change a PasswordResetRequired profile demands, recorded as
  // IAM's ChangePassword by the user, with the error code IAM's edge would
  // answer (AccessDenied, PasswordPolicyViolation; empty on success).
  void AuditPasswordChange(const http::Request& req, const std::string& user,
                           const std::string& arn, std::string_view error_code,
                           std::string_view message) {
    if (!audit) return;
    audit::Event e = NewEvent(req);
    e.event_source = "iam.amazonaws.com";
    e.event_name = "ChangePassword";
    auth::Caller c;
    c.principal_arn = arn;
    e.user = audit::IdentityOf(c, AuditIdentity());
    e.user.user_name = user;
    e.error_code = std::string(error_code);
    e.error_message = std::string(message);
    audit->Record(e);
  }

  // `session` is the new session on success, null on failure.
  void Audit(const http::Request& req, std::string_view user, const Session* session,
             bool mfa_used, std::string_view message) {
    const bool success = session != nullptr;
    if (!audit) return;
    audit::Event e = NewEvent(req);
    e.event_type = std::string(audit::kConsoleSignIn);
    e.event_source = "signin.amazonaws.com";
    e.event_name = "ConsoleLogin";
    if (success) {
      e.user = audit::IdentityOf(CallerOf(*session), AuditIdentity());
    } else {
      e.user.type = "Unknown";
      e.error_message = std::string(message);
    }
    e.response_elements = {{"ConsoleLogin", success ? "Success" : "Failure"}};
    e.additional_event_data = {{"MFAUsed", mfa_used ? "Yes" : "No"},
                               {"UserName", std::string(user)}};
    audit->Record(e);
  }

  // A failure of either factor: counted, audited, one answer for all.
  http::Response Fail(const http::Request& req, const std::string& user, bool mfa_step) {
    int64_t now = Now();
    {
      std::lock_guard lock(mu);
      Sweep(now);
      NoteFailure("user:" + user, now);
      NoteFailure("ip:" + req.remote_ip, now);
    }
    Audit(req, user, nullptr, mfa_step, "Failed authentication");
    return ErrorReply(401, "SignInFailed", kFailedMessage);
  }

  std::optional<http::Response> Throttled(const http::Request& req, const std::string& user) {
    std::lock_guard lock(mu);
    int64_t now = Now();
    if (Locked("user:" + user, now) || Locked("ip:" + req.remote_ip, now)) {
      http::Response r = ErrorReply(
          429, "TooManyAttempts",
          "Too many failed sign-in attempts. Wait a few minutes and try again, or ask an "
          "administrator.");
      r.Set("Retry-After", std::to_string(options.lockout_seconds));
      return r;
    }
    return std::nullopt;
  }

  http::Response StartSession(const http::Request& req, const std::string& user, bool mfa) {
    auto arn = directory->UserArn(user);
    if (!arn.ok()) return ErrorReply(500, "InternalError", "the user could not be read");
    std::string id = RandomToken();
    std::string key = auth::Sha256Hex(id);
    int64_t now = Now();
    Session s;
    s.user = user;
    s.arn = *arn;
    s.csrf_token = RandomToken();
    s.handle = "ASIA" + key.substr(0, 16);
    for (char& c : s.handle) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    s.created_at = now;
    s.last_seen = now;
    if (mfa) s.mfa_at = now;
    {
      std::lock_guard lock(mu);
      Sweep(now);
      sessions[key] = s;
      failures.erase("user:" + user);
    }
    Audit(req, user, &s, mfa, "");
    http::Response r = JsonReply(200, SessionJson(s, true));
    r.Set("Set-Cookie", SetCookie(req.secure ? kSecureCookie : kPlainCookie, id, req.secure,
                                  options.absolute_timeout_seconds));
    r.Set("Set-Cookie", SetCookie(req.secure ? kSecurePendingCookie : kPlainPendingCookie, "",
                                  req.secure, 0));
    return r;
  }

  Json SessionJson(const Session& s, bool with_csrf) const {
    Json j = {{"user", s.user},
              {"arn", s.arn},
              {"mfa_authenticated", s.mfa_at.has_value()},
              {"created_at", s.created_at},
              {"expires_at", std::min(s.last_seen + options.idle_timeout_seconds,
                                      s.created_at + options.absolute_timeout_seconds)},
              {"absolute_expires_at", s.created_at + options.absolute_timeout_seconds}};
    if (with_csrf) j["csrf_token"] = s.csrf_token;
    return j;
  }

  // The live session of the request's cookie; touches it when `touch`.
  std::optional<std::pair<std::string, Session>> Find(const http::Request& req, bool touch) {
    std::string id = CookieValue(req, req.secure ? kSecureCookie : kPlainCookie);
    if (id.empty()) return std::nullopt;
    std::string key = auth::Sha256Hex(id);
    std::lock_guard lock(mu);
    auto it = sessions.find(key);
    if (it == sessions.end()) return std::nullopt;
    int64_t now = Now();
    if (Expired(it->second, now)) {
      sessions.erase(it);
      return std::nullopt;
    }
    if (touch) it->second.last_seen = now;
    return std::make_pair(key, it->second);
  }

  bool CsrfOk(const http::Request& req, const Session& s) {
    return OriginAllowed(req) && SameSecret(req.Header("X-CSRF-Token"), s.csrf_token);
  }

  http::Response SignIn(const http::Request& req) {
    Json body = Json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body["user"].is_string() || !body["password"].is_string()) {
      return ErrorReply(400, "ValidationError",
                        "send {\"user\": NAME, \"password\": PASSWORD} as JSON");
    }
    std::string user = body["user"].get<std::string>();
    if (auto t = Throttled(req, user)) return *t;
    if (!directory->VerifyPassword(user, body["password"].get<std::string>()).ok()) {
      return Fail(req, user, false);
    }
    auto mfa = directory->HasMfa(user);
    if (!mfa.ok()) return ErrorReply(500, "InternalError", "the user's MFA devices could not be read");
    if (!*mfa) return Proceed(req, user, false);
    return Pend(req, {user, 0, Step::kMfaCode, false}, "mfa_required");
  }

  // Starts a pending sign-in at `p.step` and answers {`flag`: true, expires_at}
  // with its cookie.
  http::Response Pend(const http::Request& req, Pending p, std::string_view flag) {
    std::string token = RandomToken();
    int64_t now = Now();
    p.expires_at = now + options.pending_timeout_seconds;
    {
      std::lock_guard lock(mu);
      Sweep(now);
      pending[auth::Sha256Hex(token)] = p;
    }
    http::Response r = JsonReply(200, Json{{flag, true}, {"expires_at", p.expires_at}});
    r.Set("Set-Cookie", SetCookie(req.secure ? kSecurePendingCookie : kPlainPendingCookie, token,
                                  req.secure, options.pending_timeout_seconds));
    return r;
  }

  // Every factor was given: the session, unless the password must change first.
  http::Response Proceed(const http::Request& req, const std::string& user, bool mfa) {
    auto reset = directory->PasswordResetRequired(user);
    if (!reset.ok()) {
      return ErrorReply(500, "InternalError", "the user's password could not be read");
    }
    if (*reset) return Pend(req, {user, 0, Step::kNewPassword, mfa}, "password_change_required");
    return StartSession(req, user, mfa);
  }

  // The pending sign-in of the request's cookie at `step`: its key and state.
  std::optional<std::pair<std::string, Pending>> FindPending(const http::Request& req, Step step) {
    std::string token = CookieValue(req, req.secure ? kSecurePendingCookie : kPlainPendingCookie);
    if (token.empty()) return std::nullopt;
    std::string key = auth::Sha256Hex(token);
    std::lock_guard lock(mu);
    auto it = pending.find(key);
    if (it == pending.end() || it->second.expires_at <= Now() || it->second.step != step) {
      return std::nullopt;
    }
    return std::make_pair(key, it->second);
  }

  http::Response SignInMfa(const http::Request& req) {
    Json body = Json::parse(req.body, nullptr, false);
    bool has_code = body.is_object() && body["code"].is_string();
    bool has_recovery = body.is_object() && body["recovery_code"].is_string();
    if (has_code == has_recovery) {
      return ErrorReply(400, "ValidationError",
                        "send {\"code\": SIX_DIGITS} or {\"recovery_code\": CODE} as JSON");
    }
    auto found = FindPending(req, Step::kMfaCode);
    if (!found) return SignInExpired();
    const std::string user = found->second.user;
    if (auto t = Throttled(req, user)) return *t;
    Status s = has_code
                   ? directory->VerifyMfaCode(user, body["code"].get<std::string>())
                   : directory->RedeemRecoveryCode(user, body["recovery_code"].get<std::string>());
    if (!s.ok()) return Fail(req, user, true);
    {
      std::lock_guard lock(mu);
      pending.erase(found->first);
    }
    return Proceed(req, user, true);
  }

  static http::Response SignInExpired() {
    return ErrorReply(401, "SignInExpired",
                      "Sign in with your password again: the sign-in has expired.");
  }

  http::Response SignInPassword(const http::Request& req) {
    Json body = Json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body["old_password"].is_string() ||
        !body["new_password"].is_string()) {
      return ErrorReply(400, "ValidationError",
                        "send {\"old_password\": PASSWORD, \"new_password\": PASSWORD} as JSON");
    }
    auto found = FindPending(req, Step::kNewPassword);
    if (!found) return SignInExpired();
    const std::string user = found->second.user;
    const bool mfa = found->second.mfa;
    if (auto t = Throttled(req, user)) return *t;
    auto arn = directory->UserArn(user);
    if (!arn.ok()) return ErrorReply(500, "InternalError", "the user could not be read");
    Status s = directory->ChangePassword(user, body["old_password"].get<std::string>(),
                                         body["new_password"].get<std::string>());
    if (s.code() == StatusCode::kPermissionDenied) {
      AuditPasswordChange(req, user, *arn, "AccessDenied", s.message());
      return Fail(req, user, mfa);
    }
    if (s.code() == StatusCode::kInvalidArgument) {
      std::string_view why = s.message();
      constexpr std::string_view kPrefix = "PasswordPolicyViolation: ";
      if (why.substr(0, kPrefix.size()) == kPrefix) why.remove_prefix(kPrefix.size());
      AuditPasswordChange(req, user, *arn, "PasswordPolicyViolation", why);
      return ErrorReply(400, "PasswordPolicyViolation", why);
    }
    if (!s.ok()) return ErrorReply(500, "InternalError", "the password could not be changed");
    AuditPasswordChange(req, user, *arn, "", "");
    {
      std::lock_guard lock(mu);
      pending.erase(found->first);
    }
    return StartSession(req, user, mfa);
  }

  http::Response SignOut(const http::Request& req) {
    auto found = Find(req, false);
    if (!found) return ErrorReply(401, "NotSignedIn", "There is no session to sign out of.");
    if (!CsrfOk(req, found->second)) {
      return ErrorReply(403, "CsrfTokenMissing",
                        "Send the session's csrf_token in X-CSRF-Token, from this origin.");
    }
    {
      std::lock_guard lock(mu);
      sessions.erase(found->first);
    }
    AuditSignOut(req, found->second);
    http::Response r = JsonReply(200, Json{{"signed_out", true}});
    r.Set("Set-Cookie", SetCookie(req.secure ? kSecureCookie : kPlainCookie, "", req.secure, 0));
    return r;
  }
};

Console::Console(Directory* directory, audit::Sink* audit, const Clock* clock,
                 ConsoleOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->directory = directory;
  impl_->audit = audit;
  impl_->clock = clock;
  impl_->options = std::move(options);
}

Console::~Console() = default;

size_t Console::session_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->sessions.size();
}

http::Response Console::Handle(const http::Request& req) {
  std::string_view path = req.path;
  if (path.rfind(kApiPrefix, 0) != 0) {
    return ErrorReply(404, "NotFound", "the console API is under /_muonpipe/console/v1/");
  }
  std::string_view op = path.substr(kApiPrefix.size());
  auto only = [&](std::string_view method) -> std::optional<http::Response> {
    if (req.method == method) return std::nullopt;
    http::Response r = ErrorReply(405, "MethodNotAllowed",
                                  fmt::format("{} is not allowed here (allowed: {})", req.method,
                                              method));
    r.Set("Allow", std::string(method));
    return r;
  };
  if (IsStateChanging(req.method) && !OriginAllowed(req)) {
    return ErrorReply(403, "CrossOriginRequest", "requests must come from this server's origin");
  }
  if (op == "signin") {
    if (auto e = only("POST")) return *e;
    return impl_->SignIn(req);
  }
  if (op == "signin/mfa") {
    if (auto e = only("POST")) return *e;
    return impl_->SignInMfa(req);
  }
  if (op == "signin/password") {
    if (auto e = only("POST")) return *e;
    return impl_->SignInPassword(req);
  }
  if (op == "signout") {
    if (auto e = only("POST")) return *e;
    return impl_->SignOut(req);
  }
  if (op == "session") {
    if (auto e = only("GET")) return *e;
    auto found = impl_->Find(req, true);
    if (!found) return ErrorReply(401, "NotSignedIn", "Sign in first.");
    return JsonReply(200, impl_->SessionJson(found->second, true));
  }
  return ErrorReply(404, "NotFound", fmt::format("no console resource {} {}", req.method, req.path));
}

std::optional<auth::Caller> Console::SessionCaller(const http::Request& req) {
  auto found = impl_->Find(req, true);
  if (!found) return std::nullopt;
  const Impl::Session& s = found->second;
  if (IsStateChanging(req.method) && !impl_->CsrfOk(req, s)) return std::nullopt;
  auth::Caller c = impl_->CallerOf(s);
  c.source_ip = req.remote_ip;
  c.user_agent = std::string(req.Header("User-Agent"));
  c.secure_transport = req.secure;
  c.region = impl_->options.region;
  return c;
}

}  // namespace muon::console
