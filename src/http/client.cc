// Synchronous on the outside, async on the inside: every operation is started
// on a private io_context and run to completion, so tcp_stream deadlines bound
// each step (Beast's synchronous calls have no timeouts).
#include "http/client.h"

#include <chrono>
#include <limits>
#include <optional>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>

namespace muon::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// Errors that mean "the server closed the idle kept-alive connection".
bool IsStaleConnection(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == asio::ssl::error::stream_truncated;
}

Status ToStatus(const error_code& ec, std::string_view what, std::string_view address) {
  std::string m = std::string("http client: ") + std::string(what) + " " + std::string(address) +
                  ": " + ec.message();
  if (ec == beast::error::timeout) return Status::DeadlineExceeded(std::move(m));
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return Status::InvalidArgument(std::move(m));
  }
  return Status::Unavailable(std::move(m));
}

}  // namespace

struct Client::Impl {
  explicit Impl(ClientOptions o)
      : options(std::move(o)), address(options.host + ":" + std::to_string(options.port)) {}

  ClientOptions options;
  std::string address;
  asio::io_context io;
  std::optional<asio::ssl::context> ssl;
  std::optional<beast::tcp_stream> plain;
  std::optional<TlsStream> tls;
  beast::flat_buffer buffer;

  std::chrono::seconds timeout() const { return std::chrono::seconds(options.timeout_seconds); }

  beast::tcp_stream& Tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  bool connected() const { return plain.has_value() || tls.has_value(); }

  // Runs the io_context until the operation started by `start` completes.
  template <class Start>
  error_code Run(Start&& start) {
    error_code result;
    start([&result](const error_code& ec, auto&&...) { result = ec; });
    io.restart();
    io.run();
    return result;
  }

  void Close() {
    error_code ignored;
    if (connected()) {
      Tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
      Tcp().close();
    }
    tls.reset();
    plain.reset();
    buffer.clear();
  }

  Status Connect() {
    Close();
    asio::ip::tcp::resolver resolver(io);
    error_code ec;
    auto endpoints = resolver.resolve(options.host, std::to_string(options.port), ec);
    if (ec) return ToStatus(ec, "cannot resolve", address);
    beast::tcp_stream stream(io);
    stream.expires_after(timeout());
    ec = Run([&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
    if (ec) return ToStatus(ec, "cannot connect to", address);
    stream.socket().set_option(asio::ip::tcp::no_delay(true), ec);
    if (!options.tls) {
      stream.expires_never();
      plain.emplace(std::move(stream));
      return Status::Ok();
    }
    if (!ssl) {
      ssl.emplace(asio::ssl::context::tls_client);
      if (options.verify_peer) {
        ssl->set_default_verify_paths(ec);
        ssl->set_verify_mode(asio::ssl::verify_peer);
      } else {
        ssl->set_verify_mode(asio::ssl::verify_none);
      }
    }
    tls.emplace(std::move(stream), *ssl);
    if (!SSL_set_tlsext_host_name(tls->native_handle(), options.host.c_str())) {
      tls.reset();
      return Status::Unavailable("http client: cannot set TLS server name for " + address);
    }
    if (options.verify_peer) {
      tls->set_verify_callback(asio::ssl::host_name_verification(options.host));
    }
    Tcp().expires_after(timeout());
    ec = Run([&](auto handler) {
      tls->async_handshake(asio::ssl::stream_base::client, std::move(handler));
    });
    if (ec) {
      Close();
      return ToStatus(ec, "TLS handshake failed with", address);
    }
    Tcp().expires_never();
    return Status::Ok();
  }

  // Writes `req` and reads the final response. `*got_bytes` tells whether any
  // response byte arrived (a retry is safe only if none did).
  template <class Stream>
  error_code RoundTrip(Stream& stream, bhttp::request<bhttp::string_body>& req, bool head,
                       Response* out, bool* got_bytes) {
    *got_bytes = false;
    Tcp().expires_after(timeout());
    error_code ec = Run([&](auto handler) { bhttp::async_write(stream, req, std::move(handler)); });
    if (ec) return ec;
    for (;;) {
      bhttp::response_parser<bhttp::string_body> parser;
      parser.header_limit(1 << 20);
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      if (head) parser.skip(true);
      Tcp().expires_after(timeout());
      ec = Run([&](auto handler) { bhttp::async_read(stream, buffer, parser, std::move(handler)); });
      if (ec) {
        *got_bytes = *got_bytes || parser.got_some();
        return ec;
      }
      *got_bytes = true;
      auto& msg = parser.get();
      if (msg.result_int() >= 100 && msg.result_int() < 200) continue;  // e.g. 100 Continue
      out->status = static_cast<int>(msg.result_int());
      out->headers.clear();
      for (const auto& field : msg) {
        out->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      out->body = std::move(msg.body());
      Tcp().expires_never();
      if (!parser.keep_alive()) Close();
      return {};
    }
  }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

void Client::Close() { impl_->Close(); }
bool Client::connected() const { return impl_->connected(); }

Result<Response> Client::Send(std::string_view method, std::string_view target,
                              const std::vector<Header>& headers, std::string_view body) {
  try {
    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    bool has_host = false;
    bool has_length = false;
    for (const auto& [name, value] : headers) {
      if (beast::iequals(name, "Host")) has_host = true;
      if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding")) {
        has_length = true;
      }
      req.insert(name, value);
    }
    if (!has_host) req.set(bhttp::field::host, impl_->address);
    req.body() = std::string(body);
    if (!has_length) req.prepare_payload();
    bool head = req.method() == bhttp::verb::head;

    for (int attempt = 0;; ++attempt) {
      bool reused = impl_->connected();
      if (!reused) MUON_RETURN_IF_ERROR(impl_->Connect());
      Response response;
      bool got_bytes = false;
      error_code ec = impl_->tls ? impl_->RoundTrip(*impl_->tls, req, head, &response, &got_bytes)
                                 : impl_->RoundTrip(*impl_->plain, req, head, &response, &got_bytes);
      if (!ec) return response;
      impl_->Close();
      if (attempt == 0 && reused && !got_bytes && IsStaleConnection(ec)) continue;
      return ToStatus(ec, "request to", impl_->address);
    }
  } catch (const std::exception& e) {  // Beast throws on e.g. an invalid method token
    impl_->Close();
    return Status::InvalidArgument(std::string("http client: ") + e.what());
  }
}

}  // namespace muon::http
