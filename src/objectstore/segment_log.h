// Segment files: where LocalObjectStore packs small objects, so that a group
// of concurrent puts costs one fdatasync (one journal commit) instead of a
// file, an fdatasync and a directory fsync each.
//
// A bucket's segments/ holds seg-<id as 16 hex digits>, ids ascending in the
// order the files were started. A segment file is a header and records:
//
//   header: "MUONSEG1" | len (u32 LE) | crc32 (u32 LE) | JSON {"seals":[[id,length],...]}
//   record: meta_len (u32) | data_len (u64) | crc32(data) (u32) |
//           crc32(the 16 bytes before it + meta) (u32) | meta (JSON) | data
//
// A record's meta is the object's metadata plus "seq" (the bucket's change
// number, ascending per key), or {"key","seq","deleted":true} for a deletion.
// Records are location-free: compaction copies one verbatim into a newer
// segment.
//
// Seals: a new segment's header lists, for every older segment still on disk,
// the length up to which its records were made durable (a clean roll: all of
// it; after a failed write or sync: what was synced before). Open checks only
// record heads up to a segment's seal and ignores what follows; a segment no
// header seals (the last one, active at a crash) has every record's data
// checked too and ends at its first bad record. A segment whose own header is
// bad never held a durable record (the header is synced before any record is
// written) and is removed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace muon::objectstore {

// The head (fixed part and meta) of a record holding `meta` and data of
// `data_len` bytes whose crc32 is `data_crc`.
std::string EncodeRecordHead(std::string_view meta, uint64_t data_len, uint32_t data_crc);

// zlib crc32 of pieces back to back.
uint32_t Crc32OfPieces(const std::vector<std::string_view>& pieces);

struct RecordView {
  uint64_t offset = 0;       // of the record in its segment
  uint64_t length = 0;       // whole record
  std::string meta;          // JSON text
  uint64_t data_offset = 0;  // in the segment
  uint64_t data_len = 0;
};

// Checks a whole record read into `buf` (head, meta and data) and returns its
// meta and data; Corruption when a CRC or length is wrong.
Status ParseRecord(std::string_view buf, std::string_view* meta, std::string_view* data);

// Reads records of `file` from `start` up to `limit`, calling `fn` for each,
// and returns the offset where the valid records end (the first record that
// is short or whose head CRC is bad, or with `check_data` whose data CRC is
// bad). `fn` returning an error stops the scan with it.
Result<uint64_t> ScanRecords(const RandomAccessFile& file, uint64_t start, uint64_t limit,
                             bool check_data,
                             const std::function<Status(const RecordView&)>& fn);

struct SegmentHeader {
  std::map<uint64_t, uint64_t> seals;  // id -> sealed length
  uint64_t size = 0;                   // of the header itself
};
// OutOfRange/Corruption when the file does not start with a whole header.
Result<SegmentHeader> ReadSegmentHeader(const RandomAccessFile& file);

std::string SegmentFileName(uint64_t id);
// The id of a segment file name, 0 when `name` is not one.
uint64_t SegmentIdOf(std::string_view name);

// The appending side of one bucket's segments: writes records into the active
// segment, rolls to a new one when it is full or has failed, and makes
// records durable with shared fdatasyncs (group commit). Thread-safe.
class SegmentWriter {
 public:
  struct Location {
    uint64_t id = 0;      // segment
    uint64_t offset = 0;  // of the record
    uint64_t end = 0;     // offset + length
  };

  // `segment_bytes`: a segment is rolled before a record would take it past
  // this size (a record larger than that gets a segment to itself).
  SegmentWriter(Env* env, std::string dir, uint64_t segment_bytes);
  ~SegmentWriter();

  // Before first use: the segments already on disk (id -> valid length) with
  // readers open on them. New segments get ids above all of them.
  void Init(std::map<uint64_t, uint64_t> lengths,
            std::map<uint64_t, std::shared_ptr<const RandomAccessFile>> readers);

  // Appends one record made of `parts` back to back. The record is durable
  // only after WaitDurable of its location returns OK. On a failed write the
  // segment takes no more records (the next append starts a new one) and
  // nothing of this record is ever read back. A successful append pins its
  // segment until Unpin(loc.id): compaction leaves pinned segments alone, so
  // the caller can point its index at the record.
  Result<Location> Append(const std::vector<std::string_view>& parts);
  void Unpin(uint64_t id);
  bool Pinned(uint64_t id);
  // Returns once the record at `loc` is durable (sharing the fdatasync with
  // every caller waiting meanwhile), or the error that prevented it.
  Status WaitDurable(const Location& loc);

  // A reader of segment `id` (null if unknown). It stays valid after Forget.
  std::shared_ptr<const RandomAccessFile> Reader(uint64_t id);
  // Segments that take no more records, with their sealed lengths.
  std::map<uint64_t, uint64_t> Sealed();
  std::string PathOf(uint64_t id) const;
  // The segment was removed (compacted): later headers no longer seal it.
  void Forget(uint64_t id);
  // Syncs and closes the active segment (also done by the destructor).
  Status Close();

 private:
  Status RollLocked(std::unique_lock<std::mutex>& lock);
  // Syncs what the active segment still lacks, closes it and records its
  // seal; returns the segment's sync error, if any.
  Status SealActiveLocked();

  Env* const env_;
  const std::string dir_;
  const uint64_t segment_bytes_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<WritableFile> file_;  // the active segment; null before the first
  uint64_t active_ = 0;                 // its id; 0 = none
  uint64_t next_id_ = 1;
  uint64_t header_size_ = 0;            // of the active segment
  uint64_t written_ = 0;                // bytes appended to the active segment
  uint64_t synced_ = 0;                 // of those, durable
  bool append_failed_ = false;          // the active segment takes no more records
  Status sync_error_;                   // a failed sync: records past synced_ fail
  bool syncing_ = false;
  // Sealed segments on disk -> length durable (the seal), and the readers of
  // all segments.
  std::map<uint64_t, uint64_t> sealed_;
  std::map<uint64_t, std::shared_ptr<const RandomAccessFile>> readers_;
  std::map<uint64_t, int> pins_;
};

}  // namespace muon::objectstore
