// The identity tables' own migration sequence (identity_schema_version), in
// the registry's database but independent of the registry's schema_version.
#pragma once

#include "base/status.h"
#include "registry/sql.h"

namespace muon::identity {

inline constexpr int kIdentitySchemaVersion = 2;

// Brings the identity tables to kIdentitySchemaVersion. FailedPrecondition
// when the database is newer than this binary (it is then left untouched).
Status MigrateIdentity(registry::Database& db);

}  // namespace muon::identity
