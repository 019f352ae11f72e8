// A minimal Kinesis (JSON 1.1, SigV4) client for the simulator: PutRecords,
// CreateStream, DescribeStreamSummary. Errors are Statuses whose messages name
// the endpoint or stream and say what to do; the AWS error name (__type) is
// kept in the message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sigv4.h"
#include "base/clock.h"
#include "base/status.h"
#include "http/client.h"
#include "sim/publisher.h"

namespace muon::sim {

struct Endpoint {
  std::string url;  // as given, for messages
  bool tls = false;
  std::string host;
  uint16_t port = 0;
};

// "http://host[:port][/]" or "https://...". Port defaults to 80/443.
Result<Endpoint> ParseEndpoint(std::string_view url);

struct KinesisClientOptions {
  Endpoint endpoint;
  std::string region = "ap-southeast-2";
  std::string stream;
  auth::Credentials credentials;
  int timeout_seconds = 30;
};

// Not thread-safe (one connection).
class KinesisClient : public RecordSender {
 public:
  KinesisClient(KinesisClientOptions options, const Clock* clock);

  Result<std::vector<PutRecordsEntryResult>> PutRecords(
      const std::vector<const KinesisRecord*>& records) override;

  // Creates the stream; OK when it already exists (ResourceInUseException).
  Status CreateStream(int shard_count);
  // "CREATING", "ACTIVE", ...; kNotFound when the stream does not exist.
  Result<std::string> StreamStatus();

 private:
  // One signed call; returns the reply body of a 200, else a classified Status.
  Result<std::string> Call(std::string_view operation, const std::string& body);

  KinesisClientOptions options_;
  const Clock* clock_;
  http::Client http_;
  std::string host_header_;
};

}  // namespace muon::sim
