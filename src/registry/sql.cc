#include "registry/sql.h"

#include <condition_variable>
#include <ctime>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include <fmt/format.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

namespace muon::registry {
namespace {

// SOCI's messages, without the statement text it appends (which may be long).
std::string Clean(std::string_view what) {
  std::string s(what);
  for (const char* marker : {" while executing \"", " while preparing \""}) {
    if (auto p = s.find(marker); p != std::string::npos) s.resize(p);
  }
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '.')) s.pop_back();
  return s;
}

// Maps a backend failure to a Status. The registry's triggers raise messages
// beginning "registry rule <name>:", which are the caller's fault.
Status FromError(const std::exception& e) {
  std::string msg = Clean(e.what());
  if (msg.find("registry rule ") != std::string::npos) {
    return Status::FailedPrecondition(msg);
  }
  if (const auto* se = dynamic_cast<const soci::soci_error*>(&e)) {
    switch (se->get_error_category()) {
      case soci::soci_error::constraint_violation:
        return Status::FailedPrecondition(msg);
      case soci::soci_error::connection_error:
        return Status::Unavailable(msg);
      default: break;
    }
  }
  // SQLite reports constraint failures in the text only.
  if (msg.find("constraint failed") != std::string::npos ||
      msg.find("violates") != std::string::npos) {
    return Status::FailedPrecondition(msg);
  }
  if (msg.find("database is locked") != std::string::npos) return Status::Unavailable(msg);
  return Status::IoError(msg);
}

class SociTx final : public Tx {
 public:
  SociTx(soci::session* s, Dialect d) : s_(s), d_(d) {}
  Dialect dialect() const override { return d_; }

  Result<int64_t> Exec(std::string_view sql, const std::vector<SqlValue>& params) override {
    try {
      Bound b(params);
      soci::statement st(*s_);
      b.BindTo(st);
      st.alloc();
      st.prepare(std::string(sql), soci::details::st_one_time_query);
      st.define_and_bind();
      st.execute(true);
      return static_cast<int64_t>(st.get_affected_rows());
    } catch (const std::exception& e) {
      return FromError(e);
    }
  }

  Result<SqlRows> Query(std::string_view sql, const std::vector<SqlValue>& params) override {
    try {
      Bound b(params);
      soci::row row;
      soci::statement st(*s_);
      st.exchange(soci::into(row));
      b.BindTo(st);
      st.alloc();
      st.prepare(std::string(sql), soci::details::st_one_time_query);
      st.define_and_bind();
      SqlRows out;
      bool got = st.execute(true);
      while (got) {
        if (out.columns.empty()) {
          for (size_t i = 0; i < row.size(); ++i) out.columns.push_back(row.get_properties(i).get_name());
        }
        std::vector<SqlValue> values;
        values.reserve(row.size());
        for (size_t i = 0; i < row.size(); ++i) values.push_back(Read(row, i));
        out.rows.push_back(std::move(values));
        got = st.fetch();
      }
      return out;
    } catch (const std::exception& e) {
      return FromError(e);
    }
  }

 private:
  // Values bound by address: they must stay put until the statement ran.
  struct Bound {
    explicit Bound(const std::vector<SqlValue>& params) {
      for (const auto& p : params) {
        Slot& slot = slots.emplace_back();
        slot.kind = p.index();
        slot.ind = soci::i_ok;
        if (std::holds_alternative<std::monostate>(p)) slot.ind = soci::i_null;
        if (auto* i = std::get_if<int64_t>(&p)) slot.i = *i;
        if (auto* d = std::get_if<double>(&p)) slot.d = *d;
        if (auto* s = std::get_if<std::string>(&p)) slot.s = *s;
      }
    }
    void BindTo(soci::statement& st) {
      for (Slot& slot : slots) {
        switch (slot.kind) {
          case 1: st.exchange(soci::use(slot.i, slot.ind)); break;
          case 2: st.exchange(soci::use(slot.d, slot.ind)); break;
          default: st.exchange(soci::use(slot.s, slot.ind)); break;  // text and NULL
        }
      }
    }
    struct Slot {
      size_t kind = 0;
      long long i = 0;
      double d = 0;
      std::string s;
      soci::indicator ind = soci::i_ok;
    };
    std::deque<Slot> slots;
  };

