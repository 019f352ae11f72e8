#include "identity/identity_store.h"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "iam/policy.h"
#include "iam/totp.h"
#include "identity/embedded_policies.h"
#include "identity/schema.h"
#include "registry/sql.h"

namespace muon::identity {
namespace {

using registry::AsInt;
using registry::AsText;
using registry::IsNull;
using registry::SqlRows;
using registry::SqlValue;
using registry::Tx;

// Argon2id at OWASP's recommended minimum (m = 19 MiB, t = 2, p = 1):
// about 30-60 ms a hash on one core, memory-hard against GPU search.
constexpr unsigned long long kPwhashOpslimit = 2;
constexpr size_t kPwhashMemlimit = 19 * 1024 * 1024;
constexpr size_t kMinPasswordLength = 8;
constexpr size_t kMaxPasswordLength = 128;
constexpr int kMaxKeysPerUser = 2;
constexpr int kMaxPolicyVersions = 5;
constexpr int kMaxAttachedPolicies = 10;
constexpr int64_t kKeyUseFlushSeconds = 60;
constexpr const char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

bool SodiumReady() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

std::string RandomFrom(std::string_view alphabet, size_t n) {
  SodiumReady();
  std::string s(n, ' ');
  for (auto& c : s) c = alphabet[randombytes_uniform(static_cast<uint32_t>(alphabet.size()))];
  return s;
}

std::string NewId(std::string_view prefix) {
  return std::string(prefix) + RandomFrom(kBase32Alphabet, 17);
}

std::string Hex(std::string_view bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

std::string TagsToJson(const Tags& tags) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [k, v] : tags) j.push_back({k, v});
  return j.dump();
}

Tags TagsFromJson(const std::string& s) {
  Tags tags;
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (!j.is_array()) return tags;
  for (const auto& e : j) {
    if (e.is_array() && e.size() == 2) tags.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
  }
  return tags;
}

bool ValidName(std::string_view name, size_t max) {
  if (name.empty() || name.size() > max) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || std::string_view("_+=,.@-").find(c) !=
                                                           std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

Status CheckName(std::string_view what, std::string_view name, size_t max) {
  if (!ValidName(name, max)) {
    return Status::InvalidArgument(fmt::format(
        "{} name '{}' must be 1-{} characters of letters, digits and _+=,.@-", what, name, max));
  }
  return Status::Ok();
}

Result<std::string> NormalPath(std::string_view path) {
  if (path.empty()) return std::string("/");
  if (path.size() > 512 || path.front() != '/' || path.back() != '/') {
    return Status::InvalidArgument(
        fmt::format("path '{}' must begin and end with '/' (at most 512 characters)", path));
  }
  for (char c : path) {
    if (c < 0x21 || c > 0x7e) {
      return Status::InvalidArgument(fmt::format("path '{}' has a character outside ! to ~", path));
    }
  }
  return std::string(path);
}

std::optional<int64_t> OptInt(const SqlValue& v) {
  if (IsNull(v)) return std::nullopt;
  return AsInt(v);
}

SqlValue Nullable(const std::optional<int64_t>& v) {
  if (!v) return std::monostate{};
  return *v;
}

const char* AttachTable(AttachTarget t) {
  switch (t) {
    case AttachTarget::kUser: return "identity_user_policies";
    case AttachTarget::kGroup: return "identity_group_policies";
    case AttachTarget::kRole: return "identity_role_policies";
  }
  return "";
}

// The dummy Argon2id hash VerifyPassword checks against when the user has no
// login profile, so the answer takes the same time either way.
const std::string& DummyHash() {
  static const std::string hash = [] {
    SodiumReady();
    char out[crypto_pwhash_STRBYTES];
    std::string pw = RandomFrom(kBase32Alphabet, 24);
    if (crypto_pwhash_str(out, pw.data(), pw.size(), kPwhashOpslimit, kPwhashMemlimit) != 0) {
      return std::string();
    }
    return std::string(out);
  }();
  return hash;
}

Result<std::string> HashPassword(std::string_view password) {
  if (password.size() < kMinPasswordLength || password.size() > kMaxPasswordLength) {
    return Status::InvalidArgument(fmt::format(
        "PasswordPolicyViolation: a password must be {} to {} characters long",
        kMinPasswordLength, kMaxPasswordLength));
  }
  SodiumReady();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), kPwhashOpslimit,
                        kPwhashMemlimit) != 0) {
    return Status::Internal("hashing a password: out of memory");
  }
  return std::string(out);
}

bool PasswordMatches(const std::string& hash, std::string_view password) {
  SodiumReady();
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

struct KeyEntry {
  ResolvedKey key;
  int64_t expiration = 0;  // 0: a long-term key
};

// What every request reads: built whole from the database, replaced whole.
struct Snapshot {
  int64_t counter = -1;
  std::unordered_map<std::string, KeyEntry> keys;
  std::unordered_map<std::string, iam::PrincipalInfo> principals;  // user and role ARNs
  std::unordered_map<std::string, std::pair<std::string, std::string>> roles;  // name -> arn, id
};

struct KeyUse {
  int64_t date = 0;
  std::string service;
  std::string region;
  bool dirty = false;
  int64_t flushed_at = 0;  // Unix seconds of the last write to the database
};

}  // namespace

struct IdentityStore::Impl {
  // The two lookup interfaces share a method name, so each is an adapter.
  struct Credentials final : auth::CredentialStore {
    explicit Credentials(const Impl* i) : impl(i) {}
    const Impl* impl;
    std::optional<auth::Credentials> Lookup(std::string_view id) const override {
      return impl->LookupCredentials(id);
    }
  };
  struct Policies final : iam::PolicyLookup {
    explicit Policies(const Impl* i) : impl(i) {}
    const Impl* impl;
    Result<iam::PrincipalInfo> Lookup(std::string_view arn) const override {
      return impl->LookupPrincipal(arn);
    }
  };
  Credentials credentials_adapter{this};
  Policies policies_adapter{this};

  IdentityStoreOptions options;
  const Clock* clock = nullptr;
  std::unique_ptr<registry::Database> db;

  mutable std::shared_mutex snap_mu;
  std::shared_ptr<const Snapshot> snap;  // guarded by snap_mu
  std::mutex load_mu;  // one reload at a time
  // Parsed policy documents by "policy_id/version_id"; guarded by load_mu.
  std::unordered_map<std::string, std::shared_ptr<const iam::NamedPolicy>> parsed;
  std::atomic<int64_t> last_check_nanos{0};

  std::mutex use_mu;
  std::unordered_map<std::string, KeyUse> uses;  // guarded by use_mu

  std::mutex secrets_mu;
  std::unordered_map<std::string, std::string> secrets;  // guarded by secrets_mu

  std::mutex bg_mu;
  std::condition_variable bg_cv;
  bool stopping = false;  // guarded by bg_mu
  std::thread bg;

  std::string Arn(std::string_view kind, std::string_view path, std::string_view name) const {
    return fmt::format("arn:aws:iam::{}:{}{}{}", options.account_id, kind, path, name);
  }

  std::shared_ptr<const Snapshot> Current() const {
    std::shared_lock lock(snap_mu);
    return snap;
  }

  // --- auth::CredentialStore ---
  std::optional<auth::Credentials> LookupCredentials(std::string_view access_key_id) const {
    auto r = Resolve(access_key_id);
    if (!r) return std::nullopt;
    return r->credentials;
  }

  std::optional<ResolvedKey> Resolve(std::string_view access_key_id) const {
    auto s = Current();
    auto it = s->keys.find(std::string(access_key_id));
    if (it == s->keys.end()) return std::nullopt;
    if (it->second.expiration != 0 && clock->NowSeconds() >= it->second.expiration) {
      return std::nullopt;
    }
    return it->second.key;
  }

  // --- iam::PolicyLookup ---
  Result<iam::PrincipalInfo> LookupPrincipal(std::string_view principal_arn) const {
    auto s = Current();
    auto it = s->principals.find(std::string(principal_arn));
    if (it != s->principals.end()) return it->second;
    // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION -> the role's policies.
    const std::string prefix = fmt::format("arn:aws:sts::{}:assumed-role/", options.account_id);
    if (principal_arn.starts_with(prefix)) {
      std::string_view rest = principal_arn.substr(prefix.size());
      auto slash = rest.find('/');
      if (slash != std::string_view::npos) {
        auto role = s->roles.find(std::string(rest.substr(0, slash)));
        if (role != s->roles.end()) {
          auto p = s->principals.find(role->second.first);
          if (p != s->principals.end()) {
            iam::PrincipalInfo info = p->second;
            info.userid = fmt::format("{}:{}", role->second.second, rest.substr(slash + 1));
            return info;
          }
        }
      }
    }
    return Status::NotFound(fmt::format("no principal {}", principal_arn));
  }

  // Every write: bumps the change counter first (on PostgreSQL this row lock
  // serialises the store's writers, so check-then-insert rules such as two
  // keys a user hold; SQLite's BEGIN IMMEDIATE already does), then runs fn,
  // then reloads the snapshot before returning.
  //
  // `patch`, when given, applies the write to a copy of the snapshot instead
  // of rebuilding it from the database: used when the snapshot is exactly one
  // write behind (no other writer came between), which is the common case
  // for the frequent small writes (sessions).
  Status Write(const std::function<Status(Tx&)>& fn,
               const std::function<void(Snapshot&)>& patch = nullptr) {
    int64_t counter = 0;
    Status s = db->Transact([&](Tx& tx) -> Status {
      MUON_RETURN_IF_ERROR(
          tx.Exec("UPDATE identity_change SET counter = counter + 1 WHERE id = 1").status());
      MUON_ASSIGN_OR_RETURN(auto c, tx.Query("SELECT counter FROM identity_change WHERE id = 1"));
      counter = c.rows.empty() ? 0 : AsInt(c.rows[0][0]);
      return fn(tx);
    });
    if (!s.ok()) return s;
    if (patch) {
      std::lock_guard load_lock(load_mu);
      auto cur = Current();
      if (cur->counter >= counter) return Status::Ok();  // a reload already has it
      if (cur->counter == counter - 1) {
        auto next = std::make_shared<Snapshot>(*cur);
        patch(*next);
        next->counter = counter;
        std::unique_lock lock(snap_mu);
        snap = std::move(next);
        return Status::Ok();
      }
    }
    return Reload();
  }

