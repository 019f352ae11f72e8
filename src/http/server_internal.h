// Private to src/http: state shared by the server, its connections and the
// Responders it hands out. Includes Asio, so never include it from a public header.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/metrics.h"
#include "http/server.h"

namespace muon::http::internal {

class Connection;

struct Metrics {
  Counter* requests_by_class[6] = {};  // index = status / 100 (0 unused)
  Histogram* duration = nullptr;       // header parsed -> response written
  Gauge* open_connections = nullptr;
  Counter* rejected_connections = nullptr;

  static Metrics Create();
  void CountResponse(int status) const;
};

// Shared by the server, every connection and every outstanding Responder.
// Connections hold it, so the io_context outlives every socket and strand that
// refers to it, whatever order the server and late Responders are destroyed in.
struct Core {
  Core(ServerOptions opts, Handler h);

  const ServerOptions options;
  const Handler handler;
  const Metrics metrics;
  boost::asio::io_context io;
  std::unique_ptr<boost::asio::ssl::context> ssl;  // null: plain TCP
  std::optional<boost::asio::ip::tcp::acceptor> acceptor;  // runs on its own strand
  std::optional<boost::asio::steady_timer> accept_backoff;  // same strand as acceptor

  std::atomic<size_t> open{0};  // connections whose socket is not yet closed

  std::mutex mu;
  std::condition_variable cv;  // notified when a connection closes or a thread exits
  // Guarded by mu. Once stopping, no connection is registered any more.
  bool stopping = false;
  // Guarded by mu. False once the network threads are gone: nothing may be
  // posted to `io` after that (it would never run and would keep Core alive).
  bool running = true;
  int running_threads = 0;  // guarded by mu
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;  // guarded by mu
};

// One accepted TCP connection (plain or TLS). All its state lives on its strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Thread-safe. Delivers the handler's response on the connection's strand;
  // dropped (logged) if the server's threads are already gone.
  void PostResponse(Response response);
  // Thread-safe. Graceful: idle connections close now, a request in progress
  // finishes and its response says "Connection: close". Forced: close now.
  void PostShutdown(bool force);

 protected:
  virtual boost::asio::any_io_executor executor() = 0;
  virtual void DeliverResponse(Response response) = 0;  // on strand
  virtual void Shutdown(bool force) = 0;                 // on strand

  const std::shared_ptr<Core> core_;
};

// Registers the accepted socket and starts serving it (TLS if core->ssl).
// Called on the acceptor's strand.
void StartConnection(const std::shared_ptr<Core>& core, boost::asio::ip::tcp::socket socket);

}  // namespace muon::http::internal

namespace muon::http {

struct Responder::State {
  std::shared_ptr<internal::Connection> connection;
};

}  // namespace muon::http