  static SqlValue Read(const soci::row& row, size_t i) {
    if (row.get_indicator(i) == soci::i_null) return std::monostate{};
    switch (row.get_properties(i).get_data_type()) {
      case soci::dt_string: return row.get<std::string>(i);
      case soci::dt_double: return row.get<double>(i);
      case soci::dt_integer: return static_cast<int64_t>(row.get<int>(i));
      case soci::dt_long_long: return static_cast<int64_t>(row.get<long long>(i));
      case soci::dt_unsigned_long_long:
        return static_cast<int64_t>(row.get<unsigned long long>(i));
      case soci::dt_date: {
        std::tm t = row.get<std::tm>(i);
        char buf[32];
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &t);
        return std::string(buf);
      }
      default: return row.get<std::string>(i);
    }
  }

  soci::session* s_;
  Dialect d_;
};

// A small pool of connections: each transaction holds one for its duration,
// so reads (Read) run beside a write instead of queueing behind it.
// Connections are opened on demand, up to max_connections.
class SociDatabase final : public Database {
 public:
  using Connect = std::function<std::unique_ptr<soci::session>()>;  // throws on failure
  SociDatabase(std::unique_ptr<soci::session> first, Connect connect, Dialect d,
               std::string display, int max_connections)
      : connect_(std::move(connect)), d_(d), display_(std::move(display)),
        max_(max_connections) {
    idle_.push_back(std::move(first));
    open_ = 1;
  }

  Dialect dialect() const override { return d_; }
  std::string display_url() const override { return display_; }

  Status Transact(const std::function<Status(Tx&)>& fn) override { return Run(fn, false); }
  Status Read(const std::function<Status(Tx&)>& fn) override { return Run(fn, true); }

 private:
  Status Run(const std::function<Status(Tx&)>& fn, bool read_only) {
    std::unique_ptr<soci::session> s;
    Status got = Acquire(&s);
    if (!got.ok()) return got;
    Status st = RunOn(*s, fn, read_only);
    Release(std::move(s));
    return st;
  }

  Status RunOn(soci::session& s, const std::function<Status(Tx&)>& fn, bool read_only) {
    try {
      if (d_ == Dialect::kPostgres && !s.is_connected()) s.reconnect();
      if (d_ == Dialect::kSqlite) {
        // A write takes the write lock now (no upgrade deadlock); a read
        // takes its WAL snapshot at its first statement and never blocks.
        if (read_only) s << "PRAGMA query_only = ON";
        s << (read_only ? "BEGIN DEFERRED" : "BEGIN IMMEDIATE");
      } else {
        s.begin();
        // One snapshot for all of a read's statements (a count and its page agree).
        if (read_only) s << "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";
      }
    } catch (const std::exception& e) {
      return FromError(e).WithContext(fmt::format("registry database {}", display_));
    }
    SociTx tx(&s, d_);
    Status st = fn(tx);
    try {
      if (st.ok()) {
        if (d_ == Dialect::kSqlite) s << "COMMIT"; else s.commit();
      } else {
        if (d_ == Dialect::kSqlite) s << "ROLLBACK"; else s.rollback();
      }
    } catch (const std::exception& e) {
      Status failed = FromError(e);
      if (st.ok()) st = failed;
    }
    if (read_only && d_ == Dialect::kSqlite) {
      try {
        s << "PRAGMA query_only = OFF";
      } catch (const std::exception& e) {
        if (st.ok()) st = FromError(e);
      }
    }
    return st;
  }

  Status Acquire(std::unique_ptr<soci::session>* out) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
    if (!idle_.empty()) {
      *out = std::move(idle_.back());
      idle_.pop_back();
      return Status::Ok();
    }
    ++open_;
    lock.unlock();
    try {
      *out = connect_();
      return Status::Ok();
    } catch (const std::exception& e) {
      lock.lock();
      --open_;
      cv_.notify_one();
      return FromError(e).WithContext(fmt::format("registry database {}", display_));
    }
  }

  void Release(std::unique_ptr<soci::session> s) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(s));
    cv_.notify_one();
  }

  const Connect connect_;
  const Dialect d_;
  const std::string display_;
  const int max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<soci::session>> idle_;  // guarded by mu_
  int open_ = 0;                                      // guarded by mu_
};

// Connections per Database: enough for reads beside a write; PostgreSQL's
// default limit of 100 connections leaves room for many servers.
constexpr int kMaxConnections = 4;