  Status Reload();
  Status RefreshIfDue();
  Status FlushKeyUses(bool all);
  void Background();
};

namespace {

Result<std::string> UserId(Tx& tx, std::string_view name) {
  MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT user_id FROM identity_users WHERE name = :v1",
                                         {std::string(name)}));
  if (r.rows.empty()) return Status::NotFound(fmt::format("The user with name {} cannot be found.", name));
  return AsText(r.rows[0][0]);
}

Result<std::string> GroupId(Tx& tx, std::string_view name) {
  MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT group_id FROM identity_groups WHERE name = :v1",
                                         {std::string(name)}));
  if (r.rows.empty()) return Status::NotFound(fmt::format("The group with name {} cannot be found.", name));
  return AsText(r.rows[0][0]);
}

Result<std::string> RoleId(Tx& tx, std::string_view name) {
  MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT role_id FROM identity_roles WHERE name = :v1",
                                         {std::string(name)}));
  if (r.rows.empty()) return Status::NotFound(fmt::format("The role with name {} cannot be found.", name));
  return AsText(r.rows[0][0]);
}

Result<std::string> TargetId(Tx& tx, AttachTarget t, std::string_view name) {
  switch (t) {
    case AttachTarget::kUser: return UserId(tx, name);
    case AttachTarget::kGroup: return GroupId(tx, name);
    case AttachTarget::kRole: return RoleId(tx, name);
  }
  return Status::Internal("bad target");
}

Result<std::string> PolicyIdByArn(Tx& tx, std::string_view arn) {
  MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT policy_id FROM identity_policies WHERE arn = :v1",
                                         {std::string(arn)}));
  if (r.rows.empty()) return Status::NotFound(fmt::format("Policy {} does not exist or is not attachable.", arn));
  return AsText(r.rows[0][0]);
}

Status NameFree(Tx& tx, const char* table, std::string_view what, std::string_view name) {
  MUON_ASSIGN_OR_RETURN(
      auto r, tx.Query(fmt::format("SELECT 1 FROM {} WHERE lower(name) = lower(:v1)", table),
                       {std::string(name)}));
  if (!r.rows.empty()) {
    return Status::AlreadyExists(fmt::format("{} with name {} already exists.", what, name));
  }
  return Status::Ok();
}

Result<int64_t> Count(Tx& tx, const std::string& sql, const std::vector<SqlValue>& params) {
  MUON_ASSIGN_OR_RETURN(auto r, tx.Query(sql, params));
  return r.rows.empty() ? 0 : AsInt(r.rows[0][0]);
}

constexpr const char* kUserCols =
    "u.name, u.user_id, u.path, u.create_date, u.tags, u.password_last_used, "
    "(SELECT COUNT(*) FROM identity_login_profiles l WHERE l.user_id = u.user_id)";

constexpr const char* kPolicyCols =
    "p.name, p.policy_id, p.arn, p.path, p.description, p.default_version, p.create_date, "
    "p.update_date, (SELECT COUNT(*) FROM identity_user_policies a WHERE a.policy_id = "
    "p.policy_id) + (SELECT COUNT(*) FROM identity_group_policies a WHERE a.policy_id = "
    "p.policy_id) + (SELECT COUNT(*) FROM identity_role_policies a WHERE a.policy_id = "
    "p.policy_id)";

constexpr const char* kRoleCols =
    "name, role_id, path, description, trust_policy, max_session_duration, create_date, tags";

Status CheckListOptions(const ListOptions& o) {
  if (o.max_items < 1 || o.max_items > 1000) {
    return Status::InvalidArgument("MaxItems must be between 1 and 1000");
  }
  return NormalPath(o.path_prefix).status();
}

// A page of `table` (alias `alias`) ordered by name: the marker is the last
// name of the previous page.
Result<SqlRows> Page(Tx& tx, const std::string& cols, const std::string& from,
                     const std::string& extra_where, const ListOptions& o) {
  std::string sql = fmt::format(
      "SELECT {} FROM {} WHERE substr(path, 1, length(:v1)) = :v2 AND name > :v3 {} "
      "ORDER BY name LIMIT {}",
      cols, from, extra_where, o.max_items + 1);
  std::string prefix = o.path_prefix.empty() ? "/" : o.path_prefix;
  return tx.Query(sql, {prefix, prefix, o.marker});
}

template <typename T>
Listing<T> ToListing(std::vector<T> items, int max_items) {
  Listing<T> l;
  if (static_cast<int>(items.size()) > max_items) {
    items.resize(max_items);
    l.next_marker = items.back().name;
  }
  l.items = std::move(items);
  return l;
}

}  // namespace

// ---------------------------------------------------------------------------
// Snapshot

Status IdentityStore::Impl::Reload() {
  std::lock_guard load_lock(load_mu);
  auto next = std::make_shared<Snapshot>();
  struct PolicyRow {
    std::string name, doc;
  };
  std::unordered_map<std::string, std::string> policy_key;  // policy_id -> cache key
  std::unordered_map<std::string, PolicyRow> policy_rows;
  std::multimap<std::string, std::string> user_pol, group_pol, role_pol, members;  // x -> y
  std::vector<std::vector<SqlValue>> users, keys, roles, sessions;
  Status s = db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto c, tx.Query("SELECT counter FROM identity_change WHERE id = 1"));
    next->counter = c.rows.empty() ? 0 : AsInt(c.rows[0][0]);
    MUON_ASSIGN_OR_RETURN(auto u, tx.Query("SELECT user_id, name, path, tags FROM identity_users"));
    users = std::move(u.rows);
    MUON_ASSIGN_OR_RETURN(auto k, tx.Query("SELECT k.access_key_id, k.secret, u.path, u.name "
                                           "FROM identity_access_keys k JOIN identity_users u "
                                           "ON u.user_id = k.user_id WHERE k.active = 1"));
    keys = std::move(k.rows);
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT role_id, name, path, tags FROM identity_roles"));
    roles = std::move(r.rows);
    MUON_ASSIGN_OR_RETURN(
        auto ss, tx.Query("SELECT access_key_id, secret, session_token, principal_arn, "
                          "expiration, mfa_authenticated_at, created_at FROM identity_sessions "
                          "WHERE expiration > :v1",
                          {clock->NowSeconds()}));
    sessions = std::move(ss.rows);
    MUON_ASSIGN_OR_RETURN(
        auto p, tx.Query("SELECT p.policy_id, p.name, p.default_version, v.document FROM "
                         "identity_policies p JOIN identity_policy_versions v ON v.policy_id = "
                         "p.policy_id AND v.version_id = p.default_version"));
    for (auto& row : p.rows) {
      std::string id = AsText(row[0]);
      policy_key[id] = id + "/" + AsText(row[2]);
      policy_rows[id] = {AsText(row[1]), AsText(row[3])};
    }
    auto pairs = [&](const char* sql, std::multimap<std::string, std::string>* out) -> Status {
      MUON_ASSIGN_OR_RETURN(auto rows, tx.Query(sql));
      for (auto& row : rows.rows) out->emplace(AsText(row[0]), AsText(row[1]));
      return Status::Ok();
    };
    MUON_RETURN_IF_ERROR(pairs("SELECT target_id, policy_id FROM identity_user_policies", &user_pol));
    MUON_RETURN_IF_ERROR(pairs("SELECT target_id, policy_id FROM identity_group_policies", &group_pol));
    MUON_RETURN_IF_ERROR(pairs("SELECT target_id, policy_id FROM identity_role_policies", &role_pol));
    return pairs("SELECT user_id, group_id FROM identity_group_members", &members);
  });
  if (!s.ok()) return s.WithContext("loading the identity snapshot");

  // Parse what changed; keep the parsed form of what did not.
  std::unordered_map<std::string, std::shared_ptr<const iam::NamedPolicy>> parsed_next;
  for (const auto& [id, key] : policy_key) {
    auto it = parsed.find(key);
    if (it != parsed.end()) {
      parsed_next[key] = it->second;
      continue;
    }
    auto pol = iam::ParsePolicy(policy_rows[id].doc);
    if (!pol.ok()) continue;  // validated on write; a bad row grants nothing
    parsed_next[key] = std::make_shared<const iam::NamedPolicy>(
        iam::NamedPolicy{policy_rows[id].name, std::move(*pol)});
  }
  parsed = std::move(parsed_next);
  auto policies_of = [&](const std::multimap<std::string, std::string>& m, const std::string& id,
                         std::set<std::string>* seen,
                         std::vector<std::shared_ptr<const iam::NamedPolicy>>* out) {
    auto [b, e] = m.equal_range(id);
    for (auto it = b; it != e; ++it) {
      auto k = policy_key.find(it->second);
      if (k == policy_key.end() || !seen->insert(it->second).second) continue;
      auto p = parsed.find(k->second);
      if (p != parsed.end()) out->push_back(p->second);
    }
  };
  for (const auto& row : users) {
    std::string id = AsText(row[0]);
    iam::PrincipalInfo info;
    info.username = AsText(row[1]);
    info.userid = id;
    info.tags = TagsFromJson(AsText(row[3]));
    std::set<std::string> seen;
    policies_of(user_pol, id, &seen, &info.policies);
    auto [b, e] = members.equal_range(id);
    for (auto it = b; it != e; ++it) policies_of(group_pol, it->second, &seen, &info.policies);
    next->principals[Arn("user", AsText(row[2]), AsText(row[1]))] = std::move(info);
  }
  for (const auto& row : roles) {
    std::string id = AsText(row[0]);
    std::string arn = Arn("role", AsText(row[2]), AsText(row[1]));
    iam::PrincipalInfo info;
    info.userid = id;
    info.tags = TagsFromJson(AsText(row[3]));
    std::set<std::string> seen;
    policies_of(role_pol, id, &seen, &info.policies);
    next->principals[arn] = std::move(info);
    next->roles[AsText(row[1])] = {arn, id};
  }
  for (const auto& row : keys) {
    KeyEntry e;
    e.key.credentials = {AsText(row[0]), AsText(row[1]), ""};
    e.key.principal_arn = Arn("user", AsText(row[2]), AsText(row[3]));
    next->keys[AsText(row[0])] = std::move(e);
  }
  for (const auto& row : sessions) {
    KeyEntry e;
    e.key.credentials = {AsText(row[0]), AsText(row[1]), AsText(row[2])};
    e.key.principal_arn = AsText(row[3]);
    e.key.temporary = true;
    e.key.mfa_authenticated_at = OptInt(row[5]);
    e.key.created_at = OptInt(row[6]);
    e.expiration = AsInt(row[4]);
    next->keys[AsText(row[0])] = std::move(e);
  }
  std::unique_lock lock(snap_mu);
  if (!snap || next->counter >= snap->counter) snap = std::move(next);
  return Status::Ok();
}

