// The sensor registry: sites, detectors, deployments, each detector's status
// history and configuration documents, and a record of every change (who,
// when, before, after). docs/registry.md is the user's view of the same.
//
// Entities travel as JSON objects whose fields are those of docs/registry.md.
// Every write runs in one transaction: the row, its status entry and its
// change record land together or not at all.
//
// Errors (all as values):
//   InvalidArgument     a field breaks a rule: the message is
//                       "field 'F' violates rule 'R': detail" (see ParseViolation)
//   FailedPrecondition  the change conflicts with stored state (an overlapping
//                       deployment, an illegal status move, a site still in use);
//                       same message form
//   NotFound / AlreadyExists
//   Aborted             the If-Match version is not the stored version
// Thread safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/status.h"
#include "registry/schema.h"
#include "registry/sql.h"

namespace muon::registry {

using Json = nlohmann::ordered_json;

enum class Kind { kSite, kDetector, kDeployment };
std::string_view KindName(Kind kind);  // "site", "detector", "deployment"

struct ListQuery {
  // sites: kind. detectors: model, status, site, deployed_at (a time).
  // deployments: detector, site, active_at (a time), open ("true"/"false").
  std::map<std::string, std::string> filters;
  std::string sort;  // a field name, "-" first for descending; default id
  int limit = 100;   // 1..1000
  int64_t offset = 0;
};

struct Page {
  Json items = Json::array();
  std::optional<int64_t> next_offset;  // set when more items follow
};

// "field 'F' violates rule 'R': detail" split into its parts; nullopt for
// other messages.
struct Violation {
  std::string field;
  std::string rule;
  std::string detail;
};
std::optional<Violation> ParseViolation(const Status& status);

// What the ingest path saw of one detector since the last report.
struct Activity {
  std::string detector_id;
  uint64_t records = 0;
  int64_t last_nanos = 0;  // time of the newest of those records' acknowledgement
};

// Who made a live-status change, as recorded in the history.
inline constexpr std::string_view kLiveStatusActor = "muonpipe:live-status";

class Registry {
 public:
  // Opens the database at `url` (Database::Open) and migrates it to
  // `schema_version`. `clock` must outlive the registry.
  static Result<std::unique_ptr<Registry>> Open(const std::string& url, Clock* clock,
                                                int schema_version = kSchemaVersion);

  // Read-write access to the same database without migrating (tests, import).
  Database& db() { return *db_; }

  // The entity with its stored fields, its version (the ETag) and, for a
  // detector, its current status.
  Result<Json> Create(Kind kind, const Json& fields, std::string_view actor);
  Result<Json> Get(Kind kind, std::string_view id);
  Result<Page> List(Kind kind, const ListQuery& query);
  // Applies the fields present in `patch` (null clears an optional field).
  // With if_version, refuses (Aborted) unless it is the stored version.
  Result<Json> Update(Kind kind, std::string_view id, const Json& patch,
                      std::optional<int64_t> if_version, std::string_view actor);
  Status Delete(Kind kind, std::string_view id, std::optional<int64_t> if_version,
                std::string_view actor);

  // Appends {status, reason[, since]} to the detector's status history; the
  // move must be legal (schema.h). Returns the detector.
  Result<Json> SetStatus(std::string_view detector_id, const Json& body,
                         std::optional<int64_t> if_version, std::string_view actor);
  // {"detector_id", "status", "since", "by", "reason", "entries": [...oldest first]}
  Result<Json> StatusHistory(std::string_view detector_id);
  // Change records of one entity, oldest first: {seq, at, actor, action, before, after}.
  Result<Json> Changes(Kind kind, std::string_view id);

  // Configuration documents: each put of a name adds the next version.
  Result<Json> PutConfig(std::string_view detector_id, std::string_view name,
                         const Json& document, std::string_view actor);
  // version 0: the latest.
  Result<Json> GetConfig(std::string_view detector_id, std::string_view name, int64_t version);
  // The latest version of each name.
  Result<Json> ListConfigs(std::string_view detector_id);

  // Live status. Records the activity (last seen, record counts) of known
  // detectors, brings an offline or deployed detector that sent data to
  // active, and marks offline every active or degraded detector silent for
  // longer than its silence threshold ("no data since ..."). Both moves are
  // status history entries by kLiveStatusActor. Unknown detector ids are
  // ignored (and listed in `*unknown` when given). Returns the number of
  // status changes made.
  Result<int> ApplyLiveStatus(const std::vector<Activity>& activity, int64_t now_nanos,
                              std::vector<std::string>* unknown = nullptr);

  // Whole tables for export: the columns of docs/registry.md's CSV format, in
  // order, rows in key order. Table names: sites, detectors, deployments,
  // status_history, detector_configs, changes.
  static const std::vector<std::string>& TableNames();
  Result<SqlRows> ExportTable(std::string_view table);
  // Replaces nothing: loads rows into an empty registry in one transaction.
  // `cells[t]` are the rows of table t as text, "" for NULL; the first failure
  // names the table, row index (0-based) and column. Nothing is kept on failure.
  struct ImportError {
    std::string table;
    size_t row = 0;
    std::string column;
    std::string message;
  };
  Status Import(const std::map<std::string, std::vector<std::vector<std::string>>>& cells,
                ImportError* error);

  // Formats a time (ns since the epoch) as stored: "2026-03-01T10:00:00Z".
  static std::string FormatTime(int64_t nanos);
  // Parses RFC 3339 (Z or an offset, optional fraction) to stored form.
  static std::optional<std::string> NormalizeTime(std::string_view text);

  ~Registry();

 private:
  Registry(std::unique_ptr<Database> db, Clock* clock);
  std::unique_ptr<Database> db_;
  Clock* clock_;
};

}  // namespace muon::registry
