// `muonpipe registry ...`: the sensor registry from the command line
// (docs/registry.md, "Command line"). Every command is a request to the
// registry API: over HTTP, signed with SigV4 (service "muonpipe"), to a
// running server (--endpoint); or, with --registry URL, in-process against the
// database itself (the caller is recorded as local:$USER; no IAM check).
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "auth/authorizer.h"
#include "auth/credentials_file.h"
#include "auth/sigv4.h"
#include "base/clock.h"
#include "base/env.h"
#include "cli/client_credentials.h"
#include "cli/commands.h"
#include "http/client.h"
#include "registry/csv.h"
#include "registry/http_api.h"
#include "registry/registry.h"
#include "sim/credentials.h"
#include "sim/kinesis_client.h"

namespace muon::cli {
namespace {

using registry::Json;

struct RegistryFlags {
  std::string endpoint = "http://127.0.0.1:4566";
  std::string registry;  // database URL: talk to it directly
  std::string data_dir = "./muonpipe-data";
  std::string credentials;
  std::string profile = "default";
  std::string region = "ap-southeast-2";
  bool json = false;
};

std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

struct ApiReply {
  int status = 0;
  Json body;
};

// One request to the registry API; `target` is relative to /_muonpipe/registry/v1/.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual Result<ApiReply> Call(const std::string& method, const std::string& target,
                                const Json& body, const std::string& if_match) = 0;
};

http::Request MakeRequest(const std::string& method, const std::string& target, const Json& body,
                          const std::string& if_match) {
  http::Request req;
  req.method = method;
  req.target = std::string(registry::kApiPrefix) + target;
  auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  req.query = q == std::string::npos ? "" : req.target.substr(q + 1);
  if (!body.is_null()) {
    req.body = body.dump();
    req.headers.emplace_back("Content-Type", "application/json");
  }
  if (!if_match.empty()) req.headers.emplace_back("If-Match", if_match);
  return req;
}

class HttpTransport final : public Transport {
 public:
  HttpTransport(sim::Endpoint endpoint, auth::Credentials credentials, std::string region)
      : endpoint_(std::move(endpoint)),
        credentials_(std::move(credentials)),
        region_(std::move(region)),
        client_({.host = endpoint_.host, .port = endpoint_.port, .tls = endpoint_.tls}) {}

  Result<ApiReply> Call(const std::string& method, const std::string& target, const Json& body,
                        const std::string& if_match) override {
    http::Request req = MakeRequest(method, target, body, if_match);
    std::vector<std::pair<std::string, std::string>> headers = req.headers;
    bool default_port = endpoint_.port == (endpoint_.tls ? 443 : 80);
    headers.insert(headers.begin(),
                   {"Host", default_port ? endpoint_.host
                                         : fmt::format("{}:{}", endpoint_.host, endpoint_.port)});
    auth::Sign(method, req.path, req.query, headers, req.body, credentials_,
               {.region = region_, .service = "muonpipe", .now_seconds = Clock::Real()->NowSeconds()});
    auto r = client_.Send(method, req.target, headers, req.body);
    if (!r.ok()) {
      return Status(r.status().code(),
                    fmt::format("cannot reach the registry at {}: {} (is `muonpipe serve` "
                                "running? --endpoint names it; --registry URL talks to the "
                                "database directly)",
                                endpoint_.url, r.status().message()));
    }
    ApiReply out{r->status, Json()};
    if (!r->body.empty()) out.body = Json::parse(r->body, nullptr, false);
    return out;
  }

 private:
  sim::Endpoint endpoint_;
  auth::Credentials credentials_;
  std::string region_;
  http::Client client_;
};

class LocalTransport final : public Transport {
 public:
  explicit LocalTransport(std::unique_ptr<registry::Registry> reg) : reg_(std::move(reg)) {
    std::string user = EnvOr("USER");
    caller_.principal_arn = "local:" + (user.empty() ? std::to_string(::getuid()) : user);
  }
  Result<ApiReply> Call(const std::string& method, const std::string& target, const Json& body,
                        const std::string& if_match) override {
    http::Response r = registry::HandleRegistry(reg_.get(), &authorizer_, options_, caller_,
                                                MakeRequest(method, target, body, if_match));
    ApiReply out{r.status, Json()};
    if (!r.body.empty()) out.body = Json::parse(r.body, nullptr, false);
    return out;
  }

