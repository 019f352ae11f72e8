#include "plan/usage_source.h"

#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "plan/test_util.h"

namespace muon::plan {
namespace {

using boost::asio::ip::tcp;

// Serves one request on loopback with `status` and `body`; records the request line.
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

 private:
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::string request_line_;
};

TEST(FetchUsageTest, GetsUsageFromServer) {
  OneShotServer server("200 OK", testing::ReadTestData("usage.json"));
  auto u = FetchUsageFromUrl(server.url() + "/");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_DOUBLE_EQ(u->bytes_per_second_per_detector, 1000.0);
}

TEST(FetchUsageTest, RequestsTheUsagePathUnderThePrefix) {
  OneShotServer server("200 OK", testing::ReadTestData("usage.json"));
  ASSERT_TRUE(FetchUsageFromUrl(server.url() + "/muon").ok());
  server.Join();
  EXPECT_EQ(server.request_line(), "GET /muon/_muonpipe/usage HTTP/1.1");
}

TEST(FetchUsageTest, HttpErrorIsExplained) {
  OneShotServer server("404 Not Found", "{}");
  auto u = FetchUsageFromUrl(server.url());
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("HTTP 404"), std::string::npos) << u.status().message();
}

TEST(FetchUsageTest, HttpsIsRefusedWithAHint) {
  auto u = FetchUsageFromUrl("https://example.invalid");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("--usage-file"), std::string::npos);
}

}  // namespace
}  // namespace muon::plan
