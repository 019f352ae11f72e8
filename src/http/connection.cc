// One HTTP/1.1 connection: a state machine on the connection's strand.
//
//   [kHandshake] -> kIdle -> kReading -> kHandling -> kWriting -> kIdle ...
//                                     \-> error reply -> kClosing -> kClosed
//
// Invariants:
// - Every member is touched only on the strand (the socket was accepted with a
//   strand executor; the timer and all posts use the same executor).
// - At most one request is in progress; bytes a client pipelined stay in
//   buffer_ and are parsed only after the previous response has been written.
// - deadline_ is the one deadline of the current phase (handshake, idle,
//   request, response write, closing linger); none while the handler runs.
//   timer_ is lazy: moving deadline_ later (the common case: every request
//   pushes it forward) touches no timer; when the timer fires early it re-arms
//   for deadline_. It is re-armed at once only if deadline_ moves earlier.
//   Each arming bumps timer_gen_, so a cancelled wait is ignored.
// - open_ counts once: Close() unregisters and decrements exactly once.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffer_traits.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "base/log.h"
#include "http/server_internal.h"

namespace muon::http::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 4096;
constexpr auto kErrorWriteTimeout = std::chrono::seconds(5);
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr size_t kMaxLingerBytes = 1 << 20;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// Extra body capacity reserved past Content-Length (see ReadBody).
constexpr size_t kBodySlack = 64;

enum class Phase { kNew, kHandshake, kIdle, kReading, kHandling, kWriting, kClosing, kClosed };