 private:
  std::unique_ptr<registry::Registry> reg_;
  auth::AllowAllAuthorizer authorizer_;
  registry::ApiOptions options_;
  auth::Caller caller_;
};

Result<std::unique_ptr<Transport>> Connect(const RegistryFlags& f) {
  if (!f.registry.empty()) {
    MUON_ASSIGN_OR_RETURN(auto reg, registry::Registry::Open(f.registry, Clock::Real()));
    return std::unique_ptr<Transport>(std::make_unique<LocalTransport>(std::move(reg)));
  }
  MUON_ASSIGN_OR_RETURN(sim::Endpoint endpoint, sim::ParseEndpoint(f.endpoint));
  MUON_ASSIGN_OR_RETURN(
      auth::Credentials creds,
      sim::ResolveCredentials(Env::Posix(), CredentialSourcesFromEnvironment(
                                                f.credentials, f.profile, f.data_dir)));
  return std::unique_ptr<Transport>(
      std::make_unique<HttpTransport>(std::move(endpoint), std::move(creds), f.region));
}

// ---- what each entity kind looks like on the command line ------------------------------------

struct FieldFlag {
  const char* field;
  char type;  // 's' text, 'n' number, 'i' integer
};

struct Group {
  const char* name;      // "sites"
  const char* singular;  // "site"
  std::vector<FieldFlag> fields;
  std::vector<std::string> filters;
  std::vector<std::string> columns;  // of the list table
};

const std::vector<Group>& Groups() {
  static const std::vector<Group> g = {
      {"sites", "site",
       {{"id", 's'}, {"name", 's'}, {"kind", 's'}, {"latitude", 'n'}, {"longitude", 'n'},
        {"elevation_m", 'n'}, {"depth_m", 'n'}, {"contact", 's'}, {"notes", 's'}},
       {"kind"},
       {"id", "name", "kind", "latitude", "longitude", "elevation_m", "depth_m"}},
      {"detectors", "detector",
       {{"id", 's'}, {"model", 's'}, {"active_area_m2", 'n'}, {"channels", 'i'}, {"firmware", 's'},
        {"commissioned", 's'}, {"notes", 's'}, {"silence_threshold_s", 'i'}, {"status", 's'}},
       {"model", "status", "site", "deployed_at"},
       {"id", "model", "status", "status_since", "firmware", "last_seen"}},
      {"deployments", "deployment",
       {{"detector_id", 's'}, {"site_id", 's'}, {"from_time", 's'}, {"to_time", 's'},
        {"position", 's'}, {"zenith_deg", 'n'}, {"azimuth_deg", 'n'}, {"depth_m", 'n'},
        {"purpose", 's'}},
       {"detector", "site", "active_at", "open"},
       {"id", "detector_id", "site_id", "from_time", "to_time", "purpose"}},
  };
  return g;
}

std::string Flag(std::string field) {
  for (char& c : field) {
    if (c == '_') c = '-';
  }
  return "--" + field;
}

