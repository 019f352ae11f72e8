// Kinesis routing: a record's 128-bit hash key is the MD5 of its partition key
// (read as a big-endian unsigned integer) or its ExplicitHashKey; the shard
// whose [start, end] hash-key range holds it receives the record. The ranges
// of a stream's shards cover 0 .. 2^128-1 without gaps or overlap.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace muon::kinesis {

using UInt128 = unsigned __int128;

struct HashRange {
  UInt128 start = 0;
  UInt128 end = 0;  // inclusive
};

UInt128 HashKeyOfPartitionKey(std::string_view partition_key);
// Parses a decimal ExplicitHashKey; nullopt unless it is 0..2^128-1 written
// as AWS's pattern allows (0|[1-9][0-9]{0,38}).
std::optional<UInt128> ParseHashKey(std::string_view decimal);
std::string FormatUInt128(UInt128 v);
std::array<uint8_t, 16> ToBigEndian(UInt128 v);

// Splits the key space evenly into n ranges, as AWS does for CreateStream:
// range i starts at floor(2^128 * i / n).
std::vector<HashRange> SplitKeySpace(int n);

// Index of the range holding key; ranges must be sorted and cover the space.
size_t FindRange(const std::vector<HashRange>& ranges, UInt128 key);

}  // namespace muon::kinesis
