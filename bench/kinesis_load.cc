// kinesis_load: a load generator for Kinesis-compatible endpoints (muonpipe,
// kinesalite, AWS). Results go to bench/RESULTS.md (STYLE.md rule 11).
//
//   batch:     every connection loops PutRecords (--batch records of --size
//              bytes) back to back; measures sustained throughput.
//   detectors: every connection sends one PutRecord each 1/--rate seconds,
//              first at a random offset within the first period; measures
//              per-request latency (write start to full response).
//
// Request bodies are built and signed before the clock starts, so the client
// spends its CPU on I/O; a request is re-signed when its signature is older
// than kResignAfter (SigV4 allows 15 minutes of skew).
//
// A request counts as accepted when the reply is HTTP 200 and its
// FailedRecordCount is absent or 0; anything else is an error, counted by
// type. Throughput and latency count requests completed inside the
// measurement window [start + warmup, start + duration); acceptance totals
// count every request sent.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include "canonical_record.h"
#include "auth/credentials_file.h"
#include "auth/sigv4.h"
#include "base/base64.h"
#include "base/env.h"

namespace muon::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

constexpr auto kResignAfter = std::chrono::minutes(4);
constexpr auto kRequestTimeout = std::chrono::seconds(30);
constexpr auto kReconnectDelay = std::chrono::milliseconds(200);
// After the window closes, requests in flight get this long to finish.
constexpr auto kDrainTimeout = std::chrono::seconds(35);

enum class Mode { kBatch, kDetectors };

struct Options {
  Mode mode = Mode::kBatch;
  int connections = 8;
  double duration_s = 20;
  double warmup_s = -1;  // <0: 2 s for batch, 0 for detectors
  int batch = 500;
  int size = 1024;
  std::string payload = "random";  // bench/canonical_record.h: json or random
  int shards = 4;
  double rate = 1;
  int bodies = 4;  // distinct pre-built requests per connection (batch)
  int threads = 1;
  std::string endpoint = "http://127.0.0.1:4566";
  std::string host;
  std::string port;
  std::string credentials_file;
  std::string profile = "default";
  std::string region = "ap-southeast-2";
  std::string stream = "bench";
  bool create_stream = false;
  int server_pid = 0;
  bool json = false;
  std::string label;
};

[[noreturn]] void Usage(const std::string& problem) {
  std::fprintf(stderr,
               "kinesis_load: %s\n"
               "usage: kinesis_load --mode batch|detectors --endpoint http://127.0.0.1:PORT\n"
               "         --credentials FILE [--stream NAME] [--create-stream] [--shards K]\n"
               "         [--connections N] [--duration S] [--warmup S] [--batch N] [--size BYTES]\n"
               "         [--payload random|json]\n"
               "         [--rate PER_S] [--bodies N] [--threads 1|2] [--server-pid PID]\n"
               "         [--label TEXT] [--json]\n",
               problem.c_str());
  std::exit(2);
}

