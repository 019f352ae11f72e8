#include "plan/usage_source.h"

#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "auth/static_credential_store.h"
#include "plan/test_util.h"

namespace muon::plan {
namespace {

using boost::asio::ip::tcp;

// Serves one request on loopback with `status` and `body`; records the request line and headers.
class OneShotServer {
 public:
  OneShotServer(std::string status, std::string body)
      : acceptor_(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this, status = std::move(status), body = std::move(body)] {
      tcp::socket socket(io_);
      acceptor_.accept(socket);
      boost::asio::streambuf buf;
      boost::asio::read_until(socket, buf, "\r\n\r\n");
      std::string head(boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data()));
      request_line_ = head.substr(0, head.find("\r\n"));
      for (size_t at = head.find("\r\n") + 2; at < head.size();) {
        size_t end = head.find("\r\n", at);
        std::string line = head.substr(at, end - at);
        at = end + 2;
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        size_t value = line.find_first_not_of(' ', colon + 1);
        headers_.emplace_back(line.substr(0, colon),
                              value == std::string::npos ? "" : line.substr(value));
      }
      std::string response = "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      boost::asio::write(socket, boost::asio::buffer(response));
    });
  }
  ~OneShotServer() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  const std::string& request_line() const { return request_line_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }

 private:
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::string request_line_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

class FetchUsageTest : public ::testing::Test {
 protected:
  FetchUsageTest() { store_.Add(creds_, "arn:aws:iam::000000000000:user/planner"); }

  FetchOptions Options() { return {.credentials = creds_, .region = "ap-southeast-2", .clock = &clock_}; }

  // Whether the request the server received carries a valid SigV4 signature by creds_ for
  // service "muonpipe", as the server would check it.
  std::string VerifyReceived(const OneShotServer& server) {
    std::string line = server.request_line();
    std::string path = line.substr(4, line.rfind(' ') - 4);
    const std::string empty_body_hash = auth::Sha256Hex("");
    auth::RequestToVerify req{.method = "GET", .path = path, .query = "",
                              .headers = &server.headers(),
                              .body_sha256_hex = empty_body_hash};
    auto [verified, failure] = auth::Verify(req, store_, {.now_seconds = clock_.NowSeconds()});
    if (!verified) return "refused: " + failure.message;
    if (verified->service != "muonpipe" || verified->region != "ap-southeast-2") {
      return "wrong scope: " + verified->service + "/" + verified->region;
    }
    return verified->credentials.access_key_id;
  }

  auth::Credentials creds_{"AKIAPLANNERTEST00001", "plannersecretplannersecretplanner0001", ""};
  auth::StaticCredentialStore store_;
  FakeClock clock_;
};

TEST_F(FetchUsageTest, GetsUsageFromServer) {
  OneShotServer server("200 OK", testing::ReadTestData("usage.json"));
  auto u = FetchUsageFromUrl(server.url() + "/", Options());
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_DOUBLE_EQ(u->bytes_per_second_per_detector, 1000.0);
}

TEST_F(FetchUsageTest, RequestsTheUsagePathUnderThePrefix) {
  OneShotServer server("200 OK", testing::ReadTestData("usage.json"));
  ASSERT_TRUE(FetchUsageFromUrl(server.url() + "/muon", Options()).ok());
  server.Join();
  EXPECT_EQ(server.request_line(), "GET /muon/_muonpipe/usage HTTP/1.1");
}

TEST_F(FetchUsageTest, SignsTheRequestForServiceMuonpipe) {
  OneShotServer server("200 OK", testing::ReadTestData("usage.json"));
  ASSERT_TRUE(FetchUsageFromUrl(server.url(), Options()).ok());
  server.Join();
  EXPECT_EQ(VerifyReceived(server), "AKIAPLANNERTEST00001");
}

TEST_F(FetchUsageTest, SignsWithTheSessionTokenOfTemporaryCredentials) {
  creds_ = {"ASIAPLANNERTEST00001", "sessionsecretsessionsecretsession0001", "the-token"};
  store_.Add(creds_, "arn:aws:iam::000000000000:user/planner");
  OneShotServer server("200 OK", testing::ReadTestData("usage.json"));
  ASSERT_TRUE(FetchUsageFromUrl(server.url(), Options()).ok());
  server.Join();
  EXPECT_EQ(VerifyReceived(server), "ASIAPLANNERTEST00001");
  bool token = false;
  for (const auto& [k, v] : server.headers()) token |= k == "X-Amz-Security-Token" && v == "the-token";
  EXPECT_TRUE(token);
}

TEST_F(FetchUsageTest, RefusalNamesTheServersReasonAndWhereCredentialsComeFrom) {
  OneShotServer server("403 Forbidden",
                       R"({"error":{"code":"AccessDenied","message":"planner may not admin:GetUsage"}})");
  auto u = FetchUsageFromUrl(server.url(), Options());
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(u.status().message().find("AccessDenied: planner may not admin:GetUsage"),
            std::string::npos) << u.status().message();
  EXPECT_NE(u.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
}

TEST_F(FetchUsageTest, HttpErrorIsExplained) {
  OneShotServer server("404 Not Found", "{}");
  auto u = FetchUsageFromUrl(server.url(), Options());
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("HTTP 404"), std::string::npos) << u.status().message();
}

TEST_F(FetchUsageTest, HttpsIsRefusedWithAHint) {
  auto u = FetchUsageFromUrl("https://example.invalid", Options());
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("--usage-file"), std::string::npos);
}

}  // namespace
}  // namespace muon::plan
