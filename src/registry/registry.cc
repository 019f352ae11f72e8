#include "registry/registry.h"

#include <charconv>
#include <cmath>
#include <ctime>
#include <limits>
#include <set>
#include <unordered_set>

#include <fmt/format.h>

namespace muon::registry {
namespace {

enum class T { kId, kText, kReal, kInt, kTime, kDate, kEnum, kJson };

// One column of a registry table, and the rules its values keep. The same
// rules check API input and imported CSV cells.
struct Col {
  const char* name;
  T type;
  bool required = false;   // NOT NULL
  bool input = false;      // a client may set it on create
  bool updatable = false;  // a client may change it later
  std::optional<double> min = std::nullopt;
  std::optional<double> max = std::nullopt;
  bool max_exclusive = false;
  bool min_exclusive = false;
  std::vector<std::string> values = {};  // kEnum
  size_t max_len = 4096;
};

const std::vector<std::string> kSiteKinds = {"surface", "underground", "borehole", "lab"};
std::vector<std::string> StatusValues() { return {std::begin(kStatuses), std::end(kStatuses)}; }

Col Meta(const char* name, T type) { return Col{.name = name, .type = type, .required = true}; }

const std::vector<Col>& SiteCols() {
  static const std::vector<Col> c = {
      {.name = "id", .type = T::kId, .required = true, .input = true},
      {.name = "name", .type = T::kText, .required = true, .input = true, .updatable = true, .max_len = 200},
      {.name = "kind", .type = T::kEnum, .required = true, .input = true, .updatable = true, .values = kSiteKinds},
      {.name = "latitude", .type = T::kReal, .required = true, .input = true, .updatable = true, .min = -90, .max = 90},
      {.name = "longitude", .type = T::kReal, .required = true, .input = true, .updatable = true, .min = -180, .max = 180},
      {.name = "elevation_m", .type = T::kReal, .input = true, .updatable = true, .min = -12000, .max = 9000},
      {.name = "depth_m", .type = T::kReal, .input = true, .updatable = true, .min = 0, .max = 12000},
      {.name = "contact", .type = T::kText, .input = true, .updatable = true, .max_len = 500},
      {.name = "notes", .type = T::kText, .input = true, .updatable = true, .max_len = 10000},
      Meta("version", T::kInt), Meta("created_at", T::kTime), Meta("updated_at", T::kTime)};
  return c;
}

const std::vector<Col>& DetectorCols() {
  static const std::vector<Col> c = {
      {.name = "id", .type = T::kId, .required = true, .input = true},
      {.name = "model", .type = T::kText, .required = true, .input = true, .updatable = true, .max_len = 200},
      {.name = "active_area_m2", .type = T::kReal, .input = true, .updatable = true, .min = 0, .max = 1000, .min_exclusive = true},
      {.name = "channels", .type = T::kInt, .input = true, .updatable = true, .min = 1, .max = 1'000'000},
      {.name = "firmware", .type = T::kText, .input = true, .updatable = true, .max_len = 200},
      {.name = "commissioned", .type = T::kDate, .input = true, .updatable = true},
      {.name = "notes", .type = T::kText, .input = true, .updatable = true, .max_len = 10000},
      {.name = "silence_threshold_s", .type = T::kInt, .required = true, .input = true, .updatable = true, .min = 1, .max = 31'536'000},
      {.name = "last_seen", .type = T::kTime},
      Meta("records_seen", T::kInt),
      Meta("version", T::kInt), Meta("created_at", T::kTime), Meta("updated_at", T::kTime)};
  return c;
}

const std::vector<Col>& DeploymentCols() {
  static const std::vector<Col> c = {
      {.name = "id", .type = T::kInt, .required = true, .min = 1},
      {.name = "detector_id", .type = T::kId, .required = true, .input = true},
      {.name = "site_id", .type = T::kId, .required = true, .input = true},
      {.name = "from_time", .type = T::kTime, .required = true, .input = true, .updatable = true},
      {.name = "to_time", .type = T::kTime, .input = true, .updatable = true},
      {.name = "position", .type = T::kText, .input = true, .updatable = true, .max_len = 500},
      {.name = "zenith_deg", .type = T::kReal, .input = true, .updatable = true, .min = 0, .max = 180},
      {.name = "azimuth_deg", .type = T::kReal, .input = true, .updatable = true, .min = 0, .max = 360, .max_exclusive = true},
      {.name = "depth_m", .type = T::kReal, .input = true, .updatable = true, .min = 0, .max = 12000},
      {.name = "purpose", .type = T::kText, .input = true, .updatable = true, .max_len = 2000},
      Meta("version", T::kInt), Meta("created_at", T::kTime), Meta("updated_at", T::kTime)};
  return c;
}

const std::vector<Col>& StatusCols() {
  static const std::vector<Col> c = {
      {.name = "seq", .type = T::kInt, .required = true, .min = 1},
      {.name = "detector_id", .type = T::kId, .required = true},
      {.name = "status", .type = T::kEnum, .required = true, .values = StatusValues()},
      {.name = "since", .type = T::kTime, .required = true},
      {.name = "by_whom", .type = T::kText, .required = true, .max_len = 500},
      {.name = "reason", .type = T::kText, .max_len = 2000}};
  return c;
}

const std::vector<Col>& ConfigCols() {
  static const std::vector<Col> c = {
      {.name = "detector_id", .type = T::kId, .required = true},
      {.name = "name", .type = T::kId, .required = true},
      {.name = "version", .type = T::kInt, .required = true, .min = 1},
      {.name = "document", .type = T::kJson, .required = true, .max_len = 1 << 20},
      {.name = "created_at", .type = T::kTime, .required = true},
      {.name = "created_by", .type = T::kText, .required = true, .max_len = 500}};
  return c;
}

const std::vector<Col>& ChangeCols() {
  static const std::vector<Col> c = {
      {.name = "seq", .type = T::kInt, .required = true, .min = 1},
      {.name = "at", .type = T::kTime, .required = true},
      {.name = "actor", .type = T::kText, .required = true, .max_len = 500},
      {.name = "entity", .type = T::kEnum, .required = true, .values = {"site", "detector", "deployment"}},
      {.name = "entity_id", .type = T::kText, .required = true, .max_len = 200},
      {.name = "action", .type = T::kEnum, .required = true, .values = {"create", "update", "delete", "status", "config"}},
      {.name = "before_doc", .type = T::kJson, .max_len = 1 << 20},
      {.name = "after_doc", .type = T::kJson, .max_len = 1 << 20}};
  return c;
}

struct TableSpec {
  const char* table;
  const std::vector<Col>* cols;
  const char* order;  // export order
};

const std::vector<TableSpec>& Tables() {
  static const std::vector<TableSpec> t = {
      {"sites", &SiteCols(), "id"},
      {"detectors", &DetectorCols(), "id"},
      {"deployments", &DeploymentCols(), "id"},
      {"status_history", &StatusCols(), "seq"},
      {"detector_configs", &ConfigCols(), "detector_id, name, version"},
      {"changes", &ChangeCols(), "seq"}};
  return t;
}

const std::vector<Col>& ColsOf(Kind k) {
  switch (k) {
    case Kind::kSite: return SiteCols();
    case Kind::kDetector: return DetectorCols();
    case Kind::kDeployment: return DeploymentCols();
  }
  return SiteCols();
}
const char* TableOf(Kind k) {
  switch (k) {
    case Kind::kSite: return "sites";
    case Kind::kDetector: return "detectors";
    case Kind::kDeployment: return "deployments";
  }
  return "sites";
}

Status Violate(std::string_view field, std::string_view rule, std::string_view detail,
               StatusCode code = StatusCode::kInvalidArgument) {
  return Status(code, fmt::format("field '{}' violates rule '{}': {}", field, rule, detail));
}
Status Conflict(std::string_view field, std::string_view rule, std::string_view detail) {
  return Violate(field, rule, detail, StatusCode::kFailedPrecondition);
}

bool ValidId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

bool ValidDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  int y = 0, m = 0, d = 0;
  if (std::from_chars(s.data(), s.data() + 4, y).ec != std::errc() ||
      std::from_chars(s.data() + 5, s.data() + 7, m).ec != std::errc() ||
      std::from_chars(s.data() + 8, s.data() + 10, d).ec != std::errc()) {
    return false;
  }
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return !(m == 2 && d == 29 && !leap);
}

std::string RangeText(const Col& c) {
  std::string lo = c.min ? fmt::format("{} {}", c.min_exclusive ? ">" : ">=", *c.min) : "";
  std::string hi = c.max ? fmt::format("{} {}", c.max_exclusive ? "<" : "<=", *c.max) : "";
  if (!lo.empty() && !hi.empty()) return lo + " and " + hi;
  return lo + hi;
}

// Checks one value against its column's rules; returns it in stored form
// (times normalised, "" of an optional text as null).
Result<Json> CheckValue(const Col& c, const Json& v) {
  if (v.is_null() || (v.is_string() && v.get<std::string>().empty() && c.type != T::kJson)) {
    if (c.required) return Violate(c.name, "required", "a value is required");
    return Json();
  }
  switch (c.type) {
    case T::kId:
    case T::kText:
    case T::kEnum:
    case T::kTime:
    case T::kDate: {
      if (!v.is_string()) return Violate(c.name, "type", "must be a string");
      std::string s = v.get<std::string>();
      if (s.size() > c.max_len) {
        return Violate(c.name, "max_length", fmt::format("at most {} characters", c.max_len));
      }
      if (c.type == T::kId && !ValidId(s)) {
        return Violate(c.name, "id_format",
                       fmt::format("'{}' is not 1-64 characters of A-Z a-z 0-9 _ . -", s));
      }
      if (c.type == T::kEnum && std::find(c.values.begin(), c.values.end(), s) == c.values.end()) {
        return Violate(c.name, "one_of",
                       fmt::format("'{}' is not one of {}", s, fmt::join(c.values, ", ")));
      }
      if (c.type == T::kDate && !ValidDate(s)) {
        return Violate(c.name, "date", fmt::format("'{}' is not a date YYYY-MM-DD", s));
      }
      if (c.type == T::kTime) {
        auto t = Registry::NormalizeTime(s);
        if (!t) {
          return Violate(c.name, "time",
                         fmt::format("'{}' is not an RFC 3339 time such as 2026-03-01T10:00:00Z", s));
        }
        return Json(*t);
      }
      return Json(s);
    }
    case T::kReal: {
      if (!v.is_number()) return Violate(c.name, "type", "must be a number");
      double d = v.get<double>();
      if (!std::isfinite(d)) return Violate(c.name, "type", "must be a finite number");
      bool below = c.min && (c.min_exclusive ? d <= *c.min : d < *c.min);
      bool above = c.max && (c.max_exclusive ? d >= *c.max : d > *c.max);
      if (below || above) {
        return Violate(c.name, "range", fmt::format("must be {}, got {}", RangeText(c), d));
      }
      return Json(d);
    }
    case T::kInt: {
      if (!v.is_number_integer()) return Violate(c.name, "type", "must be an integer");
      int64_t i = v.get<int64_t>();
      if ((c.min && i < *c.min) || (c.max && i > *c.max)) {
        return Violate(c.name, "range", fmt::format("must be {}, got {}", RangeText(c), i));
      }
      return Json(i);
    }
    case T::kJson: {
      return v;
    }
  }
  return v;
}

SqlValue ToSql(const Col& c, const Json& v) {
  if (v.is_null()) return std::monostate{};
  switch (c.type) {
    case T::kReal: return v.get<double>();
    case T::kInt: return v.get<int64_t>();
    case T::kJson: return v.dump();
    default: return v.get<std::string>();
  }
}

Json FromSql(const Col& c, const SqlValue& v) {
  if (IsNull(v)) return Json();
  switch (c.type) {
    case T::kReal: return AsDouble(v);
    case T::kInt: return AsInt(v);
    case T::kJson: {
      Json j = Json::parse(AsText(v), nullptr, false);
      return j.is_discarded() ? Json(AsText(v)) : j;
    }
    default: return AsText(v);
  }
}

std::string ColumnList(const std::vector<Col>& cols, std::string_view prefix) {
  std::string s;
  for (const Col& c : cols) s += fmt::format("{}{}{}", s.empty() ? "" : ", ", prefix, c.name);
  return s;
}

std::string Placeholders(size_t n, size_t first = 1) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += fmt::format("{}:v{}", i ? ", " : "", first + i);
  return s;
}

