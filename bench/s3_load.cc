// s3_load: PutObject / GetObject load against an S3-compatible endpoint
// (muonpipe, s3rver, AWS). Results go to bench/RESULTS.md (STYLE.md rule 11).
//
// Each of --connections threads keeps one HTTP/1.1 keep-alive connection and
// sends requests back to back for --seconds: in "put" mode PutObject of
// --size bytes under a fresh key; in "get" mode GetObject of a key written by
// an earlier put phase (--keys objects named obj/<n>, created first when
// missing with --prepare). Requests are SigV4-signed (service s3) with
// UNSIGNED-PAYLOAD, as SDKs do over TLS, so the client spends no CPU hashing
// bodies. One JSON line per run on stdout: ops/s, MB/s, latency percentiles.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "auth/sigv4.h"

namespace muon::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "4566";
  std::string region = "ap-southeast-2";
  std::string access_key = "S3RVER";
  std::string secret_key = "S3RVER";
  std::string bucket = "bench";
  std::string mode = "put";  // put | get | prepare
  std::string label;
  size_t size = 64 * 1024;
  int connections = 16;
  double seconds = 10;
  int keys = 200;  // objects read in get mode
};

void Usage() {
  std::fprintf(stderr,
               "usage: s3_load --mode put|get|prepare [--host H] [--port P] [--region R]\n"
               "  [--access-key K --secret-key S] [--bucket B] [--size BYTES]\n"
               "  [--connections N] [--seconds S] [--keys N] [--label TEXT]\n"
               "  prepare: create the bucket and --keys objects of --size bytes (obj/<n>)\n");
}

bool ParseFlags(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "s3_load: %s needs a value\n", f.c_str());
      return false;
    }
    std::string v = argv[++i];
    if (f == "--host") o->host = v;
    else if (f == "--port") o->port = v;
    else if (f == "--region") o->region = v;
    else if (f == "--access-key") o->access_key = v;
    else if (f == "--secret-key") o->secret_key = v;
    else if (f == "--bucket") o->bucket = v;
    else if (f == "--mode") o->mode = v;
    else if (f == "--label") o->label = v;
    else if (f == "--size") o->size = std::stoul(v);
    else if (f == "--connections") o->connections = std::stoi(v);
    else if (f == "--seconds") o->seconds = std::stod(v);
    else if (f == "--keys") o->keys = std::stoi(v);
    else {
      std::fprintf(stderr, "s3_load: unknown flag %s\n", f.c_str());
      return false;
    }
  }
  return o->mode == "put" || o->mode == "get" || o->mode == "prepare";
}

// One keep-alive HTTP/1.1 connection on a plain socket. Responses are read
// with large recv calls straight into their final buffer, so the generator
// spends as little CPU per byte as it can (it shares the cores with the
// server it measures).
class Conn {
 public:
  explicit Conn(const Options& o) : o_(o) {}
  ~Conn() { Reset(); }

  // Sends one signed request; returns the status (0 on a transport error).
  int Send(const std::string& method, const std::string& path, const std::string& body,
           size_t* received) {
    if (fd_ < 0 && !Connect()) return 0;
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Host", o_.host + ":" + o_.port}, {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}};
    auth::SignOptions so;
    so.region = o_.region;
    so.service = "s3";
    so.now_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    so.s3_style_path = true;
    auth::Sign(method, path, "", headers, "", {o_.access_key, o_.secret_key, ""}, so);
    std::string head = method + " " + path + " HTTP/1.1\r\n";
    for (const auto& [k, v] : headers) head += k + ": " + v + "\r\n";
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    iovec iov[2] = {{head.data(), head.size()}, {const_cast<char*>(body.data()), body.size()}};
    if (!WriteAll(iov, body.empty() ? 1 : 2)) return Fail();
    // Headers.
    size_t end = std::string::npos;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadMore()) return Fail();
    }
    std::string_view h(buf_.data(), end);
    int status = 0;
    if (h.size() > 12) status = std::atoi(std::string(h.substr(9, 3)).c_str());
    size_t length = 0;
    bool close = false;
    for (size_t pos = h.find("\r\n"); pos != std::string_view::npos;) {
      size_t next = h.find("\r\n", pos + 2);
      std::string line(h.substr(pos + 2, next == std::string_view::npos ? h.npos : next - pos - 2));
      for (size_t i = 0; i < line.size() && line[i] != ':'; ++i) line[i] = static_cast<char>(std::tolower(line[i]));
      if (line.rfind("content-length:", 0) == 0) length = std::stoull(line.substr(15));
      if (line.rfind("connection:", 0) == 0 && line.find("close") != std::string::npos) close = true;
      pos = next;
    }
    // Body: what is buffered, then straight into body_.
    size_t have = buf_.size() - (end + 4);
    body_.resize(length);
    size_t from_buf = std::min(have, length);
    std::memcpy(body_.data(), buf_.data() + end + 4, from_buf);
    buf_.erase(0, end + 4 + from_buf);
    size_t got = from_buf;
    while (got < length) {
      ssize_t n = ::recv(fd_, body_.data() + got, length - got, 0);
      if (n <= 0) return Fail();
      got += static_cast<size_t>(n);
    }
    *received = length;
    if (close) Reset();
    return status;
  }

 private:
  bool Connect() {
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(o_.host.c_str(), o_.port.c_str(), &hints, &res) != 0) return false;
    fd_ = ::socket(res->ai_family, SOCK_STREAM, 0);
    bool ok = fd_ >= 0 && ::connect(fd_, res->ai_addr, res->ai_addrlen) == 0;
    freeaddrinfo(res);
    if (!ok) {
      Reset();
      return false;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return true;
  }
  bool WriteAll(iovec* iov, int count) {
    while (count > 0) {
      ssize_t n = ::writev(fd_, iov, count);
      if (n < 0) return false;
      while (count > 0 && static_cast<size_t>(n) >= iov->iov_len) {
        n -= static_cast<ssize_t>(iov->iov_len);
        ++iov;
        --count;
      }
      if (count > 0) {
        iov->iov_base = static_cast<char*>(iov->iov_base) + n;
        iov->iov_len -= static_cast<size_t>(n);
      }
    }
    return true;
  }
  bool ReadMore() {
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int Fail() {
    Reset();
    return 0;
  }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }
  const Options& o_;
  int fd_ = -1;
  std::string buf_;
  std::string body_;
};

