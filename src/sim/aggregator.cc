#include "sim/aggregator.h"

#include <fmt/format.h>

namespace muon::sim {

Aggregator::Aggregator(std::string detector_id, AggregatorOptions options)
    : detector_id_(std::move(detector_id)), options_(options) {}

int64_t Aggregator::Window(int64_t t_ns) const {
  // Floor division: t_ns before 1970 still falls in the window that holds it.
  const int64_t q = t_ns / options_.window_ns;
  return (t_ns % options_.window_ns < 0) ? q - 1 : q;
}

Status Aggregator::Add(const Line& line, std::vector<KinesisRecord>* out) {
  const size_t bytes = line.text.size() + 1;
  if (bytes > options_.max_record_bytes) {
    return Status::InvalidArgument(
        fmt::format("line {} of detector {} is {} bytes; a record holds at most {}", line.seq,
                    detector_id_, bytes, options_.max_record_bytes));
  }
  if (open_.lines > 0 && (open_.data.size() + bytes > options_.max_record_bytes ||
                          Window(line.t_ns) != Window(open_.first_t_ns))) {
    Flush(out);
  }
  if (open_.lines == 0) {
    open_.partition_key = detector_id_;
    open_.first_seq = line.seq;
    open_.first_t_ns = line.t_ns;
    open_.data.reserve(options_.max_record_bytes);
  }
  open_.data.append(line.text);
  open_.data.push_back('\n');
  open_.last_seq = line.seq;
  ++open_.lines;
  return Status::Ok();
}

void Aggregator::FlushIfDue(int64_t now_ns, std::vector<KinesisRecord>* out) {
  if (open_.lines > 0 && Window(now_ns) != Window(open_.first_t_ns)) Flush(out);
}

void Aggregator::Flush(std::vector<KinesisRecord>* out) {
  if (open_.lines == 0) return;
  out->push_back(std::move(open_));
  open_ = KinesisRecord{};
}

}  // namespace muon::sim