// The SELECT every read of an entity goes through; detectors gain their
// current status (the newest status history entry).
std::string SelectOf(Kind k) {
  const auto& cols = ColsOf(k);
  if (k == Kind::kDetector) {
    return fmt::format(
        "SELECT {}, (SELECT h.status FROM status_history h WHERE h.detector_id = d.id ORDER BY "
        "h.seq DESC LIMIT 1) AS status, (SELECT h.since FROM status_history h WHERE "
        "h.detector_id = d.id ORDER BY h.seq DESC LIMIT 1) AS status_since FROM detectors d",
        ColumnList(cols, "d."));
  }
  return fmt::format("SELECT {} FROM {} d", ColumnList(cols, "d."), TableOf(k));
}

Json RowToJson(Kind k, const std::vector<SqlValue>& row) {
  const auto& cols = ColsOf(k);
  Json j = Json::object();
  for (size_t i = 0; i < cols.size(); ++i) j[cols[i].name] = FromSql(cols[i], row[i]);
  if (k == Kind::kDetector) {
    j["status"] = IsNull(row[cols.size()]) ? Json() : Json(AsText(row[cols.size()]));
    j["status_since"] =
        IsNull(row[cols.size() + 1]) ? Json() : Json(AsText(row[cols.size() + 1]));
  }
  return j;
}

