#include "registry/http_api.h"

#include <mutex>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "auth/static_credential_store.h"
#include "auth/test_util.h"
#include "http/client.h"
#include "http/server.h"
#include "registry/test_util.h"

namespace muon::registry {
namespace {

using ::testing::HasSubstr;

// Allows everything except the (action, resource) pairs it is told to deny,
// and remembers what it was asked.
class RecordingAuthorizer final : public auth::Authorizer {
 public:
  Status Authorize(const auth::Caller& caller, std::string_view action,
                   std::string_view resource) const override {
    std::lock_guard lock(mu_);
    asked_.push_back(std::string(action) + " " + std::string(resource));
    if (deny_.count(std::string(action) + " " + std::string(resource))) {
      return Status::PermissionDenied(fmt::format("{} may not {} on {}", caller.principal_arn,
                                                  action, resource));
    }
    return Status::Ok();
  }
  void Deny(std::string action, std::string resource) { deny_.insert(action + " " + resource); }
  std::vector<std::string> asked() const {
    std::lock_guard lock(mu_);
    return asked_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::vector<std::string> asked_;
  std::set<std::string> deny_;
};

struct Reply {
  int status = 0;
  Json body;
  std::string etag;
};

class RegistryApiTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    std::string url = testing::FreshDatabaseUrl(GetParam(), &skip);
    if (!skip.empty()) GTEST_SKIP() << skip;
    if (url.empty()) return;
    auto r = Registry::Open(url, Clock::Real());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    reg_ = std::move(r).value();
    creds_ = {"AKIAREGISTRYTEST0001", "secretsecretsecretsecretsecretsecret0001", ""};
    store_.Add(creds_, "arn:aws:iam::000000000000:user/admin");
    http::ServerOptions sopts;
    sopts.port = 0;
    sopts.threads = 4;
    auto server = http::Server::Start(sopts,
                                      [this](http::Request&& req, http::Responder respond) {
                                        ServeRegistry(reg_.get(), identities_, &authz_, Clock::Real(),
                                                      options_, std::move(req), std::move(respond));
                                      });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  Reply Call(std::string method, std::string target, const Json& body = Json(),
             std::string if_match = "", std::string service = "muonpipe", bool sign = true) {
    http::Client client({.host = "127.0.0.1", .port = server_->port()});
    std::vector<http::Header> headers;
    if (!body.is_null()) headers.emplace_back("Content-Type", "application/json");
    if (!if_match.empty()) headers.emplace_back("If-Match", if_match);
    http::Request req = auth::testing::MakeRequest(method, target,
                                                   body.is_null() ? "" : body.dump(), headers,
                                                   fmt::format("127.0.0.1:{}", server_->port()));
    if (sign) {
      auth::testing::SignRequest(req, creds_,
                                 {.region = "ap-southeast-2", .service = service,
                                  .now_seconds = Clock::Real()->NowSeconds()});
    }
    auto r = client.Send(req.method, req.target, req.headers, req.body);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    Reply out;
    if (!r.ok()) return out;
    out.status = r->status;
    if (!r->body.empty()) out.body = Json::parse(r->body, nullptr, false);
    for (const auto& [k, v] : r->headers) {
      if (strcasecmp(k.c_str(), "ETag") == 0) out.etag = v;
    }
    return out;
  }
  static std::string P(std::string rest) { return std::string(kApiPrefix) + rest; }

  Json Site(std::string id) {
    return {{"id", id}, {"name", "North"}, {"kind", "surface"}, {"latitude", -31.9}, {"longitude", 115.8}};
  }