Status IdentityStore::Impl::RefreshIfDue() {
  int64_t now = clock->MonotonicNanos();
  if (now - last_check_nanos.load() < options.refresh_millis * 1'000'000) return Status::Ok();
  last_check_nanos = now;
  int64_t counter = 0;
  MUON_RETURN_IF_ERROR(db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto c, tx.Query("SELECT counter FROM identity_change WHERE id = 1"));
    counter = c.rows.empty() ? 0 : AsInt(c.rows[0][0]);
    return Status::Ok();
  }));
  if (counter == Current()->counter) return Status::Ok();
  return Reload();
}

Status IdentityStore::Impl::FlushKeyUses(bool all) {
  int64_t now = clock->NowSeconds();
  std::vector<std::pair<std::string, KeyUse>> due;
  {
    std::lock_guard lock(use_mu);
    for (auto it = uses.begin(); it != uses.end();) {
      KeyUse& u = it->second;
      if (u.dirty && (all || now - u.flushed_at >= kKeyUseFlushSeconds)) {
        due.emplace_back(it->first, u);
        u.dirty = false;
        u.flushed_at = now;
      }
      // A clean entry older than the interval says nothing the database does
      // not, and a new use of its key may be written at once: drop it, so the
      // map holds only recently used keys.
      if (!u.dirty && now - u.flushed_at >= kKeyUseFlushSeconds) {
        it = uses.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (due.empty()) return Status::Ok();
  // Not a change of the snapshot: the counter stays.
  return db->Transact([&](Tx& tx) -> Status {
    for (const auto& [id, u] : due) {
      MUON_RETURN_IF_ERROR(
          tx.Exec("UPDATE identity_access_keys SET last_used_date = :v1, last_used_service = "
                  ":v2, last_used_region = :v3 WHERE access_key_id = :v4",
                  {u.date, u.service, u.region, id})
              .status());
    }
    return Status::Ok();
  });
}

// Ticks on the steady clock (at most every second, sooner when
// refresh_millis is shorter); what is due is decided by the store's Clock.
void IdentityStore::Impl::Background() {
  auto tick = std::chrono::milliseconds(std::clamp<int64_t>(options.refresh_millis, 10, 1000));
  std::unique_lock lock(bg_mu);
  while (!stopping) {
    bg_cv.wait_for(lock, tick, [&] { return stopping; });
    if (stopping) break;
    lock.unlock();
    (void)RefreshIfDue();
    (void)FlushKeyUses(false);
    lock.lock();
  }
}

// ---------------------------------------------------------------------------
// Open

IdentityStore::IdentityStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

IdentityStore::~IdentityStore() {
  {
    std::lock_guard lock(impl_->bg_mu);
    impl_->stopping = true;
  }
  impl_->bg_cv.notify_all();
  if (impl_->bg.joinable()) impl_->bg.join();
  (void)impl_->FlushKeyUses(true);
}

Result<std::unique_ptr<IdentityStore>> IdentityStore::Open(const std::string& url,
                                                           const IdentityStoreOptions& options,
                                                           const Clock* clock) {
  if (!SodiumReady()) return Status::Internal("libsodium failed to initialise");
  if (DummyHash().empty()) return Status::Internal("Argon2id: out of memory");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->clock = clock;
  MUON_ASSIGN_OR_RETURN(impl->db, registry::Database::Open(url));
  MUON_RETURN_IF_ERROR(MigrateIdentity(*impl->db));
  Impl* p = impl.get();
  const int64_t now = clock->NowSeconds();
  // The predefined managed policies and the bootstrap administrator, when
  // missing. Existing ones are left as they are (an operator may have
  // versioned a predefined policy).
  MUON_RETURN_IF_ERROR(p->Write([&](Tx& tx) -> Status {
    for (size_t i = 0; i < internal::kEmbeddedFileCount; ++i) {
      const auto& f = internal::kEmbeddedFiles[i];
      MUON_ASSIGN_OR_RETURN(auto have, Count(tx, "SELECT COUNT(*) FROM identity_policies WHERE name = :v1",
                                             {std::string(f.name)}));
      if (have > 0) continue;
      auto parsed = iam::ParsePolicy(f.contents);
      if (!parsed.ok()) return parsed.status().WithContext(fmt::format("predefined policy {}", f.name));
      std::string id = NewId("ANPA");
      MUON_RETURN_IF_ERROR(
          tx.Exec("INSERT INTO identity_policies (policy_id, name, arn, path, description, "
                  "default_version, next_version, create_date, update_date) VALUES (:v1, :v2, "
                  ":v3, '/', :v4, 'v1', 2, :v5, :v6)",
                  {id, std::string(f.name), p->Arn("policy", "/", f.name),
                   fmt::format("muonpipe predefined role {}", f.name), now, now})
              .status());
      MUON_RETURN_IF_ERROR(tx.Exec("INSERT INTO identity_policy_versions (policy_id, version_id, "
                                   "document, create_date) VALUES (:v1, 'v1', :v2, :v3)",
                                   {id, std::string(f.contents), now})
                               .status());
    }
    std::string admin_id;
    {
      MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT user_id FROM identity_users WHERE name = 'admin'"));
      if (r.rows.empty()) {
        admin_id = NewId("AIDA");
        MUON_RETURN_IF_ERROR(tx.Exec("INSERT INTO identity_users (user_id, name, path, "
                                     "create_date, tags) VALUES (:v1, 'admin', '/', :v2, '[]')",
                                     {admin_id, now})
                                 .status());
        MUON_ASSIGN_OR_RETURN(auto pol, PolicyIdByArn(tx, p->Arn("policy", "/", "Administrator")));
        MUON_RETURN_IF_ERROR(tx.Exec("INSERT INTO identity_user_policies (target_id, policy_id) "
                                     "VALUES (:v1, :v2)",
                                     {admin_id, pol})
                                 .status());
      } else {
        admin_id = AsText(r.rows[0][0]);
      }
    }
    if (options.admin_key && !options.admin_key->access_key_id.empty()) {
      MUON_ASSIGN_OR_RETURN(auto have, Count(tx, "SELECT COUNT(*) FROM identity_access_keys WHERE access_key_id = :v1",
                                             {options.admin_key->access_key_id}));
      if (have == 0) {
        MUON_RETURN_IF_ERROR(
            tx.Exec("INSERT INTO identity_access_keys (access_key_id, user_id, secret, active, "
                    "create_date) VALUES (:v1, :v2, :v3, 1, :v4)",
                    {options.admin_key->access_key_id, admin_id,
                     options.admin_key->secret_access_key, now})
                .status());
      }
    }
    return Status::Ok();
  }));
  p->last_check_nanos = clock->MonotonicNanos();
  p->bg = std::thread([p] { p->Background(); });
  return std::unique_ptr<IdentityStore>(new IdentityStore(std::move(impl)));
}

const std::string& IdentityStore::account_id() const { return impl_->options.account_id; }
const auth::CredentialStore* IdentityStore::credentials() const {
  return &impl_->credentials_adapter;
}
const iam::PolicyLookup* IdentityStore::policies() const { return &impl_->policies_adapter; }
std::optional<ResolvedKey> IdentityStore::Resolve(std::string_view id) const {
  return impl_->Resolve(id);
}
Status IdentityStore::Refresh() {
  impl_->last_check_nanos = impl_->clock->MonotonicNanos() - impl_->options.refresh_millis * 1'000'000;
  return impl_->RefreshIfDue();
}
Status IdentityStore::RefreshIfDue() { return impl_->RefreshIfDue(); }
Status IdentityStore::FlushKeyUses() { return impl_->FlushKeyUses(true); }

void IdentityStore::NoteKeyUsed(std::string_view access_key_id, std::string_view service,
                                std::string_view region) {
  std::lock_guard lock(impl_->use_mu);
  KeyUse& u = impl_->uses[std::string(access_key_id)];
  u.date = impl_->clock->NowSeconds();
  u.service = service;
  u.region = region;
  u.dirty = true;
}

// ---------------------------------------------------------------------------
// Users

namespace {
User UserFromRow(const std::vector<SqlValue>& r, const std::string& account) {
  User u;
  u.name = AsText(r[0]);
  u.user_id = AsText(r[1]);
  u.path = AsText(r[2]);
  u.arn = fmt::format("arn:aws:iam::{}:user{}{}", account, u.path, u.name);
  u.create_date = AsInt(r[3]);
  u.tags = TagsFromJson(AsText(r[4]));
  u.password_last_used = OptInt(r[5]);
  u.has_login_profile = AsInt(r[6]) > 0;
  return u;
}
}  // namespace

Result<User> IdentityStore::CreateUser(std::string_view name, std::string_view path,
                                       const Tags& tags) {
  MUON_RETURN_IF_ERROR(CheckName("user", name, 64));
  MUON_ASSIGN_OR_RETURN(std::string p, NormalPath(path));
  MUON_RETURN_IF_ERROR(impl_->Write([&](Tx& tx) -> Status {
    MUON_RETURN_IF_ERROR(NameFree(tx, "identity_users", "User", name));
    return tx.Exec("INSERT INTO identity_users (user_id, name, path, create_date, tags) VALUES "
                   "(:v1, :v2, :v3, :v4, :v5)",
                   {NewId("AIDA"), std::string(name), p, impl_->clock->NowSeconds(), TagsToJson(tags)})
        .status();
  }));
  return GetUser(name);
}

Result<User> IdentityStore::GetUser(std::string_view name) const {
  std::optional<User> out;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query(fmt::format("SELECT {} FROM identity_users u WHERE u.name = :v1", kUserCols),
                                           {std::string(name)}));
    if (!r.rows.empty()) out = UserFromRow(r.rows[0], impl_->options.account_id);
    return Status::Ok();
  }));
  if (!out) return Status::NotFound(fmt::format("The user with name {} cannot be found.", name));
  return *out;
}

