// LocalObjectStore: the embedded ObjectStore, one directory on the local disk.
// On-disk layout (also docs/objectstore.md):
//
//   DIR/buckets/<bucket>/bucket.meta        JSON {"created_ms":N}; a bucket
//                                           directory without it is a half-made
//                                           bucket and is removed at Open
//   DIR/buckets/<bucket>/objects/<name>     one file per object
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
// A put writes tmp/<unique>, fdatasyncs it, renames it over objects/<name> and
// fsyncs objects/. Concurrent puts into one bucket share the directory fsync
// (group commit); file fdatasyncs run in parallel on the callers' threads and
// the file system batches them into shared journal commits.
//
// An ordered in-memory index (key -> metadata) per bucket is rebuilt at Open
// from the object files' headers; List, Head and conditional checks use it.
// Memory: roughly 200 bytes plus the key and metadata per object.
#pragma once

#include <memory>
#include <string>

#include "base/clock.h"
#include "base/env.h"
#include "objectstore/object_store.h"

namespace muon::objectstore {

class LocalObjectStore : public ObjectStore {
 public:
  // Opens (creating if needed) the store in `dir`: removes leftover temp files
  // and half-created buckets, and rebuilds the index. `env` and `clock` must
  // outlive the store.
  static Result<std::unique_ptr<LocalObjectStore>> Open(const std::string& dir, Env* env,
                                                        Clock* clock);
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
