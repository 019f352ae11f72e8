// Test support: a registry on each backend. SQLite lives in a fresh temp
// file; PostgreSQL is the database named by MUON_REGISTRY_TEST_POSTGRES_URL
// (scripts/start-postgres.sh prints one), emptied before each test. Without
// that variable the PostgreSQL cases fail under CI (CI=true) and are skipped,
// loudly, elsewhere.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "registry/registry.h"

namespace muon::registry::testing {

inline const char* kPostgresUrlVar = "MUON_REGISTRY_TEST_POSTGRES_URL";

// A URL for a fresh, empty database on `backend` ("sqlite" or "postgresql"),
// or "" after reporting why there is none (the caller returns).
// `skip` is set when the case should be skipped rather than failed.
inline std::string FreshDatabaseUrl(const std::string& backend, std::string* skip) {
  if (backend == "sqlite") {
    // The temp directories go when the test binary exits.
    static struct Cleanup {
      std::vector<std::filesystem::path> dirs;
      ~Cleanup() {
        std::error_code ec;
        for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
      }
    } cleanup;
    static int n = 0;
    auto dir = std::filesystem::temp_directory_path() /
               ("muon-registry-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    cleanup.dirs.push_back(dir);
    return (dir / "registry.db").string();
  }
  const char* url = std::getenv(kPostgresUrlVar);
  if (url == nullptr || *url == '\0') {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") {
      ADD_FAILURE() << kPostgresUrlVar
                    << " is not set: under CI the registry tests must run on PostgreSQL too. "
                       "scripts/test.sh sets it from scripts/start-postgres.sh.";
    } else {
      *skip = "PostgreSQL half skipped: set MUON_REGISTRY_TEST_POSTGRES_URL (run "
              "scripts/start-postgres.sh, which prints one)";
    }
    return "";
  }
  auto db = Database::Open(url);
  if (!db.ok()) {
    ADD_FAILURE() << db.status().ToString();
    return "";
  }
  Status s = (*db)->Transact([](Tx& tx) -> Status {
    MUON_RETURN_IF_ERROR(tx.Exec("DROP SCHEMA IF EXISTS public CASCADE").status());
    return tx.Exec("CREATE SCHEMA public").status();
  });
  if (!s.ok()) {
    ADD_FAILURE() << "emptying the test database: " << s.ToString();
    return "";
  }
  return url;
}

inline std::string BackendName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace muon::registry::testing
