// Test-only: a RecordSender that records every call and fails calls or
// entries as told.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sim/publisher.h"

namespace muon::sim::testing {

class FakeSender : public RecordSender {
 public:
  // Decides the fate of call number `call` (0-based): a non-OK Status fails it
  // whole; otherwise `entry_error(call, index)` gives each entry's ErrorCode.
  std::function<Status(int call)> call_error = [](int) { return Status::Ok(); };
  std::function<std::string(int call, size_t index)> entry_error = [](int, size_t) {
    return std::string();
  };

  Result<std::vector<PutRecordsEntryResult>> PutRecords(
      const std::vector<const KinesisRecord*>& records) override {
    const int call = static_cast<int>(calls.size());
    std::vector<std::pair<std::string, uint64_t>> sent;
    for (const KinesisRecord* r : records) sent.emplace_back(r->partition_key, r->first_seq);
    calls.push_back(sent);
    if (Status s = call_error(call); !s.ok()) return s;
    std::vector<PutRecordsEntryResult> out;
    for (size_t i = 0; i < records.size(); ++i) {
      PutRecordsEntryResult e;
      e.error_code = entry_error(call, i);
      if (e.error_code.empty()) {
        const auto key = std::make_pair(records[i]->partition_key, records[i]->first_seq);
        ++acked[key];
        acked_lines += records[i]->lines;
        stored.push_back(records[i]->data);
      }
      out.push_back(std::move(e));
    }
    return out;
  }

  // (partition key, first seq) of each record sent, per call.
  std::vector<std::vector<std::pair<std::string, uint64_t>>> calls;
  std::map<std::pair<std::string, uint64_t>, int> acked;  // times acknowledged
  uint64_t acked_lines = 0;
  std::vector<std::string> stored;  // data of acknowledged records, in order
};

}  // namespace muon::sim::testing