Result<Listing<User>> IdentityStore::ListUsers(const ListOptions& options) const {
  MUON_RETURN_IF_ERROR(CheckListOptions(options));
  std::vector<User> items;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, Page(tx, kUserCols, "identity_users u", "", options));
    for (auto& row : r.rows) items.push_back(UserFromRow(row, impl_->options.account_id));
    return Status::Ok();
  }));
  return ToListing(std::move(items), options.max_items);
}

Status IdentityStore::DeleteUser(std::string_view name) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, UserId(tx, name));
    std::vector<std::string> still;
    auto check = [&](const char* sql, const char* what) -> Status {
      MUON_ASSIGN_OR_RETURN(int64_t n, Count(tx, sql, {id}));
      if (n > 0) still.push_back(what);
      return Status::Ok();
    };
    MUON_RETURN_IF_ERROR(check("SELECT COUNT(*) FROM identity_login_profiles WHERE user_id = :v1", "a login profile"));
    MUON_RETURN_IF_ERROR(check("SELECT COUNT(*) FROM identity_access_keys WHERE user_id = :v1", "access keys"));
    MUON_RETURN_IF_ERROR(check("SELECT COUNT(*) FROM identity_group_members WHERE user_id = :v1", "group memberships"));
    MUON_RETURN_IF_ERROR(check("SELECT COUNT(*) FROM identity_user_policies WHERE target_id = :v1", "attached policies"));
    MUON_RETURN_IF_ERROR(check("SELECT COUNT(*) FROM identity_mfa_devices WHERE user_id = :v1", "MFA devices"));
    if (!still.empty()) {
      std::string list;
      for (const auto& s : still) list += (list.empty() ? "" : ", ") + s;
      return Status::FailedPrecondition(
          fmt::format("Cannot delete entity, must remove {} first (user {} still has them).", list, name));
    }
    MUON_RETURN_IF_ERROR(tx.Exec("DELETE FROM identity_recovery_codes WHERE user_id = :v1", {id}).status());
    return tx.Exec("DELETE FROM identity_users WHERE user_id = :v1", {id}).status();
  });
}

// ---------------------------------------------------------------------------
// Passwords

Status IdentityStore::CreateLoginProfile(std::string_view user, std::string_view password,
                                         bool password_reset_required) {
  MUON_ASSIGN_OR_RETURN(std::string hash, HashPassword(password));
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(int64_t n, Count(tx, "SELECT COUNT(*) FROM identity_login_profiles WHERE user_id = :v1", {id}));
    if (n > 0) return Status::AlreadyExists(fmt::format("Login Profile for user {} already exists.", user));
    return tx.Exec("INSERT INTO identity_login_profiles (user_id, password_hash, reset_required, "
                   "create_date) VALUES (:v1, :v2, :v3, :v4)",
                   {id, hash, int64_t{password_reset_required ? 1 : 0}, impl_->clock->NowSeconds()})
        .status();
  });
}

Status IdentityStore::DeleteLoginProfile(std::string_view user) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(int64_t n, tx.Exec("DELETE FROM identity_login_profiles WHERE user_id = :v1", {id}));
    if (n == 0) return Status::NotFound(fmt::format("Login Profile for User {} cannot be found.", user));
    return Status::Ok();
  });
}

namespace {
// The stored hash of `user`'s password, "" when there is none.
Result<std::pair<std::string, std::string>> ProfileOf(registry::Database& db, std::string_view user) {
  std::pair<std::string, std::string> out;  // user_id, hash
  MUON_RETURN_IF_ERROR(db.Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT u.user_id, l.password_hash FROM identity_users u "
                                           "JOIN identity_login_profiles l ON l.user_id = u.user_id "
                                           "WHERE u.name = :v1",
                                           {std::string(user)}));
    if (!r.rows.empty()) out = {AsText(r.rows[0][0]), AsText(r.rows[0][1])};
    return Status::Ok();
  }));
  return out;
}
}  // namespace

Status IdentityStore::VerifyPassword(std::string_view user, std::string_view password) {
  MUON_ASSIGN_OR_RETURN(auto profile, ProfileOf(*impl_->db, user));
  // Without a profile the dummy hash is checked, so both answers cost one
  // Argon2id run.
  bool ok = PasswordMatches(profile.second.empty() ? DummyHash() : profile.second, password);
  if (!ok || profile.second.empty()) {
    return Status::PermissionDenied("the user name or password is wrong");
  }
  // Not a change of the snapshot: the counter stays.
  return impl_->db->Transact([&](Tx& tx) -> Status {
    return tx.Exec("UPDATE identity_users SET password_last_used = :v1 WHERE user_id = :v2",
                   {impl_->clock->NowSeconds(), profile.first})
        .status();
  });
}

Status IdentityStore::ChangePassword(std::string_view user, std::string_view old_password,
                                     std::string_view new_password) {
  MUON_ASSIGN_OR_RETURN(auto profile, ProfileOf(*impl_->db, user));
  bool ok = PasswordMatches(profile.second.empty() ? DummyHash() : profile.second, old_password);
  if (!ok || profile.second.empty()) return Status::PermissionDenied("the old password is wrong");
  MUON_ASSIGN_OR_RETURN(std::string hash, HashPassword(new_password));
  return impl_->Write([&](Tx& tx) -> Status {
    return tx.Exec("UPDATE identity_login_profiles SET password_hash = :v1, reset_required = 0 "
                   "WHERE user_id = :v2",
                   {hash, profile.first})
        .status();
  });
}

// ---------------------------------------------------------------------------
// Access keys

namespace {
AccessKey KeyFromRow(const std::vector<SqlValue>& r) {
  AccessKey k;
  k.access_key_id = AsText(r[0]);
  k.user_name = AsText(r[1]);
  k.active = AsInt(r[2]) != 0;
  k.create_date = AsInt(r[3]);
  k.last_used_date = OptInt(r[4]);
  k.last_used_service = AsText(r[5]);
  k.last_used_region = AsText(r[6]);
  return k;
}
constexpr const char* kKeyCols =
    "k.access_key_id, u.name, k.active, k.create_date, k.last_used_date, k.last_used_service, "
    "k.last_used_region";
}  // namespace

Result<NewAccessKey> IdentityStore::CreateAccessKey(std::string_view user) {
  NewAccessKey out;
  out.key.access_key_id = "AKIA" + RandomFrom(kBase32Alphabet, 16);
  out.secret_access_key = RandomFrom(
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 40);
  out.key.user_name = user;
  out.key.create_date = impl_->clock->NowSeconds();
  MUON_RETURN_IF_ERROR(impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(int64_t n, Count(tx, "SELECT COUNT(*) FROM identity_access_keys WHERE user_id = :v1", {id}));
    if (n >= kMaxKeysPerUser) {
      return Status::ResourceExhausted(fmt::format(
          "Cannot exceed quota for AccessKeysPerUser: {} (user {})", kMaxKeysPerUser, user));
    }
    return tx.Exec("INSERT INTO identity_access_keys (access_key_id, user_id, secret, active, "
                   "create_date) VALUES (:v1, :v2, :v3, 1, :v4)",
                   {out.key.access_key_id, id, out.secret_access_key, out.key.create_date})
        .status();
  }));
  return out;
}

namespace {
void MergeUse(std::mutex& mu, const std::unordered_map<std::string, KeyUse>& uses, AccessKey* k) {
  std::lock_guard lock(mu);
  auto it = uses.find(k->access_key_id);
  if (it == uses.end()) return;
  if (!k->last_used_date || *k->last_used_date <= it->second.date) {
    k->last_used_date = it->second.date;
    k->last_used_service = it->second.service;
    k->last_used_region = it->second.region;
  }
}
}  // namespace

