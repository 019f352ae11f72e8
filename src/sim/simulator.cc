#include "sim/simulator.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "sim/generator.h"

namespace muon::sim {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct Detector {
  DetectorGenerator generator;
  Aggregator aggregator;
};

}  // namespace

void RealSleeper::SleepUntil(int64_t monotonic_ns) {
  const int64_t left = monotonic_ns - clock_->MonotonicNanos();
  if (left > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(left));
}

SimSummary RunSimulation(const SimOptions& options, RecordSender* sender, const Clock* clock,
                         Sleeper* sleeper, const std::atomic<bool>* stop,
                         const std::function<void(const SimProgress&)>& on_progress) {
  const int64_t start_wall = clock->NowNanos();
  const int64_t start_mono = clock->MonotonicNanos();
  // Wall time advances with the monotonic clock, so a wall-clock step during
  // the run cannot make t_ns go backwards.
  auto wall_at = [&](int64_t mono) { return start_wall + (mono - start_mono); };

  std::vector<Detector> fleet;
  fleet.reserve(options.detectors);
  for (int i = 0; i < options.detectors; ++i) {
    const std::string id = SimDetectorId(i);
    GeneratorOptions g;
    g.detector_id = id;
    g.seed = SplitMix64(options.seed * 1'000'003 + static_cast<uint64_t>(i));
    g.target_bytes_per_second = options.rate_bytes;
    g.start_ns = start_wall;
    g.first_seq = static_cast<uint64_t>(start_wall / 1000);
    fleet.push_back(Detector{DetectorGenerator(std::move(g)), Aggregator(id, options.aggregation)});
  }
  PublisherOptions publisher_options = options.publisher;
  publisher_options.jitter_seed = SplitMix64(options.seed ^ 0x5eed);
  Publisher publisher(sender, clock, publisher_options);

  SimSummary summary;
  SimProgress progress;
  std::vector<Line> lines;
  std::vector<KinesisRecord> records;
  auto enqueue = [&] {
    for (KinesisRecord& r : records) publisher.Enqueue(std::move(r));
    progress.records_generated += records.size();
    records.clear();
  };
  auto generate = [&](int64_t until_wall) -> Status {
    for (Detector& d : fleet) {
      lines.clear();
      d.generator.GenerateUntil(until_wall, &lines);
      progress.lines_generated += lines.size();
      for (const Line& line : lines) MUON_RETURN_IF_ERROR(d.aggregator.Add(line, &records));
      d.aggregator.FlushIfDue(until_wall, &records);
    }
    enqueue();
    return Status::Ok();
  };
  auto report = [&](int64_t now_mono, bool draining) {
    progress.elapsed_ns = now_mono - start_mono;
    progress.publisher = publisher.stats();
    progress.queued_records = publisher.queued_records();
    progress.queued_lines = publisher.queued_lines();
    progress.last_error = publisher.last_error();
    progress.draining = draining;
    if (on_progress) on_progress(progress);
  };
  auto finish = [&](Status error) {
    report(clock->MonotonicNanos(), false);
    summary.final = progress;
    summary.error = std::move(error);
    return summary;
  };

  const int64_t end_mono = options.duration_ns > 0 ? start_mono + options.duration_ns
                                                   : std::numeric_limits<int64_t>::max();
  int64_t next_tick = start_mono + options.tick_ns;
  int64_t next_progress = start_mono + options.progress_interval_ns;
  for (;;) {
    if (stop != nullptr && stop->load()) {
      summary.stopped = true;
      break;
    }
    const int64_t now = std::min(clock->MonotonicNanos(), end_mono);
    if (Status s = generate(wall_at(now)); !s.ok()) return finish(s);
    if (now >= end_mono) break;
    // Send what is queued until the next tick is due; one call at most when
    // the network is slower than the tick.
    for (int calls = 0; calls < 1000 && !publisher.idle() && !publisher.backing_off(); ++calls) {
      if (Status s = publisher.Pump(); !s.ok()) return finish(s);
      if (clock->MonotonicNanos() >= next_tick) break;
    }
    const int64_t after = clock->MonotonicNanos();
    if (after >= next_progress) {
      report(after, false);
      next_progress = after + options.progress_interval_ns;
    }
    next_tick = std::max(next_tick + options.tick_ns, after);
    sleeper->SleepUntil(std::min(next_tick, end_mono));
  }

  for (Detector& d : fleet) d.aggregator.Flush(&records);
  enqueue();
  const int64_t drain_deadline = clock->MonotonicNanos() + options.drain_timeout_ns;
  while (!publisher.idle() && clock->MonotonicNanos() < drain_deadline) {
    if (publisher.backing_off()) {
      sleeper->SleepUntil(std::min(publisher.next_attempt_ns(), drain_deadline));
      continue;
    }
    if (Status s = publisher.Pump(); !s.ok()) return finish(s);
    const int64_t now = clock->MonotonicNanos();
    if (now >= next_progress) {
      report(now, true);
      next_progress = now + options.progress_interval_ns;
    }
  }
  return finish(Status::Ok());
}

}  // namespace muon::sim
