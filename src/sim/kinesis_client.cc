#include "sim/kinesis_client.h"

#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/base64.h"

namespace muon::sim {
namespace {

using nlohmann::json;

// "com.amazonaws.kinesis.v20131202#ResourceInUseException" -> "ResourceInUseException"
std::string ErrorType(const std::string& body) {
  json reply = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!reply.is_object()) return "";
  std::string type;
  if (auto it = reply.find("__type"); it != reply.end() && it->is_string()) type = *it;
  if (auto hash = type.rfind('#'); hash != std::string::npos) type = type.substr(hash + 1);
  return type;
}

std::string ErrorMessage(const std::string& body) {
  json reply = json::parse(body, nullptr, false);
  if (!reply.is_object()) return body.substr(0, 200);
  for (const char* key : {"message", "Message"}) {
    if (auto it = reply.find(key); it != reply.end() && it->is_string()) return *it;
  }
  return "";
}

}  // namespace

Result<Endpoint> ParseEndpoint(std::string_view url) {
  Endpoint e;
  e.url = std::string(url);
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
    e.tls = true;
  } else {
    return Status::InvalidArgument(fmt::format(
        "endpoint '{}' must start with http:// or https:// (e.g. http://127.0.0.1:4566)", url));
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") {
      return Status::InvalidArgument(
          fmt::format("endpoint '{}' must not have a path; give just scheme://host:port", url));
    }
    rest = rest.substr(0, slash);
  }
  e.port = e.tls ? 443 : 80;
  std::string_view host = rest;
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos && !rest.ends_with(']')) {
    host = rest.substr(0, colon);
    std::string_view port = rest.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return Status::InvalidArgument(fmt::format("endpoint '{}': bad port '{}'", url, port));
    }
    e.port = static_cast<uint16_t>(value);
  }
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  if (host.empty()) return Status::InvalidArgument(fmt::format("endpoint '{}' has no host", url));
  e.host = std::string(host);
  return e;
}

KinesisClient::KinesisClient(KinesisClientOptions options, const Clock* clock)
    : options_(std::move(options)),
      clock_(clock),
      http_(http::ClientOptions{.host = options_.endpoint.host,
                                .port = options_.endpoint.port,
                                .tls = options_.endpoint.tls,
                                .timeout_seconds = options_.timeout_seconds}) {
  const bool default_port = options_.endpoint.port == (options_.endpoint.tls ? 443 : 80);
  const bool v6 = options_.endpoint.host.find(':') != std::string::npos;
  const std::string host = v6 ? "[" + options_.endpoint.host + "]" : options_.endpoint.host;
  host_header_ = default_port ? host : fmt::format("{}:{}", host, options_.endpoint.port);
}

Result<std::string> KinesisClient::Call(std::string_view operation, const std::string& body) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Host", host_header_},
      {"Content-Type", "application/x-amz-json-1.1"},
      {"X-Amz-Target", fmt::format("Kinesis_20131202.{}", operation)},
  };
  auth::Sign("POST", "/", "", headers, body, options_.credentials,
             auth::SignOptions{.region = options_.region,
                               .service = "kinesis",
                               .now_seconds = clock_->NowSeconds()});
  auto response = http_.Send("POST", "/", headers, body);
  if (!response.ok()) {
    http_.Close();
    const std::string& m = response.status().message();
    std::string hint = m.find("refused") != std::string::npos
                           ? " — is `muonpipe serve` running, or is --endpoint wrong?"
                           : " — will retry";
    return Status(response.status().code() == StatusCode::kInvalidArgument
                      ? StatusCode::kUnavailable
                      : response.status().code(),
                  fmt::format("cannot reach {}: {}{}", options_.endpoint.url, m, hint));
  }
  if (response->status == 200) return std::move(response->body);

  const std::string type = ErrorType(response->body);
  const std::string message = ErrorMessage(response->body);
  const std::string what = fmt::format("{} {} (HTTP {}): {}", operation,
                                       type.empty() ? "failed" : type, response->status, message);
  if (type == "ProvisionedThroughputExceededException" || type == "LimitExceededException" ||
      type == "ThrottlingException" || type == "KMSThrottlingException" ||
      response->status == 429) {
    return Status::ResourceExhausted(what + " — backing off");
  }
  if (response->status >= 500) return Status::Unavailable(what + " — will retry");
  if (type == "ResourceNotFoundException") {
    return Status::NotFound(fmt::format(
        "stream '{}' does not exist at {} ({}) — pass --create-stream, or create it with "
        "`aws --endpoint-url {} kinesis create-stream --stream-name {} --shard-count 1`",
        options_.stream, options_.endpoint.url, message, options_.endpoint.url,
        options_.stream));
  }
  if (response->status == 401 || response->status == 403 ||
      type == "UnrecognizedClientException" || type == "InvalidSignatureException" ||
      type == "IncompleteSignatureException" || type == "MissingAuthenticationTokenException" ||
      type == "ExpiredTokenException" || type == "AccessDeniedException") {
    return Status::PermissionDenied(
        what + " — check --credentials (the server's DIR/admin-credentials) and --region");
  }
  return Status::InvalidArgument(what);
}

