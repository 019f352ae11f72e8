#include "registry/http_api.h"

#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "auth/http_auth.h"
#include "base/log.h"
#include "base/uuid.h"
#include "registry/csv.h"

namespace muon::registry {
namespace {

std::string Decode(std::string_view s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() &&
        std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      int v = 0;
      std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      out.push_back(static_cast<char>(v));
      i += 2;
    } else if (plus_is_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start < q.size()) {
    size_t amp = q.find('&', start);
    std::string_view kv = q.substr(start, amp == std::string_view::npos ? q.npos : amp - start);
    start = amp == std::string_view::npos ? q.size() : amp + 1;
    if (kv.empty()) continue;
    auto eq = kv.find('=');
    out.emplace_back(Decode(kv.substr(0, eq), true),
                     eq == kv.npos ? std::string() : Decode(kv.substr(eq + 1), true));
  }
  return out;
}

struct ApiError {
  int status = 500;
  std::string code;
  std::string message;
  std::string field = {};
  std::string rule = {};
};

ApiError FromStatus(const Status& s) {
  ApiError e{500, "InternalError", s.message(), "", ""};
  switch (s.code()) {
    case StatusCode::kInvalidArgument: e = {400, "ValidationError", s.message()}; break;
    case StatusCode::kNotFound: e = {404, "NotFound", s.message()}; break;
    case StatusCode::kAlreadyExists: e = {409, "AlreadyExists", s.message()}; break;
    case StatusCode::kFailedPrecondition: e = {409, "Conflict", s.message()}; break;
    case StatusCode::kAborted: e = {412, "PreconditionFailed", s.message()}; break;
    case StatusCode::kPermissionDenied: e = {403, "AccessDenied", s.message()}; break;
    case StatusCode::kUnauthenticated: e = {401, "Unauthenticated", s.message()}; break;
    case StatusCode::kUnavailable: e = {503, "ServiceUnavailable", s.message()}; break;
    default: break;
  }
  if (auto v = ParseViolation(s)) {
    e.field = v->field;
    e.rule = v->rule;
  }
  return e;
}

http::Response JsonReply(int status, const Json& body) {
  http::Response r;
  r.status = status;
  r.Set("Content-Type", "application/json");
  r.body = body.dump();
  r.body.push_back('\n');
  return r;
}

http::Response ErrorReply(const ApiError& e) {
  Json err = {{"code", e.code}, {"message", e.message}};
  if (!e.field.empty()) err["field"] = e.field;
  if (!e.rule.empty()) err["rule"] = e.rule;
  return JsonReply(e.status, Json{{"error", err}});
}

http::Response EntityReply(int status, const Json& entity) {
  http::Response r = JsonReply(status, entity);
  if (entity.contains("version")) r.Set("ETag", fmt::format("\"{}\"", entity["version"].get<int64_t>()));
  return r;
}

// If-Match: "N", W/"N", N or * (no condition).
Result<std::optional<int64_t>> IfMatch(const http::Request& req) {
  std::string_view v = req.Header("If-Match");
  if (v.empty() || v == "*") return std::optional<int64_t>();
  if (v.substr(0, 2) == "W/") v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  int64_t n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || n < 1) {
    return Status::InvalidArgument(
        "field 'If-Match' violates rule 'etag': must be an ETag this API returned, such as \"3\"");
  }
  return std::optional<int64_t>(n);
}

Result<Json> Body(const http::Request& req) {
  if (req.body.empty()) return Json::object();
  Json j = Json::parse(req.body, nullptr, false);
  if (j.is_discarded()) {
    return Status::InvalidArgument("field '(body)' violates rule 'json': the body is not valid JSON");
  }
  return j;
}

std::string ResourceSingular(std::string_view collection) {
  if (collection == "sites") return "Site";
  if (collection == "detectors") return "Detector";
  return "Deployment";
}

Kind KindOf(std::string_view collection) {
  if (collection == "sites") return Kind::kSite;
  if (collection == "detectors") return Kind::kDetector;
  return Kind::kDeployment;
}

std::string Arn(Kind k, std::string_view id) {
  return fmt::format("arn:muonpipe:registry:::{}/{}", KindName(k), id);
}

bool IsSigned(const http::Request& req) {
  return req.HasHeader("Authorization") || req.query.find("X-Amz-Signature=") != std::string::npos;
}

}  // namespace

bool IsRegistryRequest(const http::Request& request) {
  return request.path.rfind("/_muonpipe/registry/", 0) == 0 || request.path == "/_muonpipe/registry";
}

