// `muonpipe sim`: a fleet of simulated detectors sending canonical records
// (docs/records.md) to a Kinesis endpoint. The logic lives in src/sim; this
// file parses flags, wires real clock, credentials and network, and prints.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include <fmt/format.h>

#include "base/clock.h"
#include "base/env.h"
#include "cli/commands.h"
#include "sim/credentials.h"
#include "sim/kinesis_client.h"
#include "sim/simulator.h"

namespace muon::cli {
namespace {

constexpr int kDetectorsPerShard = 500;
constexpr int64_t kSecond = 1'000'000'000;

std::atomic<bool> g_stop{false};

extern "C" void OnStopSignal(int) {
  // A second Ctrl-C means "now": skip the flush.
  if (g_stop.exchange(true)) _exit(130);
}

struct SimFlags {
  int detectors = 0;
  std::string endpoint = "http://127.0.0.1:4566";
  std::string stream = "muonpipe-live";
  double duration_seconds = 0;
  double rate_bytes = 1024;
  std::string credentials;
  std::string profile = "default";
  std::string region = "ap-southeast-2";
  bool create_stream = false;
  uint64_t seed = 0;
};

std::string EnvOr(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// Waits for the stream to be ACTIVE, creating it first if asked.
Status PrepareStream(sim::KinesisClient& client, const SimFlags& flags, sim::Sleeper& sleeper) {
  if (flags.create_stream) {
    const int shards = std::max(1, (flags.detectors + kDetectorsPerShard - 1) / kDetectorsPerShard);
    MUON_RETURN_IF_ERROR(client.CreateStream(shards));
    fmt::print("stream {}: CreateStream sent ({} shard{}) or it exists already\n", flags.stream,
               shards, shards == 1 ? "" : "s");
  }
  const Clock* clock = Clock::Real();
  const int64_t deadline = clock->MonotonicNanos() + 60 * kSecond;
  for (;;) {
    auto status = client.StreamStatus();
    if (!status.ok()) return status.status();
    if (*status == "ACTIVE" || *status == "UPDATING") return Status::Ok();
    if (clock->MonotonicNanos() > deadline || g_stop.load()) {
      return Status::FailedPrecondition(fmt::format(
          "stream {} is still {} after 60 s — check the server's log, then run again",
          flags.stream, *status));
    }
    sleeper.SleepUntil(clock->MonotonicNanos() + kSecond / 2);
  }
}

int RunSim(const SimFlags& flags) {
  auto endpoint = sim::ParseEndpoint(flags.endpoint);
  if (!endpoint.ok()) {
    fmt::print(stderr, "muonpipe sim: {}\n", endpoint.status().message());
    return 2;
  }
  if (flags.rate_bytes < 100) {
    fmt::print(stderr, "muonpipe sim: --rate-bytes {} is below one event a second; use >= 100\n",
               flags.rate_bytes);
    return 2;
  }
  const std::string credentials_path =
      flags.credentials.empty()
          ? sim::DefaultCredentialsPath(EnvOr("AWS_SHARED_CREDENTIALS_FILE"), EnvOr("HOME"))
          : flags.credentials;
  auto credentials = sim::LoadSharedCredentials(Env::Posix(), credentials_path, flags.profile);
  if (!credentials.ok()) {
    fmt::print(stderr, "muonpipe sim: {}\n", credentials.status().message());
    return 2;
  }

  Clock* clock = Clock::Real();
  sim::RealSleeper sleeper(clock);
  sim::KinesisClient client(
      sim::KinesisClientOptions{.endpoint = *endpoint,
                                .region = flags.region,
                                .stream = flags.stream,
                                .credentials = *credentials},
      clock);

  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);

  if (Status s = PrepareStream(client, flags, sleeper); !s.ok()) {
    fmt::print(stderr, "muonpipe sim: {}\n", s.message());
    return 1;
  }

  const uint64_t seed = flags.seed != 0 ? flags.seed : static_cast<uint64_t>(clock->NowNanos());
  sim::SimOptions options;
  options.detectors = flags.detectors;
  options.rate_bytes = flags.rate_bytes;
  options.duration_ns = static_cast<int64_t>(flags.duration_seconds * kSecond);
  options.seed = seed;
  fmt::print(
      "muonpipe sim: {} detector{} (MD-0001..{}) at ~{:.0f} B/s each -> stream {} at {} "
      "(region {}), seed {}, {}\n",
      flags.detectors, flags.detectors == 1 ? "" : "s", sim::SimDetectorId(flags.detectors - 1),
      flags.rate_bytes, flags.stream, flags.endpoint, flags.region, seed,
      flags.duration_seconds > 0 ? fmt::format("for {:g} s", flags.duration_seconds)
                                 : std::string("until Ctrl-C"));
  std::fflush(stdout);

  sim::SimProgress previous;
  auto on_progress = [&](const sim::SimProgress& p) {
    const double seconds =
        std::max(1e-9, static_cast<double>(p.elapsed_ns - previous.elapsed_ns) / kSecond);
    const auto& s = p.publisher;
    const auto& q = previous.publisher;
    fmt::print(
        "{:>6.0f}s{} {:>8.1f} rec/s {:>9.1f} KB/s  lines sent {}  retries {}  throttled {}  "
        "failed calls {}  backlog {} rec{}\n",
        static_cast<double>(p.elapsed_ns) / kSecond, p.draining ? " (flushing)" : "",
        static_cast<double>(s.records_acked - q.records_acked) / seconds,
        static_cast<double>(s.bytes_acked - q.bytes_acked) / seconds / 1000, s.lines_acked,
        s.records_retried, s.throttled, s.failed_calls, p.queued_records,
        p.last_error.empty() || s.records_retried == q.records_retried
            ? ""
            : "  last error: " + p.last_error);
    std::fflush(stdout);
    previous = p;
  };
  sim::SimSummary summary =
      sim::RunSimulation(options, &client, clock, &sleeper, &g_stop, on_progress);

  const sim::SimProgress& f = summary.final;
  const double seconds = std::max(1e-9, static_cast<double>(f.elapsed_ns) / kSecond);
  fmt::print(
      "summary: {:.1f} s{}, {} lines generated, {} lines in {} records ({:.1f} KB) acknowledged "
      "by {}; {:.1f} KB/s, {} PutRecords calls, {} records retried, {} throttled, {} failed "
      "calls\n",
      seconds, summary.stopped ? " (stopped by signal)" : "", f.lines_generated,
      f.publisher.lines_acked, f.publisher.records_acked,
      static_cast<double>(f.publisher.bytes_acked) / 1000, flags.endpoint,
      static_cast<double>(f.publisher.bytes_acked) / 1000 / seconds, f.publisher.calls,
      f.publisher.records_retried, f.publisher.throttled, f.publisher.failed_calls);
  if (!summary.error.ok()) {
    fmt::print(stderr, "muonpipe sim: stopped: {}\n", summary.error.message());
    return 1;
  }
  if (f.queued_lines > 0) {
    fmt::print(stderr,
               "muonpipe sim: {} lines in {} records were not acknowledged within the flush "
               "timeout (last error: {}) — they are lost from this run; check the server\n",
               f.queued_lines, f.queued_records, f.last_error);
    return 1;
  }
  fmt::print("every generated line was acknowledged; read them back with "
             "`aws --endpoint-url {} kinesis get-records ...` on stream {}\n",
             flags.endpoint, flags.stream);
  return 0;
}

}  // namespace

void AddSimCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<SimFlags>();
  auto* cmd = app.add_subcommand(
      "sim",
      "Simulate a fleet of muon detectors sending canonical records (docs/records.md) to a "
      "Kinesis stream with PutRecords");
  cmd->add_option("--detectors", flags->detectors, "Number of simulated detectors")
      ->required()
      ->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--endpoint", flags->endpoint, "Kinesis endpoint URL")->capture_default_str();
  cmd->add_option("--stream", flags->stream, "Stream name")->capture_default_str();
  cmd->add_option("--duration", flags->duration_seconds,
                  "Seconds to run (default: until Ctrl-C)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--rate-bytes", flags->rate_bytes, "Bytes per second per detector")
      ->capture_default_str();
  cmd->add_option("--credentials", flags->credentials,
                  "AWS shared-credentials file (default: $AWS_SHARED_CREDENTIALS_FILE, else "
                  "~/.aws/credentials); `muonpipe serve` writes DIR/admin-credentials");
  cmd->add_option("--profile", flags->profile, "Profile in the credentials file")
      ->capture_default_str();
  cmd->add_option("--region", flags->region, "Signing region")->capture_default_str();
  cmd->add_flag("--create-stream", flags->create_stream,
                "Create the stream if missing (1 shard per 500 detectors) and wait until ACTIVE");
  cmd->add_option("--seed", flags->seed, "Random seed (default: from the clock; printed)");
  cmd->callback([flags, exit_code] { *exit_code = RunSim(*flags); });
}

}  // namespace muon::cli
