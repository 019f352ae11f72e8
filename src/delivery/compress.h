// Compression of delivered objects. Output is a deterministic function of the
// input (a gzip header carries no time or name), so re-delivering the same
// records after a crash writes byte-identical objects.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "delivery/config.h"

namespace muon::delivery {

// Compresses whole objects, keeping its codec state (and the caller's output
// buffers) between objects so that steady delivery allocates nothing new.
// GZIP is libdeflate's (level 1, a standard single-member gzip stream with no
// name and mtime 0); ZSTD is libzstd's (level 1, content size in the frame).
// Not thread-safe; one per delivery thread.
class Compressor {
 public:
  Compressor();
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  // Replaces *out by the compressed form of `data`, reusing out's capacity.
  Status Compress(Compression format, std::string_view data, std::string* out);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Appends the compressed form of `data` to *out (a one-off Compressor).
Status Compress(Compression format, std::string_view data, std::string* out);

// The inverse, for tests and tools.
Result<std::string> Decompress(Compression format, std::string_view data);

}  // namespace muon::delivery
