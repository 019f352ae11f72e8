#include "identity/schema.h"

#include <string>
#include <vector>

#include <fmt/format.h>

namespace muon::identity {
namespace {

using registry::Dialect;
using registry::Tx;

struct Migration {
  int version;
  std::vector<std::string> statements;  // both dialects
};

// Times are Unix seconds (BIGINT). Names are unique per account (one account
// per database); IAM compares names without regard to case, so the unique
// indexes are on lower(name).
std::vector<Migration> Migrations() {
  Migration v1{
      1,
      {
          "CREATE TABLE identity_change (id BIGINT PRIMARY KEY CHECK (id = 1),"
          " counter BIGINT NOT NULL)",
          "INSERT INTO identity_change (id, counter) VALUES (1, 0)",
          "CREATE TABLE identity_users ("
          " user_id TEXT PRIMARY KEY, name TEXT NOT NULL CHECK (length(name) > 0),"
          " path TEXT NOT NULL, create_date BIGINT NOT NULL, tags TEXT NOT NULL,"
          " password_last_used BIGINT)",
          "CREATE UNIQUE INDEX identity_users_name ON identity_users (lower(name))",
          // One login profile per user: the user is the key.
          "CREATE TABLE identity_login_profiles ("
          " user_id TEXT PRIMARY KEY REFERENCES identity_users(user_id),"
          " password_hash TEXT NOT NULL, reset_required BIGINT NOT NULL,"
          " create_date BIGINT NOT NULL)",
          // The secret is kept in plain text: SigV4 verification needs it.
          "CREATE TABLE identity_access_keys ("
          " access_key_id TEXT PRIMARY KEY,"
          " user_id TEXT NOT NULL REFERENCES identity_users(user_id),"
          " secret TEXT NOT NULL, active BIGINT NOT NULL CHECK (active IN (0, 1)),"
          " create_date BIGINT NOT NULL, last_used_date BIGINT, last_used_service TEXT,"
          " last_used_region TEXT)",
          "CREATE INDEX identity_access_keys_user ON identity_access_keys (user_id)",
          "CREATE TABLE identity_groups ("
          " group_id TEXT PRIMARY KEY, name TEXT NOT NULL CHECK (length(name) > 0),"
          " path TEXT NOT NULL, create_date BIGINT NOT NULL)",
          "CREATE UNIQUE INDEX identity_groups_name ON identity_groups (lower(name))",
          "CREATE TABLE identity_group_members ("
          " group_id TEXT NOT NULL REFERENCES identity_groups(group_id),"
          " user_id TEXT NOT NULL REFERENCES identity_users(user_id),"
          " PRIMARY KEY (group_id, user_id))",
          "CREATE INDEX identity_group_members_user ON identity_group_members (user_id)",
          "CREATE TABLE identity_roles ("
          " role_id TEXT PRIMARY KEY, name TEXT NOT NULL CHECK (length(name) > 0),"
          " path TEXT NOT NULL, description TEXT NOT NULL, trust_policy TEXT NOT NULL,"
          " max_session_duration BIGINT NOT NULL CHECK (max_session_duration BETWEEN 3600 AND "
          "43200), create_date BIGINT NOT NULL, tags TEXT NOT NULL)",
          "CREATE UNIQUE INDEX identity_roles_name ON identity_roles (lower(name))",
          "CREATE TABLE identity_policies ("
          " policy_id TEXT PRIMARY KEY, name TEXT NOT NULL CHECK (length(name) > 0),"
          " arn TEXT NOT NULL UNIQUE, path TEXT NOT NULL, description TEXT NOT NULL,"
          " default_version TEXT NOT NULL, next_version BIGINT NOT NULL,"
          " create_date BIGINT NOT NULL, update_date BIGINT NOT NULL)",
          "CREATE UNIQUE INDEX identity_policies_name ON identity_policies (lower(name))",
          "CREATE TABLE identity_policy_versions ("
          " policy_id TEXT NOT NULL REFERENCES identity_policies(policy_id),"
          " version_id TEXT NOT NULL, document TEXT NOT NULL, create_date BIGINT NOT NULL,"
          " PRIMARY KEY (policy_id, version_id))",
          "CREATE TABLE identity_user_policies ("
          " target_id TEXT NOT NULL REFERENCES identity_users(user_id),"
          " policy_id TEXT NOT NULL REFERENCES identity_policies(policy_id),"
          " PRIMARY KEY (target_id, policy_id))",
          "CREATE TABLE identity_group_policies ("
          " target_id TEXT NOT NULL REFERENCES identity_groups(group_id),"
          " policy_id TEXT NOT NULL REFERENCES identity_policies(policy_id),"
          " PRIMARY KEY (target_id, policy_id))",
          "CREATE TABLE identity_role_policies ("
          " target_id TEXT NOT NULL REFERENCES identity_roles(role_id),"
          " policy_id TEXT NOT NULL REFERENCES identity_policies(policy_id),"
          " PRIMARY KEY (target_id, policy_id))",
          // last_step: the last accepted TOTP step (-1: none), moved only
          // forward by a conditional UPDATE.
          "CREATE TABLE identity_mfa_devices ("
          " serial_number TEXT PRIMARY KEY, name TEXT NOT NULL, path TEXT NOT NULL,"
          " seed TEXT NOT NULL, user_id TEXT REFERENCES identity_users(user_id),"
          " enable_date BIGINT, last_step BIGINT NOT NULL, create_date BIGINT NOT NULL,"
          " CHECK ((user_id IS NULL) = (enable_date IS NULL)))",
          "CREATE TABLE identity_recovery_codes ("
          " user_id TEXT PRIMARY KEY REFERENCES identity_users(user_id), codes TEXT NOT NULL)",
          "CREATE TABLE identity_sessions ("
          " access_key_id TEXT PRIMARY KEY, secret TEXT NOT NULL, session_token TEXT NOT NULL,"
          " principal_arn TEXT NOT NULL, policy_principal_arn TEXT NOT NULL,"
          " source_identity TEXT NOT NULL, expiration BIGINT NOT NULL, mfa_authenticated_at BIGINT)",
          "CREATE INDEX identity_sessions_expiration ON identity_sessions (expiration)",
          "CREATE TABLE identity_server_secrets (name TEXT PRIMARY KEY, secret TEXT NOT NULL)",
      }};
  // When each session was issued (CloudTrail's creationDate); NULL for
  // sessions stored before the column existed.
  Migration v2{2, {"ALTER TABLE identity_sessions ADD COLUMN created_at BIGINT"}};
  return {v1, v2};
}

Result<int> ReadVersion(Tx& tx) {
  auto exists = tx.dialect() == Dialect::kSqlite
                    ? tx.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = "
                               "'identity_schema_version'")
                    : tx.Query("SELECT table_name FROM information_schema.tables WHERE "
                               "table_schema = current_schema() AND table_name = "
                               "'identity_schema_version'");
  if (!exists.ok()) return exists.status();
  if (exists->rows.empty()) return 0;
  auto v = tx.Query("SELECT version FROM identity_schema_version");
  if (!v.ok()) return v.status();
  if (v->rows.empty()) return 0;
  return static_cast<int>(registry::AsInt(v->rows[0][0]));
}

}  // namespace

