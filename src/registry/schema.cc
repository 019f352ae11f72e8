#include "registry/schema.h"

#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace muon::registry {
namespace {

// Legal status moves: (from, to). Any status may be a detector's first.
const std::pair<const char*, const char*> kTransitions[] = {
    {"planned", "in-transit"},    {"planned", "deployed"},      {"planned", "decommissioned"},
    {"planned", "lost"},          {"in-transit", "planned"},    {"in-transit", "deployed"},
    {"in-transit", "retrieved"},  {"in-transit", "lost"},       {"deployed", "active"},
    {"deployed", "degraded"},     {"deployed", "offline"},      {"deployed", "retrieved"},
    {"deployed", "lost"},         {"active", "degraded"},       {"active", "offline"},
    {"active", "retrieved"},      {"active", "lost"},           {"degraded", "active"},
    {"degraded", "offline"},      {"degraded", "retrieved"},    {"degraded", "lost"},
    {"offline", "active"},        {"offline", "degraded"},      {"offline", "retrieved"},
    {"offline", "lost"},          {"retrieved", "planned"},     {"retrieved", "in-transit"},
    {"retrieved", "deployed"},    {"retrieved", "decommissioned"}, {"retrieved", "lost"},
    {"lost", "retrieved"},        {"lost", "decommissioned"},
};

std::string StatusList() {
  std::string s;
  for (const char* st : kStatuses) s += fmt::format("{}'{}'", s.empty() ? "" : ",", st);
  return s;
}

// One migration: the statements for each dialect, run in order, one
// statement per string (neither backend takes several at once here).
struct Migration {
  int version;
  std::vector<std::string> common;    // both dialects; {ID} is the auto-numbered key
  std::vector<std::string> sqlite;    // after common
  std::vector<std::string> postgres;  // after common
};

// An overlap of two deployments of one detector: [from, to) intervals, an open
// end is the far future. Text times compare in time order (fixed width, UTC).
constexpr const char* kOverlapCondition =
    "EXISTS (SELECT 1 FROM deployments d WHERE d.detector_id = NEW.detector_id AND d.id <> NEW.id "
    "AND d.from_time < COALESCE(NEW.to_time, '9999-12-31T23:59:59Z') "
    "AND COALESCE(d.to_time, '9999-12-31T23:59:59Z') > NEW.from_time)";

constexpr const char* kIllegalTransitionCondition =
    "EXISTS (SELECT 1 FROM status_history p WHERE p.detector_id = NEW.detector_id) "
    "AND NOT EXISTS (SELECT 1 FROM status_transitions t WHERE t.to_status = NEW.status "
    "AND t.from_status = (SELECT h.status FROM status_history h WHERE h.detector_id = "
    "NEW.detector_id ORDER BY h.seq DESC LIMIT 1))";

// PostgreSQL checks a trigger's condition under READ COMMITTED, where two
// transactions inserting for one detector at once would each miss the other's
// uncommitted row. Locking the detector row first serialises them: the second
// waits for the first to commit, and its check (a new statement, a new
// snapshot) then sees the first one's row. SQLite needs no lock: it admits
// one writer at a time.
constexpr const char* kLockDetector =
    "PERFORM 1 FROM detectors WHERE id = NEW.detector_id FOR UPDATE;";

constexpr const char* kOverlapMessage =
    "registry rule no_overlap: deployments of one detector must not overlap in time";
constexpr const char* kTransitionMessage =
    "registry rule status_transition: this status change is not a legal transition";

std::vector<Migration> Migrations() {
  std::string transitions = "INSERT INTO status_transitions (from_status, to_status) VALUES ";
  bool first = true;
  for (auto [from, to] : kTransitions) {
    transitions += fmt::format("{}('{}','{}')", first ? "" : ",", from, to);
    first = false;
  }
  const std::string statuses = StatusList();
  Migration v1{
      1,
      {
          "CREATE TABLE sites ("
          " id TEXT PRIMARY KEY,"
          " name TEXT NOT NULL CHECK (length(name) > 0),"
          " kind TEXT NOT NULL CHECK (kind IN ('surface','underground','borehole','lab')),"
          " latitude DOUBLE PRECISION NOT NULL CHECK (latitude >= -90 AND latitude <= 90),"
          " longitude DOUBLE PRECISION NOT NULL CHECK (longitude >= -180 AND longitude <= 180),"
          " elevation_m DOUBLE PRECISION,"
          " depth_m DOUBLE PRECISION CHECK (depth_m IS NULL OR depth_m >= 0),"
          " contact TEXT, notes TEXT,"
          " version BIGINT NOT NULL CHECK (version > 0),"
          " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
          "CREATE TABLE detectors ("
          " id TEXT PRIMARY KEY,"
          " model TEXT NOT NULL CHECK (length(model) > 0),"
          " active_area_m2 DOUBLE PRECISION CHECK (active_area_m2 IS NULL OR active_area_m2 > 0),"
          " channels BIGINT CHECK (channels IS NULL OR channels > 0),"
          " firmware TEXT, commissioned TEXT, notes TEXT,"
          " version BIGINT NOT NULL CHECK (version > 0),"
          " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
          "CREATE TABLE deployments ("
          " id {ID},"
          " detector_id TEXT NOT NULL REFERENCES detectors(id),"
          " site_id TEXT NOT NULL REFERENCES sites(id),"
          " from_time TEXT NOT NULL,"
          " to_time TEXT CHECK (to_time IS NULL OR to_time > from_time),"
          " position TEXT,"
          " zenith_deg DOUBLE PRECISION CHECK (zenith_deg IS NULL OR (zenith_deg >= 0 AND "
          "zenith_deg <= 180)),"
          " azimuth_deg DOUBLE PRECISION CHECK (azimuth_deg IS NULL OR (azimuth_deg >= 0 AND "
          "azimuth_deg < 360)),"
          " depth_m DOUBLE PRECISION CHECK (depth_m IS NULL OR depth_m >= 0),"
          " purpose TEXT,"
          " version BIGINT NOT NULL CHECK (version > 0),"
          " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
          "CREATE UNIQUE INDEX deployments_one_open ON deployments (detector_id) WHERE to_time IS "
          "NULL",
          "CREATE INDEX deployments_site ON deployments (site_id)",
          "CREATE INDEX deployments_detector ON deployments (detector_id, from_time)",
          "CREATE TABLE status_transitions (from_status TEXT NOT NULL, to_status TEXT NOT NULL,"
          " PRIMARY KEY (from_status, to_status))",
          transitions,
          "CREATE TABLE status_history ("
          " seq {ID},"
          " detector_id TEXT NOT NULL REFERENCES detectors(id) ON DELETE CASCADE,"
          " status TEXT NOT NULL CHECK (status IN (" + statuses + ")),"
          " since TEXT NOT NULL, by_whom TEXT NOT NULL, reason TEXT)",
          "CREATE INDEX status_history_detector ON status_history (detector_id, seq)",
          "CREATE TABLE detector_configs ("
          " detector_id TEXT NOT NULL REFERENCES detectors(id) ON DELETE CASCADE,"
          " name TEXT NOT NULL, version BIGINT NOT NULL CHECK (version > 0),"
          " document TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL,"
          " PRIMARY KEY (detector_id, name, version))",
          "CREATE TABLE changes ("
          " seq {ID}, at TEXT NOT NULL, actor TEXT NOT NULL, entity TEXT NOT NULL,"
          " entity_id TEXT NOT NULL, action TEXT NOT NULL, before_doc TEXT, after_doc TEXT)",
          "CREATE INDEX changes_entity ON changes (entity, entity_id, seq)",
      },
      {
          fmt::format("CREATE TRIGGER deployments_no_overlap_insert BEFORE INSERT ON deployments "
                      "WHEN {} BEGIN SELECT RAISE(ABORT, '{}'); END",
                      kOverlapCondition, kOverlapMessage),
          fmt::format("CREATE TRIGGER deployments_no_overlap_update BEFORE UPDATE ON deployments "
                      "WHEN {} BEGIN SELECT RAISE(ABORT, '{}'); END",
                      kOverlapCondition, kOverlapMessage),
          fmt::format("CREATE TRIGGER status_history_legal BEFORE INSERT ON status_history "
                      "WHEN {} BEGIN SELECT RAISE(ABORT, '{}'); END",
                      kIllegalTransitionCondition, kTransitionMessage),
      },
      {
          fmt::format("CREATE FUNCTION registry_deployments_no_overlap() RETURNS trigger AS $$ "
                      "BEGIN {} IF {} THEN RAISE EXCEPTION '{}' USING ERRCODE = '23P01'; END IF; "
                      "RETURN NEW; END $$ LANGUAGE plpgsql",
                      kLockDetector, kOverlapCondition, kOverlapMessage),
          "CREATE TRIGGER deployments_no_overlap BEFORE INSERT OR UPDATE ON deployments "
          "FOR EACH ROW EXECUTE FUNCTION registry_deployments_no_overlap()",
          fmt::format("CREATE FUNCTION registry_status_legal() RETURNS trigger AS $$ "
                      "BEGIN {} IF {} THEN RAISE EXCEPTION '{}' USING ERRCODE = '23514'; END IF; "
                      "RETURN NEW; END $$ LANGUAGE plpgsql",
                      kLockDetector, kIllegalTransitionCondition, kTransitionMessage),
          "CREATE TRIGGER status_history_legal BEFORE INSERT ON status_history "
          "FOR EACH ROW EXECUTE FUNCTION registry_status_legal()",
      }};
  // Version 2: live status from ingest (a silence threshold per detector, and
  // what the data last said).
  Migration v2{
      2,
      {
          "ALTER TABLE detectors ADD COLUMN silence_threshold_s BIGINT NOT NULL DEFAULT 900 "
          "CHECK (silence_threshold_s > 0)",
          "ALTER TABLE detectors ADD COLUMN last_seen TEXT",
          "ALTER TABLE detectors ADD COLUMN records_seen BIGINT NOT NULL DEFAULT 0",
      },
      {},
      {}};
  return {v1, v2};
}

std::string Expand(std::string sql, Dialect d) {
  const std::string id = d == Dialect::kSqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT"
                                               : "BIGSERIAL PRIMARY KEY";
  for (auto p = sql.find("{ID}"); p != std::string::npos; p = sql.find("{ID}")) {
    sql.replace(p, 4, id);
  }
  return sql;
}

Result<int> ReadVersion(Tx& tx) {
  auto exists = tx.dialect() == Dialect::kSqlite
                    ? tx.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = "
                               "'schema_version'")
                    : tx.Query("SELECT table_name FROM information_schema.tables WHERE "
                               "table_schema = current_schema() AND table_name = 'schema_version'");
  if (!exists.ok()) return exists.status();
  if (exists->rows.empty()) return 0;
  auto v = tx.Query("SELECT version FROM schema_version");
  if (!v.ok()) return v.status();
  if (v->rows.empty()) return 0;
  return static_cast<int>(AsInt(v->rows[0][0]));
}

}  // namespace

