// Test helpers for src/http: a raw POSIX-socket client (to send what no real
// client would) and a self-signed certificate generator. Tests only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "base/status.h"
#include "http/server.h"

namespace muon::http::testing {

using std::chrono::milliseconds;

inline bool WaitFor(const std::function<bool()>& pred, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return pred();
}

struct RawResponse {
  int status = 0;  // 0: no complete response
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A blocking loopback TCP connection for sending arbitrary bytes.
class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      connect_errno_ = errno;
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool connected() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int connect_errno() const { return connect_errno_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Appends what arrives within `timeout` to pending_. Returns false on EOF/error/timeout.
  bool ReadMore(milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  // Reads one response; `head` means it has no body whatever Content-Length says.
  RawResponse ReadResponse(milliseconds timeout = milliseconds(5000), bool head = false) {
    RawResponse r;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadMore(Remaining(deadline))) return r;
    }
    std::string head_text = pending_.substr(0, end + 2);
    pending_.erase(0, end + 4);
    size_t line_end = head_text.find("\r\n");
    std::string status_line = head_text.substr(0, line_end);
    if (status_line.size() < 12) return r;
    int status = std::atoi(status_line.substr(9, 3).c_str());
    for (size_t pos = line_end + 2; pos < head_text.size();) {
      size_t eol = head_text.find("\r\n", pos);
      std::string line = head_text.substr(pos, eol - pos);
      pos = eol + 2;
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t v = line.find_first_not_of(' ', colon + 1);
      r.headers[name] = v == std::string::npos ? "" : line.substr(v);
    }
    size_t length = 0;
    if (!head && status >= 200 && status != 204 && status != 304 &&
        r.headers.count("content-length")) {
      length = std::stoul(r.headers["content-length"]);
    }
    while (pending_.size() < length) {
      if (!ReadMore(Remaining(deadline))) return r;
    }
    r.body = pending_.substr(0, length);
    pending_.erase(0, length);
    r.status = status;
    return r;
  }

  // True if the peer closes (EOF or reset) within `timeout`; data is discarded.
  bool WaitClosed(milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!ReadMore(Remaining(deadline)) && eof_) return true;
    }
    return false;
  }

  const std::string& pending() const { return pending_; }
  bool eof() const { return eof_; }

 private:
  static milliseconds Remaining(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? left : milliseconds(0);
  }

  int fd_ = -1;
  int connect_errno_ = 0;
  bool eof_ = false;
  std::string pending_;
};

// A streamed body of `size` bytes where byte i is PatternByte(i); it fails
// (or reads short) at `fail_at` when that is set. Counts the largest piece
// asked for, so tests can check the body was never read whole.
inline char PatternByte(uint64_t i) { return static_cast<char>('a' + (i * 7 + i / 251) % 26); }

class PatternBody final : public BodyStream {
 public:
  explicit PatternBody(uint64_t size, std::optional<uint64_t> fail_at = std::nullopt)
      : size_(size), fail_at_(fail_at) {}
  uint64_t size() const override { return size_; }
  Result<std::string_view> Read(uint64_t offset, size_t n, char* scratch) override {
    largest_piece = std::max<uint64_t>(largest_piece, n);
    if (fail_at_ && offset + n > *fail_at_) return Status::IoError("disk went away");
    for (size_t i = 0; i < n; ++i) scratch[i] = PatternByte(offset + i);
    return std::string_view(scratch, n);
  }
  std::atomic<uint64_t> largest_piece{0};

 private:
  const uint64_t size_;
  const std::optional<uint64_t> fail_at_;
};

inline std::string PatternString(uint64_t size) {
  std::string s(size, '\0');
  for (uint64_t i = 0; i < size; ++i) s[i] = PatternByte(i);
  return s;
}

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "muon_http_test_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes a self-signed P-256 certificate for CN=localhost and its key as PEM.
inline bool WriteSelfSignedCert(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) return false;
  X509* cert = X509_new();
  bool ok = cert != nullptr;
  ok = ok && X509_set_version(cert, 2);
  ok = ok && ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != nullptr;
  ok = ok && X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600) != nullptr;
  ok = ok && X509_set_pubkey(cert, key);
  X509_NAME* name = ok ? X509_get_subject_name(cert) : nullptr;
  ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                        reinterpret_cast<const unsigned char*>("localhost"), -1,
                                        -1, 0);
  ok = ok && X509_set_issuer_name(cert, name);
  ok = ok && X509_sign(cert, key, EVP_sha256()) > 0;
  if (ok) {
    FILE* f = std::fopen(cert_path.c_str(), "w");
    ok = f != nullptr && PEM_write_X509(f, cert);
    if (f) std::fclose(f);
  }
  if (ok) {
    FILE* f = std::fopen(key_path.c_str(), "w");
    ok = f != nullptr && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    if (f) std::fclose(f);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

}  // namespace muon::http::testing
