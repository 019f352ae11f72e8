// The on-disk format of a shard log. Written down here and in docs/streamlog.md.
//
// A log directory <store>/<log id>/ holds segment files and their index files:
//   <first_seq:20 digits>-<generation:10 digits>.seg   records, append-only
//   <same stem>.idx                                    sparse index of a sealed segment
// Names sort by first seq. The generation increases with every segment the log
// ever creates. A segment with a higher generation supersedes every record with
// seq >= its first_seq in segments of lower generation: that is how a log
// abandons records whose write or sync failed (see shard_log.cc).
//
// All integers are little-endian. checksum = XXH3_64bits of the bytes it covers.
//
// Segment header, 32 bytes:
//   0  magic "MUONSEG1"   8
//   8  first_seq          u64
//   16 generation         u64
//   24 checksum           u64   of bytes 0..23
//
// Record, 32-byte header + body, records back to back after the segment header:
//   0  checksum           u64   of bytes 8 .. 32+body_len (everything after itself)
//   8  body_len           u32   = pk_len + 16 + data length
//   12 pk_len             u16
//   14 flags              u16   0
//   16 seq                u64   first_seq + index of the record in the segment
//   24 arrival_ms         i64   Unix ms, non-decreasing within a log
//   32 partition key      pk_len bytes
//      hash key           16 bytes (128-bit, big-endian)
//      data               body_len - pk_len - 16 bytes
//
// Index file (written atomically once a sealed segment is fully synced):
//   0  magic "MUONIDX1"   8
//   8  entry_count        u32
//   12 reserved           u32   0
//   16 valid_bytes        u64   segment file length holding exactly its records
//   24 end_seq            u64   seq after the segment's last record
//   32 first_arrival_ms   i64
//   40 last_arrival_ms    i64
//   48 entries            entry_count * (seq u64, offset u64, arrival_ms i64)
//   .. checksum           u64   of every byte before it
// The index is only a cache: a missing or bad one is rebuilt by scanning.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "streamlog/log_store.h"

namespace muon::streamlog {

inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr size_t kRecordHeaderSize = 32;
inline constexpr size_t kHashKeySize = 16;
// Larger bodies are treated as corruption (Kinesis records are <= 1 MiB).
inline constexpr uint32_t kMaxRecordBody = 16u << 20;
inline constexpr size_t kMaxPartitionKey = 0xffff;

struct IndexEntry {
  uint64_t seq = 0;
  uint64_t offset = 0;
  int64_t arrival_ms = 0;
};

struct SegmentName {
  uint64_t first_seq = 0;
  uint64_t generation = 0;
};

std::string SegmentFileName(SegmentName name);
std::string IndexFileName(SegmentName name);
// Parses a "*.seg" name; nullopt for anything else.
std::optional<SegmentName> ParseSegmentFileName(std::string_view file_name);

std::string EncodeSegmentHeader(SegmentName name);
// Corruption if the bytes are not a valid header.
Result<SegmentName> DecodeSegmentHeader(std::string_view bytes);

// Bytes one entry takes on disk.
inline size_t EncodedRecordSize(const AppendEntry& e) {
  return kRecordHeaderSize + e.partition_key.size() + kHashKeySize + e.data.size();
}
// Appends one encoded record to *out.
void EncodeRecord(const AppendEntry& e, uint64_t seq, int64_t arrival_ms, std::string* out);

struct IndexFile {
  uint64_t valid_bytes = 0;
  uint64_t end_seq = 0;
  int64_t first_arrival_ms = 0;
  int64_t last_arrival_ms = 0;
  std::vector<IndexEntry> entries;
};
std::string EncodeIndexFile(const IndexFile& index);
Result<IndexFile> DecodeIndexFile(std::string_view bytes);

// A decoded record and where it lies; the views point into the scanner's
// buffer and stay valid until the next call to Next.
struct SegmentRecord : RecordView {
  uint64_t offset = 0;  // of the record header in the file
  uint64_t size = 0;    // header + body
};

// Walks the records of a segment file sequentially, reading in large chunks.
class SegmentScanner {
 public:
  enum class State { kRecord, kEnd, kBad };

  // Scans [offset, limit) of file. file must outlive the scanner.
  SegmentScanner(const RandomAccessFile* file, uint64_t offset, uint64_t limit);

  // kRecord: *rec is the record at offset() before the call. kEnd: offset() ==
  // limit. kBad: the bytes at offset() are not a whole valid record (torn,
  // truncated or corrupt); bad_reason() says why. An I/O error is an error.
  Result<State> Next(SegmentRecord* rec);
  uint64_t offset() const { return offset_; }
  const std::string& bad_reason() const { return bad_reason_; }

 private:
  // Makes [offset_, offset_ + n) available in buf_; false if the file is short.
  Result<bool> Fill(size_t n);

  const RandomAccessFile* const file_;
  uint64_t offset_;
  const uint64_t limit_;
  std::string buf_;
  uint64_t buf_offset_ = 0;  // file offset of buf_[0]
  size_t buf_len_ = 0;       // valid bytes in buf_
  std::string bad_reason_;
};

}  // namespace muon::streamlog
