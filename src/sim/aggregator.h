// Aggregation: packs one detector's lines into Kinesis records
// (docs/records.md, "Carrying lines in Kinesis records"). A record's data is
// whole lines, each ending in '\n', contiguous in seq, from one detector; its
// partition key is the detector id; it holds at most max_record_bytes of data,
// all with t_ns in one window [k * window_ns, (k + 1) * window_ns), and is
// closed once that window has passed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "sim/generator.h"

namespace muon::sim {

inline constexpr size_t kDefaultMaxRecordBytes = 5 * 1024;

struct KinesisRecord {
  std::string partition_key;  // the detector id
  std::string data;           // lines, each terminated by '\n'
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint32_t lines = 0;
  int64_t first_t_ns = 0;
};

struct AggregatorOptions {
  size_t max_record_bytes = kDefaultMaxRecordBytes;
  int64_t window_ns = 1'000'000'000;
};

// Not thread-safe.
class Aggregator {
 public:
  Aggregator(std::string detector_id, AggregatorOptions options);

  // Adds a line (text without '\n'; lines must come in seq order). Closes the
  // open record into *out first when the line would not fit in it or falls in
  // a later window. Fails, adding nothing, when the line alone cannot fit in a
  // record.
  Status Add(const Line& line, std::vector<KinesisRecord>* out);
  // Closes the open record if now_ns is past its window.
  void FlushIfDue(int64_t now_ns, std::vector<KinesisRecord>* out);
  // Closes the open record, if any.
  void Flush(std::vector<KinesisRecord>* out);

  bool empty() const { return open_.lines == 0; }

 private:
  int64_t Window(int64_t t_ns) const;

  std::string detector_id_;
  AggregatorOptions options_;
  KinesisRecord open_;
};

}  // namespace muon::sim
