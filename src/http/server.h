// http: the one HTTP/1.1 listener every API is served on (Boost.Beast/Asio).
//
// The server parses requests, enforces size limits and timeouts, and hands
// each complete request to one Handler. The handler answers through a
// Responder, from any thread, now or later (e.g. after a group commit), so
// slow storage never holds a network thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace muon::http {

using Header = std::pair<std::string, std::string>;

struct Request {
  std::string method;   // "GET", "PUT", ...
  std::string target;   // as received: raw path plus "?query", still percent-encoded
  std::string path;     // target up to '?', still percent-encoded
  std::string query;    // after '?', still percent-encoded ("" if none)
  // Header fields in the order received; names as sent (compare case-insensitively).
  // Repeated fields appear repeatedly.
  std::vector<http::Header> headers;
  std::string body;
  std::string remote_ip;
  bool secure = false;  // arrived over TLS

  // First value of the named header (case-insensitive), or empty view.
  std::string_view Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

// A response body read piece by piece while it is sent, so a large body (an
// object on disk) never sits whole in memory. Read is called on the
// connection's network thread, with ascending offsets, until size() bytes
// have been sent; a failed or short read closes the connection mid-body (the
// client sees fewer bytes than Content-Length announced, never wrong ones).
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  virtual uint64_t size() const = 0;
  // Up to n bytes at offset into scratch; the view points into scratch.
  virtual Result<std::string_view> Read(uint64_t offset, size_t n, char* scratch) = 0;
};

struct Response {
  int status = 200;
  std::vector<http::Header> headers;
  std::string body;
  // When set, the body is this stream and `body` must be empty.
  std::shared_ptr<BodyStream> stream;

  Response& Set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// Completes one request. Call exactly once, from any thread. Dropping a
// Responder without calling it answers 500 (a bug, logged).
class Responder {
 public:
  struct State;
  explicit Responder(std::shared_ptr<State> state) : state_(std::move(state)) {}
  Responder(Responder&&) noexcept = default;
  Responder& operator=(Responder&&) noexcept = default;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  void operator()(Response response);

 private:
  std::shared_ptr<State> state_;
};

using Handler = std::function<void(Request&& request, Responder respond)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 4566;  // 0 picks a free port (see Server::port)
  int threads = 2;       // network threads
  size_t max_header_bytes = 64 * 1024;          // larger: 431
  size_t max_body_bytes = 64ull * 1024 * 1024;  // larger: 413
  int idle_timeout_seconds = 60;     // keep-alive connection with no request
  int request_timeout_seconds = 60;  // a started request must arrive within this
  size_t max_connections = 20000;    // beyond: new connections are closed at once
  // Stop() waits this long for requests in progress, then closes their connections.
  int shutdown_timeout_seconds = 30;
  // TLS when both are set (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;
};

class Server {
 public:
  virtual ~Server() = default;

  // Binds, listens and starts the network threads. Errors name the address.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Handler handler);

  virtual uint16_t port() const = 0;
  // Stops accepting, lets in-flight requests finish (their responses are
  // sent), closes idle connections, then joins the threads. Idempotent.
  // Requests still unanswered after shutdown_timeout_seconds have their
  // connections closed; a Responder called after Stop() returned is a no-op.
  // Safe from any thread, e.g. one that sigwait()s for SIGTERM (not from inside
  // a signal handler). From a handler it returns without joining.
  // The destructor calls Stop().
  virtual void Stop() = 0;
  virtual size_t open_connections() const = 0;
};

}  // namespace muon::http
