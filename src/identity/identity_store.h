// identity::IdentityStore: the identities IAM manages, kept in the same SQL
// database as the sensor registry (SQLite by default, PostgreSQL when several
// servers share one): users, console passwords, access keys, groups, roles,
// managed policies and their versions, virtual MFA devices and recovery
// codes, and STS sessions. docs/iam.md is the user's view of the same.
//
// The store answers the questions every request asks (which secret belongs to
// this access key, which policies bind this principal) from an in-memory
// snapshot, so authentication and authorisation never wait on the database.
// A write through this store updates the snapshot before it returns: a key
// disabled here stops working at the next request. Writes by another server
// on the same database are seen within `IdentityStoreOptions::refresh_millis`.
//
// Names follow IAM: ARNs arn:aws:iam::ACCOUNT:user/PATH/NAME, ids with AWS's
// prefixes (AIDA users, AGPA groups, AROA roles, ANPA policies, AKIA long-term
// keys, ASIA session keys). The predefined managed policies (src/iam/policies:
// Administrator, Operator, Analyst, Device, Auditor) exist in every store, as
// customer-managed policies of the account (arn:aws:iam::ACCOUNT:policy/NAME),
// created at open when missing. The bootstrap administrator (user "admin",
// Administrator attached) likewise.
//
// Errors (values, never exceptions), with IAM's meaning so the IAM edge can
// name IAM's codes:
//   NotFound            NoSuchEntity
//   AlreadyExists       EntityAlreadyExists
//   FailedPrecondition  DeleteConflict (the entity still has keys, policies,
//                       groups, devices or attachments); the message says which
//   InvalidArgument     ValidationError / MalformedPolicyDocument (the message
//                       names the field, as iam::ParsePolicy does) /
//                       PasswordPolicyViolation
//   ResourceExhausted   LimitExceeded (two access keys per user, five policy
//                       versions)
//   PermissionDenied    a wrong password, MFA code or recovery code
//                       (InvalidAuthenticationCode / EntityTemporarilyUnmodifiable
//                       is the edge's choice)
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/authorizer.h"
#include "auth/sigv4.h"
#include "base/clock.h"
#include "base/status.h"
#include "iam/policy_authorizer.h"

namespace muon::identity {

using Tags = std::vector<std::pair<std::string, std::string>>;

struct User {
  std::string name;
  std::string user_id;  // AIDA...
  std::string arn;
  std::string path = "/";
  int64_t create_date = 0;  // Unix seconds
  Tags tags;
  std::optional<int64_t> password_last_used;
  bool has_login_profile = false;
};

struct AccessKey {
  std::string access_key_id;  // AKIA...
  std::string user_name;
  bool active = true;  // Active / Inactive
  int64_t create_date = 0;
  // Last use, as GetAccessKeyLastUsed reports it (nullopt: never used).
  std::optional<int64_t> last_used_date;
  std::string last_used_service;
  std::string last_used_region;
};

struct NewAccessKey {
  AccessKey key;
  std::string secret_access_key;  // shown once
};

struct Group {
  std::string name;
  std::string group_id;  // AGPA...
  std::string arn;
  std::string path = "/";
  int64_t create_date = 0;
};

struct Role {
  std::string name;
  std::string role_id;  // AROA...
  std::string arn;
  std::string path = "/";
  std::string description;
  std::string assume_role_policy_document;  // the trust policy, JSON
  int64_t max_session_duration = 3600;      // seconds, 3600..43200
  int64_t create_date = 0;
  Tags tags;
};

struct ManagedPolicy {
  std::string name;
  std::string policy_id;  // ANPA...
  std::string arn;
  std::string path = "/";
  std::string description;
  std::string default_version_id;  // "v1", "v2", ...
  int64_t attachment_count = 0;
  int64_t create_date = 0;
  int64_t update_date = 0;
};

struct PolicyVersion {
  std::string version_id;
  std::string document;  // JSON as given
  bool is_default = false;
  int64_t create_date = 0;
};

enum class AttachTarget { kUser, kGroup, kRole };

struct MfaDevice {
  std::string serial_number;  // arn:aws:iam::ACCOUNT:mfa/PATH/NAME
  std::string user_name;      // empty while not enabled for a user
  std::optional<int64_t> enable_date;
};

struct LoginProfile {
  std::string user_name;
  int64_t create_date = 0;
  bool password_reset_required = false;
};

struct NewMfaDevice {
  MfaDevice device;
  std::string base32_seed;  // shown once
  std::string otpauth_uri;
  std::string qr_png;       // PNG bytes of the otpauth URI
};

// Temporary credentials (STS). The secret is stored; the session token is
// random and compared in constant time.
struct Session {
  auth::Credentials credentials;  // ASIA..., secret, session token
  std::string principal_arn;      // the user, or arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
  std::string policy_principal_arn;  // whose policies apply: the user or the role
  std::string source_identity;       // the user who obtained it
  int64_t expiration = 0;            // Unix seconds
  std::optional<int64_t> mfa_authenticated_at;
  // When it was issued (Unix seconds); nullopt only for sessions stored by a
  // muonpipe that did not keep it.
  std::optional<int64_t> created_at;
};

// Who signed a request, as the edges and the authorizer need it.
struct ResolvedKey {
  auth::Credentials credentials;
  std::string principal_arn;
  bool temporary = false;
  std::optional<int64_t> mfa_authenticated_at;
  std::optional<int64_t> created_at;  // sessions: when issued
};

struct ListOptions {
  std::string path_prefix = "/";
  std::string marker;  // opaque, from a previous page
  int max_items = 100;  // 1..1000
};

template <typename T>
struct Listing {
  std::vector<T> items;
  std::string next_marker;  // empty: no more
};

struct IdentityStoreOptions {
  std::string account_id = "000000000000";
  // How often the snapshot checks the database for other servers' writes.
  int64_t refresh_millis = 1000;
  // The bootstrap administrator's long-term key (DIR/admin-credentials); it is
  // attached to user "admin" when missing.
  std::optional<auth::Credentials> admin_key;
};

class IdentityStore {
 public:
  // Opens (and migrates) the identity tables in the database at `url`
  // (registry::Database::Open's forms), on a connection of its own.
  static Result<std::unique_ptr<IdentityStore>> Open(const std::string& url,
                                                     const IdentityStoreOptions& options,
                                                     const Clock* clock);
  ~IdentityStore();

