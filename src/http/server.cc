// The listener: accept loop, network threads, Stop(), and the public
// Request/Responder helpers. Per-connection logic lives in connection.cc.
#include "http/server.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "base/log.h"
#include "base/strings.h"
#include "http/server_internal.h"

namespace muon::http {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

constexpr auto kForcedCloseWait = std::chrono::seconds(2);
constexpr auto kThreadExitWait = std::chrono::seconds(5);

// The network thread's Core, so Stop() called from a handler does not join itself.
thread_local internal::Core* t_current_core = nullptr;

// Raises the soft open-files limit to the hard limit: every connection is a descriptor.
void RaiseFileLimit(size_t wanted) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < wanted) {
    log::warn("http: open-files limit is {} (hard limit), below max_connections {}; "
              "raise it with `ulimit -Hn` or LimitNOFILE=",
              static_cast<unsigned long long>(rl.rlim_cur), wanted);
  }
}

bool IsResourceExhaustion(const error_code& ec) {
  return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory;
}

void DoAccept(const std::shared_ptr<internal::Core>& core);

void OnAccept(const std::shared_ptr<internal::Core>& core, const error_code& ec,
              asio::ip::tcp::socket socket) {
  if (!core->acceptor->is_open()) return;  // Stop() closed it
  if (ec) {
    if (IsResourceExhaustion(ec)) {
      // Retrying at once would spin: back off until a descriptor frees up.
      log::warn("http: accept failed: {}; pausing accepts for 100 ms", ec.message());
      core->accept_backoff->expires_after(std::chrono::milliseconds(100));
      core->accept_backoff->async_wait([core](const error_code& wait_ec) {
        if (!wait_ec) DoAccept(core);
      });
      return;
    }
    if (ec != asio::error::operation_aborted) log::debug("http: accept failed: {}", ec.message());
    DoAccept(core);
    return;
  }
  if (core->open.load() >= core->options.max_connections) {
    core->metrics.rejected_connections->Add();
    log::warn("http: {} connections open (max_connections); closing a new one",
              core->options.max_connections);
    error_code ignored;
    socket.close(ignored);
  } else {
    internal::StartConnection(core, std::move(socket));
  }
  DoAccept(core);
}

void DoAccept(const std::shared_ptr<internal::Core>& core) {
  core->acceptor->async_accept(asio::make_strand(core->io),
                               [core](const error_code& ec, asio::ip::tcp::socket socket) {
                                 OnAccept(core, ec, std::move(socket));
                               });
}

class ServerImpl final : public Server {
 public:
  explicit ServerImpl(std::shared_ptr<internal::Core> core)
      : core_(std::move(core)), work_(asio::make_work_guard(core_->io)) {}

  ~ServerImpl() override {
    Stop();
    bool joined_all = true;
    for (auto& t : threads_) {
      if (!t.joinable()) continue;
      if (t.get_id() == std::this_thread::get_id()) {
        t.detach();  // destroyed from a handler; the thread holds its own Core reference
        joined_all = false;
      } else {
        t.join();
      }
    }
    if (joined_all) {  // Stop() from a handler could not mark this
      std::lock_guard<std::mutex> lock(core_->mu);
      core_->running = false;
    }
  }

  Status Listen(const asio::ip::tcp::endpoint& endpoint, const std::string& address) {
    auto& acceptor = core_->acceptor.emplace(asio::make_strand(core_->io));
    core_->accept_backoff.emplace(acceptor.get_executor());
    error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::Unavailable("http: cannot listen on " + address + ": " + ec.message());
    port_ = acceptor.local_endpoint(ec).port();
    return Status::Ok();
  }

  void Run() {
    DoAccept(core_);
    int n = std::max(1, core_->options.threads);
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      core_->running_threads = n;
    }
    threads_.reserve(n);
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([core = core_] {
        t_current_core = core.get();
        for (;;) {
          try {
            core->io.run();
            break;
          } catch (const std::exception& e) {
            log::error("http: network thread caught: {}", e.what());
          } catch (...) {
            log::error("http: network thread caught a non-std exception");
          }
        }
        std::lock_guard<std::mutex> lock(core->mu);
        --core->running_threads;
        core->cv.notify_all();
      });
    }
  }

  uint16_t port() const override { return port_; }
  size_t open_connections() const override { return core_->open.load(); }

  void Stop() override {
    std::lock_guard<std::mutex> stop_lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    if (threads_.empty()) {  // Listen() failed: nothing ever ran
      std::lock_guard<std::mutex> lock(core_->mu);
      core_->stopping = true;
      core_->running = false;
      return;
    }

    std::vector<std::shared_ptr<internal::Connection>> live = BeginStopping();
    asio::post(core_->acceptor->get_executor(), [core = core_] {
      error_code ignored;
      core->acceptor->close(ignored);
      core->accept_backoff->cancel();
    });
    for (auto& c : live) c->PostShutdown(/*force=*/false);
    live.clear();

    bool on_network_thread = t_current_core == core_.get();
    if (on_network_thread) {
      // Cannot wait for our own thread: connections drain by themselves, the
      // threads exit when no work is left, the destructor joins or detaches.
      work_.reset();
      return;
    }

    auto grace = std::chrono::seconds(std::max(0, core_->options.shutdown_timeout_seconds));
    std::unique_lock<std::mutex> lock(core_->mu);
    if (!core_->cv.wait_for(lock, grace, [&] { return core_->connections.empty(); })) {
      log::warn("http: {} connections still busy after {}s; closing them",
                core_->connections.size(), grace.count());
      for (auto& [ptr, weak] : core_->connections) {
        if (auto c = weak.lock()) live.push_back(std::move(c));
      }
      lock.unlock();
      for (auto& c : live) c->PostShutdown(/*force=*/true);
      live.clear();
      lock.lock();
      core_->cv.wait_for(lock, kForcedCloseWait, [&] { return core_->connections.empty(); });
    }
    lock.unlock();

    work_.reset();
    lock.lock();
    if (!core_->cv.wait_for(lock, kThreadExitWait, [&] { return core_->running_threads == 0; })) {
      log::error("http: network threads still busy after stop; abandoning their work");
      core_->io.stop();
    }
    lock.unlock();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    lock.lock();
    core_->running = false;
  }

 private:
  std::vector<std::shared_ptr<internal::Connection>> BeginStopping() {
    std::vector<std::shared_ptr<internal::Connection>> live;
    std::lock_guard<std::mutex> lock(core_->mu);
    core_->stopping = true;
    live.reserve(core_->connections.size());
    for (auto& [ptr, weak] : core_->connections) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
    return live;
  }

  const std::shared_ptr<internal::Core> core_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::mutex stop_mu_;
  bool stopped_ = false;  // guarded by stop_mu_
};

}  // namespace

