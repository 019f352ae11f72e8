#include "admin/admin_api.h"

#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "auth/sigv4.h"
#include "auth/static_credential_store.h"

namespace muon::admin {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

// Allows everything except the principals it is told to deny, and remembers
// every decision it was asked for as "principal action resource".
class RecordingAuthorizer final : public auth::Authorizer {
 public:
  Status Authorize(const auth::Caller& caller, std::string_view action,
                   std::string_view resource) const override {
    asked_.push_back(caller.principal_arn + " " + std::string(action) + " " +
                     std::string(resource));
    if (denied_.count(caller.principal_arn)) {
      return Status::PermissionDenied(caller.principal_arn + " may not " + std::string(action));
    }
    return Status::Ok();
  }
  void Deny(std::string principal) { denied_.insert(std::move(principal)); }
  const std::vector<std::string>& asked() const { return asked_; }

 private:
  mutable std::vector<std::string> asked_;
  std::set<std::string> denied_;
};

constexpr const char* kAdmin = "arn:aws:iam::000000000000:user/admin";
constexpr const char* kDevice = "arn:aws:iam::000000000000:user/dev-0042";

class AdminApiTest : public ::testing::Test {
 protected:
  AdminApiTest() {
    store_.Add(admin_, kAdmin);
    store_.Add(device_, kDevice);
    options_.usage_json = [] { return std::string(R"({"streams":{}})"); };
    options_.metrics_text = [] { return std::string("muonpipe_up 1\n"); };
  }

  http::Request Get(std::string path, const auth::Credentials* signer = nullptr,
                    std::string service = "muonpipe", std::string method = "GET") {
    http::Request req;
    req.method = std::move(method);
    req.path = std::move(path);
    req.target = req.path;
    req.remote_ip = "127.0.0.1";
    req.headers = {{"Host", "127.0.0.1:4566"}};
    if (signer) {
      auth::Sign(
          req.method, req.path, req.query, req.headers, req.body, *signer,
          {.region = "ap-southeast-2", .service = service, .now_seconds = clock_.NowSeconds()});
    }
    return req;
  }

  http::Response Handle(const http::Request& req) {
    return HandleAdmin(store_, authz_, clock_, options_, req);
  }

  static std::string ErrorCode(const http::Response& r) {
    Json j = Json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("error")) return "(not a JSON error: " + r.body + ")";
    return j["error"].value("code", "");
  }

  auth::Credentials admin_{"AKIAADMINTEST0000001", "adminsecretadminsecretadminsecret0001", ""};
  auth::Credentials device_{"AKIADEVICETEST000001", "devicesecretdevicesecretdevicesecret01", ""};
  auth::StaticCredentialStore store_;
  RecordingAuthorizer authz_;
  FakeClock clock_;
  AdminOptions options_;
};

TEST_F(AdminApiTest, RecognisesOnlyTheThreeAdminPaths) {
  EXPECT_TRUE(IsAdminRequest(Get("/_muonpipe/health")));
  EXPECT_TRUE(IsAdminRequest(Get("/_muonpipe/usage")));
  EXPECT_TRUE(IsAdminRequest(Get("/_muonpipe/metrics")));
  EXPECT_FALSE(IsAdminRequest(Get("/_muonpipe/registry/v1/sites")));
  EXPECT_FALSE(IsAdminRequest(Get("/_muonpipe/usage/extra")));
  EXPECT_FALSE(IsAdminRequest(Get("/metrics")));
}

TEST_F(AdminApiTest, HealthAnswersUnsignedRequestsWithoutAskingTheAuthorizer) {
  http::Response r = Handle(Get("/_muonpipe/health"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
  EXPECT_TRUE(authz_.asked().empty());
}

TEST_F(AdminApiTest, SignedUsageIsAuthorisedAsGetUsageAndAnswered) {
  http::Response r = Handle(Get("/_muonpipe/usage", &admin_));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"streams":{}})");
  EXPECT_THAT(authz_.asked(),
              ElementsAre(std::string(kAdmin) + " admin:GetUsage arn:muonpipe:admin:::usage"));
}

