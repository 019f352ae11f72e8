#include "plan/usage_source.h"

#include <chrono>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace muon::plan {

Result<MeasuredUsage> ReadUsageFromDataDir(Env* env, const std::string& dir) {
  std::string path = JoinPath(JoinPath(dir, "metrics"), "usage.json");
  if (!env->FileExists(path)) {
    return Status::NotFound(path + " does not exist; is " + dir + " a muonpipe data directory "
                            "whose server has ingested data? (the server writes it while running)");
  }
  MUON_ASSIGN_OR_RETURN(std::string text, env->ReadFile(path));
  return ParseUsageJson(text, path);
}

Result<MeasuredUsage> FetchUsageFromUrl(const std::string& url, const FetchOptions& options) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  using tcp = boost::asio::ip::tcp;
  if (url.starts_with("https://")) {
    return Status::InvalidArgument("--from-url " + url + ": https is not supported here; download "
                                   "URL/_muonpipe/usage with curl and pass it as --usage-file");
  }
  if (!url.starts_with("http://")) {
    return Status::InvalidArgument("--from-url " + url + ": expected http://HOST[:PORT][/PREFIX]");
  }
  std::string rest = url.substr(7);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  std::string host = hostport, port = "80";
  if (size_t colon = hostport.rfind(':'); colon != std::string::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  std::string target = prefix + "/_muonpipe/usage";
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(options.timeout_seconds));
    stream.connect(resolver.resolve(host, port));
    std::vector<std::pair<std::string, std::string>> headers = {{"Host", hostport},
                                                                {"Accept", "application/json"}};
    auth::Sign("GET", target, "", headers, "", options.credentials,
               {.region = options.region, .service = "muonpipe",
                .now_seconds = options.clock->NowSeconds()});
    http::request<http::empty_body> req{http::verb::get, target, 11};
    for (const auto& [name, value] : headers) req.set(name, value);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    if (res.result() == http::status::forbidden) {
      nlohmann::json body = nlohmann::json::parse(res.body(), nullptr, false);
      std::string reason = body.is_object() && body.contains("error")
                               ? body["error"].value("code", "") + ": " +
                                     body["error"].value("message", "")
                               : res.body();
      return Status::PermissionDenied(
          "GET " + url + target.substr(prefix.size()) + " was refused (" + reason +
          "); sign with credentials allowed admin:GetUsage: --credentials FILE, "
          "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or --data-dir DIR of the server "
          "(DIR/admin-credentials), and --server-region if the server's region is not " +
          options.region);
    }
    if (res.result() != http::status::ok) {
      return Status::Unavailable("GET " + url + target.substr(prefix.size()) + " returned HTTP " +
                                 std::to_string(res.result_int()) + "; is the server running a "
                                 "muonpipe version that serves usage figures?");
    }
    return ParseUsageJson(res.body(), url + target.substr(prefix.size()));
  } catch (const std::exception& e) {
    return Status::Unavailable("GET " + url + target.substr(prefix.size()) + " failed: " +
                               e.what() + "; check the server is running and the URL is right");
  }
}

}  // namespace muon::plan