Options ParseFlags(int argc, char** argv) {
  Options o;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) Usage(fmt::format("{} needs a value", argv[i]));
    return argv[++i];
  };
  auto number = [&](int& i) -> double {
    std::string flag = argv[i];
    std::string v = value(i);
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0' || d < 0) {
      Usage(fmt::format("{} '{}' is not a non-negative number", flag, v));
    }
    return d;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view f = argv[i];
    if (f == "--mode") {
      std::string m = value(i);
      if (m == "batch") {
        o.mode = Mode::kBatch;
      } else if (m == "detectors") {
        o.mode = Mode::kDetectors;
      } else {
        Usage("--mode must be batch or detectors");
      }
    } else if (f == "--connections") {
      o.connections = static_cast<int>(number(i));
    } else if (f == "--duration") {
      o.duration_s = number(i);
    } else if (f == "--warmup") {
      o.warmup_s = number(i);
    } else if (f == "--batch") {
      o.batch = static_cast<int>(number(i));
    } else if (f == "--size") {
      o.size = static_cast<int>(number(i));
    } else if (f == "--payload") {
      o.payload = value(i);
      if (!IsPayloadName(o.payload)) Usage("--payload must be random or json");
    } else if (f == "--shards") {
      o.shards = static_cast<int>(number(i));
    } else if (f == "--rate") {
      o.rate = number(i);
    } else if (f == "--bodies") {
      o.bodies = static_cast<int>(number(i));
    } else if (f == "--threads") {
      o.threads = static_cast<int>(number(i));
    } else if (f == "--endpoint") {
      o.endpoint = value(i);
    } else if (f == "--credentials") {
      o.credentials_file = value(i);
    } else if (f == "--profile") {
      o.profile = value(i);
    } else if (f == "--region") {
      o.region = value(i);
    } else if (f == "--stream") {
      o.stream = value(i);
    } else if (f == "--create-stream") {
      o.create_stream = true;
    } else if (f == "--server-pid") {
      o.server_pid = static_cast<int>(number(i));
    } else if (f == "--label") {
      o.label = value(i);
    } else if (f == "--json") {
      o.json = true;
    } else if (f == "--help" || f == "-h") {
      Usage("a Kinesis load generator");
    } else {
      Usage(fmt::format("unknown flag '{}'", f));
    }
  }
  if (o.connections < 1 || o.batch < 1 || o.batch > 500 || o.size < 1 || o.shards < 1 ||
      o.rate <= 0 || o.bodies < 1 || o.threads < 1 || o.duration_s <= 0) {
    Usage("--connections, --batch (1..500), --size, --shards, --rate, --bodies, --threads and "
          "--duration must be positive");
  }
  if (o.credentials_file.empty()) {
    Usage("--credentials is required (muonpipe writes DATA_DIR/admin-credentials)");
  }
  if (o.warmup_s < 0) o.warmup_s = o.mode == Mode::kBatch ? 2 : 0;
  if (o.warmup_s >= o.duration_s) Usage("--warmup must be shorter than --duration");
  std::string_view rest = o.endpoint;
  if (!rest.starts_with("http://")) {
    Usage(fmt::format("--endpoint '{}' must be http://HOST:PORT (no TLS)", o.endpoint));
  }
  rest.remove_prefix(7);
  if (rest.ends_with('/')) rest.remove_suffix(1);
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) Usage("--endpoint needs an explicit port");
  o.host = std::string(rest.substr(0, colon));
  o.port = std::string(rest.substr(colon + 1));
  return o;
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A request ready to write: the signed head (request line and headers) and
// the body it signs.
struct SignedRequest {
  std::string operation;
  std::shared_ptr<const std::string> body;
  int records = 0;
  int64_t payload_bytes = 0;
  std::string head;
  SteadyClock::time_point signed_at;
};

struct Signer {
  const Options* options;
  auth::Credentials credentials;
  std::string host_header;

  void Sign(SignedRequest* r) const {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Host", host_header},
        {"Content-Type", "application/x-amz-json-1.1"},
        {"X-Amz-Target", "Kinesis_20131202." + r->operation},
    };
    auth::Sign("POST", "/", "", headers, *r->body, credentials,
               auth::SignOptions{.region = options->region,
                                 .service = "kinesis",
                                 .now_seconds = UnixNow()});
    std::string head = "POST / HTTP/1.1\r\n";
    for (const auto& [name, value] : headers) {
      head.append(name).append(": ").append(value).append("\r\n");
    }
    head.append(fmt::format("Content-Length: {}\r\n\r\n", r->body->size()));
    r->head = std::move(head);
    r->signed_at = SteadyClock::now();
  }
};

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string RandomKey(std::mt19937_64& rng, std::string_view prefix) {
  return fmt::format("{}-{:016x}", prefix, rng());
}

