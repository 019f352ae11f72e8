// http::Client: a small synchronous HTTP/1.1 client over one kept-alive
// connection, for the detector simulator, tools and tests. Not a general
// purpose client: no redirects, no proxies, no connection pool.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "http/server.h"

namespace muon::http {

struct ClientOptions {
  std::string host = "127.0.0.1";  // name or address; also the default Host header
  uint16_t port = 4566;
  bool tls = false;
  // Verify the server's certificate against the system trust store and the
  // host name. Off is for tests with self-signed certificates only.
  bool verify_peer = true;
  int timeout_seconds = 30;  // per connect, handshake, write and read
};

// One connection, opened on first Send and kept alive between Sends.
// Not thread-safe: use one Client per thread.
class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and reads its response (interim 1xx responses are
  // skipped). Adds Host and Content-Length unless given. If a reused
  // kept-alive connection turns out closed before any response byte arrives,
  // reconnects and sends once more. Errors: kUnavailable (connect, TLS, or
  // connection lost), kDeadlineExceeded (timeout), kInvalidArgument (bad
  // response).
  Result<Response> Send(std::string_view method, std::string_view target,
                        const std::vector<Header>& headers = {}, std::string_view body = {});

  // Closes the connection; the next Send opens a new one.
  void Close();
  bool connected() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace muon::http