// A request body read into a std::string by appending. Beast's string_body
// resizes (zero-filling) and then copies; appending into the capacity that
// ReadBody reserves copies once and fills nothing: bodies of PutRecords
// batches and object uploads are hundreds of KiB to MiB.
struct AppendStringBody {
  using value_type = std::string;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(bhttp::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>& length, error_code& ec) {
      if (length && *length > body_.max_size()) {
        ec = bhttp::error::buffer_overflow;
        return;
      }
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      const std::size_t extra = beast::buffer_bytes(buffers);
      if (extra > body_.max_size() - body_.size()) {
        ec = bhttp::error::buffer_overflow;
        return 0;
      }
      for (auto b : beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<const char*>(b.data()), b.size());
      }
      ec = {};
      return extra;
    }

    void finish(error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

bool IsHttpParseError(const error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

// "Sun, 06 Nov 1994 08:49:37 GMT", formatted at most once a second per thread.
const std::string& HttpDate() {
  thread_local std::time_t cached_at = 0;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    size_t n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached.assign(buf, n);
    cached_at = now;
  }
  return cached;
}

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

template <class Stream>
class Session final : public Connection {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(std::shared_ptr<Core> core, asio::ip::tcp::socket socket, std::string remote_ip)
      : Connection(core),
        stream_(MakeStream(*core, std::move(socket))),
        timer_(stream_.get_executor()),
        remote_ip_(std::move(remote_ip)) {}

  ~Session() override {
    if (registered_) Unregister();  // a late Responder kept us past server stop
  }

  // Called under core->mu, before the connection is published in
  // core->connections, so every later strand handler sees it.
  void MarkRegistered() { registered_ = true; }

  // Called once, after registration; hops onto the strand.
  void Begin() {
    asio::dispatch(stream_.get_executor(), [self = Self()] { self->DoBegin(); });
  }

 protected:
  asio::any_io_executor executor() override { return stream_.get_executor(); }

  void Shutdown(bool force) override {
    stopping_ = true;
    if (force) {
      Close();
      return;
    }
    switch (phase_) {
      case Phase::kHandshake:
      case Phase::kIdle:
        Close();
        break;
      default:
        break;  // kNew: DoBegin sees stopping_; others finish their request first
    }
  }

  void DeliverResponse(Response response) override {
    if (phase_ != Phase::kHandling) {
      // The connection was force-closed (server stop) while the handler ran.
      log::debug("http: response for closed connection from {} dropped", remote_ip_);
      return;
    }
    if (response.status < 100 || response.status > 599) {
      log::error("http: handler answered status {}; sending 500", response.status);
      response = InternalError("internal error: invalid status\n");
    }
    try {
      BuildResponse(std::move(response));
    } catch (const std::exception& e) {  // Beast rejects e.g. header values over 64 KiB
      log::error("http: cannot build response: {}; sending 500", e.what());
      BuildResponse(InternalError("internal error: invalid response\n"));
    }
    Write();
  }

 private:
  static Stream MakeStream(Core& core, asio::ip::tcp::socket socket) {
    if constexpr (kTls) {
      return Stream(beast::tcp_stream(std::move(socket)), *core.ssl);
    } else {
      return Stream(std::move(socket));
    }
  }

  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  void SetDeadline(Clock::duration timeout) {
    deadline_ = Clock::now() + timeout;
    if (!timer_pending_ || timer_.expiry() > deadline_) ArmTimer();
  }

  void ClearDeadline() { deadline_ = Clock::time_point::max(); }

  void ArmTimer() {
    uint64_t gen = ++timer_gen_;
    timer_pending_ = true;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = Self(), gen](const error_code& ec) {
      if (ec || gen != self->timer_gen_) return;
      self->timer_pending_ = false;
      if (self->deadline_ == Clock::time_point::max()) return;
      if (Clock::now() < self->deadline_) {
        self->ArmTimer();
      } else {
        self->OnDeadline();
      }
    });
  }

  void CancelTimer() {
    ClearDeadline();
    ++timer_gen_;
    timer_pending_ = false;
    timer_.cancel();
  }

  void OnDeadline() {
    switch (phase_) {
      case Phase::kHandshake:
      case Phase::kIdle:
      case Phase::kWriting:  // the client does not read its response
      case Phase::kClosing:
        Close();
        break;
      case Phase::kReading:
        // Abort the pending read; its handler answers 408.
        timed_out_ = true;
        Tcp().cancel();
        break;
      default:
        break;
    }
  }

  void DoBegin() {
    if (stopping_) {
      Close();
      return;
    }
    if constexpr (kTls) {
      phase_ = Phase::kHandshake;
      SetDeadline(std::chrono::seconds(core_->options.request_timeout_seconds));
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = Self()](const error_code& ec) { self->OnHandshake(ec); });
    } else {
      ReadNext();
    }
  }

  void OnHandshake(const error_code& ec) {
    if (phase_ != Phase::kHandshake) return;  // closed meanwhile
    ClearDeadline();
    if (ec) {
      log::debug("http: TLS handshake with {} failed: {}", remote_ip_, ec.message());
      Close();
      return;
    }
    ReadNext();
  }

  void ReadNext() {
    if (stopping_) {
      // Nothing unread: close like an idle connection. Pipelined bytes: linger
      // so the close does not become a reset that eats the last response.
      if (buffer_.size() == 0) {
        Close();
      } else {
        GracefulClose();
      }
      return;
    }
    parser_.emplace();
    const auto& o = core_->options;
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(o.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<uint64_t>(o.max_body_bytes));
    if (buffer_.size() > 0) {  // pipelined bytes already here
      StartRequest();
      return;
    }
    phase_ = Phase::kIdle;
    SetDeadline(std::chrono::seconds(o.idle_timeout_seconds));
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = Self()](const error_code& ec, size_t n) { self->OnIdleRead(ec, n); });
  }

  void OnIdleRead(const error_code& ec, size_t n) {
    if (phase_ != Phase::kIdle) return;
    if (ec) {  // peer closed, idle timeout or server stop
      Close();
      return;
    }
    buffer_.commit(n);
    StartRequest();
  }

  void StartRequest() {
    phase_ = Phase::kReading;
    timed_out_ = false;
    SetDeadline(std::chrono::seconds(core_->options.request_timeout_seconds));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = Self()](const error_code& ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(const error_code& ec) {
    if (phase_ != Phase::kReading) return;
    if (ec) {
      OnReadError(ec);
      return;
    }
    if (!parser_->is_done() &&
        beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = Self()](const error_code& ec, size_t) {
                          if (self->phase_ != Phase::kReading) return;
                          if (ec) {
                            self->OnReadError(ec);
                            return;
                          }
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) {
      Dispatch();
      return;
    }
    // Room past the end for parsers that read ahead (simdjson needs 64 bytes),
    // so handlers never copy a large body to pad it. Beast's reserve at body
    // start does not shrink this.
    if (auto len = parser_->content_length(); len && *len <= core_->options.max_body_bytes) {
      parser_->get().body().reserve(static_cast<size_t>(*len) + kBodySlack);
    }
    bhttp::async_read(stream_, buffer_, *parser_, [self = Self()](const error_code& ec, size_t) {
      if (self->phase_ != Phase::kReading) return;
      if (ec) {
        self->OnReadError(ec);
        return;
      }
      self->Dispatch();
    });
  }

  void OnReadError(const error_code& ec) {
    if (timed_out_) {
      log::info("http: request from {} not complete within {}s; closing", remote_ip_,
                core_->options.request_timeout_seconds);
      WriteErrorAndClose(408, "request timeout");
    } else if (ec == bhttp::error::header_limit) {
      log::warn("http: request header from {} exceeds {} bytes", remote_ip_,
                core_->options.max_header_bytes);
      WriteErrorAndClose(431, "request header fields too large");
    } else if (ec == bhttp::error::body_limit) {
      log::warn("http: request body from {} exceeds {} bytes", remote_ip_,
                core_->options.max_body_bytes);
      WriteErrorAndClose(413, "payload too large");
    } else if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
      Close();  // client went away mid-request
    } else if (IsHttpParseError(ec)) {
      log::warn("http: malformed request from {}: {}", remote_ip_, ec.message());
      WriteErrorAndClose(400, "malformed request: " + ec.message());
    } else {
      log::debug("http: read from {} failed: {}", remote_ip_, ec.message());
      Close();
    }
  }

  void Dispatch() {
    ClearDeadline();
    phase_ = Phase::kHandling;
    auto& msg = parser_->get();
    version_ = msg.version();
    keep_alive_ = parser_->keep_alive() && !stopping_;
    head_ = msg.method() == bhttp::verb::head;
    started_ = Clock::now();

    Request request;
    request.method = std::string(msg.method_string());
    request.target = std::string(msg.target());
    size_t q = request.target.find('?');
    request.path = request.target.substr(0, q);
    if (q != std::string::npos) request.query = request.target.substr(q + 1);
    request.headers.reserve(16);
    for (const auto& field : msg) {
      request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(msg.body());
    request.remote_ip = remote_ip_;
    request.secure = kTls;
    parser_.reset();

    auto state = std::make_shared<Responder::State>();
    state->connection = shared_from_this();
    try {
      core_->handler(std::move(request), Responder(std::move(state)));
    } catch (const std::exception& e) {
      // The Responder was destroyed during unwinding (answers 500) unless the
      // handler had already handed it on.
      log::error("http: handler threw: {}", e.what());
    } catch (...) {
      log::error("http: handler threw a non-std exception");
    }
  }

  static Response InternalError(std::string text) {
    Response r;
    r.status = 500;
    r.body = std::move(text);
    return r;
  }

  void BuildResponse(Response response) {
    res_ = {};
    res_.version(version_);
    res_.result(static_cast<unsigned>(response.status));
    bool keep_alive = keep_alive_;
    std::string_view head_length;
    for (auto& [name, value] : response.headers) {
      if (name.empty() || HasCrLf(name) || HasCrLf(value)) {
        log::error("http: handler header '{}' has CR/LF or no name; dropped", name);
        continue;
      }
      if (beast::iequals(name, "Content-Length")) {
        if (head_) head_length = value;
        continue;
      }
      if (beast::iequals(name, "Transfer-Encoding")) continue;
      if (beast::iequals(name, "Connection")) {
        if (beast::iequals(value, "close")) keep_alive = false;
        continue;
      }
      res_.insert(name, value);
    }
    if (res_.find(bhttp::field::date) == res_.end()) res_.set(bhttp::field::date, HttpDate());
    int status = response.status;
    bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
    if (head_) {
      // HEAD: announce the GET's length, send no body.
      if (!head_length.empty()) {
        res_.set(bhttp::field::content_length, head_length);
      } else if (!no_body) {
        res_.content_length(response.body.size());
      }
    } else if (!no_body && response.stream) {
      res_.content_length(response.stream->size());
      body_stream_ = std::move(response.stream);
      body_sent_ = 0;
    } else if (!no_body) {
      res_.content_length(response.body.size());
      res_.body() = std::move(response.body);
    }
    keep_alive = keep_alive && !stopping_;
    res_.keep_alive(keep_alive);
    keep_alive_ = keep_alive;
    status_ = status;
  }

  void Write() {
    phase_ = Phase::kWriting;
    SetDeadline(std::chrono::seconds(core_->options.request_timeout_seconds));
    if (body_stream_) {
      // The header now; the body in pieces as the client takes them.
      serializer_.emplace(res_);
      bhttp::async_write_header(stream_, *serializer_, [self = Self()](const error_code& ec, size_t) {
        if (ec) {
          self->OnWritten(ec);
        } else {
          self->WriteBodyPiece();
        }
      });
      return;
    }
    bhttp::async_write(stream_, res_, [self = Self()](const error_code& ec, size_t) {
      self->OnWritten(ec);
    });
  }

  void WriteBodyPiece() {
    if (phase_ != Phase::kWriting) return;
    const uint64_t size = body_stream_->size();
    if (body_sent_ == size) {
      OnWritten({});
      return;
    }
    if (body_scratch_.size() < kBodyPiece) body_scratch_.resize(kBodyPiece);
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kBodyPiece, size - body_sent_));
    auto piece = body_stream_->Read(body_sent_, n, body_scratch_.data());
    if (!piece.ok() || piece->empty()) {
      log::error("http: response body for {} failed after {} of {} bytes: {}", remote_ip_,
                 body_sent_, size, piece.ok() ? "short read" : piece.status().ToString());
      Close();  // the client sees a short body, never a wrong one
      return;
    }
    SetDeadline(std::chrono::seconds(core_->options.request_timeout_seconds));
    asio::async_write(stream_, asio::buffer(piece->data(), piece->size()),
                      [self = Self()](const error_code& ec, size_t written) {
                        if (ec) {
                          self->OnWritten(ec);
                          return;
                        }
                        self->body_sent_ += written;
                        self->WriteBodyPiece();
                      });
  }

  void OnWritten(const error_code& ec) {
    if (phase_ != Phase::kWriting) return;
    ClearDeadline();
    core_->metrics.CountResponse(status_);
    core_->metrics.duration->Observe(std::chrono::duration<double>(Clock::now() - started_).count());
    ReleaseBody();
    if (ec) {
      log::debug("http: write to {} failed: {}", remote_ip_, ec.message());
      Close();
    } else if (!keep_alive_) {
      GracefulClose();
    } else {
      ReadNext();
    }
  }

  // Answers a request that cannot be served and closes: the connection's
  // framing can no longer be trusted.
  void WriteErrorAndClose(int status, std::string text) {
    bool have_header = parser_ && parser_->is_header_done();
    res_ = {};
    res_.version(have_header ? parser_->get().version() : 11);
    res_.result(static_cast<unsigned>(status));
    res_.set(bhttp::field::content_type, "text/plain");
    res_.set(bhttp::field::date, HttpDate());
    res_.keep_alive(false);
    res_.body() = std::move(text) + "\n";
    res_.prepare_payload();
    parser_.reset();
    keep_alive_ = false;
    status_ = status;
    started_ = Clock::now();
    phase_ = Phase::kWriting;
    SetDeadline(kErrorWriteTimeout);
    bhttp::async_write(stream_, res_, [self = Self()](const error_code& ec, size_t) {
      self->OnWritten(ec);
    });
  }

  // Half-closes and reads until the client closes too (bounded in time and
  // bytes), so unread request bytes do not turn our close into a reset that
  // destroys the response before the client reads it.
  void GracefulClose() {
    phase_ = Phase::kClosing;
    SetDeadline(kLingerTimeout);
    if constexpr (kTls) {
      stream_.async_shutdown([self = Self()](const error_code&) { self->Close(); });
    } else {
      error_code ignored;
      Tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      Drain();
    }
  }

  void Drain() {
    buffer_.clear();
    Tcp().async_read_some(buffer_.prepare(kReadChunk), [self = Self()](const error_code& ec, size_t n) {
      if (self->phase_ != Phase::kClosing) return;
      self->drained_ += n;
      if (ec || self->drained_ > kMaxLingerBytes) {
        self->Close();
        return;
      }
      self->Drain();
    });
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    CancelTimer();
    error_code ignored;
    Tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    Tcp().close();
    parser_.reset();
    buffer_ = {};
    ReleaseBody();
    if (registered_) Unregister();
  }

  void ReleaseBody() {
    serializer_.reset();  // refers to res_
    res_ = {};
    body_stream_.reset();
    body_scratch_ = {};
    body_sent_ = 0;
  }

  void Unregister() {
    registered_ = false;
    {
      std::lock_guard<std::mutex> lock(core_->mu);
      core_->connections.erase(this);
    }
    core_->open.fetch_sub(1);
    core_->metrics.open_connections->Add(-1);
    core_->cv.notify_all();
  }

  Stream stream_;
  asio::steady_timer timer_;
  const std::string remote_ip_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<AppendStringBody>> parser_;
  bhttp::response<bhttp::string_body> res_;
  // A streamed body (Response::stream): the header goes through serializer_,
  // the body in pieces of kBodyPiece through body_scratch_.
  static constexpr size_t kBodyPiece = 256 << 10;
  std::optional<bhttp::response_serializer<bhttp::string_body>> serializer_;
  std::shared_ptr<BodyStream> body_stream_;
  std::string body_scratch_;
  uint64_t body_sent_ = 0;
  Phase phase_ = Phase::kNew;
  Clock::time_point deadline_ = Clock::time_point::max();
  uint64_t timer_gen_ = 0;
  bool timer_pending_ = false;
  bool timed_out_ = false;
  bool stopping_ = false;
  size_t drained_ = 0;
  bool registered_ = false;  // counted in core_->open and listed in core_->connections
  // The request being answered.
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  int status_ = 0;
  Clock::time_point started_;
};

}  // namespace