void ServeRegistry(Registry* registry, const auth::Identities* identities,
                   const auth::Authorizer* authorizer, const Clock* clock,
                   const ApiOptions& options, http::Request&& req, http::Responder respond) {
  // Authenticate.
  const std::string request_id = NewUuid();
  std::optional<auth::Caller> caller;
  if (!IsSigned(req) && options.session_caller) caller = options.session_caller(req);
  if (caller) {
    caller->request_id = request_id;
    caller->region = options.region;
  } else {
    auto outcome = auth::AuthenticateHttp(
        req, *identities, *clock,
        {.service = "muonpipe", .region = options.region, .request_id = request_id});
    if (!outcome.verified) {
      std::string code(auth::JsonApiErrorCode(outcome.failure.error));
      log::debug("registry: {} {} from {} refused: {}", req.method, req.path, req.remote_ip,
                 outcome.failure.message);
      http::Response r = ErrorReply({403, code,
                                     outcome.failure.message.empty() ? "Missing Authentication Token"
                                                                     : outcome.failure.message});
      r.Set("x-amzn-RequestId", request_id);
      respond(std::move(r));
      return;
    }
    caller = std::move(outcome.caller);
  }
  http::Response r = HandleRegistry(registry, authorizer, options, *caller, req);
  r.Set("x-amzn-RequestId", request_id);
  respond(std::move(r));
}

namespace {
http::Response Route(Registry* registry, const auth::Authorizer* authorizer,
                     const ApiOptions& options, const auth::Caller& caller,
                     const http::Request& req);
}  // namespace

http::Response HandleRegistry(Registry* registry, const auth::Authorizer* authorizer,
                              const ApiOptions& options, const auth::Caller& caller,
                              const http::Request& req) {
  // nlohmann::json throws on a type it was not expecting (a body of the wrong
  // shape); nothing thrown leaves this component.
  try {
    return Route(registry, authorizer, options, caller, req);
  } catch (const nlohmann::json::exception& e) {
    return ErrorReply({400, "ValidationError",
                       fmt::format("the request body does not have the expected shape: {}", e.what()),
                       "(body)", "shape"});
  } catch (const std::exception& e) {
    log::error("registry: {} {}: {}", req.method, req.path, e.what());
    return ErrorReply({500, "InternalError", "internal error"});
  }
}