SqlValue KeyValue(Kind k, std::string_view id) {
  if (k == Kind::kDeployment) {
    int64_t n = 0;
    auto r = std::from_chars(id.data(), id.data() + id.size(), n);
    if (r.ec != std::errc() || r.ptr != id.data() + id.size()) return int64_t{-1};
    return n;
  }
  return std::string(id);
}

Result<std::optional<Json>> Load(Tx& tx, Kind k, std::string_view id) {
  MUON_ASSIGN_OR_RETURN(SqlRows rows,
                        tx.Query(SelectOf(k) + " WHERE d.id = :v1", {KeyValue(k, id)}));
  if (rows.rows.empty()) return std::optional<Json>();
  return std::optional<Json>(RowToJson(k, rows.rows[0]));
}

Status NotFound(Kind k, std::string_view id) {
  return Status::NotFound(fmt::format("{} '{}' does not exist", KindName(k), id));
}

Status Record(Tx& tx, std::string_view at, std::string_view actor, Kind k, std::string_view id,
              std::string_view action, const Json& before, const Json& after) {
  return tx
      .Exec("INSERT INTO changes (at, actor, entity, entity_id, action, before_doc, after_doc) "
            "VALUES (:v1, :v2, :v3, :v4, :v5, :v6, :v7)",
            {std::string(at), std::string(actor), std::string(KindName(k)), std::string(id),
             std::string(action), before.is_null() ? SqlValue() : SqlValue(before.dump()),
             after.is_null() ? SqlValue() : SqlValue(after.dump())})
      .status();
}

// The checks the database also enforces, made first so the caller hears
// which field and rule, not the backend's words.
Status CheckDeployment(Tx& tx, const Json& d, std::optional<int64_t> self) {
  MUON_ASSIGN_OR_RETURN(SqlRows det, tx.Query("SELECT id FROM detectors WHERE id = :v1",
                                              {d["detector_id"].get<std::string>()}));
  if (det.rows.empty()) {
    return Violate("detector_id", "references",
                   fmt::format("detector '{}' does not exist", d["detector_id"].get<std::string>()));
  }
  MUON_ASSIGN_OR_RETURN(SqlRows site, tx.Query("SELECT id FROM sites WHERE id = :v1",
                                               {d["site_id"].get<std::string>()}));
  if (site.rows.empty()) {
    return Violate("site_id", "references",
                   fmt::format("site '{}' does not exist", d["site_id"].get<std::string>()));
  }
  const std::string from = d["from_time"].get<std::string>();
  const bool open = d["to_time"].is_null();
  const std::string to = open ? "9999-12-31T23:59:59Z" : d["to_time"].get<std::string>();
  if (to <= from) return Violate("to_time", "after_from_time", "must be later than from_time");
  MUON_ASSIGN_OR_RETURN(
      SqlRows others,
      tx.Query("SELECT id, from_time, to_time FROM deployments WHERE detector_id = :v1 AND id <> "
               ":v2 ORDER BY from_time",
               {d["detector_id"].get<std::string>(), self.value_or(-1)}));
  for (const auto& o : others.rows) {
    std::string ofrom = AsText(o[1]);
    std::string oto = IsNull(o[2]) ? "9999-12-31T23:59:59Z" : AsText(o[2]);
    if (open && IsNull(o[2])) {
      return Conflict("to_time", "one_open_deployment",
                      fmt::format("detector '{}' already has an open deployment ({}); end it first",
                                  d["detector_id"].get<std::string>(), AsInt(o[0])));
    }
    if (ofrom < to && oto > from) {
      return Conflict("from_time", "no_overlap",
                      fmt::format("overlaps deployment {} ({} to {}) of detector '{}'", AsInt(o[0]),
                                  ofrom, IsNull(o[2]) ? "open" : oto,
                                  d["detector_id"].get<std::string>()));
    }
  }
  return Status::Ok();
}

const std::set<std::string>& ReadOnlyFields() {
  static const std::set<std::string> s = {"version", "created_at", "updated_at", "status_since",
                                          "last_seen", "records_seen", "live", "status"};
  return s;
}

std::optional<int64_t> ParseTimeNanos(std::string_view stored) {
  std::tm tm{};
  if (stored.size() != 20) return std::nullopt;
  std::string s(stored);
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) * 1'000'000'000;
}

}  // namespace

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kSite: return "site";
    case Kind::kDetector: return "detector";
    case Kind::kDeployment: return "deployment";
  }
  return "site";
}

std::optional<Violation> ParseViolation(const Status& status) {
  const std::string& m = status.message();
  auto f = m.find("field '");
  if (f == std::string::npos) return std::nullopt;
  auto fe = m.find("' violates rule '", f + 7);
  if (fe == std::string::npos) return std::nullopt;
  auto re = m.find("': ", fe + 17);
  if (re == std::string::npos) return std::nullopt;
  return Violation{m.substr(f + 7, fe - f - 7), m.substr(fe + 17, re - fe - 17), m.substr(re + 3)};
}