void Connection::PostResponse(Response response) {
  std::lock_guard<std::mutex> lock(core_->mu);
  if (!core_->running) {
    log::warn("http: response (status {}) after server stop; dropped", response.status);
    return;
  }
  asio::post(executor(), [self = shared_from_this(), r = std::move(response)]() mutable {
    self->DeliverResponse(std::move(r));
  });
}

void Connection::PostShutdown(bool force) {
  std::lock_guard<std::mutex> lock(core_->mu);
  if (!core_->running) return;
  asio::post(executor(), [self = shared_from_this(), force] { self->Shutdown(force); });
}

void StartConnection(const std::shared_ptr<Core>& core, asio::ip::tcp::socket socket) {
  error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  auto endpoint = socket.remote_endpoint(ec);
  std::string remote_ip = ec ? std::string() : endpoint.address().to_string();

  auto start = [&](auto session) {
    {
      std::lock_guard<std::mutex> lock(core->mu);
      if (core->stopping) return;  // the socket closes with `session`, never counted
      session->MarkRegistered();
      core->connections.emplace(session.get(), session);
      core->open.fetch_add(1);
    }
    core->metrics.open_connections->Add(1);
    session->Begin();
  };
  if (core->ssl) {
    start(std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(core, std::move(socket),
                                                                          std::move(remote_ip)));
  } else {
    start(std::make_shared<Session<beast::tcp_stream>>(core, std::move(socket), std::move(remote_ip)));
  }
}

}  // namespace muon::http::internal