namespace {
http::Response Route(Registry* registry, const auth::Authorizer* authorizer,
                     const ApiOptions& options, const auth::Caller& caller,
                     const http::Request& req) {
  const std::string actor =
      caller.principal_arn.empty() ? caller.access_key_id : caller.principal_arn;

  // Route.
  if (req.path.rfind(kApiPrefix, 0) != 0) {
    return ErrorReply({404, "NotFound", "the registry API is under /_muonpipe/registry/v1/"});
  }
  std::vector<std::string> seg;
  {
    std::string_view rest = std::string_view(req.path).substr(kApiPrefix.size());
    size_t start = 0;
    while (start <= rest.size()) {
      size_t slash = rest.find('/', start);
      std::string_view part = rest.substr(start, slash == rest.npos ? rest.npos : slash - start);
      if (!part.empty()) seg.push_back(Decode(part, false));
      if (slash == rest.npos) break;
      start = slash + 1;
    }
  }
  const std::string& m = req.method;
  auto fail = [&](const Status& s) { return ErrorReply(FromStatus(s)); };
  auto not_found = [&] {
    return ErrorReply({404, "NotFound",
                       fmt::format("no registry resource {} {}", req.method, req.path)});
  };
  auto method_not_allowed = [&](std::string allowed) {
    http::Response r = ErrorReply({405, "MethodNotAllowed",
                                   fmt::format("{} is not allowed here (allowed: {})", m, allowed)});
    r.Set("Allow", allowed);
    return r;
  };
  // The refusal to send, if the caller may not.
  auto authorize = [&](const std::string& action,
                       const std::string& arn) -> std::optional<http::Response> {
    Status s = authorizer->Authorize(caller, "registry:" + action, arn);
    if (!s.ok()) return ErrorReply({403, "AccessDenied", s.message()});
    return std::nullopt;
  };
  if (seg.size() == 1 && (seg[0] == "export" || seg[0] == "import")) {
    const std::string all = "arn:muonpipe:registry:::*";
    if (seg[0] == "export") {
      if (m != "GET") return method_not_allowed("GET");
      if (auto denied = authorize("ExportRegistry", all)) return *denied;
      auto files = ExportCsv(*registry);
      if (!files.ok()) return fail(files.status());
      return JsonReply(200, Json{{"files", *files}});
    }
    if (m != "POST") return method_not_allowed("POST");
    if (auto denied = authorize("ImportRegistry", all)) return *denied;
    auto body = Body(req);
    if (!body.ok()) return fail(body.status());
    CsvFiles files;
    if (!body->is_object() || !(*body)["files"].is_object()) {
      return fail(Status::InvalidArgument(
          "field 'files' violates rule 'required': an object of file name to CSV text"));
    }
    for (const auto& [name, text] : (*body)["files"].items()) {
      if (!text.is_string()) {
        return fail(Status::InvalidArgument(
            fmt::format("field 'files' violates rule 'type': '{}' must be CSV text", name)));
      }
      files[name] = text.get<std::string>();
    }
    CsvError error;
    auto counts = ImportCsv(*registry, files, &error);
    if (!counts.ok()) {
      if (error.file.empty()) return fail(counts.status());
      ApiError e = FromStatus(counts.status());
      if (e.status == 400) e.code = "ValidationError";
      e.message = error.message;
      e.field = error.field;
      e.rule = "csv";
      http::Response r = ErrorReply(e);
      Json j = Json::parse(r.body);
      j["error"]["file"] = error.file;
      j["error"]["line"] = error.line;
      return JsonReply(e.status, j);
    }
    return JsonReply(200, Json{{"imported", *counts}});
  }
  if (seg.empty() || (seg[0] != "sites" && seg[0] != "detectors" && seg[0] != "deployments")) {
    return not_found();
  }
  const Kind kind = KindOf(seg[0]);
  const std::string res = ResourceSingular(seg[0]);

  if (seg.size() == 1) {
    if (m == "GET") {
      if (auto denied = authorize("List" + res + "s", Arn(kind, "*"))) return *denied;
      ListQuery q;
      for (auto& [k, v] : ParseQuery(req.query)) {
        if (k == "limit") {
          int n = 0;
          auto r = std::from_chars(v.data(), v.data() + v.size(), n);
          if (r.ec != std::errc() || r.ptr != v.data() + v.size()) {
            return fail(Status::InvalidArgument(
                "field 'limit' violates rule 'range': must be an integer 1..1000"));
          }
          q.limit = n;
        } else if (k == "next_token") {
          int64_t n = -1;
          auto r = std::from_chars(v.data(), v.data() + v.size(), n);
          if (r.ec != std::errc() || r.ptr != v.data() + v.size()) n = -1;
          q.offset = n;
        } else if (k == "sort") {
          q.sort = v;
        } else {
          q.filters[k] = v;
        }
      }
      auto page = registry->List(kind, q);
      if (!page.ok()) return fail(page.status());
      Json body = {{"items", page->items}};
      if (page->next_offset) body["next_token"] = std::to_string(*page->next_offset);
      return JsonReply(200, body);
    }
    if (m == "POST") {
      auto body = Body(req);
      if (!body.ok()) return fail(body.status());
      std::string id = kind != Kind::kDeployment && body->is_object() && (*body)["id"].is_string()
                           ? (*body)["id"].get<std::string>()
                           : "*";
      if (auto denied = authorize("Create" + res, Arn(kind, id))) return *denied;
      auto created = registry->Create(kind, *body, actor);
      if (!created.ok()) return fail(created.status());
      http::Response r = EntityReply(201, *created);
      std::string cid = (*created)["id"].is_string() ? (*created)["id"].get<std::string>()
                                                     : std::to_string((*created)["id"].get<int64_t>());
      r.Set("Location", fmt::format("{}{}/{}", kApiPrefix, seg[0], cid));
      return r;
    }
    return method_not_allowed("GET, POST");
  }

  const std::string& id = seg[1];
  const std::string arn = Arn(kind, id);
  if (seg.size() == 2) {
    if (m == "GET") {
      if (auto denied = authorize("Get" + res, arn)) return *denied;
      auto got = registry->Get(kind, id);
      if (!got.ok()) return fail(got.status());
      return EntityReply(200, *got);
    }
    if (m == "PUT" || m == "PATCH") {
      if (auto denied = authorize("Update" + res, arn)) return *denied;
      auto if_match = IfMatch(req);
      if (!if_match.ok()) return fail(if_match.status());
      auto body = Body(req);
      if (!body.ok()) return fail(body.status());
      auto updated = registry->Update(kind, id, *body, *if_match, actor);
      if (!updated.ok()) return fail(updated.status());
      return EntityReply(200, *updated);
    }
    if (m == "DELETE") {
      if (auto denied = authorize("Delete" + res, arn)) return *denied;
      auto if_match = IfMatch(req);
      if (!if_match.ok()) return fail(if_match.status());
      Status s = registry->Delete(kind, id, *if_match, actor);
      if (!s.ok()) return fail(s);
      http::Response r;
      r.status = 204;
      return r;
    }
    return method_not_allowed("GET, PUT, PATCH, DELETE");
  }

  const std::string& sub = seg[2];
  if (sub == "history" && seg.size() == 3) {
    if (m != "GET") return method_not_allowed("GET");
    if (auto denied = authorize("Get" + res + "History", arn)) return *denied;
    Json body = Json::object();
    if (kind == Kind::kDetector) {
      auto st = registry->StatusHistory(id);
      if (!st.ok()) return fail(st.status());
      body["status"] = (*st)["entries"];
    } else {
      auto got = registry->Get(kind, id);
      if (!got.ok() && got.status().code() != StatusCode::kNotFound) return fail(got.status());
    }
    auto changes = registry->Changes(kind, id);
    if (!changes.ok()) return fail(changes.status());
    if (changes->empty()) return fail(Status::NotFound(fmt::format("{} '{}' has no history", KindName(kind), id)));
    body["changes"] = *changes;
    return JsonReply(200, body);
  }
  if (kind != Kind::kDetector) return not_found();
  if (sub == "status" && seg.size() == 3) {
    if (m == "GET") {
      if (auto denied = authorize("GetDetectorStatus", arn)) return *denied;
      auto st = registry->StatusHistory(id);
      if (!st.ok()) return fail(st.status());
      Json body = *st;
      body.erase("entries");
      Json live = Json::object();
      if (options.live) {
        if (auto f = options.live->Of(id)) {
          live["records_since_start"] = f->records;
          live["records_per_second"] = f->records_per_second;
          live["last_record_at"] = Registry::FormatTime(f->last_nanos);
        }
      }
      body["live"] = live;
      return JsonReply(200, body);
    }
    if (m == "POST" || m == "PUT") {
      if (auto denied = authorize("UpdateDetectorStatus", arn)) return *denied;
      auto if_match = IfMatch(req);
      if (!if_match.ok()) return fail(if_match.status());
      auto body = Body(req);
      if (!body.ok()) return fail(body.status());
      auto det = registry->SetStatus(id, *body, *if_match, actor);
      if (!det.ok()) return fail(det.status());
      return EntityReply(200, *det);
    }
    return method_not_allowed("GET, POST, PUT");
  }
  if (sub == "config") {
    if (seg.size() == 3) {
      if (m == "GET") {
        if (auto denied = authorize("GetDetectorConfig", arn)) return *denied;
        auto list = registry->ListConfigs(id);
        if (!list.ok()) return fail(list.status());
        return JsonReply(200, Json{{"items", *list}});
      }
      if (m == "POST") {
        if (auto denied = authorize("CreateDetectorConfig", arn)) return *denied;
        auto body = Body(req);
        if (!body.ok()) return fail(body.status());
        if (!body->is_object() || !(*body)["name"].is_string()) {
          return fail(Status::InvalidArgument(
              "field 'name' violates rule 'required': the configuration's name, e.g. calibration"));
        }
        auto put = registry->PutConfig(id, (*body)["name"].get<std::string>(),
                                       body->value("document", Json()), actor);
        if (!put.ok()) return fail(put.status());
        return JsonReply(201, *put);
      }
      return method_not_allowed("GET, POST");
    }
    if (seg.size() == 4) {
      if (m == "PUT") {
        if (auto denied = authorize("CreateDetectorConfig", arn)) return *denied;
        auto body = Body(req);
        if (!body.ok()) return fail(body.status());
        auto put = registry->PutConfig(id, seg[3], *body, actor);
        if (!put.ok()) return fail(put.status());
        return JsonReply(201, *put);
      }
      if (m != "GET") return method_not_allowed("GET, PUT");
      if (auto denied = authorize("GetDetectorConfig", arn)) return *denied;
      int64_t version = 0;
      for (auto& [k, v] : ParseQuery(req.query)) {
        if (k != "version") continue;
        auto r = std::from_chars(v.data(), v.data() + v.size(), version);
        if (r.ec != std::errc() || r.ptr != v.data() + v.size() || version < 1) {
          return fail(Status::InvalidArgument(
              "field 'version' violates rule 'range': must be an integer >= 1"));
        }
      }
      auto got = registry->GetConfig(id, seg[3], version);
      if (!got.ok()) return fail(got.status());
      return JsonReply(200, *got);
    }
  }
  return not_found();
}
}  // namespace

}  // namespace muon::registry