bool IsLegalTransition(std::string_view from, std::string_view to) {
  for (auto [f, t] : kTransitions) {
    if (from == f && to == t) return true;
  }
  return false;
}

Result<int> SchemaVersionOf(Database& db) {
  int version = 0;
  Status s = db.Transact([&](Tx& tx) {
    MUON_ASSIGN_OR_RETURN(version, ReadVersion(tx));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return version;
}

Status Migrate(Database& db, int target) {
  if (target < 1 || target > kSchemaVersion) {
    return Status::InvalidArgument(
        fmt::format("schema version {} does not exist (1..{})", target, kSchemaVersion));
  }
  for (const Migration& m : Migrations()) {
    if (m.version > target) break;
    bool newer = false;
    int found = 0;
    Status s = db.Transact([&](Tx& tx) -> Status {
      // PostgreSQL: concurrent starts queue here instead of migrating twice.
      if (tx.dialect() == Dialect::kPostgres) {
        MUON_RETURN_IF_ERROR(tx.Query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(4242001)) AS l").status());
      }
      MUON_ASSIGN_OR_RETURN(found, ReadVersion(tx));
      if (found > kSchemaVersion) {
        newer = true;
        return Status::Ok();
      }
      if (found >= m.version) return Status::Ok();
      if (found != m.version - 1) {
        return Status::Internal(fmt::format("schema at version {}, cannot apply {}", found,
                                            m.version));
      }
      if (found == 0) {
        MUON_RETURN_IF_ERROR(tx.Exec("CREATE TABLE schema_version (version BIGINT NOT NULL)").status());
        MUON_RETURN_IF_ERROR(tx.Exec("INSERT INTO schema_version (version) VALUES (0)").status());
      }
      auto run = [&](const std::vector<std::string>& stmts) -> Status {
        for (const auto& sql : stmts) {
          auto r = tx.Exec(Expand(sql, tx.dialect()));
          if (!r.ok()) {
            return r.status().WithContext(fmt::format("schema migration {}", m.version));
          }
        }
        return Status::Ok();
      };
      MUON_RETURN_IF_ERROR(run(m.common));
      MUON_RETURN_IF_ERROR(run(tx.dialect() == Dialect::kSqlite ? m.sqlite : m.postgres));
      return tx.Exec("UPDATE schema_version SET version = :v1", {int64_t{m.version}}).status();
    });
    if (!s.ok()) return s;
    if (newer) {
      return Status::FailedPrecondition(fmt::format(
          "the registry database {} is at schema version {}, newer than this muonpipe knows "
          "(up to {}): it was written by a newer muonpipe. Run that version (or newer), or point "
          "--registry at another database; this binary will not touch it",
          db.display_url(), found, kSchemaVersion));
    }
  }
  return Status::Ok();
}

}  // namespace muon::registry
