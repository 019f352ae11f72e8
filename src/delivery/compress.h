// Compression of delivered objects. An object is built from chunks of plain
// bytes, each compressed on its own into one piece: for GZIP a complete gzip
// member, for ZSTD a complete zstd frame. The pieces back to back are the
// object — a gzip file may hold several members and a zstd file several
// frames, and gunzip, zstd -d, zlib (inflate with gzip decoding) and libzstd's
// streaming decoder read them as one stream.
//
// Output is a deterministic function of the input (a gzip header carries no
// time or name) and of the chunk boundaries, which the caller derives from
// the records alone, so re-delivering the same records after a crash writes
// byte-identical objects.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "delivery/config.h"

namespace muon::delivery {

// Chunk sizes: an object's first chunk holds kFirstChunkBytes of plain bytes,
// each next one twice the one before, up to kMaxChunkBytes (a record larger
// than its chunk gets a chunk of its own size). Small objects (many
// partitions) thus hold little memory and large ones compress in 1 MiB steps.
inline constexpr size_t kFirstChunkBytes = 64u << 10;
inline constexpr size_t kMaxChunkBytes = 1u << 20;

// Compresses chunks, keeping its codec state and one output buffer between
// them so that steady delivery allocates nothing but the pieces.
// GZIP is libdeflate's level 1, except that a chunk whose first 16 KiB do not
// shrink by 2% at level 1 is stored (deflate level 0: stored blocks, about
// 30x faster than level 1 on incompressible bytes, and no larger); no name,
// mtime 0. ZSTD is libzstd's level 1 with the content size in each frame.
// Not thread-safe; one per delivery thread.
class Compressor {
 public:
  Compressor();
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  // The largest piece a chunk of `plain_bytes` bytes can become.
  size_t PieceBound(Compression format, size_t plain_bytes);

  // Replaces *piece by the piece made from `chunk`: a string of exactly the
  // piece's size (its capacity is what it holds in memory).
  Status CompressChunk(Compression format, std::string_view chunk, std::string* piece);

  // Frees the output buffer (kept between chunks; about 1 MiB) until the next chunk.
  void Trim();

  // GZIP chunks stored rather than compressed so far.
  uint64_t StoredChunks() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Appends the compressed form of `data` to *out, in chunks as delivery makes
// them (one-off; for tests and tools).
Status Compress(Compression format, std::string_view data, std::string* out);

// The inverse: reads every gzip member or zstd frame of `data` as one stream.
Result<std::string> Decompress(Compression format, std::string_view data);

}  // namespace muon::delivery