SignedRequest MakePutRecords(const Options& o, std::mt19937_64& rng, int connection, int index) {
  std::string body = "{\"StreamName\":" + JsonString(o.stream) + ",\"Records\":[";
  for (int i = 0; i < o.batch; ++i) {
    if (i > 0) body.push_back(',');
    body.append("{\"Data\":\"");
    Base64EncodeAppend(PayloadRecord(o.payload, rng, static_cast<size_t>(o.size),
                                     static_cast<uint64_t>(index) * o.batch + i),
                       &body);
    body.append("\",\"PartitionKey\":\"");
    body.append(RandomKey(rng, fmt::format("c{}-b{}", connection, index)));
    body.append("\"}");
  }
  body.append("]}");
  SignedRequest r;
  r.operation = "PutRecords";
  r.body = std::make_shared<const std::string>(std::move(body));
  r.records = o.batch;
  r.payload_bytes = static_cast<int64_t>(o.batch) * o.size;
  return r;
}

SignedRequest MakePutRecord(const Options& o, std::mt19937_64& rng, int connection) {
  std::string body = "{\"StreamName\":" + JsonString(o.stream) + ",\"Data\":\"";
  Base64EncodeAppend(PayloadRecord(o.payload, rng, static_cast<size_t>(o.size), 0), &body);
  body.append("\",\"PartitionKey\":\"");
  body.append(fmt::format("detector-{:05d}", connection));
  body.append("\"}");
  SignedRequest r;
  r.operation = "PutRecord";
  r.body = std::make_shared<const std::string>(std::move(body));
  r.records = 1;
  r.payload_bytes = o.size;
  return r;
}

// The integer after "key": in a JSON text, if present.
std::optional<int64_t> FindInt(std::string_view body, std::string_view key) {
  std::string needle = "\"" + std::string(key) + "\"";
  size_t pos = body.find(needle);
  if (pos == std::string_view::npos) return std::nullopt;
  pos += needle.size();
  while (pos < body.size() && (body[pos] == ' ' || body[pos] == ':')) ++pos;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(body.data() + pos, body.data() + body.size(), v);
  if (ec != std::errc()) return std::nullopt;
  return v;
}

// The AWS error name of an error reply: "__type" without its namespace.
std::string ErrorType(std::string_view body) {
  size_t pos = body.find("\"__type\"");
  if (pos == std::string_view::npos) return "";
  pos = body.find('"', pos + 8);
  if (pos == std::string_view::npos) return "";
  size_t end = body.find('"', pos + 1);
  if (end == std::string_view::npos) return "";
  std::string_view type = body.substr(pos + 1, end - pos - 1);
  if (auto hash = type.rfind('#'); hash != std::string_view::npos) type.remove_prefix(hash + 1);
  return std::string(type);
}

// One connection's counters, merged after the run (each connection runs on
// its own strand, so these need no lock).
struct Stats {
  uint64_t requests_sent = 0;
  uint64_t requests_accepted = 0;
  uint64_t records_sent = 0;
  uint64_t records_accepted = 0;
  uint64_t failed_records = 0;
  uint64_t missed_ticks = 0;
  uint64_t window_requests = 0;
  uint64_t window_records = 0;
  uint64_t window_payload_bytes = 0;
  std::vector<uint32_t> window_latency_us;
  std::map<std::string, uint64_t> errors;

  void Merge(const Stats& o) {
    requests_sent += o.requests_sent;
    requests_accepted += o.requests_accepted;
    records_sent += o.records_sent;
    records_accepted += o.records_accepted;
    failed_records += o.failed_records;
    missed_ticks += o.missed_ticks;
    window_requests += o.window_requests;
    window_records += o.window_records;
    window_payload_bytes += o.window_payload_bytes;
    window_latency_us.insert(window_latency_us.end(), o.window_latency_us.begin(),
                             o.window_latency_us.end());
    for (const auto& [k, v] : o.errors) errors[k] += v;
  }
};