Result<std::vector<AccessKey>> IdentityStore::ListAccessKeys(std::string_view user) const {
  std::vector<AccessKey> out;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query(fmt::format("SELECT {} FROM identity_access_keys k JOIN identity_users u "
                                                       "ON u.user_id = k.user_id WHERE k.user_id = :v1 "
                                                       "ORDER BY k.create_date, k.access_key_id",
                                                       kKeyCols),
                                           {id}));
    for (auto& row : r.rows) out.push_back(KeyFromRow(row));
    return Status::Ok();
  }));
  for (auto& k : out) MergeUse(impl_->use_mu, impl_->uses, &k);
  return out;
}

Status IdentityStore::UpdateAccessKey(std::string_view user, std::string_view access_key_id,
                                      bool active) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(int64_t n, tx.Exec("UPDATE identity_access_keys SET active = :v1 WHERE "
                                             "access_key_id = :v2 AND user_id = :v3",
                                             {int64_t{active ? 1 : 0}, std::string(access_key_id), id}));
    if (n == 0) return Status::NotFound(fmt::format("The Access Key with id {} cannot be found.", access_key_id));
    return Status::Ok();
  });
}

Status IdentityStore::DeleteAccessKey(std::string_view user, std::string_view access_key_id) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(int64_t n, tx.Exec("DELETE FROM identity_access_keys WHERE "
                                             "access_key_id = :v1 AND user_id = :v2",
                                             {std::string(access_key_id), id}));
    if (n == 0) return Status::NotFound(fmt::format("The Access Key with id {} cannot be found.", access_key_id));
    return Status::Ok();
  });
}

Result<AccessKey> IdentityStore::GetAccessKeyLastUsed(std::string_view access_key_id) const {
  std::optional<AccessKey> out;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query(fmt::format("SELECT {} FROM identity_access_keys k JOIN identity_users u "
                                                       "ON u.user_id = k.user_id WHERE k.access_key_id = :v1",
                                                       kKeyCols),
                                           {std::string(access_key_id)}));
    if (!r.rows.empty()) out = KeyFromRow(r.rows[0]);
    return Status::Ok();
  }));
  if (!out) return Status::NotFound(fmt::format("The Access Key with id {} cannot be found.", access_key_id));
  MergeUse(impl_->use_mu, impl_->uses, &*out);
  return *out;
}

// ---------------------------------------------------------------------------
// Groups

namespace {
Group GroupFromRow(const std::vector<SqlValue>& r, const std::string& account) {
  Group g;
  g.name = AsText(r[0]);
  g.group_id = AsText(r[1]);
  g.path = AsText(r[2]);
  g.arn = fmt::format("arn:aws:iam::{}:group{}{}", account, g.path, g.name);
  g.create_date = AsInt(r[3]);
  return g;
}
}  // namespace

Result<Group> IdentityStore::CreateGroup(std::string_view name, std::string_view path) {
  MUON_RETURN_IF_ERROR(CheckName("group", name, 128));
  MUON_ASSIGN_OR_RETURN(std::string p, NormalPath(path));
  Group g;
  g.name = name;
  g.group_id = NewId("AGPA");
  g.path = p;
  g.arn = impl_->Arn("group", p, name);
  g.create_date = impl_->clock->NowSeconds();
  MUON_RETURN_IF_ERROR(impl_->Write([&](Tx& tx) -> Status {
    MUON_RETURN_IF_ERROR(NameFree(tx, "identity_groups", "Group", name));
    return tx.Exec("INSERT INTO identity_groups (group_id, name, path, create_date) VALUES (:v1, "
                   ":v2, :v3, :v4)",
                   {g.group_id, g.name, g.path, g.create_date})
        .status();
  }));
  return g;
}

Result<std::pair<Group, std::vector<User>>> IdentityStore::GetGroup(std::string_view name) const {
  std::pair<Group, std::vector<User>> out;
  bool found = false;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT name, group_id, path, create_date FROM identity_groups WHERE name = :v1",
                                           {std::string(name)}));
    if (r.rows.empty()) return Status::Ok();
    found = true;
    out.first = GroupFromRow(r.rows[0], impl_->options.account_id);
    MUON_ASSIGN_OR_RETURN(auto m, tx.Query(fmt::format("SELECT {} FROM identity_users u JOIN identity_group_members g "
                                                       "ON g.user_id = u.user_id WHERE g.group_id = :v1 ORDER BY u.name",
                                                       kUserCols),
                                           {out.first.group_id}));
    for (auto& row : m.rows) out.second.push_back(UserFromRow(row, impl_->options.account_id));
    return Status::Ok();
  }));
  if (!found) return Status::NotFound(fmt::format("The group with name {} cannot be found.", name));
  return out;
}

Result<Listing<Group>> IdentityStore::ListGroups(const ListOptions& options) const {
  MUON_RETURN_IF_ERROR(CheckListOptions(options));
  std::vector<Group> items;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, Page(tx, "name, group_id, path, create_date", "identity_groups", "", options));
    for (auto& row : r.rows) items.push_back(GroupFromRow(row, impl_->options.account_id));
    return Status::Ok();
  }));
  return ToListing(std::move(items), options.max_items);
}

Result<std::vector<Group>> IdentityStore::ListGroupsForUser(std::string_view user) const {
  std::vector<Group> out;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT g.name, g.group_id, g.path, g.create_date FROM identity_groups g "
                                           "JOIN identity_group_members m ON m.group_id = g.group_id "
                                           "WHERE m.user_id = :v1 ORDER BY g.name",
                                           {id}));
    for (auto& row : r.rows) out.push_back(GroupFromRow(row, impl_->options.account_id));
    return Status::Ok();
  }));
  return out;
}

Status IdentityStore::DeleteGroup(std::string_view name) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, GroupId(tx, name));
    MUON_ASSIGN_OR_RETURN(int64_t members, Count(tx, "SELECT COUNT(*) FROM identity_group_members WHERE group_id = :v1", {id}));
    MUON_ASSIGN_OR_RETURN(int64_t pols, Count(tx, "SELECT COUNT(*) FROM identity_group_policies WHERE target_id = :v1", {id}));
    if (members > 0 || pols > 0) {
      return Status::FailedPrecondition(fmt::format(
          "Cannot delete entity, must remove {} first (group {}).",
          members > 0 && pols > 0 ? "users and attached policies" : members > 0 ? "users" : "attached policies",
          name));
    }
    return tx.Exec("DELETE FROM identity_groups WHERE group_id = :v1", {id}).status();
  });
}

Status IdentityStore::AddUserToGroup(std::string_view group, std::string_view user) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string gid, GroupId(tx, group));
    MUON_ASSIGN_OR_RETURN(std::string uid, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(int64_t n, Count(tx, "SELECT COUNT(*) FROM identity_group_members WHERE group_id = :v1 AND user_id = :v2", {gid, uid}));
    if (n > 0) return Status::Ok();  // IAM: adding twice is not an error
    return tx.Exec("INSERT INTO identity_group_members (group_id, user_id) VALUES (:v1, :v2)", {gid, uid}).status();
  });
}

Status IdentityStore::RemoveUserFromGroup(std::string_view group, std::string_view user) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string gid, GroupId(tx, group));
    MUON_ASSIGN_OR_RETURN(std::string uid, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(int64_t n, tx.Exec("DELETE FROM identity_group_members WHERE group_id = :v1 AND user_id = :v2", {gid, uid}));
    if (n == 0) return Status::NotFound(fmt::format("User {} is not in group {}.", user, group));
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------
// Roles

namespace {
Role RoleFromRow(const std::vector<SqlValue>& r, const std::string& account) {
  Role x;
  x.name = AsText(r[0]);
  x.role_id = AsText(r[1]);
  x.path = AsText(r[2]);
  x.arn = fmt::format("arn:aws:iam::{}:role{}{}", account, x.path, x.name);
  x.description = AsText(r[3]);
  x.assume_role_policy_document = AsText(r[4]);
  x.max_session_duration = AsInt(r[5]);
  x.create_date = AsInt(r[6]);
  x.tags = TagsFromJson(AsText(r[7]));
  return x;
}
}  // namespace

Result<Role> IdentityStore::CreateRole(std::string_view name, std::string_view path,
                                       std::string_view assume_role_policy_document,
                                       std::string_view description, int64_t max_session_duration,
                                       const Tags& tags) {
  MUON_RETURN_IF_ERROR(CheckName("role", name, 64));
  MUON_ASSIGN_OR_RETURN(std::string p, NormalPath(path));
  if (max_session_duration < 3600 || max_session_duration > 43200) {
    return Status::InvalidArgument("MaxSessionDuration must be between 3600 and 43200 seconds");
  }
  auto trust = iam::ParsePolicy(assume_role_policy_document, iam::PolicyKind::kResource);
  if (!trust.ok()) return trust.status().WithContext("AssumeRolePolicyDocument");
  Role r;
  r.name = name;
  r.role_id = NewId("AROA");
  r.path = p;
  r.arn = impl_->Arn("role", p, name);
  r.description = description;
  r.assume_role_policy_document = assume_role_policy_document;
  r.max_session_duration = max_session_duration;
  r.create_date = impl_->clock->NowSeconds();
  r.tags = tags;
  MUON_RETURN_IF_ERROR(impl_->Write([&](Tx& tx) -> Status {
    MUON_RETURN_IF_ERROR(NameFree(tx, "identity_roles", "Role", name));
    return tx.Exec(fmt::format("INSERT INTO identity_roles ({}) VALUES (:v1, :v2, :v3, :v4, :v5, :v6, :v7, :v8)", kRoleCols),
                   {r.name, r.role_id, r.path, r.description, r.assume_role_policy_document,
                    r.max_session_duration, r.create_date, TagsToJson(tags)})
        .status();
  }));
  return r;
}

Result<Role> IdentityStore::GetRole(std::string_view name) const {
  std::optional<Role> out;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query(fmt::format("SELECT {} FROM identity_roles WHERE name = :v1", kRoleCols),
                                           {std::string(name)}));
    if (!r.rows.empty()) out = RoleFromRow(r.rows[0], impl_->options.account_id);
    return Status::Ok();
  }));
  if (!out) return Status::NotFound(fmt::format("The role with name {} cannot be found.", name));
  return *out;
}

