// The registry's schema and its versioned migrations (docs/registry.md).
//
// Version N of the schema is what migrations 1..N produce; the version a
// database is at is kept in schema_version (one row). Migrate runs each
// missing step in its own transaction, so a failure leaves the database at
// the last complete version. A database at a version newer than this binary
// knows is never touched: Migrate refuses with FailedPrecondition.
#pragma once

#include "base/status.h"
#include "registry/sql.h"

namespace muon::registry {

// The newest schema this binary knows.
inline constexpr int kSchemaVersion = 2;

// The version the database is at; 0 for an empty database.
Result<int> SchemaVersionOf(Database& db);

// Brings the database to `target` (1..kSchemaVersion). Refuses a database
// newer than kSchemaVersion, naming both versions and what to do.
Status Migrate(Database& db, int target = kSchemaVersion);

// The status names, in the order the documentation lists them.
inline constexpr const char* kStatuses[] = {"planned",  "in-transit", "deployed",
                                            "active",   "degraded",   "offline",
                                            "retrieved", "decommissioned", "lost"};
// True when a detector may move from `from` to `to` (the status_transitions table).
bool IsLegalTransition(std::string_view from, std::string_view to);

}  // namespace muon::registry
