// LocalObjectStore: the embedded ObjectStore, one directory on the local disk.
// On-disk layout (also docs/objectstore.md):
//
//   DIR/buckets/<bucket>/bucket.meta        JSON {"created_ms":N}; a bucket
//                                           directory without it is a half-made
//                                           bucket and is removed at Open
//   DIR/buckets/<bucket>/objects/<name>     one file per large object
//   DIR/buckets/<bucket>/segments/seg-<id>  small objects packed in records,
//                                           and deletions (segment_log.h)
//   DIR/buckets/<bucket>/tmp/               puts in progress (emptied at Open)
//   DIR/buckets/<bucket>/uploads/<id>/      a multipart upload: upload.meta
//                                           (object file framing, no data) and
//                                           part-NNNNN (object file per part)
//   DIR/trash/                              deleted buckets (emptied at Open)
//
// <name> is the lower-case hex SHA-256 of the key, so any key (any bytes, any
// length up to 1024, "..", "a/b" vs "a/b/") maps to one safe, fixed-length
// file name; the key itself lives in the file's metadata.
//
// Object file = header, metadata, data:
//   "MUONOBJ1" (8) | meta_len (u32 LE) | crc32(meta) (u32 LE) | meta (JSON) | data
// The file is complete when its size is 16 + meta_len + meta.size; anything
// else (or a bad magic/CRC) is never shown.
//
// A small put (data up to small_object_max) appends one record to the
// bucket's active segment and waits for an fdatasync of it, which concurrent
// puts share (group commit): one journal commit for the group. A large put
// writes tmp/<unique>, fdatasyncs it, renames it over objects/<name> and
// fsyncs objects/ (concurrent puts share the directory fsync). A delete
// appends a deletion record and removes the object's file if it has one.
//
// Every change of a key takes the bucket's next change number ("seq", kept in
// the record or the object file's metadata), and changes of one key run one at
// a time, so the highest seq of a key is its current state, on disk as in
// memory. Open rebuilds the ordered in-memory index (key -> metadata and
// where the data is) from the object files' heads and the segments' record
// heads; List, Head and conditional checks use it. Memory: roughly 200 bytes
// plus the key and metadata per object.
//
// Segments whose records are mostly overwritten or deleted are compacted in
// the background: live records are copied verbatim into the active segment,
// then the file is removed. A deletion record is carried while its key stays
// deleted and a dead record of the key remains in another segment.
#pragma once

#include <memory>
#include <string>

#include "base/clock.h"
#include "base/env.h"
#include "objectstore/object_store.h"

namespace muon::objectstore {

struct LocalObjectStoreOptions {
  // Objects of at most this many bytes are packed into the bucket's segment
  // files; larger ones (and completed multipart uploads) get a file each.
  // 0 puts every object in its own file.
  uint64_t small_object_max = 256 << 10;
  // A segment takes records until it would pass this size.
  uint64_t segment_bytes = 64 << 20;
  // A segment that takes no more records is compacted (its live records
  // copied into the active segment, then the file removed) once less than
  // this fraction of its bytes is live.
  double compact_below_live = 0.5;
  // A background thread looks for segments to compact this often (0: never;
  // Compact() still works).
  int compact_interval_ms = 2000;
  // Count compactions in the process-wide metrics
  // (muonpipe_objectstore_compacted_segments_total,
  // muonpipe_objectstore_compaction_copied_bytes_total).
  bool metrics = false;
};

class LocalObjectStore : public ObjectStore {
 public:
  // Opens (creating if needed) the store in `dir`: removes leftover temp files
  // and half-created buckets, and rebuilds the index. `env` and `clock` must
  // outlive the store.
  static Result<std::unique_ptr<LocalObjectStore>> Open(const std::string& dir, Env* env,
                                                        Clock* clock,
                                                        LocalObjectStoreOptions options = {});

  // Compacts every segment that is due now (see LocalObjectStoreOptions), in
  // every bucket. The background thread calls it; tests and tools may too.
  virtual Status Compact() = 0;
};

// The file name an object is stored under (hex SHA-256 of the key).
std::string ObjectFileName(std::string_view key);

// True for a key S3 accepts: valid UTF-8, 1..1024 bytes.
bool IsValidObjectKey(std::string_view key);

// True for a bucket name S3 accepts for new buckets: 3..63 characters of
// lower-case letters, digits, '.', '-', starting and ending with a letter or
// digit, no "..", not an IPv4 address.
bool IsValidBucketName(std::string_view name);

}  // namespace muon::objectstore