Result<Listing<Role>> IdentityStore::ListRoles(const ListOptions& options) const {
  MUON_RETURN_IF_ERROR(CheckListOptions(options));
  std::vector<Role> items;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, Page(tx, kRoleCols, "identity_roles", "", options));
    for (auto& row : r.rows) items.push_back(RoleFromRow(row, impl_->options.account_id));
    return Status::Ok();
  }));
  return ToListing(std::move(items), options.max_items);
}

Status IdentityStore::DeleteRole(std::string_view name) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, RoleId(tx, name));
    MUON_ASSIGN_OR_RETURN(int64_t pols, Count(tx, "SELECT COUNT(*) FROM identity_role_policies WHERE target_id = :v1", {id}));
    if (pols > 0) {
      return Status::FailedPrecondition(fmt::format(
          "Cannot delete entity, must detach all policies first (role {}).", name));
    }
    return tx.Exec("DELETE FROM identity_roles WHERE role_id = :v1", {id}).status();
  });
}

// ---------------------------------------------------------------------------
// Managed policies

namespace {
ManagedPolicy PolicyFromRow(const std::vector<SqlValue>& r) {
  ManagedPolicy p;
  p.name = AsText(r[0]);
  p.policy_id = AsText(r[1]);
  p.arn = AsText(r[2]);
  p.path = AsText(r[3]);
  p.description = AsText(r[4]);
  p.default_version_id = AsText(r[5]);
  p.create_date = AsInt(r[6]);
  p.update_date = AsInt(r[7]);
  p.attachment_count = AsInt(r[8]);
  return p;
}

Status CheckDocument(std::string_view document) {
  if (document.size() > 6144) {
    return Status::InvalidArgument("MalformedPolicyDocument: a managed policy is at most 6144 characters");
  }
  auto p = iam::ParsePolicy(document);
  if (!p.ok()) return Status::InvalidArgument(fmt::format("MalformedPolicyDocument: {}", p.status().message()));
  return Status::Ok();
}
}  // namespace

Result<ManagedPolicy> IdentityStore::CreatePolicy(std::string_view name, std::string_view path,
                                                  std::string_view document,
                                                  std::string_view description) {
  MUON_RETURN_IF_ERROR(CheckName("policy", name, 128));
  MUON_ASSIGN_OR_RETURN(std::string p, NormalPath(path));
  MUON_RETURN_IF_ERROR(CheckDocument(document));
  std::string id = NewId("ANPA");
  std::string arn = impl_->Arn("policy", p, name);
  int64_t now = impl_->clock->NowSeconds();
  MUON_RETURN_IF_ERROR(impl_->Write([&](Tx& tx) -> Status {
    MUON_RETURN_IF_ERROR(NameFree(tx, "identity_policies", "A policy", name));
    MUON_RETURN_IF_ERROR(
        tx.Exec("INSERT INTO identity_policies (policy_id, name, arn, path, description, "
                "default_version, next_version, create_date, update_date) VALUES (:v1, :v2, :v3, "
                ":v4, :v5, 'v1', 2, :v6, :v7)",
                {id, std::string(name), arn, p, std::string(description), now, now})
            .status());
    return tx.Exec("INSERT INTO identity_policy_versions (policy_id, version_id, document, "
                   "create_date) VALUES (:v1, 'v1', :v2, :v3)",
                   {id, std::string(document), now})
        .status();
  }));
  return GetPolicy(arn);
}

Result<ManagedPolicy> IdentityStore::GetPolicy(std::string_view policy_arn) const {
  std::optional<ManagedPolicy> out;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query(fmt::format("SELECT {} FROM identity_policies p WHERE p.arn = :v1", kPolicyCols),
                                           {std::string(policy_arn)}));
    if (!r.rows.empty()) out = PolicyFromRow(r.rows[0]);
    return Status::Ok();
  }));
  if (!out) return Status::NotFound(fmt::format("Policy {} was not found.", policy_arn));
  return *out;
}

Result<Listing<ManagedPolicy>> IdentityStore::ListPolicies(const ListOptions& options,
                                                           bool only_attached) const {
  MUON_RETURN_IF_ERROR(CheckListOptions(options));
  std::vector<ManagedPolicy> items;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    std::string where;
    if (only_attached) {
      where = "AND (EXISTS (SELECT 1 FROM identity_user_policies a WHERE a.policy_id = p.policy_id) "
              "OR EXISTS (SELECT 1 FROM identity_group_policies a WHERE a.policy_id = p.policy_id) "
              "OR EXISTS (SELECT 1 FROM identity_role_policies a WHERE a.policy_id = p.policy_id))";
    }
    MUON_ASSIGN_OR_RETURN(auto r, Page(tx, kPolicyCols, "identity_policies p", where, options));
    for (auto& row : r.rows) items.push_back(PolicyFromRow(row));
    return Status::Ok();
  }));
  return ToListing(std::move(items), options.max_items);
}

Result<PolicyVersion> IdentityStore::GetPolicyVersion(std::string_view policy_arn,
                                                      std::string_view version_id) const {
  std::optional<PolicyVersion> out;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT v.version_id, v.document, v.create_date, p.default_version "
                                           "FROM identity_policy_versions v JOIN identity_policies p ON "
                                           "p.policy_id = v.policy_id WHERE p.arn = :v1 AND v.version_id = :v2",
                                           {std::string(policy_arn), std::string(version_id)}));
    if (r.rows.empty()) return Status::Ok();
    PolicyVersion v;
    v.version_id = AsText(r.rows[0][0]);
    v.document = AsText(r.rows[0][1]);
    v.create_date = AsInt(r.rows[0][2]);
    v.is_default = v.version_id == AsText(r.rows[0][3]);
    out = v;
    return Status::Ok();
  }));
  if (!out) {
    return Status::NotFound(fmt::format("Policy {} version {} does not exist.", policy_arn, version_id));
  }
  return *out;
}

Result<PolicyVersion> IdentityStore::CreatePolicyVersion(std::string_view policy_arn,
                                                         std::string_view document,
                                                         bool set_as_default) {
  MUON_RETURN_IF_ERROR(CheckDocument(document));
  PolicyVersion v;
  v.document = document;
  v.is_default = set_as_default;
  v.create_date = impl_->clock->NowSeconds();
  MUON_RETURN_IF_ERROR(impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT policy_id, next_version FROM identity_policies WHERE arn = :v1",
                                           {std::string(policy_arn)}));
    if (r.rows.empty()) return Status::NotFound(fmt::format("Policy {} was not found.", policy_arn));
    std::string id = AsText(r.rows[0][0]);
    int64_t next = AsInt(r.rows[0][1]);
    MUON_ASSIGN_OR_RETURN(int64_t n, Count(tx, "SELECT COUNT(*) FROM identity_policy_versions WHERE policy_id = :v1", {id}));
    if (n >= kMaxPolicyVersions) {
      return Status::ResourceExhausted(fmt::format(
          "A managed policy can have up to {} versions. Before you create a new version, you "
          "must delete an existing version (policy {}).",
          kMaxPolicyVersions, policy_arn));
    }
    v.version_id = fmt::format("v{}", next);
    MUON_RETURN_IF_ERROR(tx.Exec("INSERT INTO identity_policy_versions (policy_id, version_id, document, "
                                 "create_date) VALUES (:v1, :v2, :v3, :v4)",
                                 {id, v.version_id, v.document, v.create_date})
                             .status());
    if (set_as_default) {
      return tx.Exec("UPDATE identity_policies SET next_version = :v1, default_version = :v2, "
                     "update_date = :v3 WHERE policy_id = :v4",
                     {next + 1, v.version_id, v.create_date, id})
          .status();
    }
    return tx.Exec("UPDATE identity_policies SET next_version = :v1 WHERE policy_id = :v2", {next + 1, id}).status();
  }));
  return v;
}

Status IdentityStore::DeletePolicy(std::string_view policy_arn) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, PolicyIdByArn(tx, policy_arn));
    int64_t total = 0;
    for (AttachTarget t : {AttachTarget::kUser, AttachTarget::kGroup, AttachTarget::kRole}) {
      MUON_ASSIGN_OR_RETURN(int64_t n, Count(tx, fmt::format("SELECT COUNT(*) FROM {} WHERE policy_id = :v1", AttachTable(t)), {id}));
      total += n;
    }
    if (total > 0) {
      return Status::FailedPrecondition(fmt::format(
          "Cannot delete a policy attached to entities: {} is attached {} time(s).", policy_arn, total));
    }
    MUON_RETURN_IF_ERROR(tx.Exec("DELETE FROM identity_policy_versions WHERE policy_id = :v1", {id}).status());
    return tx.Exec("DELETE FROM identity_policies WHERE policy_id = :v1", {id}).status();
  });
}