struct Run {
  const Options* options;
  const Signer* signer;
  tcp::resolver::results_type endpoints;
  SteadyClock::time_point start;
  SteadyClock::time_point window_start;
  SteadyClock::time_point end;
  std::atomic<uint64_t> progress_records{0};
  std::atomic<int> open_connections{0};
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& ioc, Run* run, int id, std::vector<SignedRequest> requests,
             SteadyClock::time_point first_send)
      : run_(run),
        id_(id),
        stream_(asio::make_strand(ioc)),
        timer_(stream_.get_executor()),
        requests_(std::move(requests)),
        next_send_(first_send) {}

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->WaitForNext(); });
  }

  Stats& stats() { return stats_; }

 private:
  bool Batch() const { return run_->options->mode == Mode::kBatch; }

  void WaitForNext() {
    auto now = SteadyClock::now();
    if (!Batch()) {
      const auto period = std::chrono::duration_cast<SteadyClock::duration>(
          std::chrono::duration<double>(1.0 / run_->options->rate));
      // A reply slower than the period costs the ticks it overran.
      while (next_send_ + period <= now) {
        next_send_ += period;
        ++stats_.missed_ticks;
      }
    }
    auto when = Batch() ? now : next_send_;
    if (when >= run_->end) {
      Close();
      return;
    }
    if (when <= now) {
      Send();
      return;
    }
    timer_.expires_at(when);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->Send();
    });
  }

  void Send() {
    if (!connected_) {
      Connect();
      return;
    }
    SignedRequest& r = requests_[next_request_];
    next_request_ = (next_request_ + 1) % requests_.size();
    if (SteadyClock::now() - r.signed_at > kResignAfter) run_->signer->Sign(&r);
    current_ = &r;
    ++stats_.requests_sent;
    stats_.records_sent += static_cast<uint64_t>(r.records);
    if (!Batch()) {
      next_send_ += std::chrono::duration_cast<SteadyClock::duration>(
          std::chrono::duration<double>(1.0 / run_->options->rate));
    }
    sent_at_ = SteadyClock::now();
    std::array<asio::const_buffer, 2> buffers = {asio::buffer(r.head), asio::buffer(*r.body)};
    stream_.expires_after(kRequestTimeout);
    asio::async_write(stream_, buffers,
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec) {
                          self->Fail("write: " + ec.message());
                          return;
                        }
                        self->Read();
                      });
  }

  void Read() {
    response_.emplace();
    response_->body_limit(64 << 20);
    bhttp::async_read(stream_, buffer_, *response_,
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec) {
                          self->Fail(ec == beast::error::timeout ? "timeout"
                                                                  : "read: " + ec.message());
                          return;
                        }
                        self->OnResponse();
                      });
  }

  void OnResponse() {
    const auto done = SteadyClock::now();
    auto& res = response_->get();
    const std::string& body = res.body();
    const SignedRequest& r = *current_;
    bool accepted = false;
    if (res.result_int() != 200) {
      std::string type = ErrorType(body);
      ++stats_.errors[fmt::format("HTTP {} {}", res.result_int(), type.empty() ? "-" : type)];
    } else if (auto failed = FindInt(body, "FailedRecordCount"); failed && *failed > 0) {
      stats_.failed_records += static_cast<uint64_t>(*failed);
      ++stats_.errors["FailedRecordCount>0"];
      stats_.records_accepted += static_cast<uint64_t>(r.records - *failed);
    } else {
      accepted = true;
      ++stats_.requests_accepted;
      stats_.records_accepted += static_cast<uint64_t>(r.records);
      run_->progress_records.fetch_add(static_cast<uint64_t>(r.records),
                                       std::memory_order_relaxed);
    }
    if (done >= run_->window_start && done < run_->end) {
      stats_.window_latency_us.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(done - sent_at_).count()));
      if (accepted) {
        ++stats_.window_requests;
        stats_.window_records += static_cast<uint64_t>(r.records);
        stats_.window_payload_bytes += static_cast<uint64_t>(r.payload_bytes);
      }
    }
    if (!res.keep_alive()) Disconnect();
    WaitForNext();
  }

  void Connect() {
    stream_.expires_after(kRequestTimeout);
    stream_.async_connect(run_->endpoints, [self = shared_from_this()](
                                               error_code ec, const tcp::endpoint&) {
      if (ec) {
        self->Fail("connect: " + ec.message());
        return;
      }
      self->connected_ = true;
      self->stream_.socket().set_option(tcp::no_delay(true));
      self->Send();
    });
  }

  void Fail(const std::string& what) {
    ++stats_.errors[what];
    Disconnect();
    if (SteadyClock::now() >= run_->end) {
      Close();
      return;
    }
    timer_.expires_after(kReconnectDelay);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->WaitForNext();
    });
  }

  void Disconnect() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.clear();
    connected_ = false;
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    Disconnect();
    run_->open_connections.fetch_sub(1, std::memory_order_relaxed);
  }

  Run* run_;
  int id_;
  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  std::vector<SignedRequest> requests_;
  size_t next_request_ = 0;
  const SignedRequest* current_ = nullptr;
  SteadyClock::time_point next_send_;
  SteadyClock::time_point sent_at_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::string_body>> response_;
  bool connected_ = false;
  bool closed_ = false;
  Stats stats_;
};