  // --- what every request asks (snapshot; no database round trip) ---
  // Active long-term keys and unexpired sessions, as SigV4 verification needs
  // them. Valid as long as the store.
  const auth::CredentialStore* credentials() const;
  // The principal behind a key, nullopt when the key is unknown, inactive or expired.
  std::optional<ResolvedKey> Resolve(std::string_view access_key_id) const;
  // Policies of users (own and through groups) and roles, for
  // iam::PolicyAuthorizer; an assumed-role ARN resolves to its role. Valid as
  // long as the store.
  const iam::PolicyLookup* policies() const;
  // Notes that a key signed a request (GetAccessKeyLastUsed). Cheap; written
  // to the database in the background, at most once a minute per key.
  void NoteKeyUsed(std::string_view access_key_id, std::string_view service,
                   std::string_view region);

  // --- users ---
  Result<User> CreateUser(std::string_view name, std::string_view path, const Tags& tags);
  Result<User> GetUser(std::string_view name) const;
  Result<Listing<User>> ListUsers(const ListOptions& options) const;
  Status DeleteUser(std::string_view name);  // DeleteConflict while anything is attached

  // --- console passwords (Argon2id through libsodium, OWASP parameters) ---
  Status CreateLoginProfile(std::string_view user, std::string_view password,
                            bool password_reset_required);
  Status DeleteLoginProfile(std::string_view user);
  // PermissionDenied when `old_password` is wrong.
  Status ChangePassword(std::string_view user, std::string_view old_password,
                        std::string_view new_password);
  // NoSuchEntity when the user has no login profile.
  Result<LoginProfile> GetLoginProfile(std::string_view user) const;
  // An administrator's change: a new password (empty: keep it) and the reset flag.
  Status UpdateLoginProfile(std::string_view user, std::string_view password,
                            bool password_reset_required);
  // OK when the password matches; PermissionDenied otherwise (also for users
  // without a login profile; the time taken does not say which).
  Status VerifyPassword(std::string_view user, std::string_view password);

  // --- access keys ---
  Result<NewAccessKey> CreateAccessKey(std::string_view user);
  Result<std::vector<AccessKey>> ListAccessKeys(std::string_view user) const;
  Status UpdateAccessKey(std::string_view user, std::string_view access_key_id, bool active);
  Status DeleteAccessKey(std::string_view user, std::string_view access_key_id);
  Result<AccessKey> GetAccessKeyLastUsed(std::string_view access_key_id) const;

  // --- groups ---
  Result<Group> CreateGroup(std::string_view name, std::string_view path);
  Result<std::pair<Group, std::vector<User>>> GetGroup(std::string_view name) const;
  Result<Listing<Group>> ListGroups(const ListOptions& options) const;
  Result<std::vector<Group>> ListGroupsForUser(std::string_view user) const;
  Status DeleteGroup(std::string_view name);
  Status AddUserToGroup(std::string_view group, std::string_view user);
  Status RemoveUserFromGroup(std::string_view group, std::string_view user);