  std::unique_ptr<Registry> reg_;
  auth::Credentials creds_;
  auth::StaticCredentialStore store_;
  const auth::Identities* identities_ = &store_;
  RecordingAuthorizer authz_;
  ApiOptions options_;
  std::unique_ptr<http::Server> server_;
};

TEST_P(RegistryApiTest, ExpiredSessionCredentialsAreExpiredToken) {
  if (!reg_) return;
  auth::testing::ExpiredSessions expired;
  identities_ = &expired;
  creds_ = {"ASIAREGISTRYTEST0001", "secretsecretsecretsecretsecretsecret0001", "token"};
  Reply r = Call("GET", P("sites"));
  identities_ = &store_;
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body["error"]["code"], "ExpiredToken");
  EXPECT_TRUE(authz_.asked().empty());
}

TEST_P(RegistryApiTest, RefusesUnsignedAndWrongServiceRequests) {
  if (!reg_) return;
  Reply unsigned_reply = Call("GET", P("sites"), Json(), "", "muonpipe", false);
  EXPECT_EQ(unsigned_reply.status, 403);
  EXPECT_EQ(unsigned_reply.body["error"]["code"], "MissingAuthenticationToken");
  Reply wrong = Call("GET", P("sites"), Json(), "", "kinesis");
  EXPECT_EQ(wrong.status, 403);
  EXPECT_TRUE(authz_.asked().empty());
}

TEST_P(RegistryApiTest, CreateGetUpdateDeleteASite) {
  if (!reg_) return;
  Reply c = Call("POST", P("sites"), Site("north"));
  ASSERT_EQ(c.status, 201) << c.body.dump();
  EXPECT_EQ(c.etag, "\"1\"");
  Reply g = Call("GET", P("sites/north"));
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body["name"], "North");
  Reply u = Call("PATCH", P("sites/north"), {{"contact", "ops@example.org"}}, g.etag);
  ASSERT_EQ(u.status, 200) << u.body.dump();
  EXPECT_EQ(u.etag, "\"2\"");
  Reply h = Call("GET", P("sites/north/history"));
  ASSERT_EQ(h.status, 200);
  ASSERT_EQ(h.body["changes"].size(), 2u);
  EXPECT_EQ(h.body["changes"][1]["actor"], "arn:aws:iam::000000000000:user/admin");
  EXPECT_EQ(Call("DELETE", P("sites/north"), Json(), "\"1\"").status, 412);
  EXPECT_EQ(Call("DELETE", P("sites/north"), Json(), u.etag).status, 204);
  EXPECT_EQ(Call("GET", P("sites/north")).status, 404);
}

TEST_P(RegistryApiTest, ValidationErrorsNameFieldAndRuleAndChangeNothing) {
  if (!reg_) return;
  Json bad = Site("north");
  bad["latitude"] = -91;
  Reply r = Call("POST", P("sites"), bad);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["code"], "ValidationError");
  EXPECT_EQ(r.body["error"]["field"], "latitude");
  EXPECT_EQ(r.body["error"]["rule"], "range");
  EXPECT_EQ(Call("GET", P("sites/north")).status, 404);
  ASSERT_EQ(Call("POST", P("sites"), Site("north")).status, 201);
  ASSERT_EQ(Call("POST", P("detectors"), {{"id", "MD-0001"}, {"model", "MT-4"}}).status, 201);
  Json dep = {{"detector_id", "MD-0001"}, {"site_id", "north"}, {"from_time", "2026-01-01T00:00:00Z"}};
  ASSERT_EQ(Call("POST", P("deployments"), dep).status, 201);
  dep["from_time"] = "2026-02-01T00:00:00Z";
  Reply open = Call("POST", P("deployments"), dep);
  EXPECT_EQ(open.status, 409);
  EXPECT_EQ(open.body["error"]["field"], "to_time");
  EXPECT_EQ(open.body["error"]["rule"], "one_open_deployment");
  Reply move = Call("POST", P("detectors/MD-0001/status"), {{"status", "active"}});
  EXPECT_EQ(move.status, 409);
  EXPECT_EQ(move.body["error"]["rule"], "transition");
  Reply in_use = Call("DELETE", P("sites/north"));
  EXPECT_EQ(in_use.status, 409);
  EXPECT_EQ(in_use.body["error"]["rule"], "in_use");
  Reply list = Call("GET", P("deployments"));
  EXPECT_EQ(list.body["items"].size(), 1u);
  EXPECT_EQ(Call("POST", P("sites"), Json::parse("[1]")).status, 400);
  Reply badq = Call("GET", P("detectors?colour=red"));
  EXPECT_EQ(badq.status, 400);
  EXPECT_EQ(badq.body["error"]["field"], "colour");
}

TEST_P(RegistryApiTest, TwoConcurrentWritersToOneDetectorOneGets412) {
  if (!reg_) return;
  Reply c = Call("POST", P("detectors"), {{"id", "MD-0001"}, {"model", "MT-4"}});
  ASSERT_EQ(c.status, 201);
  for (int round = 0; round < 5; ++round) {
    std::string etag = Call("GET", P("detectors/MD-0001")).etag;
    Reply a, b;
    std::thread ta([&] { a = Call("PUT", P("detectors/MD-0001"), {{"firmware", "A"}, {"notes", "A"}}, etag); });
    std::thread tb([&] { b = Call("PUT", P("detectors/MD-0001"), {{"firmware", "B"}, {"notes", "B"}}, etag); });
    ta.join();
    tb.join();
    std::multiset<int> codes = {a.status, b.status};
    ASSERT_EQ(codes, (std::multiset<int>{200, 412})) << a.body.dump() << b.body.dump();
    Reply& winner = a.status == 200 ? a : b;
    Reply now = Call("GET", P("detectors/MD-0001"));
    EXPECT_EQ(now.body["firmware"], winner.body["firmware"]);
    EXPECT_EQ(now.body["notes"], winner.body["firmware"]);
    Reply& loser = a.status == 412 ? a : b;
    EXPECT_EQ(loser.body["error"]["code"], "PreconditionFailed");
  }
}