// Samples VmRSS of a pid every 100 ms on its own thread; max in KiB.
class RssSampler {
 public:
  explicit RssSampler(int pid) : pid_(pid) {
    if (pid_ > 0) thread_ = std::thread([this] { Loop(); });
  }
  ~RssSampler() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  int64_t max_kib() const { return max_kib_.load(); }
  static int64_t Read(int pid) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    std::string line;
    while (std::getline(in, line)) {
      if (line.starts_with("VmRSS:")) return std::strtoll(line.c_str() + 6, nullptr, 10);
    }
    return -1;
  }

 private:
  void Loop() {
    while (!stop_.load()) {
      int64_t kib = Read(pid_);
      if (kib > max_kib_.load()) max_kib_.store(kib);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  int pid_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> max_kib_{-1};
  std::thread thread_;
};

// A blocking control call (CreateStream, DescribeStreamSummary); returns
// (HTTP status, body), status 0 on a transport error.
std::pair<int, std::string> ControlCall(const Options& o, const Signer& signer,
                                        const std::string& operation, const std::string& body) {
  try {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    tcp::resolver resolver(ioc);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(resolver.resolve(o.host, o.port));
    SignedRequest r;
    r.operation = operation;
    r.body = std::make_shared<const std::string>(body);
    signer.Sign(&r);
    asio::write(stream.socket(), std::array<asio::const_buffer, 2>{asio::buffer(r.head),
                                                                   asio::buffer(*r.body)});
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    return {res.result_int(), res.body()};
  } catch (const std::exception& e) {
    return {0, e.what()};
  }
}

bool CreateStream(const Options& o, const Signer& signer) {
  auto [status, body] =
      ControlCall(o, signer, "CreateStream",
                  fmt::format("{{\"StreamName\":{},\"ShardCount\":{}}}", JsonString(o.stream),
                              o.shards));
  if (status != 200 && ErrorType(body) != "ResourceInUseException") {
    std::fprintf(stderr, "kinesis_load: CreateStream %s at %s failed (HTTP %d): %s\n",
                 o.stream.c_str(), o.endpoint.c_str(), status, body.substr(0, 300).c_str());
    return false;
  }
  auto deadline = SteadyClock::now() + std::chrono::seconds(30);
  while (SteadyClock::now() < deadline) {
    auto [s, b] = ControlCall(o, signer, "DescribeStreamSummary",
                              fmt::format("{{\"StreamName\":{}}}", JsonString(o.stream)));
    if (s == 200 && b.find("\"ACTIVE\"") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::fprintf(stderr, "kinesis_load: stream %s did not become ACTIVE within 30 s at %s\n",
               o.stream.c_str(), o.endpoint.c_str());
  return false;
}

void RaiseFileLimit(int needed) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < static_cast<rlim_t>(needed)) {
    std::fprintf(stderr,
                 "kinesis_load: warning: open-file limit %llu is below the %d needed; raise the "
                 "hard limit (ulimit -Hn) or use fewer --connections\n",
                 static_cast<unsigned long long>(limit.rlim_cur), needed);
  }
}

double Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)] / 1000.0;
}