std::string HidePassword(const std::string& url) {
  auto scheme = url.find("://");
  auto at = url.find('@');
  if (scheme == std::string::npos || at == std::string::npos || at < scheme) return url;
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// libpq keyword value, quoted as conninfo wants.
std::string Quote(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

// SOCI 4.0's PostgreSQL backend reads its connect string as libpq's
// "key=value" form (it scans it for its own options), so the URL
// postgresql://user:password@host:port/db?param=value is turned into that.
Result<std::string> ConnInfo(const std::string& url) {
  std::string rest = url.substr(url.find("://") + 3);
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest.resize(q);
  }
  std::string db;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    db = rest.substr(slash + 1);
    rest.resize(slash);
  }
  std::string user, password;
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = cred.find(':');
    user = cred.substr(0, colon);
    if (colon != std::string::npos) password = cred.substr(colon + 1);
  }
  std::string host = rest, port;
  if (!host.empty() && host[0] == '[') {
    auto close = host.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("bad IPv6 host in " + url);
    if (close + 1 < host.size() && host[close + 1] == ':') port = host.substr(close + 2);
    host = host.substr(1, close - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
    port = host.substr(colon + 1);
    host.resize(colon);
  }
  std::string out;
  auto add = [&](std::string_view k, const std::string& v) {
    if (!v.empty()) out += fmt::format("{}{}={}", out.empty() ? "" : " ", k, Quote(PercentDecode(v)));
  };
  add("host", host);
  add("port", port);
  add("dbname", db);
  add("user", user);
  add("password", password);
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    std::string kv = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    start = amp == std::string::npos ? query.size() : amp + 1;
    auto eq = kv.find('=');
    if (eq == std::string::npos) return Status::InvalidArgument("bad query parameter in " + url);
    add(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const std::string& url) {
  const bool pg = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  std::string display = HidePassword(url);
  try {
    if (pg) {
      MUON_ASSIGN_OR_RETURN(std::string conninfo, ConnInfo(url));
      auto connect = [conninfo] {
        auto s = std::make_unique<soci::session>(soci::postgresql, conninfo);
        *s << "SET client_min_messages TO WARNING";
        return s;
      };
      return std::unique_ptr<Database>(std::make_unique<SociDatabase>(
          connect(), connect, Dialect::kPostgres, display, kMaxConnections));
    }
    std::string path = url.rfind("sqlite://", 0) == 0 ? url.substr(9) : url;
    if (path.empty()) return Status::InvalidArgument("empty SQLite database path");
    if (path.find('"') != std::string::npos) {
      return Status::InvalidArgument(fmt::format("SQLite path '{}' contains a quote", path));
    }
    const bool memory = path == ":memory:";
    auto connect = [path, memory] {
      auto s = std::make_unique<soci::session>(soci::sqlite3,
                                               fmt::format("db=\"{}\" timeout=10", path));
      *s << "PRAGMA foreign_keys = ON";
      if (!memory) {
        std::string mode;
        *s << "PRAGMA journal_mode = WAL", soci::into(mode);
        *s << "PRAGMA synchronous = FULL";
      }
      return s;
    };
    // Each connection to ":memory:" would be a database of its own.
    return std::unique_ptr<Database>(std::make_unique<SociDatabase>(
        connect(), connect, Dialect::kSqlite, display, memory ? 1 : kMaxConnections));
  } catch (const std::exception& e) {
    Status s = FromError(e);
    return Status(s.code() == StatusCode::kIoError ? StatusCode::kUnavailable : s.code(),
                  fmt::format("cannot open registry database {}: {}", display, s.message()));
  }
}

std::string AsText(const SqlValue& v) {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  return {};
}
int64_t AsInt(const SqlValue& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  if (auto* s = std::get_if<std::string>(&v)) {
    try {
      return std::stoll(*s);
    } catch (...) {
      return 0;
    }
  }
  return 0;
}
double AsDouble(const SqlValue& v) {
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (auto* s = std::get_if<std::string>(&v)) {
    try {
      return std::stod(*s);
    } catch (...) {
      return 0;
    }
  }
  return 0;
}
bool IsNull(const SqlValue& v) { return std::holds_alternative<std::monostate>(v); }

}  // namespace muon::registry