namespace internal {

Metrics Metrics::Create() {
  auto* r = MetricsRegistry::Global();
  Metrics m;
  static constexpr const char* kClasses[] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (int i = 1; i <= 5; ++i) {
    m.requests_by_class[i] = r->GetCounter("http_requests_total", "HTTP responses sent, by status class",
                                           std::string("code=\"") + kClasses[i] + "\"");
  }
  m.duration = r->GetHistogram("http_request_duration_seconds",
                               "Time from a request's header being parsed to its response being written");
  m.open_connections = r->GetGauge("http_open_connections", "Open HTTP(S) connections");
  m.rejected_connections = r->GetCounter("http_rejected_connections_total",
                                         "Connections closed at once because max_connections were open");
  return m;
}

void Metrics::CountResponse(int status) const {
  int c = status / 100;
  if (c >= 1 && c <= 5) requests_by_class[c]->Add();
}

Core::Core(ServerOptions opts, Handler h)
    : options(std::move(opts)),
      handler(std::move(h)),
      metrics(Metrics::Create()),
      io(std::max(1, options.threads)) {}

}  // namespace internal

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return {};
}

bool Request::HasHeader(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (EqualsIgnoreCase(n, name)) return true;
  }
  return false;
}

Responder::~Responder() {
  if (!state_) return;
  log::error("http: handler dropped its Responder without answering; sending 500");
  auto state = std::move(state_);
  Response response;
  response.status = 500;
  response.Set("Content-Type", "text/plain");
  response.body = "internal error: the request was not answered\n";
  state->connection->PostResponse(std::move(response));
}

void Responder::operator()(Response response) {
  if (!state_) {
    log::error("http: Responder called twice or after being moved from; ignored");
    return;
  }
  auto state = std::move(state_);
  state->connection->PostResponse(std::move(response));
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Handler handler) {
  if (!handler) return Status::InvalidArgument("http: Server::Start needs a handler");
  if (options.threads < 1) return Status::InvalidArgument("http: threads must be at least 1");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Status::InvalidArgument(
        "http: TLS needs both tls_cert_file and tls_key_file (PEM); one is empty");
  }
  std::string address = options.host + ":" + std::to_string(options.port);

  error_code ec;
  auto ip = asio::ip::make_address(options.host, ec);
  if (ec) {
    if (options.host == "localhost") {
      ip = asio::ip::address_v4::loopback();
    } else {
      return Status::InvalidArgument("http: cannot listen on " + address +
                                     ": host must be an IP address (" + ec.message() + ")");
    }
  }

  RaiseFileLimit(options.max_connections);
  auto core = std::make_shared<internal::Core>(options, std::move(handler));

  if (!options.tls_cert_file.empty()) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                     ec);
    ctx->use_certificate_chain_file(options.tls_cert_file, ec);
    if (ec) {
      return Status::InvalidArgument("http: cannot load TLS certificate '" + options.tls_cert_file +
                                     "': " + ec.message() + " (expected a PEM certificate chain)");
    }
    ctx->use_private_key_file(options.tls_key_file, asio::ssl::context::pem, ec);
    if (ec) {
      return Status::InvalidArgument("http: cannot load TLS key '" + options.tls_key_file +
                                     "': " + ec.message() + " (expected a PEM private key)");
    }
    core->ssl = std::move(ctx);
  }

  auto server = std::make_unique<ServerImpl>(core);
  MUON_RETURN_IF_ERROR(server->Listen(asio::ip::tcp::endpoint(ip, options.port), address));
  server->Run();
  log::info("http: listening on {}:{}{}", options.host, server->port(), core->ssl ? " (TLS)" : "");
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace muon::http