int Main(int argc, char** argv) {
  Options o = ParseFlags(argc, argv);
  RaiseFileLimit(o.connections + 64);

  auto creds = auth::ReadCredentialsFile(Env::Posix(), o.credentials_file, o.profile);
  if (!creds.ok()) {
    std::fprintf(stderr, "kinesis_load: %s\n", creds.status().message().c_str());
    return 2;
  }
  Signer signer{&o, *creds, o.host + ":" + o.port};

  if (o.create_stream && !CreateStream(o, signer)) return 1;

  asio::io_context ioc;
  Run run;
  run.options = &o;
  run.signer = &signer;
  try {
    run.endpoints = tcp::resolver(ioc).resolve(o.host, o.port);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kinesis_load: cannot resolve %s: %s\n", o.endpoint.c_str(), e.what());
    return 2;
  }

  std::fprintf(stderr, "kinesis_load: preparing %d connections (%s)...\n", o.connections,
               o.mode == Mode::kBatch ? "batch" : "detectors");
  std::mt19937_64 rng(12345);
  std::vector<std::vector<SignedRequest>> prepared(static_cast<size_t>(o.connections));
  for (int c = 0; c < o.connections; ++c) {
    if (o.mode == Mode::kBatch) {
      for (int b = 0; b < o.bodies; ++b) prepared[c].push_back(MakePutRecords(o, rng, c, b));
    } else {
      prepared[c].push_back(MakePutRecord(o, rng, c));
    }
    for (SignedRequest& r : prepared[c]) signer.Sign(&r);
  }

  RssSampler rss(o.server_pid);
  run.start = SteadyClock::now();
  run.window_start = run.start + std::chrono::duration_cast<SteadyClock::duration>(
                                     std::chrono::duration<double>(o.warmup_s));
  run.end = run.start + std::chrono::duration_cast<SteadyClock::duration>(
                            std::chrono::duration<double>(o.duration_s));
  std::uniform_int_distribution<int64_t> jitter_us(0, static_cast<int64_t>(1e6 / o.rate) - 1);
  std::vector<std::shared_ptr<Connection>> connections;
  connections.reserve(static_cast<size_t>(o.connections));
  run.open_connections.store(o.connections);
  for (int c = 0; c < o.connections; ++c) {
    auto first = o.mode == Mode::kBatch
                     ? run.start
                     : run.start + std::chrono::microseconds(jitter_us(rng));
    connections.push_back(std::make_shared<Connection>(ioc, &run, c, std::move(prepared[c]), first));
    connections.back()->Start();
  }

  asio::steady_timer progress(ioc);
  uint64_t last_records = 0;
  auto last_at = run.start;
  std::function<void()> tick = [&] {
    progress.expires_after(std::chrono::seconds(5));
    progress.async_wait([&](error_code ec) {
      if (ec) return;
      auto now = SteadyClock::now();
      uint64_t records = run.progress_records.load(std::memory_order_relaxed);
      double secs = std::chrono::duration<double>(now - last_at).count();
      std::fprintf(stderr, "kinesis_load: %5.0f s  %10.0f records/s  %d connections open\n",
                   std::chrono::duration<double>(now - run.start).count(),
                   static_cast<double>(records - last_records) / secs,
                   run.open_connections.load());
      last_records = records;
      last_at = now;
      if (now < run.end) tick();
    });
  };
  tick();
  asio::steady_timer drain(ioc);
  drain.expires_at(run.end + kDrainTimeout);
  drain.async_wait([&](error_code ec) {
    if (!ec) ioc.stop();
  });
  // The drain timer keeps run() alive; stop once every connection has closed.
  asio::steady_timer finish(ioc);
  std::function<void()> poll = [&] {
    finish.expires_after(std::chrono::milliseconds(50));
    finish.async_wait([&](error_code ec) {
      if (ec) return;
      if (run.open_connections.load() == 0) {
        drain.cancel();
        progress.cancel();
        return;
      }
      poll();
    });
  };
  poll();

  std::vector<std::thread> threads;
  for (int t = 1; t < o.threads; ++t) threads.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  rss.Stop();
  const bool drained = run.open_connections.load() == 0;

  Stats total;
  for (auto& c : connections) total.Merge(c->stats());
  std::sort(total.window_latency_us.begin(), total.window_latency_us.end());
  const double window = o.duration_s - o.warmup_s;
  const double records_per_s = static_cast<double>(total.window_records) / window;
  const double mb_per_s = static_cast<double>(total.window_payload_bytes) / window / 1e6;
  const double requests_per_s = static_cast<double>(total.window_requests) / window;
  const double p50 = Percentile(total.window_latency_us, 50);
  const double p90 = Percentile(total.window_latency_us, 90);
  const double p99 = Percentile(total.window_latency_us, 99);
  const double pmax = total.window_latency_us.empty() ? 0 : total.window_latency_us.back() / 1000.0;
  const double rss_mib = rss.max_kib() < 0 ? -1 : static_cast<double>(rss.max_kib()) / 1024.0;
  const char* mode = o.mode == Mode::kBatch ? "batch" : "detectors";

  if (o.json) {
    std::string errors;
    for (const auto& [k, v] : total.errors) {
      if (!errors.empty()) errors += ",";
      errors += fmt::format("{}:{}", JsonString(k), v);
    }
    fmt::print(
        "{{\"label\":{},\"mode\":\"{}\",\"endpoint\":{},\"connections\":{},\"duration_s\":{},"
        "\"warmup_s\":{},\"batch\":{},\"size\":{},\"shards\":{},\"rate\":{},"
        "\"records_per_s\":{:.1f},\"mb_per_s\":{:.2f},\"requests_per_s\":{:.1f},"
        "\"latency_ms\":{{\"p50\":{:.2f},\"p90\":{:.2f},\"p99\":{:.2f},\"max\":{:.2f}}},"
        "\"requests_sent\":{},\"requests_accepted\":{},\"records_sent\":{},"
        "\"records_accepted\":{},\"failed_records\":{},\"missed_ticks\":{},\"drained\":{},"
        "\"errors\":{{{}}},\"max_server_rss_mib\":{:.1f}}}\n",
        JsonString(o.label), mode, JsonString(o.endpoint), o.connections, o.duration_s,
        o.warmup_s, o.mode == Mode::kBatch ? o.batch : 1, o.size, o.shards, o.rate,
        records_per_s, mb_per_s, requests_per_s, p50, p90, p99, pmax, total.requests_sent,
        total.requests_accepted, total.records_sent, total.records_accepted,
        total.failed_records, total.missed_ticks, drained ? "true" : "false", errors, rss_mib);
  } else {
    fmt::print("{} {} against {}: {} connections, {:.0f} s ({:.0f} s warm-up)\n",
               o.label.empty() ? "kinesis_load" : o.label, mode, o.endpoint, o.connections,
               o.duration_s, o.warmup_s);
    fmt::print("  throughput   {:.0f} records/s, {:.1f} MB/s payload, {:.1f} requests/s\n",
               records_per_s, mb_per_s, requests_per_s);
    fmt::print("  latency      p50 {:.2f} ms, p90 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms\n", p50,
               p90, p99, pmax);
    fmt::print("  acceptance   {}/{} requests, {}/{} records accepted; {} failed records\n",
               total.requests_accepted, total.requests_sent, total.records_accepted,
               total.records_sent, total.failed_records);
    if (o.mode == Mode::kDetectors) {
      fmt::print("  missed ticks {} (sends skipped because a reply took longer than 1/rate)\n",
                 total.missed_ticks);
    }
    for (const auto& [k, v] : total.errors) fmt::print("  error        {}: {}\n", k, v);
    if (!drained) fmt::print("  warning      requests still open after the drain timeout\n");
    if (o.server_pid > 0) fmt::print("  server RSS   max {:.1f} MiB\n", rss_mib);
  }
  const bool all_accepted = total.requests_accepted == total.requests_sent && drained;
  return all_accepted ? 0 : 3;
}

}  // namespace
}  // namespace muon::bench

int main(int argc, char** argv) { return muon::bench::Main(argc, argv); }