std::string Registry::FormatTime(int64_t nanos) {
  time_t secs = static_cast<time_t>(nanos >= 0 ? nanos / 1'000'000'000
                                               : (nanos - 999'999'999) / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::string> Registry::NormalizeTime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  if (text.size() < 20 || text[10] != 'T' || !ValidDate(text.substr(0, 10))) return std::nullopt;
  auto num = [&](size_t at, size_t n, int lo, int hi) -> std::optional<int> {
    int v = 0;
    auto r = std::from_chars(text.data() + at, text.data() + at + n, v);
    if (r.ec != std::errc() || r.ptr != text.data() + at + n || v < lo || v > hi) return std::nullopt;
    return v;
  };
  if (text[13] != ':' || text[16] != ':') return std::nullopt;
  auto h = num(11, 2, 0, 23), mi = num(14, 2, 0, 59), s = num(17, 2, 0, 59);
  if (!h || !mi || !s) return std::nullopt;
  size_t p = 19;
  if (text[p] == '.') {
    ++p;
    size_t start = p;
    while (p < text.size() && std::isdigit(static_cast<unsigned char>(text[p]))) ++p;
    if (p == start) return std::nullopt;
  }
  int offset_min = 0;
  if (p < text.size() && (text[p] == 'Z' || text[p] == 'z') && p + 1 == text.size()) {
    offset_min = 0;
  } else if (p + 6 == text.size() && (text[p] == '+' || text[p] == '-') && text[p + 3] == ':') {
    auto oh = num(p + 1, 2, 0, 23), om = num(p + 4, 2, 0, 59);
    if (!oh || !om) return std::nullopt;
    offset_min = (*oh * 60 + *om) * (text[p] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = *num(0, 4, 1, 9999) - 1900;
  tm.tm_mon = *num(5, 2, 1, 12) - 1;
  tm.tm_mday = *num(8, 2, 1, 31);
  tm.tm_hour = *h;
  tm.tm_min = *mi;
  tm.tm_sec = *s;
  int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset_min * 60;
  return FormatTime(secs * 1'000'000'000);
}

Registry::Registry(std::unique_ptr<Database> db, Clock* clock) : db_(std::move(db)), clock_(clock) {}
Registry::~Registry() = default;

Result<std::unique_ptr<Registry>> Registry::Open(const std::string& url, Clock* clock,
                                                 int schema_version) {
  MUON_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(url));
  MUON_RETURN_IF_ERROR(Migrate(*db, schema_version));
  return std::unique_ptr<Registry>(new Registry(std::move(db), clock));
}

Result<Json> Registry::Create(Kind kind, const Json& fields, std::string_view actor) {
  if (!fields.is_object()) return Violate("(body)", "object", "must be a JSON object");
  const auto& cols = ColsOf(kind);
  Json row = Json::object();
  for (const auto& [key, value] : fields.items()) {
    bool known = std::any_of(cols.begin(), cols.end(),
                             [&](const Col& c) { return c.input && key == c.name; });
    if (!known && !(kind == Kind::kDetector && (key == "status" || key == "status_reason")) &&
        !ReadOnlyFields().count(key)) {
      return Violate(key, "known_field", fmt::format("{} has no field '{}'", KindName(kind), key));
    }
  }
  for (const Col& c : cols) {
    if (!c.input) continue;
    Json v = fields.contains(c.name) ? fields[c.name] : Json();
    if (v.is_null() && std::string_view(c.name) == "silence_threshold_s") v = 900;
    MUON_ASSIGN_OR_RETURN(row[c.name], CheckValue(c, v));
  }
  std::string initial_status = "planned", reason;
  if (kind == Kind::kDetector) {
    if (fields.contains("status")) {
      static const Col kStatusCol{.name = "status", .type = T::kEnum, .required = true,
                                  .values = StatusValues()};
      MUON_ASSIGN_OR_RETURN(Json st, CheckValue(kStatusCol, fields["status"]));
      initial_status = st.get<std::string>();
    }
    if (fields.contains("status_reason") && fields["status_reason"].is_string()) {
      reason = fields["status_reason"].get<std::string>();
    }
  }
  const std::string now = FormatTime(clock_->NowNanos());
  Json result;
  Status s = db_->Transact([&](Tx& tx) -> Status {
    std::string id;
    if (kind == Kind::kDeployment) {
      MUON_RETURN_IF_ERROR(CheckDeployment(tx, row, std::nullopt));
    } else {
      id = row["id"].get<std::string>();
      MUON_ASSIGN_OR_RETURN(auto existing, Load(tx, kind, id));
      if (existing) {
        return Status::AlreadyExists(fmt::format("{} '{}' already exists", KindName(kind), id));
      }
    }
    std::vector<std::string> names;
    std::vector<SqlValue> values;
    for (const Col& c : cols) {
      if (!c.input) continue;
      names.push_back(c.name);
      values.push_back(ToSql(c, row[c.name]));
    }
    for (const char* meta : {"version", "created_at", "updated_at"}) names.push_back(meta);
    values.push_back(int64_t{1});
    values.push_back(now);
    values.push_back(now);
    std::string sql = fmt::format("INSERT INTO {} ({}) VALUES ({})", TableOf(kind),
                                  fmt::join(names, ", "), Placeholders(values.size()));
    if (kind == Kind::kDeployment) {
      MUON_ASSIGN_OR_RETURN(SqlRows r, tx.Query(sql + " RETURNING id", values));
      if (r.rows.empty()) return Status::Internal("INSERT RETURNING gave no id");
      id = std::to_string(AsInt(r.rows[0][0]));
    } else {
      MUON_RETURN_IF_ERROR(tx.Exec(sql, values).status());
    }
    if (kind == Kind::kDetector) {
      MUON_RETURN_IF_ERROR(
          tx.Exec("INSERT INTO status_history (detector_id, status, since, by_whom, reason) "
                  "VALUES (:v1, :v2, :v3, :v4, :v5)",
                  {id, initial_status, now, std::string(actor),
                   reason.empty() ? SqlValue() : SqlValue(reason)})
              .status());
    }
    MUON_ASSIGN_OR_RETURN(auto after, Load(tx, kind, id));
    if (!after) return Status::Internal("created row not found");
    result = *after;
    return Record(tx, now, actor, kind, id, "create", Json(), result);
  });
  if (!s.ok()) return s;
  return result;
}

Result<Json> Registry::Get(Kind kind, std::string_view id) {
  std::optional<Json> got;
  Status s = db_->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(got, Load(tx, kind, id));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!got) return NotFound(kind, id);
  return *got;
}

Result<Page> Registry::List(Kind kind, const ListQuery& q) {
  if (q.limit < 1 || q.limit > 1000) return Violate("limit", "range", "must be 1..1000");
  if (q.offset < 0) return Violate("next_token", "format", "not a token this registry issued");
  std::vector<std::string> where;
  std::vector<SqlValue> params;
  auto param = [&](SqlValue v) {
    params.push_back(std::move(v));
    return fmt::format(":v{}", params.size());
  };
  auto time_filter = [&](const std::string& key, const std::string& v) -> Result<std::string> {
    auto t = NormalizeTime(v);
    if (!t) return Violate(key, "time", fmt::format("'{}' is not an RFC 3339 time", v));
    return *t;
  };
  std::set<std::string> allowed;
  switch (kind) {
    case Kind::kSite: allowed = {"kind"}; break;
    case Kind::kDetector: allowed = {"model", "status", "site", "deployed_at"}; break;
    case Kind::kDeployment: allowed = {"detector", "site", "active_at", "open"}; break;
  }
  for (const auto& [key, value] : q.filters) {
    if (!allowed.count(key)) {
      return Violate(key, "known_filter",
                     fmt::format("{}s can be filtered by {}", KindName(kind), fmt::join(allowed, ", ")));
    }
  }
  auto get = [&](const char* k) -> std::optional<std::string> {
    auto it = q.filters.find(k);
    if (it == q.filters.end()) return std::nullopt;
    return it->second;
  };
  if (kind == Kind::kSite) {
    if (auto v = get("kind")) where.push_back("x.kind = " + param(*v));
  } else if (kind == Kind::kDetector) {
    if (auto v = get("model")) where.push_back("x.model = " + param(*v));
    if (auto v = get("status")) where.push_back("x.status = " + param(*v));
    auto site = get("site");
    auto at = get("deployed_at");
    if (site || at) {
      std::string cond = "EXISTS (SELECT 1 FROM deployments p WHERE p.detector_id = x.id";
      if (site) cond += " AND p.site_id = " + param(*site);
      if (at) {
        MUON_ASSIGN_OR_RETURN(std::string t, time_filter("deployed_at", *at));
        cond += " AND p.from_time <= " + param(t);
        cond += " AND (p.to_time IS NULL OR p.to_time > " + param(t) + ")";
      } else {
        cond += " AND p.to_time IS NULL";
      }
      where.push_back(cond + ")");
    }
  } else {
    if (auto v = get("detector")) where.push_back("x.detector_id = " + param(*v));
    if (auto v = get("site")) where.push_back("x.site_id = " + param(*v));
    if (auto v = get("active_at")) {
      MUON_ASSIGN_OR_RETURN(std::string t, time_filter("active_at", *v));
      std::string cond = "x.from_time <= " + param(t);
      cond += " AND (x.to_time IS NULL OR x.to_time > " + param(t) + ")";
      where.push_back(cond);
    }
    if (auto v = get("open")) {
      if (*v != "true" && *v != "false") return Violate("open", "boolean", "must be true or false");
      where.push_back(*v == "true" ? "x.to_time IS NULL" : "x.to_time IS NOT NULL");
    }
  }
  std::string sort = q.sort.empty() ? "id" : q.sort;
  bool desc = false;
  if (sort[0] == '-') {
    desc = true;
    sort = sort.substr(1);
  }
  const auto& cols = ColsOf(kind);
  bool sortable = std::any_of(cols.begin(), cols.end(), [&](const Col& c) { return sort == c.name; }) ||
                  (kind == Kind::kDetector && (sort == "status" || sort == "status_since"));
  if (!sortable) return Violate("sort", "known_field", fmt::format("cannot sort by '{}'", sort));
  std::string sql = fmt::format("SELECT * FROM ({}) x", SelectOf(kind));
  if (!where.empty()) sql += " WHERE " + fmt::format("{}", fmt::join(where, " AND "));
  sql += fmt::format(" ORDER BY x.{} {}, x.id {}", sort, desc ? "DESC" : "ASC", desc ? "DESC" : "ASC");
  // One param() per statement: the placeholders must number in text order.
  sql += " LIMIT " + param(int64_t{q.limit + 1});
  sql += " OFFSET " + param(q.offset);
  Page page;
  Status s = db_->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(SqlRows rows, tx.Query(sql, params));
    for (size_t i = 0; i < rows.rows.size() && i < static_cast<size_t>(q.limit); ++i) {
      page.items.push_back(RowToJson(kind, rows.rows[i]));
    }
    if (rows.rows.size() > static_cast<size_t>(q.limit)) page.next_offset = q.offset + q.limit;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return page;
}

Result<Json> Registry::Update(Kind kind, std::string_view id, const Json& patch,
                              std::optional<int64_t> if_version, std::string_view actor) {
  if (!patch.is_object()) return Violate("(body)", "object", "must be a JSON object");
  const auto& cols = ColsOf(kind);
  for (const auto& [key, value] : patch.items()) {
    auto it = std::find_if(cols.begin(), cols.end(), [&](const Col& c) { return key == c.name; });
    if (it == cols.end() && !ReadOnlyFields().count(key)) {
      return Violate(key, "known_field", fmt::format("{} has no field '{}'", KindName(kind), key));
    }
  }
  const std::string now = FormatTime(clock_->NowNanos());
  Json result;
  Status s = db_->Transact([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto before, Load(tx, kind, id));
    if (!before) return NotFound(kind, id);
    const int64_t stored = (*before)["version"].get<int64_t>();
    if (if_version && *if_version != stored) {
      return Status::Aborted(fmt::format(
          "{} '{}' is at version {}, not {}: it changed since it was read; read it again",
          KindName(kind), id, stored, *if_version));
    }
    Json merged = *before;
    std::vector<std::string> sets;
    std::vector<SqlValue> values;
    for (const Col& c : cols) {
      if (!patch.contains(c.name)) continue;
      if (!c.updatable) {
        if (c.input || std::string_view(c.name) == "id") {
          Json given = patch[c.name];
          if (kind == Kind::kDeployment && std::string_view(c.name) == "id" && given.is_number_integer() &&
              given.get<int64_t>() == (*before)["id"].get<int64_t>()) {
            continue;
          }
          if (given != (*before)[c.name]) {
            return Violate(c.name, "immutable", "cannot be changed after creation");
          }
        }
        continue;
      }
      MUON_ASSIGN_OR_RETURN(Json v, CheckValue(c, patch[c.name]));
      merged[c.name] = v;
      values.push_back(ToSql(c, v));
      sets.push_back(fmt::format("{} = :v{}", c.name, values.size()));
    }
    if (kind == Kind::kDetector && patch.contains("status") && patch["status"] != (*before)["status"]) {
      return Violate("status", "read_only",
                     "set a detector's status with POST detectors/{id}/status");
    }
    if (kind == Kind::kDeployment) {
      MUON_RETURN_IF_ERROR(CheckDeployment(tx, merged, (*before)["id"].get<int64_t>()));
    }
    values.push_back(now);
    sets.push_back(fmt::format("updated_at = :v{}", values.size()));
    values.push_back(KeyValue(kind, id));
    values.push_back(stored);
    MUON_ASSIGN_OR_RETURN(
        int64_t changed,
        tx.Exec(fmt::format("UPDATE {} SET {}, version = version + 1 WHERE id = :v{} AND version = :v{}",
                            TableOf(kind), fmt::join(sets, ", "), values.size() - 1, values.size()),
                values));
    if (changed != 1) {
      return Status::Aborted(fmt::format("{} '{}' changed concurrently; read it again",
                                         KindName(kind), id));
    }
    MUON_ASSIGN_OR_RETURN(auto after, Load(tx, kind, id));
    result = *after;
    return Record(tx, now, actor, kind, id, "update", *before, result);
  });
  if (!s.ok()) return s;
  return result;
}

Status Registry::Delete(Kind kind, std::string_view id, std::optional<int64_t> if_version,
                        std::string_view actor) {
  const std::string now = FormatTime(clock_->NowNanos());
  return db_->Transact([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto before, Load(tx, kind, id));
    if (!before) return NotFound(kind, id);
    const int64_t stored = (*before)["version"].get<int64_t>();
    if (if_version && *if_version != stored) {
      return Status::Aborted(fmt::format("{} '{}' is at version {}, not {}", KindName(kind), id,
                                         stored, *if_version));
    }
    if (kind != Kind::kDeployment) {
      MUON_ASSIGN_OR_RETURN(
          SqlRows uses,
          tx.Query(fmt::format("SELECT COUNT(*) FROM deployments WHERE {} = :v1",
                               kind == Kind::kSite ? "site_id" : "detector_id"),
                   {std::string(id)}));
      int64_t n = AsInt(uses.rows[0][0]);
      if (n > 0) {
        return Conflict("id", "in_use",
                        fmt::format("{} '{}' has {} deployment(s) referring to it; only a {} "
                                    "that was never deployed can be deleted",
                                    KindName(kind), id, n, KindName(kind)));
      }
    }
    MUON_ASSIGN_OR_RETURN(
        int64_t changed,
        tx.Exec(fmt::format("DELETE FROM {} WHERE id = :v1 AND version = :v2", TableOf(kind)),
                {KeyValue(kind, id), stored}));
    if (changed != 1) return Status::Aborted(fmt::format("{} '{}' changed concurrently", KindName(kind), id));
    return Record(tx, now, actor, kind, id, "delete", *before, Json());
  });
}