  // --- roles ---
  // The trust policy is validated with iam::ParsePolicy (InvalidArgument naming the field).
  Result<Role> CreateRole(std::string_view name, std::string_view path,
                          std::string_view assume_role_policy_document,
                          std::string_view description, int64_t max_session_duration,
                          const Tags& tags);
  Result<Role> GetRole(std::string_view name) const;
  Result<Listing<Role>> ListRoles(const ListOptions& options) const;
  Status DeleteRole(std::string_view name);

  // --- managed policies (versioned; at most five versions) ---
  Result<ManagedPolicy> CreatePolicy(std::string_view name, std::string_view path,
                                     std::string_view document, std::string_view description);
  Result<ManagedPolicy> GetPolicy(std::string_view policy_arn) const;
  // only_attached: ListPolicies' OnlyAttached.
  Result<Listing<ManagedPolicy>> ListPolicies(const ListOptions& options, bool only_attached) const;
  Result<PolicyVersion> GetPolicyVersion(std::string_view policy_arn,
                                         std::string_view version_id) const;
  Result<PolicyVersion> CreatePolicyVersion(std::string_view policy_arn, std::string_view document,
                                            bool set_as_default);
  // Newest first.
  Result<std::vector<PolicyVersion>> ListPolicyVersions(std::string_view policy_arn) const;
  // DeleteConflict for the default version.
  Status DeletePolicyVersion(std::string_view policy_arn, std::string_view version_id);
  Status SetDefaultPolicyVersion(std::string_view policy_arn, std::string_view version_id);
  // DeleteConflict while attached; its versions go with it.
  Status DeletePolicy(std::string_view policy_arn);
  Status AttachPolicy(AttachTarget target, std::string_view name, std::string_view policy_arn);
  Status DetachPolicy(AttachTarget target, std::string_view name, std::string_view policy_arn);
  Result<std::vector<ManagedPolicy>> ListAttachedPolicies(AttachTarget target,
                                                          std::string_view name) const;

  // --- virtual MFA devices and TOTP (iam/totp.h) ---
  Result<NewMfaDevice> CreateVirtualMfaDevice(std::string_view name, std::string_view path);
  // Two consecutive codes, as IAM demands; the later one's step becomes the
  // last accepted step. PermissionDenied when the codes do not verify.
  Status EnableMfaDevice(std::string_view user, std::string_view serial_number,
                         std::string_view code1, std::string_view code2);
  Status DeactivateMfaDevice(std::string_view user, std::string_view serial_number);
  Status DeleteVirtualMfaDevice(std::string_view serial_number);
  Result<std::vector<MfaDevice>> ListMfaDevices(std::string_view user) const;
  // Every virtual device; `assigned`: only enabled ones (true), only free ones
  // (false), all (nullopt). IAM's ListVirtualMFADevices AssignmentStatus.
  Result<std::vector<MfaDevice>> ListVirtualMfaDevices(std::optional<bool> assigned) const;
  // Verifies a code of the user's enabled device (`serial_number` empty: the
  // user's only device) and records its step atomically, so a code is
  // accepted once across every server sharing the database.
  // PermissionDenied for a wrong, replayed or out-of-window code.
  Status VerifyMfaCode(std::string_view user, std::string_view serial_number,
                       std::string_view code);
  // Ten new single-use recovery codes (replacing any earlier set); only
  // their salted hashes are kept.
  Result<std::vector<std::string>> NewRecoveryCodes(std::string_view user);
  Status RedeemRecoveryCode(std::string_view user, std::string_view code);
  // An administrator's reset: deactivates and deletes the user's devices and
  // recovery codes.
  Status ResetMfa(std::string_view user);

  // --- STS sessions ---
  // Stores a session; its key resolves until `expiration`. Expired sessions
  // are removed by PurgeExpiredSessions (serve's housekeeping).
  Status PutSession(const Session& session);
  Status PurgeExpiredSessions();

  // A secret named `name` shared by every server on this database (created
  // at first use): signing keys for console sessions and the like.
  Result<std::string> ServerSecret(std::string_view name);

  const std::string& account_id() const;

  // --- housekeeping (a background thread calls these; tests call them directly) ---
  // Reloads the snapshot when the change counter moved and refresh_millis
  // have passed on the Clock since the last check (the background thread
  // asks every second at most).
  Status RefreshIfDue();
  // The same without waiting for refresh_millis.
  Status Refresh();
  // Writes every noted key use to the database now (otherwise at most once a
  // minute per key, and at destruction).
  Status FlushKeyUses();

 private:
  struct Impl;
  explicit IdentityStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace muon::identity