Result<std::vector<PutRecordsEntryResult>> KinesisClient::PutRecords(
    const std::vector<const KinesisRecord*>& records) {
  std::string body;
  size_t estimate = 64 + options_.stream.size();
  for (const KinesisRecord* r : records) estimate += r->data.size() * 4 / 3 + 64;
  body.reserve(estimate);
  body.append(R"({"StreamName":)");
  body.append(json(options_.stream).dump());
  body.append(R"(,"Records":[)");
  for (size_t i = 0; i < records.size(); ++i) {
    if (i > 0) body.push_back(',');
    body.append(R"({"Data":")");
    Base64EncodeAppend(records[i]->data, &body);
    body.append(R"(","PartitionKey":)");
    body.append(json(records[i]->partition_key).dump());
    body.push_back('}');
  }
  body.append("]}");

  MUON_ASSIGN_OR_RETURN(std::string reply_body, Call("PutRecords", body));
  json reply = json::parse(reply_body, nullptr, false);
  if (!reply.is_object() || !reply.contains("Records") || !reply["Records"].is_array()) {
    return Status::Unavailable(fmt::format("PutRecords: unreadable reply from {}: {}",
                                           options_.endpoint.url, reply_body.substr(0, 200)));
  }
  std::vector<PutRecordsEntryResult> out;
  out.reserve(reply["Records"].size());
  for (const json& entry : reply["Records"]) {
    PutRecordsEntryResult r;
    if (entry.is_object()) {
      if (auto it = entry.find("ErrorCode"); it != entry.end() && it->is_string()) {
        r.error_code = *it;
      }
      if (auto it = entry.find("ErrorMessage"); it != entry.end() && it->is_string()) {
        r.error_message = *it;
      }
    } else {
      r.error_code = "InternalFailure";
    }
    out.push_back(std::move(r));
  }
  return out;
}

Status KinesisClient::CreateStream(int shard_count) {
  json request = {{"StreamName", options_.stream}, {"ShardCount", shard_count}};
  auto reply = Call("CreateStream", request.dump());
  if (!reply.ok() && reply.status().message().find("ResourceInUseException") != std::string::npos) {
    return Status::Ok();
  }
  return reply.status();
}

Result<std::string> KinesisClient::StreamStatus() {
  json request = {{"StreamName", options_.stream}};
  MUON_ASSIGN_OR_RETURN(std::string body, Call("DescribeStreamSummary", request.dump()));
  json reply = json::parse(body, nullptr, false);
  if (reply.is_object()) {
    auto summary = reply.find("StreamDescriptionSummary");
    if (summary != reply.end() && summary->is_object()) {
      auto status = summary->find("StreamStatus");
      if (status != summary->end() && status->is_string()) return status->get<std::string>();
    }
  }
  return Status::Unavailable(fmt::format("DescribeStreamSummary: unreadable reply from {}: {}",
                                         options_.endpoint.url, body.substr(0, 200)));
}

}  // namespace muon::sim