int Main(int argc, char** argv) {
  Options o;
  if (!ParseFlags(argc, argv, &o)) {
    Usage();
    return 2;
  }
  std::string data(o.size, '\0');
  std::mt19937_64 rng(42);
  for (char& c : data) c = static_cast<char>(rng());
  const std::string bucket_path = "/" + o.bucket;

  if (o.mode == "prepare") {
    Conn c(o);
    size_t got = 0;
    int st = c.Send("PUT", bucket_path, "", &got);
    if (st != 200 && st != 409) {
      std::fprintf(stderr, "s3_load: creating bucket %s: HTTP %d\n", o.bucket.c_str(), st);
      return 1;
    }
    for (int i = 0; i < o.keys; ++i) {
      st = c.Send("PUT", fmt::format("{}/obj/{}", bucket_path, i), data, &got);
      if (st != 200) {
        std::fprintf(stderr, "s3_load: prepare put %d: HTTP %d\n", i, st);
        return 1;
      }
    }
    return 0;
  }

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<uint32_t> latencies_us;
  uint64_t ok = 0, errors = 0, bytes = 0;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < o.connections; ++t) {
    threads.emplace_back([&, t] {
      Conn c(o);
      std::mt19937_64 r(1000 + t);
      std::vector<uint32_t> lat;
      uint64_t my_ok = 0, my_err = 0, my_bytes = 0;
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        size_t got = 0;
        auto t0 = Clock::now();
        int st = o.mode == "put"
                     ? c.Send("PUT", fmt::format("{}/load/{}/{}", bucket_path, t, i), data, &got)
                     : c.Send("GET",
                              fmt::format("{}/obj/{}", bucket_path, r() % static_cast<uint64_t>(o.keys)),
                              "", &got);
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
        if (st == 200 && (o.mode == "put" || got == o.size)) {
          ++my_ok;
          my_bytes += o.size;
          lat.push_back(static_cast<uint32_t>(us));
        } else {
          ++my_err;
          if (my_err <= 3) std::fprintf(stderr, "s3_load: %s HTTP %d\n", o.mode.c_str(), st);
        }
      }
      std::lock_guard lock(mu);
      ok += my_ok;
      errors += my_err;
      bytes += my_bytes;
      latencies_us.insert(latencies_us.end(), lat.begin(), lat.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) {
    if (latencies_us.empty()) return 0.0;
    size_t i = std::min(latencies_us.size() - 1, static_cast<size_t>(p * latencies_us.size()));
    return latencies_us[i] / 1000.0;
  };
  std::printf(
      "{\"label\":\"%s\",\"mode\":\"%s\",\"size\":%zu,\"connections\":%d,\"seconds\":%.2f,"
      "\"ok\":%llu,\"errors\":%llu,\"ops_per_s\":%.1f,\"mb_per_s\":%.1f,\"p50_ms\":%.2f,"
      "\"p99_ms\":%.2f,\"max_ms\":%.2f}\n",
      o.label.c_str(), o.mode.c_str(), o.size, o.connections, elapsed,
      static_cast<unsigned long long>(ok), static_cast<unsigned long long>(errors), ok / elapsed,
      bytes / elapsed / 1e6, pct(0.5), pct(0.99),
      latencies_us.empty() ? 0.0 : latencies_us.back() / 1000.0);
  return errors > 0 && ok == 0 ? 1 : 0;
}

}  // namespace
}  // namespace muon::bench

int main(int argc, char** argv) { return muon::bench::Main(argc, argv); }