Status MigrateIdentity(registry::Database& db) {
  for (const Migration& m : Migrations()) {
    bool newer = false;
    int found = 0;
    Status s = db.Transact([&](Tx& tx) -> Status {
      // PostgreSQL: concurrent starts queue here instead of migrating twice.
      if (tx.dialect() == Dialect::kPostgres) {
        MUON_RETURN_IF_ERROR(
            tx.Query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(4242002)) AS l").status());
      }
      MUON_ASSIGN_OR_RETURN(found, ReadVersion(tx));
      if (found > kIdentitySchemaVersion) {
        newer = true;
        return Status::Ok();
      }
      if (found >= m.version) return Status::Ok();
      if (found != m.version - 1) {
        return Status::Internal(
            fmt::format("identity schema at version {}, cannot apply {}", found, m.version));
      }
      if (found == 0) {
        MUON_RETURN_IF_ERROR(
            tx.Exec("CREATE TABLE identity_schema_version (version BIGINT NOT NULL)").status());
        MUON_RETURN_IF_ERROR(
            tx.Exec("INSERT INTO identity_schema_version (version) VALUES (0)").status());
      }
      for (const auto& sql : m.statements) {
        auto r = tx.Exec(sql);
        if (!r.ok()) {
          return r.status().WithContext(fmt::format("identity schema migration {}", m.version));
        }
      }
      return tx.Exec("UPDATE identity_schema_version SET version = :v1", {int64_t{m.version}})
          .status();
    });
    if (!s.ok()) return s;
    if (newer) {
      return Status::FailedPrecondition(fmt::format(
          "the identity tables in {} are at schema version {}, newer than this muonpipe knows "
          "(up to {}): they were written by a newer muonpipe. Run that version (or newer); this "
          "binary will not touch them",
          db.display_url(), found, kIdentitySchemaVersion));
    }
  }
  return Status::Ok();
}

}  // namespace muon::identity
