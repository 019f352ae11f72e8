#include "http/server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "http/client.h"
#include "http/test_util.h"

namespace muon::http {
namespace {

using std::chrono::milliseconds;
using testing::RawConn;
using testing::RawResponse;
using testing::WaitFor;

// MUON_LOG_LEVEL=debug shows the server's view of each test.
const bool kLogLevelSet = [] {
  const char* level = std::getenv("MUON_LOG_LEVEL");
  log::SetLevel(level ? level : "warn");
  return true;
}();

ServerOptions TestOptions() {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = 2;
  o.idle_timeout_seconds = 10;
  o.request_timeout_seconds = 10;
  o.shutdown_timeout_seconds = 5;
  o.max_connections = 5000;
  return o;
}

std::unique_ptr<Server> StartOrDie(const ServerOptions& options, Handler handler) {
  auto server = Server::Start(options, std::move(handler));
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).value() : nullptr;
}

// Answers "<method> <path> <query>\n<body>" and echoes X-Test as X-Echo.
void Echo(Request&& req, Responder respond) {
  Response r;
  r.Set("Content-Type", "text/plain");
  if (req.HasHeader("x-test")) r.Set("X-Echo", std::string(req.Header("X-TEST")));
  r.body = req.method + " " + req.path + " " + req.query + "\n" + req.body;
  respond(std::move(r));
}

ClientOptions ClientFor(const Server& server) {
  ClientOptions c;
  c.host = "127.0.0.1";
  c.port = server.port();
  c.timeout_seconds = 10;
  return c;
}

std::string Get(uint16_t port, const std::string& target = "/") {
  return "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
}

TEST(ServerTest, RoundTripPassesMethodPathQueryHeadersAndBody) {
  std::mutex mu;
  std::optional<Request> seen;
  auto server = StartOrDie(TestOptions(), [&](Request&& req, Responder respond) {
    {
      std::lock_guard<std::mutex> lock(mu);
      seen = req;
    }
    Echo(std::move(req), std::move(respond));
  });
  Client client(ClientFor(*server));
  auto r = client.Send("POST", "/bucket/key%20x?uploads&a=b?c",
                       {{"X-Test", "one"}, {"x-amz-meta-A", "1"}, {"X-Amz-Meta-a", "2"}}, "payload");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /bucket/key%20x uploads&a=b?c\npayload");
  bool echoed = false;
  for (const auto& [name, value] : r->headers) {
    if (name == "X-Echo") echoed = value == "one";
  }
  EXPECT_TRUE(echoed);

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->target, "/bucket/key%20x?uploads&a=b?c");
  EXPECT_EQ(seen->remote_ip, "127.0.0.1");
  EXPECT_FALSE(seen->secure);
  // Order and spelling as sent; repeats kept.
  std::vector<std::string> names;
  for (const auto& [name, value] : seen->headers) names.push_back(name);
  auto x_test = std::find(names.begin(), names.end(), "X-Test");
  auto meta_upper = std::find(names.begin(), names.end(), "x-amz-meta-A");
  auto meta_lower = std::find(names.begin(), names.end(), "X-Amz-Meta-a");
  ASSERT_NE(x_test, names.end());
  ASSERT_NE(meta_upper, names.end());
  ASSERT_NE(meta_lower, names.end());
  EXPECT_LT(x_test, meta_upper);
  EXPECT_LT(meta_upper, meta_lower);
  EXPECT_EQ(seen->Header("X-AMZ-META-a"), "1");
}

TEST(ServerTest, PathWithoutQueryHasEmptyQuery) {
  auto server = StartOrDie(TestOptions(), Echo);
  Client client(ClientFor(*server));
  auto r = client.Send("GET", "/a/b");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "GET /a/b \n");
}

TEST(ServerTest, KeepAliveReusesOneConnection) {
  auto server = StartOrDie(TestOptions(), Echo);
  RawConn conn(server->port());
  ASSERT_TRUE(conn.connected());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(conn.Send(Get(server->port(), "/n" + std::to_string(i))));
    RawResponse r = conn.ReadResponse();
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.body, "GET /n" + std::to_string(i) + " \n");
    EXPECT_NE(r.Header("connection"), "close");
  }
  EXPECT_EQ(server->open_connections(), 1u);

  Client client(ClientFor(*server));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.Send("GET", "/").ok());
  EXPECT_TRUE(client.connected());
  EXPECT_EQ(server->open_connections(), 2u);
}