std::string Cell(const Json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

void PrintTable(const std::vector<std::string>& columns, const Json& items) {
  std::vector<size_t> width(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) width[c] = columns[c].size();
  for (const auto& it : items) {
    for (size_t c = 0; c < columns.size(); ++c) {
      width[c] = std::max(width[c], Cell(it.value(columns[c], Json())).size());
    }
  }
  auto row = [&](auto cell) {
    std::string line;
    for (size_t c = 0; c < columns.size(); ++c) {
      std::string v = cell(c);
      line += v + (c + 1 < columns.size() ? std::string(width[c] - v.size() + 2, ' ') : "");
    }
    fmt::print("{}\n", line);
  };
  row([&](size_t c) {
    std::string h = columns[c];
    for (char& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return h;
  });
  for (const auto& it : items) row([&](size_t c) { return Cell(it.value(columns[c], Json())); });
}

void PrintRecord(const Json& j) {
  size_t w = 0;
  for (const auto& [k, v] : j.items()) w = std::max(w, k.size());
  for (const auto& [k, v] : j.items()) {
    if (v.is_object()) {
      if (v.empty()) continue;
      fmt::print("{:<{}}  {}\n", k, w, v.dump());
    } else {
      fmt::print("{:<{}}  {}\n", k, w, Cell(v));
    }
  }
}

// Prints an API error the way the rest of the CLI does; returns the exit code.
int ReportError(const ApiReply& r, std::string_view what) {
  const Json& e = r.body.is_object() ? r.body.value("error", Json()) : Json();
  std::string msg = e.is_object() ? e.value("message", std::string()) : std::string();
  std::string where;
  if (e.is_object() && e.contains("field")) {
    where = fmt::format(" [field {}, rule {}]", e["field"].get<std::string>(),
                        e.value("rule", std::string("?")));
  }
  std::string hint;
  if (r.status == 412) hint = "\nIt changed since it was read: run the command again.";
  if (r.status == 403) hint = "\nCheck the credentials (--credentials, --profile, AWS_* variables) and --region.";
  fmt::print(stderr, "muonpipe registry: {} failed (HTTP {}): {}{}{}\n", what, r.status,
             msg.empty() ? r.body.dump() : msg, where, hint);
  return 1;
}

struct Context {
  RegistryFlags flags;
  std::unique_ptr<Transport> transport;
};

Result<Json> ValueOf(const FieldFlag& f, const std::string& text) {
  if (text.empty()) return Json();  // clears an optional field
  if (f.type == 's') return Json(text);
  Json v = Json::parse(text, nullptr, false);
  if (v.is_discarded() || !v.is_number() || (f.type == 'i' && !v.is_number_integer())) {
    return Status::InvalidArgument(fmt::format("{} '{}' is not {}", Flag(f.field), text,
                                               f.type == 'i' ? "an integer" : "a number"));
  }
  return v;
}

std::string Encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// ---- the commands ----------------------------------------------------------------------------

struct Args {
  std::string id;
  std::map<std::string, std::string> values;  // field -> text, only those given
  std::map<std::string, std::string> filters;
  std::string sort;
  int limit = 0;
  std::string reason;
  std::string at;
  std::string dir;
};

int RunList(Context& ctx, const Group& g, const Args& a) {
  Json items = Json::array();
  std::string token;
  for (;;) {
    std::string q = fmt::format("limit={}", a.limit > 0 ? std::min(a.limit, 1000) : 500);
    for (const auto& [k, v] : a.filters) q += fmt::format("&{}={}", k, Encode(v));
    if (!a.sort.empty()) q += "&sort=" + Encode(a.sort);
    if (!token.empty()) q += "&next_token=" + Encode(token);
    auto r = ctx.transport->Call("GET", fmt::format("{}?{}", g.name, q), Json(), "");
    if (!r.ok()) {
      fmt::print(stderr, "muonpipe registry: {}\n", r.status().message());
      return 1;
    }
    if (r->status != 200) return ReportError(*r, fmt::format("listing {}", g.name));
    for (auto& it : r->body["items"]) items.push_back(it);
    if (a.limit > 0 || !r->body.contains("next_token")) break;
    token = r->body["next_token"].get<std::string>();
  }
  if (ctx.flags.json) {
    fmt::print("{}\n", items.dump(2));
  } else if (items.empty()) {
    fmt::print("no {} match\n", g.name);
  } else {
    PrintTable(g.columns, items);
  }
  return 0;
}

Result<ApiReply> Fetch(Context& ctx, const Group& g, const std::string& id) {
  return ctx.transport->Call("GET", fmt::format("{}/{}", g.name, Encode(id)), Json(), "");
}

int RunShow(Context& ctx, const Group& g, const Args& a) {
  auto r = Fetch(ctx, g, a.id);
  if (!r.ok()) {
    fmt::print(stderr, "muonpipe registry: {}\n", r.status().message());
    return 1;
  }
  if (r->status != 200) return ReportError(*r, fmt::format("showing {} {}", g.singular, a.id));
  Json out = r->body;
  if (std::string_view(g.name) == "detectors") {
    auto st = ctx.transport->Call("GET", fmt::format("detectors/{}/status", Encode(a.id)), Json(), "");
    if (st.ok() && st->status == 200) {
      out["status_by"] = st->body["by"];
      out["status_reason"] = st->body["reason"];
      out["live"] = st->body["live"];
    }
  }
  if (ctx.flags.json) {
    fmt::print("{}\n", out.dump(2));
  } else {
    PrintRecord(out);
  }
  return 0;
}

int Done(Context& ctx, const ApiReply& r, std::string_view verb, const Group& g) {
  if (ctx.flags.json) {
    fmt::print("{}\n", r.body.is_null() ? "{}" : r.body.dump(2));
    return 0;
  }
  const Json& id = r.body.value("id", Json());
  fmt::print("{} {} {} (version {}{})\n", verb, g.singular, Cell(id),
             Cell(r.body.value("version", Json())),
             r.body.contains("status") ? ", status " + Cell(r.body["status"]) : "");
  return 0;
}

int RunAdd(Context& ctx, const Group& g, const Args& a) {
  Json body = Json::object();
  for (const auto& f : g.fields) {
    auto it = a.values.find(f.field);
    if (it == a.values.end()) continue;
    auto v = ValueOf(f, it->second);
    if (!v.ok()) {
      fmt::print(stderr, "muonpipe registry: {}\n", v.status().message());
      return 2;
    }
    body[f.field] = *v;
  }
  auto r = ctx.transport->Call("POST", g.name, body, "");
  if (!r.ok()) {
    fmt::print(stderr, "muonpipe registry: {}\n", r.status().message());
    return 1;
  }
  if (r->status != 201) return ReportError(*r, fmt::format("adding a {}", g.singular));
  return Done(ctx, *r, "added", g);
}

// Reads the entity for its ETag, then sends the change with If-Match, so a
// concurrent change is refused (412) instead of overwritten.
int Change(Context& ctx, const Group& g, const std::string& id, const std::string& method,
           const std::string& target, const Json& body, std::string_view verb) {
  auto cur = Fetch(ctx, g, id);
  if (!cur.ok()) {
    fmt::print(stderr, "muonpipe registry: {}\n", cur.status().message());
    return 1;
  }
  if (cur->status != 200) return ReportError(*cur, fmt::format("reading {} {}", g.singular, id));
  std::string etag = fmt::format("\"{}\"", cur->body["version"].get<int64_t>());
  auto r = ctx.transport->Call(method, target, body, etag);
  if (!r.ok()) {
    fmt::print(stderr, "muonpipe registry: {}\n", r.status().message());
    return 1;
  }
  if (r->status >= 300) return ReportError(*r, fmt::format("{} {} {}", method == "DELETE" ? "retiring" : "changing", g.singular, id));
  if (r->status == 204) {
    if (ctx.flags.json) {
      fmt::print("{{}}\n");
    } else {
      fmt::print("{} {} {}\n", verb, g.singular, id);
    }
    return 0;
  }
  return Done(ctx, *r, verb, g);
}

int RunUpdate(Context& ctx, const Group& g, const Args& a) {
  Json body = Json::object();
  for (const auto& f : g.fields) {
    auto it = a.values.find(f.field);
    if (it == a.values.end() || std::string_view(f.field) == "id") continue;
    auto v = ValueOf(f, it->second);
    if (!v.ok()) {
      fmt::print(stderr, "muonpipe registry: {}\n", v.status().message());
      return 2;
    }
    body[f.field] = *v;
  }
  if (body.empty()) {
    fmt::print(stderr, "muonpipe registry: nothing to update: give at least one field flag "
                       "(see `muonpipe registry {} update --help`)\n", g.name);
    return 2;
  }
  if (std::string_view(g.name) == "detectors" && body.contains("status")) {
    Json st = {{"status", body["status"]}};
    if (!a.reason.empty()) st["reason"] = a.reason;
    body.erase("status");
    if (!body.empty()) {
      int rc = Change(ctx, g, a.id, "PATCH", fmt::format("{}/{}", g.name, Encode(a.id)), body, "updated");
      if (rc != 0) return rc;
    }
    return Change(ctx, g, a.id, "POST", fmt::format("detectors/{}/status", Encode(a.id)), st, "updated");
  }
  return Change(ctx, g, a.id, "PATCH", fmt::format("{}/{}", g.name, Encode(a.id)), body, "updated");
}

int RunRetire(Context& ctx, const Group& g, const Args& a) {
  std::string_view name = g.name;
  if (name == "sites") {
    return Change(ctx, g, a.id, "DELETE", fmt::format("sites/{}", Encode(a.id)), Json(), "retired");
  }
  if (name == "detectors") {
    Json st = {{"status", "decommissioned"}};
    if (!a.reason.empty()) st["reason"] = a.reason;
    return Change(ctx, g, a.id, "POST", fmt::format("detectors/{}/status", Encode(a.id)), st, "retired");
  }
  std::string at = a.at.empty() ? registry::Registry::FormatTime(Clock::Real()->NowNanos()) : a.at;
  return Change(ctx, g, a.id, "PATCH", fmt::format("deployments/{}", Encode(a.id)),
                Json{{"to_time", at}}, "retired");
}

int RunExport(Context& ctx, const Args& a) {
  auto r = ctx.transport->Call("GET", "export", Json(), "");
  if (!r.ok()) {
    fmt::print(stderr, "muonpipe registry: {}\n", r.status().message());
    return 1;
  }
  if (r->status != 200) return ReportError(*r, "export");
  Env* env = Env::Posix();
  if (Status s = env->CreateDirs(a.dir); !s.ok()) {
    fmt::print(stderr, "muonpipe registry: cannot create {}: {}\n", a.dir, s.message());
    return 1;
  }
  for (const auto& [name, text] : r->body["files"].items()) {
    std::string path = JoinPath(a.dir, name);
    if (Status s = env->WriteFileAtomic(path, text.get<std::string>()); !s.ok()) {
      fmt::print(stderr, "muonpipe registry: writing {}: {}\n", path, s.message());
      return 1;
    }
    size_t rows = 0;
    for (char c : text.get<std::string>()) rows += c == '\n';
    fmt::print("wrote {} ({} line{})\n", path, rows, rows == 1 ? "" : "s");
  }
  fmt::print("Import it into an empty registry with: muonpipe registry import {}\n", a.dir);
  return 0;
}

int RunImport(Context& ctx, const Args& a) {
  Env* env = Env::Posix();
  Json files = Json::object();
  for (const auto& table : registry::Registry::TableNames()) {
    std::string path = JoinPath(a.dir, table + ".csv");
    auto text = env->ReadFile(path);
    if (!text.ok()) {
      fmt::print(stderr, "muonpipe registry: cannot read {}: {} (an export writes {}.csv and the "
                         "other table files; import needs all of them)\n",
                 path, text.status().message(), table);
      return 1;
    }
    files[table + ".csv"] = *text;
  }
  auto r = ctx.transport->Call("POST", "import", Json{{"files", files}}, "");
  if (!r.ok()) {
    fmt::print(stderr, "muonpipe registry: {}\n", r.status().message());
    return 1;
  }
  if (r->status != 200) {
    const Json& e = r->body.value("error", Json());
    if (e.is_object() && e.contains("file")) {
      fmt::print(stderr, "muonpipe registry: import failed, nothing was imported: {}/{}\n", a.dir,
                 e.value("message", std::string()));
      return 1;
    }
    return ReportError(*r, "import");
  }
  if (ctx.flags.json) {
    fmt::print("{}\n", r->body.dump(2));
    return 0;
  }
  for (const auto& [name, n] : r->body["imported"].items()) {
    fmt::print("imported {} row{} from {}\n", n.get<size_t>(), n.get<size_t>() == 1 ? "" : "s", name);
  }
  return 0;
}

}  // namespace

void AddRegistryCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<RegistryFlags>();
  auto* cmd = app.add_subcommand(
      "registry",
      "The sensor registry: sites, detectors, deployments (list, show, add, update, retire), "
      "export and import as CSV");
  cmd->require_subcommand(1);
  cmd->fallthrough();
  cmd->add_option("--endpoint", flags->endpoint, "The muonpipe server whose registry to use")
      ->capture_default_str();
  cmd->add_option("--registry", flags->registry,
                  "Use this registry database directly instead of a server "
                  "(postgresql://... or a SQLite file such as DATA_DIR/registry.db)");
  cmd->add_option("--data-dir", flags->data_dir,
                  "Where to find admin-credentials when no other credentials are given")
      ->capture_default_str();
  cmd->add_option("--credentials", flags->credentials, "AWS shared-credentials file");
  cmd->add_option("--profile", flags->profile, "Profile in the credentials file")->capture_default_str();
  cmd->add_option("--region", flags->region, "Region the server serves")->capture_default_str();
  cmd->add_flag("--json", flags->json, "Print JSON instead of tables");

  auto run = [flags, exit_code](std::function<int(Context&)> fn) {
    Context ctx{*flags, nullptr};
    auto t = Connect(*flags);
    if (!t.ok()) {
      fmt::print(stderr, "muonpipe registry: {}\n", t.status().message());
      *exit_code = 1;
      return;
    }
    ctx.transport = std::move(t).value();
    *exit_code = fn(ctx);
  };

  for (const Group& g : Groups()) {
    auto* gc = cmd->add_subcommand(g.name, fmt::format("{} in the registry", g.name));
    gc->require_subcommand(1);
    gc->fallthrough();
    const Group* gp = &g;

    auto args = std::make_shared<Args>();
    auto* list = gc->add_subcommand("list", fmt::format("List {} (all pages unless --limit)", g.name));
    list->fallthrough();
    for (const auto& f : g.filters) {
      list->add_option_function<std::string>(
          Flag(f), [args, f](const std::string& v) { args->filters[f] = v; },
          fmt::format("Only {} with this {}", g.name, f));
    }
    list->add_option("--sort", args->sort, "A field to sort by; -FIELD for descending");
    list->add_option("--limit", args->limit, "At most this many (1..1000)");
    list->callback([run, gp, args] { run([&](Context& c) { return RunList(c, *gp, *args); }); });

    auto* show = gc->add_subcommand("show", fmt::format("Show one {}", g.singular));
    show->fallthrough();
    show->add_option("id", args->id, fmt::format("The {}'s id", g.singular))->required();
    show->callback([run, gp, args] { run([&](Context& c) { return RunShow(c, *gp, *args); }); });

    auto add_fields = [&](CLI::App* sub, bool with_id) {
      for (const auto& f : g.fields) {
        if (!with_id && std::string_view(f.field) == "id") continue;
        std::string field = f.field;
        sub->add_option_function<std::string>(
            Flag(field), [args, field](const std::string& v) { args->values[field] = v; },
            field == "status" ? "Status (add: the first; update: a move, with --reason)"
                              : fmt::format("{} (\"\" clears it)", field));
      }
    };
    auto* add = gc->add_subcommand("add", fmt::format("Add a {}", g.singular));
    add->fallthrough();
    add_fields(add, true);
    add->callback([run, gp, args] { run([&](Context& c) { return RunAdd(c, *gp, *args); }); });

    auto* update = gc->add_subcommand("update", fmt::format("Change fields of a {}", g.singular));
    update->fallthrough();
    update->add_option("id", args->id, fmt::format("The {}'s id", g.singular))->required();
    add_fields(update, false);
    if (std::string_view(g.name) == "detectors") {
      update->add_option("--reason", args->reason, "Why the status changes");
    }
    update->callback([run, gp, args] { run([&](Context& c) { return RunUpdate(c, *gp, *args); }); });

    const char* retire_help = std::string_view(g.name) == "sites"
                                  ? "Remove a site that no deployment refers to"
                              : std::string_view(g.name) == "detectors"
                                  ? "Decommission a detector (its status becomes decommissioned)"
                                  : "End a deployment (to_time = --at, default now)";
    auto* retire = gc->add_subcommand("retire", retire_help);
    retire->fallthrough();
    retire->add_option("id", args->id, fmt::format("The {}'s id", g.singular))->required();
    if (std::string_view(g.name) == "detectors") retire->add_option("--reason", args->reason, "Why");
    if (std::string_view(g.name) == "deployments") {
      retire->add_option("--at", args->at, "When it ended (RFC 3339; default now)");
    }
    retire->callback([run, gp, args] { run([&](Context& c) { return RunRetire(c, *gp, *args); }); });
  }

  auto io = std::make_shared<Args>();
  auto* exp = cmd->add_subcommand("export", "Write the whole registry as CSV files into DIR");
  exp->fallthrough();
  exp->add_option("dir", io->dir, "Directory to write TABLE.csv files into")->required();
  exp->callback([run, io] { run([&](Context& c) { return RunExport(c, *io); }); });
  auto* imp = cmd->add_subcommand(
      "import", "Load CSV files written by export into an empty registry (all or nothing)");
  imp->fallthrough();
  imp->add_option("dir", io->dir, "Directory holding the TABLE.csv files")->required();
  imp->callback([run, io] { run([&](Context& c) { return RunImport(c, *io); }); });
}

}  // namespace muon::cli
