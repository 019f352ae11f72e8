// Kinesis sequence numbers as muonpipe writes them: 56-digit decimal strings,
// shaped like AWS's, that order correctly within a shard both as numbers and
// as strings:
//
//   "49" | incarnation (27 digits) | shard index (7 digits) | seq (20 digits)
//
// incarnation = the stream's creation time in Unix nanoseconds, so a stream
// deleted and created again under the same name never repeats a number; seq
// is the streamlog position (uint64) within the shard.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace muon::kinesis {

struct SequenceNumber {
  uint64_t incarnation = 0;
  uint32_t shard_index = 0;
  uint64_t seq = 0;

  std::string ToString() const;
  // nullopt unless the text is exactly a number muonpipe wrote.
  static std::optional<SequenceNumber> Parse(std::string_view text);
};

}  // namespace muon::kinesis