Status IdentityStore::AttachPolicy(AttachTarget target, std::string_view name,
                                   std::string_view policy_arn) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string tid, TargetId(tx, target, name));
    MUON_ASSIGN_OR_RETURN(std::string pid, PolicyIdByArn(tx, policy_arn));
    const char* table = AttachTable(target);
    MUON_ASSIGN_OR_RETURN(int64_t have, Count(tx, fmt::format("SELECT COUNT(*) FROM {} WHERE target_id = :v1 AND policy_id = :v2", table), {tid, pid}));
    if (have > 0) return Status::Ok();  // IAM: attaching twice is not an error
    MUON_ASSIGN_OR_RETURN(int64_t n, Count(tx, fmt::format("SELECT COUNT(*) FROM {} WHERE target_id = :v1", table), {tid}));
    if (n >= kMaxAttachedPolicies) {
      return Status::ResourceExhausted(fmt::format(
          "Cannot exceed quota for PoliciesPerEntity: {} ({})", kMaxAttachedPolicies, name));
    }
    return tx.Exec(fmt::format("INSERT INTO {} (target_id, policy_id) VALUES (:v1, :v2)", table), {tid, pid}).status();
  });
}

Status IdentityStore::DetachPolicy(AttachTarget target, std::string_view name,
                                   std::string_view policy_arn) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string tid, TargetId(tx, target, name));
    MUON_ASSIGN_OR_RETURN(std::string pid, PolicyIdByArn(tx, policy_arn));
    MUON_ASSIGN_OR_RETURN(int64_t n, tx.Exec(fmt::format("DELETE FROM {} WHERE target_id = :v1 AND policy_id = :v2", AttachTable(target)), {tid, pid}));
    if (n == 0) return Status::NotFound(fmt::format("Policy {} is not attached to {}.", policy_arn, name));
    return Status::Ok();
  });
}

Result<std::vector<ManagedPolicy>> IdentityStore::ListAttachedPolicies(AttachTarget target,
                                                                       std::string_view name) const {
  std::vector<ManagedPolicy> out;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string tid, TargetId(tx, target, name));
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query(fmt::format("SELECT {} FROM identity_policies p JOIN {} a ON "
                                                       "a.policy_id = p.policy_id WHERE a.target_id = :v1 ORDER BY p.name",
                                                       kPolicyCols, AttachTable(target)),
                                           {tid}));
    for (auto& row : r.rows) out.push_back(PolicyFromRow(row));
    return Status::Ok();
  }));
  return out;
}

// ---------------------------------------------------------------------------
// MFA

Result<NewMfaDevice> IdentityStore::CreateVirtualMfaDevice(std::string_view name,
                                                           std::string_view path) {
  MUON_RETURN_IF_ERROR(CheckName("MFA device", name, 226));
  MUON_ASSIGN_OR_RETURN(std::string p, NormalPath(path));
  std::string seed = iam::NewTotpSecret();
  NewMfaDevice out;
  out.device.serial_number = impl_->Arn("mfa", p, name);
  out.base32_seed = iam::Base32Encode(seed);
  out.otpauth_uri = iam::OtpauthUri("muonpipe", name, seed);
  MUON_ASSIGN_OR_RETURN(out.qr_png, iam::QrPng(out.otpauth_uri));
  MUON_RETURN_IF_ERROR(impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(int64_t n, Count(tx, "SELECT COUNT(*) FROM identity_mfa_devices WHERE serial_number = :v1", {out.device.serial_number}));
    if (n > 0) return Status::AlreadyExists(fmt::format("MFADevice entity at the same path and name already exists ({}).", out.device.serial_number));
    return tx.Exec("INSERT INTO identity_mfa_devices (serial_number, name, path, seed, last_step, "
                   "create_date) VALUES (:v1, :v2, :v3, :v4, -1, :v5)",
                   {out.device.serial_number, std::string(name), p, out.base32_seed,
                    impl_->clock->NowSeconds()})
        .status();
  }));
  return out;
}

Status IdentityStore::EnableMfaDevice(std::string_view user, std::string_view serial_number,
                                      std::string_view code1, std::string_view code2) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string uid, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT seed, user_id FROM identity_mfa_devices WHERE serial_number = :v1",
                                           {std::string(serial_number)}));
    if (r.rows.empty()) return Status::NotFound(fmt::format("VirtualMFADevice with serial number {} does not exist.", serial_number));
    if (!IsNull(r.rows[0][1])) return Status::AlreadyExists(fmt::format("MFA device {} is already in use.", serial_number));
    auto seed = iam::Base32Decode(AsText(r.rows[0][0]));
    if (!seed) return Status::Internal("stored MFA seed is not Base32");
    auto verdict = iam::VerifyConsecutiveTotp(*seed, code1, code2, *impl_->clock);
    if (verdict.outcome != iam::TotpOutcome::kAccepted) {
      return Status::PermissionDenied("Authentication code for the MFA device is not valid.");
    }
    return tx.Exec("UPDATE identity_mfa_devices SET user_id = :v1, enable_date = :v2, last_step = :v3 "
                   "WHERE serial_number = :v4 AND user_id IS NULL",
                   {uid, impl_->clock->NowSeconds(), verdict.step, std::string(serial_number)})
        .status();
  });
}

Status IdentityStore::DeactivateMfaDevice(std::string_view user, std::string_view serial_number) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string uid, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(int64_t n, tx.Exec("UPDATE identity_mfa_devices SET user_id = NULL, enable_date = NULL, "
                                             "last_step = -1 WHERE serial_number = :v1 AND user_id = :v2",
                                             {std::string(serial_number), uid}));
    if (n == 0) return Status::NotFound(fmt::format("MFA device {} is not enabled for user {}.", serial_number, user));
    return Status::Ok();
  });
}

Status IdentityStore::DeleteVirtualMfaDevice(std::string_view serial_number) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT user_id FROM identity_mfa_devices WHERE serial_number = :v1",
                                           {std::string(serial_number)}));
    if (r.rows.empty()) return Status::NotFound(fmt::format("VirtualMFADevice with serial number {} does not exist.", serial_number));
    if (!IsNull(r.rows[0][0])) {
      return Status::FailedPrecondition(fmt::format(
          "MFA device {} is still enabled for a user: deactivate it first.", serial_number));
    }
    return tx.Exec("DELETE FROM identity_mfa_devices WHERE serial_number = :v1", {std::string(serial_number)}).status();
  });
}

Result<std::vector<MfaDevice>> IdentityStore::ListMfaDevices(std::string_view user) const {
  std::vector<MfaDevice> out;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string uid, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT serial_number, enable_date FROM identity_mfa_devices "
                                           "WHERE user_id = :v1 ORDER BY serial_number",
                                           {uid}));
    for (auto& row : r.rows) out.push_back({AsText(row[0]), std::string(user), OptInt(row[1])});
    return Status::Ok();
  }));
  return out;
}

Status IdentityStore::VerifyMfaCode(std::string_view user, std::string_view serial_number,
                                    std::string_view code) {
  // Not a change of the snapshot: the counter stays. The conditional UPDATE
  // is what makes a code single-use across servers: of two transactions
  // accepting the same step, the second finds last_step already there and
  // changes no row (PostgreSQL re-checks the WHERE after the first commits;
  // SQLite runs one writer at a time).
  bool accepted = false;
  MUON_RETURN_IF_ERROR(impl_->db->Transact([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string uid, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT serial_number, seed, last_step FROM identity_mfa_devices "
                                           "WHERE user_id = :v1 ORDER BY serial_number",
                                           {uid}));
    const std::vector<SqlValue>* dev = nullptr;
    for (const auto& row : r.rows) {
      if (serial_number.empty() || AsText(row[0]) == serial_number) {
        dev = &row;
        break;
      }
    }
    if (dev == nullptr) return Status::Ok();
    auto seed = iam::Base32Decode(AsText((*dev)[1]));
    if (!seed) return Status::Internal("stored MFA seed is not Base32");
    auto verdict = iam::VerifyTotp(*seed, code, AsInt((*dev)[2]), *impl_->clock);
    if (verdict.outcome != iam::TotpOutcome::kAccepted) return Status::Ok();
    MUON_ASSIGN_OR_RETURN(int64_t n, tx.Exec("UPDATE identity_mfa_devices SET last_step = :v1 WHERE "
                                             "serial_number = :v2 AND last_step < :v3",
                                             {verdict.step, AsText((*dev)[0]), verdict.step}));
    accepted = n == 1;
    return Status::Ok();
  }));
  if (!accepted) return Status::PermissionDenied("the MFA code is wrong, already used or out of its window");
  return Status::Ok();
}

Result<std::vector<std::string>> IdentityStore::NewRecoveryCodes(std::string_view user) {
  iam::NewRecoveryCodes codes = iam::GenerateRecoveryCodes();
  MUON_RETURN_IF_ERROR(impl_->db->Transact([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string uid, UserId(tx, user));
    MUON_RETURN_IF_ERROR(tx.Exec("DELETE FROM identity_recovery_codes WHERE user_id = :v1", {uid}).status());
    return tx.Exec("INSERT INTO identity_recovery_codes (user_id, codes) VALUES (:v1, :v2)",
                   {uid, codes.stored.Serialize()})
        .status();
  }));
  return codes.codes;
}

