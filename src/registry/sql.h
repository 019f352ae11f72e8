// The SQL layer: one small interface over SOCI for the SQLite3 and PostgreSQL
// backends. SOCI throws; nothing here does. Every failure comes back as a
// Status whose message names the statement's purpose and the backend's words.
//
// Placeholders are written :v1, :v2, ... and bound in the order they appear
// in the text (SOCI binds by position, not by name). Values are NULL,
// a 64-bit integer, a double or text: the registry keeps times as fixed-width
// UTC text ("2026-03-01T10:00:00Z") so both backends compare them the same way.
//
// Thread safety: a Database may be used from any thread. It keeps a few
// connections; each transaction holds one for its whole duration. Writes
// (Transact) are serialised by the database; reads (Read) run beside them on
// a consistent snapshot. Tx handles must not escape the function given.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"

namespace muon::registry {

enum class Dialect { kSqlite, kPostgres };

using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

struct SqlRows {
  std::vector<std::string> columns;
  std::vector<std::vector<SqlValue>> rows;
};

// A transaction in progress. Statements run in it; it commits when the
// function given to Transact returns OK and rolls back otherwise.
class Tx {
 public:
  virtual ~Tx() = default;
  virtual Dialect dialect() const = 0;
  // Runs a statement; returns the number of rows it changed.
  virtual Result<int64_t> Exec(std::string_view sql, const std::vector<SqlValue>& params = {}) = 0;
  virtual Result<SqlRows> Query(std::string_view sql, const std::vector<SqlValue>& params = {}) = 0;
};

class Database {
 public:
  virtual ~Database() = default;

  // `url` is "postgresql://user:pass@host:port/db?..." (libpq's URI form), or
  // "sqlite://PATH" or a plain file path for SQLite (WAL, foreign keys on,
  // busy timeout 10 s). ":memory:" is an in-memory SQLite database.
  static Result<std::unique_ptr<Database>> Open(const std::string& url);

  virtual Dialect dialect() const = 0;
  // The URL with any password replaced by "***", for messages.
  virtual std::string display_url() const = 0;

  // Runs fn inside one transaction (see Tx). A Status from fn is returned as is.
  virtual Status Transact(const std::function<Status(Tx&)>& fn) = 0;
  // Runs fn inside a read-only transaction on one snapshot: it never waits for
  // a write in progress (SQLite WAL; PostgreSQL REPEATABLE READ READ ONLY).
  // Statements that write fail.
  virtual Status Read(const std::function<Status(Tx&)>& fn) = 0;
};

// Reads of one SqlValue: NULL is "" / 0 / nullopt.
std::string AsText(const SqlValue& v);
int64_t AsInt(const SqlValue& v);
double AsDouble(const SqlValue& v);
bool IsNull(const SqlValue& v);

}  // namespace muon::registry