TEST_P(RegistryApiTest, AsksTheAuthorizerWithRegistryActionsAndArns) {
  if (!reg_) return;
  authz_.Deny("registry:DeleteSite", "arn:muonpipe:registry:::site/north");
  ASSERT_EQ(Call("POST", P("sites"), Site("north")).status, 201);
  Reply d = Call("DELETE", P("sites/north"));
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.body["error"]["code"], "AccessDenied");
  EXPECT_EQ(Call("GET", P("sites/north")).status, 200);  // still there
  Call("GET", P("sites?kind=surface"));
  Call("GET", P("detectors/MD-9/status"));
  EXPECT_THAT(authz_.asked(),
              ::testing::ElementsAre("registry:CreateSite arn:muonpipe:registry:::site/north",
                                     "registry:DeleteSite arn:muonpipe:registry:::site/north",
                                     "registry:GetSite arn:muonpipe:registry:::site/north",
                                     "registry:ListSites arn:muonpipe:registry:::site/*",
                                     "registry:GetDetectorStatus arn:muonpipe:registry:::detector/MD-9"));
}

TEST_P(RegistryApiTest, ListsPageWithNextToken) {
  if (!reg_) return;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Call("POST", P("detectors"), {{"id", fmt::format("MD-{:04}", i)}, {"model", "MT-4"}}).status, 201);
  }
  std::vector<std::string> seen;
  std::string target = P("detectors?limit=2&sort=-id");
  for (int pages = 0; pages < 10; ++pages) {
    Reply r = Call("GET", target);
    ASSERT_EQ(r.status, 200) << r.body.dump();
    for (const auto& it : r.body["items"]) seen.push_back(it["id"]);
    if (!r.body.contains("next_token")) break;
    target = P("detectors?limit=2&sort=-id&next_token=" + r.body["next_token"].get<std::string>());
  }
  EXPECT_THAT(seen, ::testing::ElementsAre("MD-0004", "MD-0003", "MD-0002", "MD-0001", "MD-0000"));
}

TEST_P(RegistryApiTest, ConfigDocumentsAndStatusHistory) {
  if (!reg_) return;
  ASSERT_EQ(Call("POST", P("detectors"), {{"id", "MD-0001"}, {"model", "MT-4"}}).status, 201);
  Reply put = Call("POST", P("detectors/MD-0001/config"), {{"name", "calibration"}, {"document", {{"gain", 2}}}});
  ASSERT_EQ(put.status, 201) << put.body.dump();
  Reply shape = Call("POST", P("detectors/MD-0001/config"), Json::parse("[1, 2]"));
  EXPECT_EQ(shape.status, 400) << shape.body.dump();
  EXPECT_EQ(shape.body["error"]["field"], "name");
  Reply put2 = Call("PUT", P("detectors/MD-0001/config/calibration"), {{"gain", 3}});
  EXPECT_EQ(put2.body["version"], 2);
  EXPECT_EQ(Call("GET", P("detectors/MD-0001/config/calibration?version=1")).body["document"]["gain"], 2);
  EXPECT_EQ(Call("GET", P("detectors/MD-0001/config")).body["items"][0]["version"], 2);
  Reply s = Call("POST", P("detectors/MD-0001/status"), {{"status", "in-transit"}, {"reason", "shipped"}});
  ASSERT_EQ(s.status, 200) << s.body.dump();
  Reply st = Call("GET", P("detectors/MD-0001/status"));
  EXPECT_EQ(st.body["status"], "in-transit");
  EXPECT_EQ(st.body["reason"], "shipped");
  Reply h = Call("GET", P("detectors/MD-0001/history"));
  EXPECT_EQ(h.body["status"].size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Backends, RegistryApiTest, ::testing::Values("sqlite", "postgresql"),
                         testing::BackendName);

}  // namespace
}  // namespace muon::registry