TEST(ServerTest, StreamedBodyArrivesWholeInPiecesAndConnectionStaysUsable) {
  constexpr uint64_t kSize = (5 << 20) + 12345;  // several pieces and a ragged end
  std::shared_ptr<testing::PatternBody> body;
  auto server = StartOrDie(TestOptions(), [&](Request&& req, Responder respond) {
    Response r;
    if (req.path == "/big") {
      body = std::make_shared<testing::PatternBody>(kSize);
      r.stream = body;
    } else {
      r.body = "small";
    }
    respond(std::move(r));
  });
  RawConn conn(server->port());
  ASSERT_TRUE(conn.connected());
  ASSERT_TRUE(conn.Send(Get(server->port(), "/big")));
  RawResponse r = conn.ReadResponse(milliseconds(30000));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-length"), std::to_string(kSize));
  ASSERT_EQ(r.body.size(), kSize);
  EXPECT_TRUE(r.body == testing::PatternString(kSize));
  EXPECT_LT(body->largest_piece.load(), kSize) << "the body was read whole";
  // The same connection serves the next request.
  ASSERT_TRUE(conn.Send(Get(server->port(), "/small")));
  RawResponse next = conn.ReadResponse();
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, "small");
}

TEST(ServerTest, StreamedBodyThatFailsMidwayClosesTheConnectionShort) {
  constexpr uint64_t kSize = 3 << 20;
  auto server = StartOrDie(TestOptions(), [&](Request&&, Responder respond) {
    Response r;
    r.stream = std::make_shared<testing::PatternBody>(kSize, uint64_t{1} << 20);
    respond(std::move(r));
  });
  RawConn conn(server->port());
  ASSERT_TRUE(conn.Send(Get(server->port(), "/big")));
  // The header announces every byte; fewer arrive, then the close.
  while (conn.ReadMore(milliseconds(10000))) {
  }
  EXPECT_TRUE(conn.eof());
  std::string all = conn.pending();
  auto end = all.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  EXPECT_NE(all.find("Content-Length: " + std::to_string(kSize)), std::string::npos);
  std::string received = all.substr(end + 4);
  EXPECT_LT(received.size(), kSize);
  EXPECT_EQ(received, testing::PatternString(kSize).substr(0, received.size()))
      << "every byte sent must be right";
  EXPECT_TRUE(WaitFor([&] { return server->open_connections() == 0; }, milliseconds(10000)));
}

TEST(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  auto server = StartOrDie(TestOptions(), Echo);
  RawConn conn(server->port());
  ASSERT_TRUE(conn.Send(Get(0, "/first") +
                        "PUT /second HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
                        Get(0, "/third")));
  EXPECT_EQ(conn.ReadResponse().body, "GET /first \n");
  EXPECT_EQ(conn.ReadResponse().body, "PUT /second \nabc");
  EXPECT_EQ(conn.ReadResponse().body, "GET /third \n");
}

TEST(ServerTest, AnswersFromAnotherThreadLater) {
  std::mutex mu;
  std::vector<std::thread> workers;
  auto server = StartOrDie(TestOptions(), [&](Request&& req, Responder respond) {
    std::lock_guard<std::mutex> lock(mu);
    workers.emplace_back([req = std::move(req), respond = std::move(respond)]() mutable {
      std::this_thread::sleep_for(milliseconds(50));
      Response r;
      r.status = 202;
      r.body = "later " + req.path;
      respond(std::move(r));
    });
  });
  Client client(ClientFor(*server));
  for (int i = 0; i < 2; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto r = client.Send("GET", "/x");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 202);
    EXPECT_EQ(r->body, "later /x");
    EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(50));
  }
  server->Stop();
  std::lock_guard<std::mutex> lock(mu);
  for (auto& t : workers) t.join();
}