namespace {

// Appends a status entry and bumps the detector's version; `before` is the
// detector as loaded in this transaction.
Status AppendStatus(Tx& tx, const Json& before, const std::string& status, const std::string& since,
                    std::string_view actor, const std::string& reason, const std::string& now) {
  const std::string id = before["id"].get<std::string>();
  const std::string current = before["status"].is_string() ? before["status"].get<std::string>() : "";
  if (!current.empty()) {
    if (current == status) {
      return Conflict("status", "transition", fmt::format("detector '{}' is already {}", id, status));
    }
    if (!IsLegalTransition(current, status)) {
      std::vector<std::string> next;
      for (const char* s : kStatuses) {
        if (IsLegalTransition(current, s)) next.push_back(s);
      }
      return Conflict("status", "transition",
                      fmt::format("a detector cannot move from '{}' to '{}' (from '{}' it may "
                                  "move to: {})",
                                  current, status, current,
                                  next.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(next, ", "))));
    }
    if (before["status_since"].is_string() && since < before["status_since"].get<std::string>()) {
      return Violate("since", "order",
                     fmt::format("must not be before the current status's since ({})",
                                 before["status_since"].get<std::string>()));
    }
  }
  MUON_RETURN_IF_ERROR(
      tx.Exec("INSERT INTO status_history (detector_id, status, since, by_whom, reason) VALUES "
              "(:v1, :v2, :v3, :v4, :v5)",
              {id, status, since, std::string(actor), reason.empty() ? SqlValue() : SqlValue(reason)})
          .status());
  MUON_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.Exec("UPDATE detectors SET version = version + 1, updated_at = :v1 WHERE id = :v2 AND "
              "version = :v3",
              {now, id, before["version"].get<int64_t>()}));
  if (changed != 1) return Status::Aborted(fmt::format("detector '{}' changed concurrently", id));
  MUON_ASSIGN_OR_RETURN(auto after, Load(tx, Kind::kDetector, id));
  return Record(tx, now, actor, Kind::kDetector, id, "status", before, *after);
}

}  // namespace