TEST_F(AdminApiTest, SignedMetricsIsAuthorisedAsGetMetricsAndAnsweredInPrometheusText) {
  http::Response r = Handle(Get("/_muonpipe/metrics", &admin_));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "muonpipe_up 1\n");
  bool prometheus_type = false;
  for (const auto& [k, v] : r.headers)
    prometheus_type |= k == "Content-Type" && v == "text/plain; version=0.0.4";
  EXPECT_TRUE(prometheus_type);
  EXPECT_THAT(authz_.asked(),
              ElementsAre(std::string(kAdmin) + " admin:GetMetrics arn:muonpipe:admin:::metrics"));
}

TEST_F(AdminApiTest, UnsignedUsageAndMetricsAreRefusedAsMissingAuthentication) {
  for (const char* path : {"/_muonpipe/usage", "/_muonpipe/metrics"}) {
    http::Response r = Handle(Get(path));
    EXPECT_EQ(r.status, 403) << path;
    EXPECT_EQ(ErrorCode(r), "MissingAuthenticationToken") << path;
    EXPECT_THAT(r.body, Not(HasSubstr("muonpipe_up"))) << path;
  }
  EXPECT_TRUE(authz_.asked().empty());
}

TEST_F(AdminApiTest, DeniedCallerIsRefusedAsAccessDenied) {
  authz_.Deny(kDevice);
  for (const char* path : {"/_muonpipe/usage", "/_muonpipe/metrics"}) {
    http::Response r = Handle(Get(path, &device_));
    EXPECT_EQ(r.status, 403) << path;
    EXPECT_EQ(ErrorCode(r), "AccessDenied") << path;
    EXPECT_THAT(r.body, HasSubstr("dev-0042")) << path;
  }
  EXPECT_EQ(authz_.asked().size(), 2u);
}

TEST_F(AdminApiTest, UnknownKeyIsRefusedAsUnrecognizedClient) {
  auth::Credentials stranger{"AKIASTRANGER00000001", "strangersecretstrangersecretstranger01", ""};
  http::Response r = Handle(Get("/_muonpipe/usage", &stranger));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "UnrecognizedClient");
}

TEST_F(AdminApiTest, SignatureForAnotherServiceIsRefused) {
  http::Response r = Handle(Get("/_muonpipe/usage", &admin_, "kinesis"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "InvalidSignature");
  EXPECT_TRUE(authz_.asked().empty());
}

TEST_F(AdminApiTest, TamperedRequestIsRefusedAsSignatureMismatch) {
  http::Request req = Get("/_muonpipe/usage", &admin_);
  req.path = "/_muonpipe/metrics";
  req.target = req.path;
  http::Response r = Handle(req);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "SignatureDoesNotMatch");
}

TEST_F(AdminApiTest, MethodOtherThanGetIsRefusedAfterAuthorisation) {
  http::Response r = Handle(Get("/_muonpipe/usage", &admin_, "muonpipe", "DELETE"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(ErrorCode(r), "MethodNotAllowed");
  http::Response unsigned_reply = Handle(Get("/_muonpipe/usage", nullptr, "muonpipe", "DELETE"));
  EXPECT_EQ(unsigned_reply.status, 403);
}

TEST_F(AdminApiTest, MetricsListenerServesMetricsUnauthenticated) {
  http::Response r = HandleMetricsListener(options_, Get("/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "muonpipe_up 1\n");
}

TEST_F(AdminApiTest, MetricsListenerServesNothingElse) {
  EXPECT_EQ(HandleMetricsListener(options_, Get("/_muonpipe/usage")).status, 404);
  EXPECT_EQ(HandleMetricsListener(options_, Get("/_muonpipe/metrics")).status, 404);
  EXPECT_EQ(HandleMetricsListener(options_, Get("/")).status, 404);
  EXPECT_EQ(HandleMetricsListener(options_, Get("/metrics", nullptr, "", "POST")).status, 405);
}

}  // namespace
}  // namespace muon::admin
