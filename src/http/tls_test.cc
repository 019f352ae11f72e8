#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "http/client.h"
#include "http/server.h"
#include "http/test_util.h"

namespace muon::http {
namespace {

using std::chrono::milliseconds;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    cert_ = dir_.path() + "/cert.pem";
    key_ = dir_.path() + "/key.pem";
    ASSERT_TRUE(testing::WriteSelfSignedCert(cert_, key_));
  }

  ServerOptions Options() const {
    ServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.idle_timeout_seconds = 10;
    o.request_timeout_seconds = 2;
    o.shutdown_timeout_seconds = 5;
    o.tls_cert_file = cert_;
    o.tls_key_file = key_;
    return o;
  }

  // A TLS client of `server`. With `verify_peer` it checks the certificate
  // against the system trust store, which the self-signed one is not in.
  static Client TlsClient(const Server& server, bool verify_peer = false,
                          int timeout_seconds = 10) {
    ClientOptions c;
    c.port = server.port();
    c.tls = true;
    c.verify_peer = verify_peer;
    c.timeout_seconds = timeout_seconds;
    return Client(c);
  }

  testing::TempDir dir_;
  std::string cert_;
  std::string key_;
};

TEST_F(TlsTest, RoundTripOverTls) {
  std::atomic<bool> secure{false};
  auto server = Server::Start(Options(), [&](Request&& req, Responder respond) {
    secure = req.secure;
    Response r;
    r.body = req.method + " " + req.path + " " + req.body;
    respond(std::move(r));
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  Client client = TlsClient(**server);
  for (int i = 0; i < 3; ++i) {
    auto r = client.Send("PUT", "/secure", {{"Expect", "100-continue"}}, "data");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "PUT /secure data");
  }
  EXPECT_TRUE(secure.load());
  EXPECT_EQ((*server)->open_connections(), 1u);
  (*server)->Stop();
}

TEST_F(TlsTest, StreamedBodyOverTls) {
  constexpr uint64_t kSize = (3 << 20) + 7;
  auto server = Server::Start(Options(), [&](Request&&, Responder respond) {
    Response r;
    r.stream = std::make_shared<testing::PatternBody>(kSize);
    respond(std::move(r));
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  Client client = TlsClient(**server, /*verify_peer=*/false, /*timeout_seconds=*/30);
  for (int i = 0; i < 2; ++i) {
    auto r = client.Send("GET", "/big");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    ASSERT_EQ(r->body.size(), kSize);
    EXPECT_TRUE(r->body == testing::PatternString(kSize));
  }
  EXPECT_EQ((*server)->open_connections(), 1u);
  (*server)->Stop();
}

TEST_F(TlsTest, VerifyingClientRejectsSelfSignedCertificate) {
  auto server = Server::Start(Options(), [](Request&&, Responder respond) { respond(Response{}); });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  Client client = TlsClient(**server, /*verify_peer=*/true);
  auto r = client.Send("GET", "/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
}

TEST_F(TlsTest, PlainHttpToTlsPortIsClosedAndServerSurvives) {
  auto server = Server::Start(Options(), [](Request&&, Responder respond) { respond(Response{}); });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  testing::RawConn raw((*server)->port());
  ASSERT_TRUE(raw.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(raw.WaitClosed(milliseconds(5000)));

  Client client = TlsClient(**server, /*verify_peer=*/false, /*timeout_seconds=*/30);
  auto r = client.Send("GET", "/");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

}  // namespace
}  // namespace muon::http