TEST(ServerTest, OversizeBodyGets413AndClose) {
  ServerOptions o = TestOptions();
  o.max_body_bytes = 1000;
  std::atomic<int> calls{0};
  auto server = StartOrDie(o, [&](Request&& req, Responder respond) {
    ++calls;
    Echo(std::move(req), std::move(respond));
  });
  Client client(ClientFor(*server));
  auto ok = client.Send("PUT", "/k", {}, std::string(1000, 'a'));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->status, 200);

  auto r = client.Send("PUT", "/k", {}, std::string(1001, 'a'));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);
  EXPECT_FALSE(client.connected());

  // Chunked bodies are limited too, while they stream in.
  RawConn conn(server->port());
  std::string chunked = "PUT /k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) chunked += "190\r\n" + std::string(400, 'b') + "\r\n";
  chunked += "0\r\n\r\n";
  ASSERT_TRUE(conn.Send(chunked));
  EXPECT_EQ(conn.ReadResponse().status, 413);
  EXPECT_TRUE(conn.WaitClosed(milliseconds(5000)));
  EXPECT_EQ(calls.load(), 1);
}

TEST(ServerTest, OversizeHeaderGets431AndClose) {
  ServerOptions o = TestOptions();
  o.max_header_bytes = 1024;
  auto server = StartOrDie(o, Echo);
  RawConn conn(server->port());
  ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4000, 'h') + "\r\n\r\n"));
  RawResponse r = conn.ReadResponse();
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(r.Header("connection"), "close");
  EXPECT_TRUE(conn.WaitClosed(milliseconds(5000)));

  Client client(ClientFor(*server));
  auto ok = client.Send("GET", "/", {{"X-Small", std::string(100, 's')}});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200);
}

TEST(ServerTest, GarbageGets400AndServerStillServesOthers) {
  auto server = StartOrDie(TestOptions(), Echo);
  for (std::string garbage : {"HELLO THERE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "\x01\x02\x03\r\n\r\n",
                              "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                              "POST / HTTP/1.1\r\nContent-Length: xyz\r\n\r\n"}) {
    RawConn conn(server->port());
    ASSERT_TRUE(conn.Send(garbage));
    RawResponse r = conn.ReadResponse();
    EXPECT_EQ(r.status, 400) << garbage;
    EXPECT_FALSE(r.body.empty());
    EXPECT_TRUE(conn.WaitClosed(milliseconds(5000))) << garbage;
  }
  Client client(ClientFor(*server));
  auto ok = client.Send("GET", "/still");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->body, "GET /still \n");
}

TEST(ServerTest, IdleConnectionClosedAfterIdleTimeout) {
  ServerOptions o = TestOptions();
  o.idle_timeout_seconds = 1;
  auto server = StartOrDie(o, Echo);
  RawConn conn(server->port());
  ASSERT_TRUE(conn.Send(Get(0)));
  EXPECT_EQ(conn.ReadResponse().status, 200);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(conn.WaitClosed(milliseconds(5000)));
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, milliseconds(900));
  EXPECT_TRUE(conn.pending().empty());
  EXPECT_TRUE(WaitFor([&] { return server->open_connections() == 0; }, milliseconds(2000)));
}

TEST(ServerTest, ClientReconnectsAfterServerClosedIdleConnection) {
  ServerOptions o = TestOptions();
  o.idle_timeout_seconds = 1;
  auto server = StartOrDie(o, Echo);
  Client client(ClientFor(*server));
  ASSERT_TRUE(client.Send("GET", "/1").ok());
  ASSERT_TRUE(WaitFor([&] { return server->open_connections() == 0; }, milliseconds(5000)));
  auto r = client.Send("GET", "/2");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "GET /2 \n");
}

TEST(ServerTest, SlowRequestClosedAfterRequestTimeoutWith408) {
  ServerOptions o = TestOptions();
  o.request_timeout_seconds = 1;
  o.idle_timeout_seconds = 30;
  auto server = StartOrDie(o, Echo);
  RawConn conn(server->port());
  ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  auto start = std::chrono::steady_clock::now();
  RawResponse r = conn.ReadResponse(milliseconds(5000));
  EXPECT_EQ(r.status, 408);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(900));
  EXPECT_TRUE(conn.WaitClosed(milliseconds(5000)));

  // A body that stalls is cut off the same way.
  RawConn body_conn(server->port());
  ASSERT_TRUE(body_conn.Send("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"));
  EXPECT_EQ(body_conn.ReadResponse(milliseconds(5000)).status, 408);
  EXPECT_TRUE(body_conn.WaitClosed(milliseconds(5000)));
}