Status IdentityStore::RedeemRecoveryCode(std::string_view user, std::string_view code) {
  bool redeemed = false;
  MUON_RETURN_IF_ERROR(impl_->db->Transact([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string uid, UserId(tx, user));
    // Lock the row first (PostgreSQL; SQLite has one writer), so two
    // redemptions of one code cannot both read it unused.
    MUON_RETURN_IF_ERROR(tx.Exec("UPDATE identity_recovery_codes SET codes = codes WHERE user_id = :v1", {uid}).status());
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT codes FROM identity_recovery_codes WHERE user_id = :v1", {uid}));
    if (r.rows.empty()) return Status::Ok();
    MUON_ASSIGN_OR_RETURN(auto set, iam::RecoveryCodeSet::Parse(AsText(r.rows[0][0])));
    if (!iam::RedeemRecoveryCode(&set, code)) return Status::Ok();
    redeemed = true;
    return tx.Exec("UPDATE identity_recovery_codes SET codes = :v1 WHERE user_id = :v2", {set.Serialize(), uid}).status();
  }));
  if (!redeemed) return Status::PermissionDenied("the recovery code is wrong or already used");
  return Status::Ok();
}

Status IdentityStore::ResetMfa(std::string_view user) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string uid, UserId(tx, user));
    MUON_RETURN_IF_ERROR(tx.Exec("DELETE FROM identity_recovery_codes WHERE user_id = :v1", {uid}).status());
    return tx.Exec("DELETE FROM identity_mfa_devices WHERE user_id = :v1", {uid}).status();
  });
}

// ---------------------------------------------------------------------------
// Sessions and server secrets

Status IdentityStore::PutSession(const Session& s) {
  if (s.credentials.access_key_id.empty() || s.credentials.secret_access_key.empty() ||
      s.credentials.session_token.empty()) {
    return Status::InvalidArgument("a session needs an access key id, a secret and a token");
  }
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(int64_t n, Count(tx, "SELECT COUNT(*) FROM identity_sessions WHERE access_key_id = :v1",
                                           {s.credentials.access_key_id}));
    if (n > 0) return Status::AlreadyExists(fmt::format("session key {} exists", s.credentials.access_key_id));
    return tx
        .Exec(
            "INSERT INTO identity_sessions (access_key_id, secret, session_token, "
            "principal_arn, policy_principal_arn, source_identity, expiration, "
            "mfa_authenticated_at, created_at) VALUES (:v1, :v2, :v3, :v4, :v5, :v6, :v7, "
            ":v8, :v9)",
            {s.credentials.access_key_id, s.credentials.secret_access_key,
             s.credentials.session_token, s.principal_arn, s.policy_principal_arn,
             s.source_identity, s.expiration, Nullable(s.mfa_authenticated_at),
             Nullable(s.created_at)})
        .status();
  }, [&](Snapshot& snap) {
    KeyEntry e;
    e.key.credentials = s.credentials;
    e.key.principal_arn = s.principal_arn;
    e.key.temporary = true;
    e.key.mfa_authenticated_at = s.mfa_authenticated_at;
    e.key.created_at = s.created_at;
    e.expiration = s.expiration;
    snap.keys[s.credentials.access_key_id] = std::move(e);
  });
}

Status IdentityStore::PurgeExpiredSessions() {
  return impl_->Write([&](Tx& tx) -> Status {
    return tx.Exec("DELETE FROM identity_sessions WHERE expiration <= :v1", {impl_->clock->NowSeconds()}).status();
  });
}

Result<std::string> IdentityStore::ServerSecret(std::string_view name) {
  {
    std::lock_guard lock(impl_->secrets_mu);
    auto it = impl_->secrets.find(std::string(name));
    if (it != impl_->secrets.end()) return it->second;
  }
  std::string fresh(32, '\0');
  randombytes_buf(fresh.data(), fresh.size());
  std::string stored;
  MUON_RETURN_IF_ERROR(impl_->db->Transact([&](Tx& tx) -> Status {
    // Whoever inserts first wins; everyone reads the winner's value.
    MUON_RETURN_IF_ERROR(tx.Exec("INSERT INTO identity_server_secrets (name, secret) VALUES (:v1, :v2) "
                                 "ON CONFLICT (name) DO NOTHING",
                                 {std::string(name), Hex(fresh)})
                             .status());
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT secret FROM identity_server_secrets WHERE name = :v1",
                                           {std::string(name)}));
    if (r.rows.empty()) return Status::Internal("server secret vanished");
    stored = Unhex(AsText(r.rows[0][0]));
    return Status::Ok();
  }));
  std::lock_guard lock(impl_->secrets_mu);
  impl_->secrets[std::string(name)] = stored;
  return stored;
}

}  // namespace muon::identity

namespace muon::identity {

using registry::AsInt;
using registry::AsText;
using registry::IsNull;
using registry::Tx;

Result<LoginProfile> IdentityStore::GetLoginProfile(std::string_view user) const {
  std::optional<LoginProfile> out;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT l.create_date, l.reset_required FROM identity_login_profiles l "
                                           "JOIN identity_users u ON u.user_id = l.user_id WHERE u.name = :v1",
                                           {std::string(user)}));
    if (!r.rows.empty()) out = LoginProfile{std::string(user), AsInt(r.rows[0][0]), AsInt(r.rows[0][1]) != 0};
    return Status::Ok();
  }));
  if (!out) return Status::NotFound(fmt::format("Login Profile for User {} cannot be found.", user));
  return *out;
}

Status IdentityStore::UpdateLoginProfile(std::string_view user, std::string_view password,
                                         bool password_reset_required) {
  std::string hash;
  if (!password.empty()) {
    MUON_ASSIGN_OR_RETURN(hash, HashPassword(password));
  }
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, UserId(tx, user));
    MUON_ASSIGN_OR_RETURN(
        int64_t n,
        hash.empty()
            ? tx.Exec("UPDATE identity_login_profiles SET reset_required = :v1 WHERE user_id = :v2",
                      {int64_t{password_reset_required ? 1 : 0}, id})
            : tx.Exec("UPDATE identity_login_profiles SET password_hash = :v1, reset_required = :v2 "
                      "WHERE user_id = :v3",
                      {hash, int64_t{password_reset_required ? 1 : 0}, id}));
    if (n == 0) return Status::NotFound(fmt::format("Login Profile for User {} cannot be found.", user));
    return Status::Ok();
  });
}

Result<std::vector<PolicyVersion>> IdentityStore::ListPolicyVersions(std::string_view policy_arn) const {
  std::vector<PolicyVersion> out;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, PolicyIdByArn(tx, policy_arn));
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT v.version_id, v.document, v.create_date, p.default_version "
                                           "FROM identity_policy_versions v JOIN identity_policies p ON "
                                           "p.policy_id = v.policy_id WHERE v.policy_id = :v1",
                                           {id}));
    for (auto& row : r.rows) {
      PolicyVersion v;
      v.version_id = AsText(row[0]);
      v.document = AsText(row[1]);
      v.create_date = AsInt(row[2]);
      v.is_default = v.version_id == AsText(row[3]);
      out.push_back(std::move(v));
    }
    return Status::Ok();
  }));
  // "v10" after "v9": by number, newest first.
  std::sort(out.begin(), out.end(), [](const PolicyVersion& a, const PolicyVersion& b) {
    return std::stoll(a.version_id.substr(1)) > std::stoll(b.version_id.substr(1));
  });
  return out;
}

Status IdentityStore::DeletePolicyVersion(std::string_view policy_arn, std::string_view version_id) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT policy_id, default_version FROM identity_policies WHERE arn = :v1",
                                           {std::string(policy_arn)}));
    if (r.rows.empty()) return Status::NotFound(fmt::format("Policy {} was not found.", policy_arn));
    if (AsText(r.rows[0][1]) == version_id) {
      return Status::FailedPrecondition(fmt::format(
          "Cannot delete the default version {} of policy {}.", version_id, policy_arn));
    }
    MUON_ASSIGN_OR_RETURN(int64_t n, tx.Exec("DELETE FROM identity_policy_versions WHERE policy_id = :v1 AND version_id = :v2",
                                             {AsText(r.rows[0][0]), std::string(version_id)}));
    if (n == 0) return Status::NotFound(fmt::format("Policy {} version {} does not exist.", policy_arn, version_id));
    return Status::Ok();
  });
}

Status IdentityStore::SetDefaultPolicyVersion(std::string_view policy_arn, std::string_view version_id) {
  return impl_->Write([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(std::string id, PolicyIdByArn(tx, policy_arn));
    MUON_ASSIGN_OR_RETURN(int64_t have, Count(tx, "SELECT COUNT(*) FROM identity_policy_versions WHERE policy_id = :v1 AND version_id = :v2",
                                              {id, std::string(version_id)}));
    if (have == 0) return Status::NotFound(fmt::format("Policy {} version {} does not exist.", policy_arn, version_id));
    return tx.Exec("UPDATE identity_policies SET default_version = :v1, update_date = :v2 WHERE policy_id = :v3",
                   {std::string(version_id), impl_->clock->NowSeconds(), id})
        .status();
  });
}

Result<std::vector<MfaDevice>> IdentityStore::ListVirtualMfaDevices(std::optional<bool> assigned) const {
  std::vector<MfaDevice> out;
  MUON_RETURN_IF_ERROR(impl_->db->Read([&](Tx& tx) -> Status {
    std::string where = !assigned ? "" : *assigned ? "WHERE d.user_id IS NOT NULL" : "WHERE d.user_id IS NULL";
    MUON_ASSIGN_OR_RETURN(auto r, tx.Query(fmt::format("SELECT d.serial_number, u.name, d.enable_date FROM "
                                                       "identity_mfa_devices d LEFT JOIN identity_users u ON "
                                                       "u.user_id = d.user_id {} ORDER BY d.serial_number",
                                                       where)));
    for (auto& row : r.rows) out.push_back({AsText(row[0]), AsText(row[1]), IsNull(row[2]) ? std::nullopt : std::optional<int64_t>(AsInt(row[2]))});
    return Status::Ok();
  }));
  return out;
}

}  // namespace muon::identity