Result<Json> Registry::SetStatus(std::string_view detector_id, const Json& body,
                                 std::optional<int64_t> if_version, std::string_view actor) {
  if (!body.is_object()) return Violate("(body)", "object", "must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    if (key != "status" && key != "reason" && key != "since") {
      return Violate(key, "known_field", "a status change has status, reason and since");
    }
  }
  static const Col kStatus{.name = "status", .type = T::kEnum, .required = true, .values = StatusValues()};
  static const Col kReason{.name = "reason", .type = T::kText, .max_len = 2000};
  static const Col kSince{.name = "since", .type = T::kTime};
  MUON_ASSIGN_OR_RETURN(Json status, CheckValue(kStatus, body.value("status", Json())));
  MUON_ASSIGN_OR_RETURN(Json reason, CheckValue(kReason, body.value("reason", Json())));
  MUON_ASSIGN_OR_RETURN(Json since, CheckValue(kSince, body.value("since", Json())));
  const std::string now = FormatTime(clock_->NowNanos());
  Json result;
  Status s = db_->Transact([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto before, Load(tx, Kind::kDetector, detector_id));
    if (!before) return NotFound(Kind::kDetector, detector_id);
    if (if_version && *if_version != (*before)["version"].get<int64_t>()) {
      return Status::Aborted(fmt::format("detector '{}' is at version {}, not {}", detector_id,
                                         (*before)["version"].get<int64_t>(), *if_version));
    }
    MUON_RETURN_IF_ERROR(AppendStatus(tx, *before, status.get<std::string>(),
                                      since.is_null() ? now : since.get<std::string>(), actor,
                                      reason.is_null() ? "" : reason.get<std::string>(), now));
    MUON_ASSIGN_OR_RETURN(auto after, Load(tx, Kind::kDetector, detector_id));
    result = *after;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

Result<Json> Registry::StatusHistory(std::string_view detector_id) {
  Json out;
  Status s = db_->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto det, Load(tx, Kind::kDetector, detector_id));
    if (!det) return NotFound(Kind::kDetector, detector_id);
    MUON_ASSIGN_OR_RETURN(
        SqlRows rows,
        tx.Query("SELECT seq, status, since, by_whom, reason FROM status_history WHERE "
                 "detector_id = :v1 ORDER BY seq",
                 {std::string(detector_id)}));
    Json entries = Json::array();
    for (const auto& r : rows.rows) {
      entries.push_back({{"seq", AsInt(r[0])},
                         {"status", AsText(r[1])},
                         {"since", AsText(r[2])},
                         {"by", AsText(r[3])},
                         {"reason", IsNull(r[4]) ? Json() : Json(AsText(r[4]))}});
    }
    out = {{"detector_id", std::string(detector_id)}};
    const Json& last = entries.empty() ? Json() : entries.back();
    out["status"] = last.is_null() ? Json() : last["status"];
    out["since"] = last.is_null() ? Json() : last["since"];
    out["by"] = last.is_null() ? Json() : last["by"];
    out["reason"] = last.is_null() ? Json() : last["reason"];
    out["last_seen"] = (*det)["last_seen"];
    out["records_seen"] = (*det)["records_seen"];
    out["silence_threshold_s"] = (*det)["silence_threshold_s"];
    out["entries"] = std::move(entries);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Json> Registry::Changes(Kind kind, std::string_view id) {
  Json out = Json::array();
  Status s = db_->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(
        SqlRows rows,
        tx.Query("SELECT seq, at, actor, action, before_doc, after_doc FROM changes WHERE entity = "
                 ":v1 AND entity_id = :v2 ORDER BY seq",
                 {std::string(KindName(kind)), std::string(id)}));
    for (const auto& r : rows.rows) {
      auto doc = [](const SqlValue& v) {
        return IsNull(v) ? Json() : Json::parse(AsText(v), nullptr, false);
      };
      out.push_back({{"seq", AsInt(r[0])},
                     {"at", AsText(r[1])},
                     {"actor", AsText(r[2])},
                     {"action", AsText(r[3])},
                     {"before", doc(r[4])},
                     {"after", doc(r[5])}});
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

namespace {
Json ConfigRow(const std::vector<SqlValue>& r) {
  return {{"detector_id", AsText(r[0])},
          {"name", AsText(r[1])},
          {"version", AsInt(r[2])},
          {"document", Json::parse(AsText(r[3]), nullptr, false)},
          {"created_at", AsText(r[4])},
          {"created_by", AsText(r[5])}};
}
}  // namespace

Result<Json> Registry::PutConfig(std::string_view detector_id, std::string_view name,
                                 const Json& document, std::string_view actor) {
  if (!ValidId(name)) {
    return Violate("name", "id_format", "1-64 characters of A-Z a-z 0-9 _ . -");
  }
  if (document.is_null() || document.is_discarded()) {
    return Violate("document", "required", "a JSON document is required");
  }
  std::string text = document.dump();
  if (text.size() > (1u << 20)) return Violate("document", "max_length", "at most 1 MiB");
  const std::string now = FormatTime(clock_->NowNanos());
  Json result;
  Status s = db_->Transact([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto det, Load(tx, Kind::kDetector, detector_id));
    if (!det) return NotFound(Kind::kDetector, detector_id);
    MUON_ASSIGN_OR_RETURN(
        SqlRows max, tx.Query("SELECT MAX(version) FROM detector_configs WHERE detector_id = :v1 "
                              "AND name = :v2",
                              {std::string(detector_id), std::string(name)}));
    int64_t version = (max.rows.empty() || IsNull(max.rows[0][0])) ? 1 : AsInt(max.rows[0][0]) + 1;
    MUON_RETURN_IF_ERROR(
        tx.Exec("INSERT INTO detector_configs (detector_id, name, version, document, created_at, "
                "created_by) VALUES (:v1, :v2, :v3, :v4, :v5, :v6)",
                {std::string(detector_id), std::string(name), version, text, now, std::string(actor)})
            .status());
    result = {{"detector_id", std::string(detector_id)}, {"name", std::string(name)},
              {"version", version}, {"document", document}, {"created_at", now},
              {"created_by", std::string(actor)}};
    return Record(tx, now, actor, Kind::kDetector, detector_id, "config", Json(),
                  Json{{"config", std::string(name)}, {"version", version}});
  });
  if (!s.ok()) return s;
  return result;
}

Result<Json> Registry::GetConfig(std::string_view detector_id, std::string_view name,
                                 int64_t version) {
  Json result;
  Status s = db_->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto det, Load(tx, Kind::kDetector, detector_id));
    if (!det) return NotFound(Kind::kDetector, detector_id);
    std::string sql =
        "SELECT detector_id, name, version, document, created_at, created_by FROM "
        "detector_configs WHERE detector_id = :v1 AND name = :v2";
    std::vector<SqlValue> params = {std::string(detector_id), std::string(name)};
    if (version > 0) {
      sql += " AND version = :v3";
      params.push_back(version);
    } else {
      sql += " ORDER BY version DESC LIMIT 1";
    }
    MUON_ASSIGN_OR_RETURN(SqlRows rows, tx.Query(sql, params));
    if (rows.rows.empty()) {
      return Status::NotFound(fmt::format("detector '{}' has no configuration '{}'{}", detector_id,
                                          name, version > 0 ? fmt::format(" version {}", version) : ""));
    }
    result = ConfigRow(rows.rows[0]);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

Result<Json> Registry::ListConfigs(std::string_view detector_id) {
  Json out = Json::array();
  Status s = db_->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(auto det, Load(tx, Kind::kDetector, detector_id));
    if (!det) return NotFound(Kind::kDetector, detector_id);
    MUON_ASSIGN_OR_RETURN(
        SqlRows rows,
        tx.Query("SELECT c.detector_id, c.name, c.version, c.document, c.created_at, c.created_by "
                 "FROM detector_configs c WHERE c.detector_id = :v1 AND c.version = (SELECT "
                 "MAX(m.version) FROM detector_configs m WHERE m.detector_id = c.detector_id AND "
                 "m.name = c.name) ORDER BY c.name",
                 {std::string(detector_id)}));
    for (const auto& r : rows.rows) out.push_back(ConfigRow(r));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<int> Registry::ApplyLiveStatus(const std::vector<Activity>& activity, int64_t now_nanos,
                                      std::vector<std::string>* unknown) {
  const std::string now = FormatTime(now_nanos);
  int moves = 0;
  Status s = db_->Transact([&](Tx& tx) -> Status {
    // Partition keys are often not detector ids (devices written for AWS
    // commonly use random keys): one query of the known ids keeps a sweep at
    // one statement per registered detector, not one per key seen.
    MUON_ASSIGN_OR_RETURN(SqlRows known_rows, tx.Query("SELECT id FROM detectors"));
    std::unordered_set<std::string> known;
    known.reserve(known_rows.rows.size());
    for (const auto& r : known_rows.rows) known.insert(AsText(r[0]));
    if (unknown) unknown->clear();
    for (const Activity& a : activity) {
      if (!known.contains(a.detector_id)) {
        if (unknown) unknown->push_back(a.detector_id);
        continue;
      }
      MUON_ASSIGN_OR_RETURN(auto det, Load(tx, Kind::kDetector, a.detector_id));
      if (!det) continue;
      std::string seen = FormatTime(a.last_nanos);
      if ((*det)["last_seen"].is_string() && (*det)["last_seen"].get<std::string>() > seen) {
        seen = (*det)["last_seen"].get<std::string>();
      }
      MUON_RETURN_IF_ERROR(tx.Exec("UPDATE detectors SET last_seen = :v1, records_seen = "
                                   "records_seen + :v2 WHERE id = :v3",
                                   {seen, static_cast<int64_t>(a.records), a.detector_id})
                               .status());
      const std::string status = (*det)["status"].is_string() ? (*det)["status"].get<std::string>() : "";
      if (status == "offline" || status == "deployed") {
        MUON_ASSIGN_OR_RETURN(auto fresh, Load(tx, Kind::kDetector, a.detector_id));
        std::string since = std::max(FormatTime(a.last_nanos), (*fresh)["status_since"].get<std::string>());
        MUON_RETURN_IF_ERROR(AppendStatus(tx, *fresh, "active", since, kLiveStatusActor,
                                          fmt::format("data arrived at {}", FormatTime(a.last_nanos)),
                                          now));
        ++moves;
      }
    }
    MUON_ASSIGN_OR_RETURN(
        SqlRows silent,
        tx.Query("SELECT x.id, x.last_seen, x.status_since, x.silence_threshold_s FROM (" +
                 SelectOf(Kind::kDetector) + ") x WHERE x.status IN ('active', 'degraded') ORDER BY x.id"));
    for (const auto& r : silent.rows) {
      std::string ref = IsNull(r[1]) ? AsText(r[2]) : AsText(r[1]);
      auto ref_ns = ParseTimeNanos(ref);
      if (!ref_ns) continue;
      if (now_nanos - *ref_ns <= AsInt(r[3]) * 1'000'000'000) continue;
      MUON_ASSIGN_OR_RETURN(auto det, Load(tx, Kind::kDetector, AsText(r[0])));
      std::string since = std::max(now, (*det)["status_since"].get<std::string>());
      MUON_RETURN_IF_ERROR(AppendStatus(tx, *det, "offline", since, kLiveStatusActor,
                                        fmt::format("no data since {}", ref), now));
      ++moves;
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return moves;
}

const std::vector<std::string>& Registry::TableNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& t : Tables()) n.push_back(t.table);
    return n;
  }();
  return names;
}

Result<SqlRows> Registry::ExportTable(std::string_view table) {
  auto it = std::find_if(Tables().begin(), Tables().end(),
                         [&](const TableSpec& t) { return table == t.table; });
  if (it == Tables().end()) return Status::InvalidArgument(fmt::format("no table '{}'", table));
  SqlRows out;
  Status s = db_->Read([&](Tx& tx) -> Status {
    MUON_ASSIGN_OR_RETURN(out, tx.Query(fmt::format("SELECT {} FROM {} ORDER BY {}",
                                                    ColumnList(*it->cols, ""), it->table, it->order)));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  out.columns.clear();
  for (const Col& c : *it->cols) out.columns.push_back(c.name);
  return out;
}

Status Registry::Import(const std::map<std::string, std::vector<std::vector<std::string>>>& cells,
                        ImportError* error) {
  for (const auto& [table, rows] : cells) {
    if (std::find(TableNames().begin(), TableNames().end(), table) == TableNames().end()) {
      *error = {table, 0, "", fmt::format("no table '{}'", table)};
      return Status::InvalidArgument(error->message);
    }
  }
  return db_->Transact([&](Tx& tx) -> Status {
    for (const char* t : {"sites", "detectors", "deployments", "changes"}) {
      MUON_ASSIGN_OR_RETURN(SqlRows n, tx.Query(fmt::format("SELECT COUNT(*) FROM {}", t)));
      if (AsInt(n.rows[0][0]) > 0) {
        *error = {t, 0, "", "the registry is not empty; import loads into an empty registry"};
        return Status::FailedPrecondition(error->message);
      }
    }
    for (const TableSpec& spec : Tables()) {
      auto it = cells.find(spec.table);
      if (it == cells.end()) continue;
      const auto& cols = *spec.cols;
      std::string sql = fmt::format("INSERT INTO {} ({}) VALUES ({})", spec.table,
                                    ColumnList(cols, ""), Placeholders(cols.size()));
      for (size_t r = 0; r < it->second.size(); ++r) {
        const auto& row = it->second[r];
        if (row.size() != cols.size()) {
          *error = {spec.table, r, "",
                    fmt::format("expected {} fields, found {}", cols.size(), row.size())};
          return Status::InvalidArgument(error->message);
        }
        std::vector<SqlValue> values;
        for (size_t c = 0; c < cols.size(); ++c) {
          const Col& col = cols[c];
          const std::string& cell = row[c];
          Json v;
          std::string problem;
          if (!cell.empty()) {
            switch (col.type) {
              case T::kReal: {
                double d = 0;
                auto res = std::from_chars(cell.data(), cell.data() + cell.size(), d);
                if (res.ec != std::errc() || res.ptr != cell.data() + cell.size()) {
                  problem = fmt::format("'{}' is not a number", cell);
                }
                v = d;
                break;
              }
              case T::kInt: {
                int64_t i = 0;
                auto res = std::from_chars(cell.data(), cell.data() + cell.size(), i);
                if (res.ec != std::errc() || res.ptr != cell.data() + cell.size()) {
                  problem = fmt::format("'{}' is not an integer", cell);
                }
                v = i;
                break;
              }
              case T::kJson: {
                v = Json::parse(cell, nullptr, false);
                if (v.is_discarded()) problem = "not valid JSON";
                break;
              }
              default: v = cell;
            }
          } else if (col.type == T::kJson && col.required) {
            problem = "a value is required";
          }
          if (problem.empty()) {
            auto checked = CheckValue(col, v);
            if (!checked.ok()) {
              auto viol = ParseViolation(checked.status());
              problem = viol ? fmt::format("{} (rule {})", viol->detail, viol->rule)
                             : checked.status().message();
            } else if (col.type == T::kTime && !v.is_null() && checked->get<std::string>() != cell) {
              problem = fmt::format("'{}' is not in the exported form {}", cell,
                                    checked->get<std::string>());
            } else {
              values.push_back(ToSql(col, *checked));
            }
          }
          if (!problem.empty()) {
            *error = {spec.table, r, col.name, problem};
            return Status::InvalidArgument(problem);
          }
        }
        auto done = tx.Exec(sql, values);
        if (!done.ok()) {
          *error = {spec.table, r, "", done.status().message()};
          return done.status();
        }
      }
    }
    if (tx.dialect() == Dialect::kPostgres) {
      for (auto [table, col] : {std::pair{"deployments", "id"}, std::pair{"status_history", "seq"},
                                std::pair{"changes", "seq"}}) {
        MUON_RETURN_IF_ERROR(
            tx.Query(fmt::format("SELECT setval(pg_get_serial_sequence('{0}', '{1}'), "
                                 "COALESCE(MAX({1}), 1), MAX({1}) IS NOT NULL) FROM {0}",
                                 table, col))
                .status());
      }
    }
    return Status::Ok();
  });
}

}  // namespace muon::registry