TEST(ServerTest, ExpectContinueSends100BeforeReadingBody) {
  auto server = StartOrDie(TestOptions(), Echo);
  RawConn conn(server->port());
  ASSERT_TRUE(conn.Send("PUT /obj HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                        "Expect: 100-continue\r\n\r\n"));
  RawResponse interim = conn.ReadResponse(milliseconds(5000));
  EXPECT_EQ(interim.status, 100);
  ASSERT_TRUE(conn.Send("hello"));
  RawResponse final_response = conn.ReadResponse();
  EXPECT_EQ(final_response.status, 200);
  EXPECT_EQ(final_response.body, "PUT /obj \nhello");

  // The Client skips the interim response.
  Client client(ClientFor(*server));
  auto r = client.Send("PUT", "/obj2", {{"Expect", "100-continue"}}, "world");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "PUT /obj2 \nworld");
}

TEST(ServerTest, ExpectContinueWithOversizeBodyGets413WithoutContinue) {
  ServerOptions o = TestOptions();
  o.max_body_bytes = 10;
  auto server = StartOrDie(o, Echo);
  RawConn conn(server->port());
  ASSERT_TRUE(conn.Send("PUT /obj HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n"
                        "Expect: 100-continue\r\n\r\n"));
  EXPECT_EQ(conn.ReadResponse().status, 413);
}

TEST(ServerTest, HeadKeepsHandlerContentLengthAndSendsNoBody) {
  auto server = StartOrDie(TestOptions(), [](Request&& req, Responder respond) {
    Response r;
    if (req.method == "HEAD") {
      r.Set("Content-Length", "12345").Set("ETag", "\"abc\"");
    } else {
      r.body = "get-body";
    }
    respond(std::move(r));
  });
  RawConn conn(server->port());
  ASSERT_TRUE(conn.Send("HEAD /obj HTTP/1.1\r\nHost: x\r\n\r\n" + Get(0, "/obj")));
  RawResponse head = conn.ReadResponse(milliseconds(5000), /*head=*/true);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-length"), "12345");
  EXPECT_EQ(head.Header("etag"), "\"abc\"");
  // No body bytes: the next thing on the wire is the GET's response.
  RawResponse get = conn.ReadResponse();
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "get-body");

  Client client(ClientFor(*server));
  auto r = client.Send("HEAD", "/obj");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->body.empty());
  bool found = false;
  for (const auto& [name, value] : r->headers) found = found || value == "12345";
  EXPECT_TRUE(found);
  ASSERT_TRUE(client.Send("GET", "/obj").ok());
}

TEST(ServerTest, HeadWithoutHandlerLengthAnnouncesBodyLength) {
  auto server = StartOrDie(TestOptions(), [](Request&&, Responder respond) {
    Response r;
    r.body = "0123456789";
    respond(std::move(r));
  });
  RawConn conn(server->port());
  ASSERT_TRUE(conn.Send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"));
  RawResponse head = conn.ReadResponse(milliseconds(5000), /*head=*/true);
  EXPECT_EQ(head.Header("content-length"), "10");
  EXPECT_FALSE(conn.ReadMore(milliseconds(100)));  // nothing after the header
}

TEST(ServerTest, ThousandsOfConcurrentConnectionsAllAnswered) {
  constexpr int kConnections = 1200;
  auto server = StartOrDie(TestOptions(), Echo);
  std::vector<std::unique_ptr<RawConn>> conns;
  conns.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    conns.push_back(std::make_unique<RawConn>(server->port()));
    ASSERT_TRUE(conns.back()->connected()) << i << " errno " << conns.back()->connect_errno();
  }
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kConnections; ++i) {
      ASSERT_TRUE(conns[i]->Send(Get(0, "/c" + std::to_string(i))));
    }
    for (int i = 0; i < kConnections; ++i) {
      RawResponse r = conns[i]->ReadResponse(milliseconds(10000));
      ASSERT_EQ(r.status, 200) << "connection " << i << " round " << round;
      ASSERT_EQ(r.body, "GET /c" + std::to_string(i) + " \n");
    }
  }
  EXPECT_EQ(server->open_connections(), static_cast<size_t>(kConnections));
}

TEST(ServerTest, StopFinishesInFlightRequestAndRefusesNewConnections) {
  std::promise<Responder> held;
  auto server = StartOrDie(TestOptions(), [&](Request&&, Responder respond) {
    held.set_value(std::move(respond));
  });
  uint16_t port = server->port();
  RawConn idle(port);
  RawConn busy(port);
  ASSERT_TRUE(busy.Send(Get(0, "/slow")));
  Responder responder = held.get_future().get();

  std::thread stopper([&] { server->Stop(); });
  // New connections are refused once the listener is closed.
  EXPECT_TRUE(WaitFor([&] { return !RawConn(port).connected(); }, milliseconds(5000)));
  // Idle keep-alive connections are closed.
  EXPECT_TRUE(idle.WaitClosed(milliseconds(5000)));

  Response r;
  r.body = "finished";
  responder(std::move(r));
  RawResponse got = busy.ReadResponse();
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "finished");
  EXPECT_EQ(got.Header("connection"), "close");
  EXPECT_TRUE(busy.WaitClosed(milliseconds(5000)));
  busy.Close();  // the server lingers until the client closes too
  stopper.join();
  EXPECT_EQ(server->open_connections(), 0u);
  server->Stop();  // idempotent
}

TEST(ServerTest, StopFromHandlerReturnsWithoutJoiningItself) {
  std::atomic<Server*> self{nullptr};
  std::atomic<bool> stopped{false};
  auto server = StartOrDie(TestOptions(), [&](Request&&, Responder respond) {
    respond(Response{});
    self.load()->Stop();
    stopped = true;
  });
  self = server.get();
  RawConn conn(server->port());
  ASSERT_TRUE(conn.Send(Get(0)));
  EXPECT_EQ(conn.ReadResponse().status, 200);
  EXPECT_TRUE(WaitFor([&] { return stopped.load(); }, milliseconds(5000)));
  EXPECT_TRUE(conn.WaitClosed(milliseconds(5000)));
  EXPECT_FALSE(RawConn(server->port()).connected());
  server.reset();  // joins the threads from the test thread
}

TEST(ServerTest, StopClosesConnectionsWhoseHandlerNeverAnswers) {
  ServerOptions o = TestOptions();
  o.shutdown_timeout_seconds = 0;
  std::promise<Responder> held;
  auto server = StartOrDie(o, [&](Request&&, Responder respond) { held.set_value(std::move(respond)); });
  RawConn busy(server->port());
  ASSERT_TRUE(busy.Send(Get(0)));
  Responder responder = held.get_future().get();
  server->Stop();
  EXPECT_TRUE(busy.WaitClosed(milliseconds(5000)));
  responder(Response{});  // after Stop: a logged no-op, never a crash
  server.reset();
}

TEST(ServerTest, LateResponderOutlivesServer) {
  std::promise<Responder> held;
  ServerOptions o = TestOptions();
  o.shutdown_timeout_seconds = 0;
  auto server = StartOrDie(o, [&](Request&&, Responder respond) { held.set_value(std::move(respond)); });
  RawConn busy(server->port());
  ASSERT_TRUE(busy.Send(Get(0)));
  std::optional<Responder> responder(held.get_future().get());
  server.reset();
  responder.reset();  // dropped after the server is gone: logged, no crash
}

TEST(ServerTest, DroppedResponderAnswers500) {
  auto server = StartOrDie(TestOptions(), [](Request&&, Responder) {});
  Client client(ClientFor(*server));
  auto r = client.Send("GET", "/");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 500);
  // The connection stays usable.
  auto again = client.Send("GET", "/");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 500);
}

TEST(ServerTest, HandlerExceptionAnswers500) {
  auto server = StartOrDie(TestOptions(), [](Request&&, Responder) -> void {
    throw std::runtime_error("boom");
  });
  Client client(ClientFor(*server));
  auto r = client.Send("GET", "/");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 500);
}

TEST(ServerTest, ResponderCalledTwiceSendsOnlyFirst) {
  auto server = StartOrDie(TestOptions(), [](Request&&, Responder respond) {
    Response first;
    first.body = "first";
    respond(std::move(first));
    Response second;
    second.body = "second";
    respond(std::move(second));
  });
  RawConn conn(server->port());
  ASSERT_TRUE(conn.Send(Get(0)));
  EXPECT_EQ(conn.ReadResponse().body, "first");
  EXPECT_FALSE(conn.ReadMore(milliseconds(100)));
}

TEST(ServerTest, InvalidHandlerResponsesBecome500) {
  auto server = StartOrDie(TestOptions(), [](Request&& req, Responder respond) {
    Response r;
    if (req.path == "/status") r.status = 1000;
    if (req.path == "/huge-header") r.Set("X-Huge", std::string(70000, 'v'));
    if (req.path == "/crlf") r.Set("X-Bad", "a\r\nInjected: yes");
    respond(std::move(r));
  });
  Client client(ClientFor(*server));
  auto status = client.Send("GET", "/status");
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->status, 500);
  auto huge = client.Send("GET", "/huge-header");
  ASSERT_TRUE(huge.ok()) << huge.status().ToString();
  EXPECT_EQ(huge->status, 500);
  auto crlf = client.Send("GET", "/crlf");
  ASSERT_TRUE(crlf.ok()) << crlf.status().ToString();
  EXPECT_EQ(crlf->status, 200);
  for (const auto& [name, value] : crlf->headers) EXPECT_NE(name, "Injected");
}

TEST(ServerTest, Http10ClosesUnlessKeepAliveAsked) {
  auto server = StartOrDie(TestOptions(), Echo);
  RawConn plain(server->port());
  ASSERT_TRUE(plain.Send("GET /old HTTP/1.0\r\n\r\n"));
  RawResponse r = plain.ReadResponse();
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(plain.WaitClosed(milliseconds(5000)));

  RawConn kept(server->port());
  ASSERT_TRUE(kept.Send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_EQ(kept.ReadResponse().Header("connection"), "keep-alive");
  ASSERT_TRUE(kept.Send("GET /again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_EQ(kept.ReadResponse().body, "GET /again \n");
}

TEST(ServerTest, ConnectionCloseFromClientOrHandlerCloses) {
  auto server = StartOrDie(TestOptions(), [](Request&& req, Responder respond) {
    Response r;
    if (req.path == "/bye") r.Set("Connection", "close");
    respond(std::move(r));
  });
  RawConn client_closes(server->port());
  ASSERT_TRUE(client_closes.Send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(client_closes.ReadResponse().Header("connection"), "close");
  EXPECT_TRUE(client_closes.WaitClosed(milliseconds(5000)));

  RawConn handler_closes(server->port());
  ASSERT_TRUE(handler_closes.Send(Get(0, "/bye")));
  EXPECT_EQ(handler_closes.ReadResponse().Header("connection"), "close");
  EXPECT_TRUE(handler_closes.WaitClosed(milliseconds(5000)));
}

TEST(ServerTest, MaxConnectionsClosesExtraConnections) {
  ServerOptions o = TestOptions();
  o.max_connections = 2;
  auto server = StartOrDie(o, Echo);
  RawConn a(server->port());
  RawConn b(server->port());
  ASSERT_TRUE(WaitFor([&] { return server->open_connections() == 2; }, milliseconds(5000)));
  RawConn c(server->port());
  EXPECT_TRUE(c.WaitClosed(milliseconds(5000)));
  ASSERT_TRUE(a.Send(Get(0)));
  EXPECT_EQ(a.ReadResponse().status, 200);
}

TEST(ServerTest, StartFailsWithClearErrors) {
  auto first = StartOrDie(TestOptions(), Echo);
  ServerOptions taken = TestOptions();
  taken.port = first->port();
  auto busy = Server::Start(taken, Echo);
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.status().message().find("127.0.0.1:" + std::to_string(first->port())),
            std::string::npos)
      << busy.status().ToString();

  ServerOptions bad_cert = TestOptions();
  bad_cert.tls_cert_file = "/nonexistent/cert.pem";
  bad_cert.tls_key_file = "/nonexistent/key.pem";
  auto tls = Server::Start(bad_cert, Echo);
  ASSERT_FALSE(tls.ok());
  EXPECT_NE(tls.status().message().find("/nonexistent/cert.pem"), std::string::npos);

  EXPECT_FALSE(Server::Start(TestOptions(), nullptr).ok());
}

TEST(ServerTest, DestructorWithoutStopIsClean) {
  auto server = StartOrDie(TestOptions(), Echo);
  RawConn idle(server->port());
  ASSERT_TRUE(idle.Send(Get(0)));
  EXPECT_EQ(idle.ReadResponse().status, 200);
  server.reset();
  EXPECT_TRUE(idle.WaitClosed(milliseconds(5000)));
}

}  // namespace
}  // namespace muon::http
