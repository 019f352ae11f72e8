#include "delivery/compress.h"

#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>

#include <fmt/format.h>

namespace muon::delivery {
namespace {

// Fast levels: delivery must keep up with ingest on one core per stream.
constexpr int kGzipLevel = 1;
constexpr int kZstdLevel = 1;
// A chunk is stored rather than compressed when deflating its first
// kProbeBytes saves less than 1/kProbeMinSaving of them.
constexpr size_t kProbeBytes = 16u << 10;
constexpr size_t kProbeMinSaving = 50;

void PutLe16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}

void PutLe32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// `chunk` as one gzip member of stored deflate blocks (RFC 1951 3.2.4,
// RFC 1952), appended in one pass: what libdeflate's level 0 writes, without
// first zero-filling an output buffer of the chunk's size.
std::string StoredGzipMember(std::string_view chunk) {
  constexpr size_t kMaxStored = 65535;
  const size_t blocks = std::max<size_t>(1, (chunk.size() + kMaxStored - 1) / kMaxStored);
  std::string out;
  out.reserve(10 + blocks * 5 + chunk.size() + 8);
  // ID1 ID2, CM = deflate, FLG = 0, MTIME = 0, XFL = 0, OS = unknown.
  out.append("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  size_t at = 0;
  do {
    const size_t n = std::min(kMaxStored, chunk.size() - at);
    const bool last = at + n == chunk.size();
    out.push_back(last ? '\x01' : '\x00');  // BFINAL, BTYPE = 00 (stored), padded
    PutLe16(&out, static_cast<uint16_t>(n));
    PutLe16(&out, static_cast<uint16_t>(~n & 0xffff));
    out.append(chunk.substr(at, n));
    at += n;
  } while (at < chunk.size());
  PutLe32(&out, libdeflate_crc32(0, chunk.data(), chunk.size()));
  PutLe32(&out, static_cast<uint32_t>(chunk.size()));
  return out;
}

}  // namespace

struct Compressor::State {
  libdeflate_compressor* gzip = nullptr;
  libdeflate_compressor* store = nullptr;  // level 0: stored blocks
  ZSTD_CCtx* zstd = nullptr;
  std::string out;  // reused output buffer
  uint64_t stored_chunks = 0;
  ~State() {
    if (gzip) libdeflate_free_compressor(gzip);
    if (store) libdeflate_free_compressor(store);
    if (zstd) ZSTD_freeCCtx(zstd);
  }
  Status EnsureGzip() {
    if (!gzip) gzip = libdeflate_alloc_compressor(kGzipLevel);
    if (!store) store = libdeflate_alloc_compressor(0);
    if (!gzip || !store) return Status::Internal("libdeflate_alloc_compressor failed");
    return Status::Ok();
  }
};

Compressor::Compressor() : state_(std::make_unique<State>()) {}
Compressor::~Compressor() = default;

size_t Compressor::PieceBound(Compression format, size_t plain_bytes) {
  switch (format) {
    case Compression::kUncompressed: return plain_bytes;
    case Compression::kGzip:
      if (!state_->EnsureGzip().ok()) return plain_bytes + (plain_bytes >> 6) + 1024;
      return std::max(libdeflate_gzip_compress_bound(state_->gzip, plain_bytes),
                      libdeflate_gzip_compress_bound(state_->store, plain_bytes));
    case Compression::kZstd: return ZSTD_compressBound(plain_bytes);
  }
  return plain_bytes;
}

Status Compressor::CompressChunk(Compression format, std::string_view chunk, std::string* piece) {
  switch (format) {
    case Compression::kUncompressed:
      piece->assign(chunk);
      return Status::Ok();
    case Compression::kGzip: {
      MUON_RETURN_IF_ERROR(state_->EnsureGzip());
      std::string& out = state_->out;
      out.resize(PieceBound(format, chunk.size()));
      libdeflate_compressor* c = state_->gzip;
      if (chunk.size() >= 2 * kProbeBytes) {
        size_t probe = libdeflate_deflate_compress(state_->gzip, chunk.data(), kProbeBytes,
                                                   out.data(), out.size());
        if (probe == 0 || probe > kProbeBytes - kProbeBytes / kProbeMinSaving) c = state_->store;
      }
      if (c == state_->store) {
        // A stored piece is the chunk plus a few bytes: build it directly
        // rather than in `out` and copy it.
        *piece = StoredGzipMember(chunk);
        ++state_->stored_chunks;
        return Status::Ok();
      }
      size_t n = libdeflate_gzip_compress(c, chunk.data(), chunk.size(), out.data(), out.size());
      if (n == 0) return Status::Internal("libdeflate_gzip_compress: output buffer too small");
      piece->assign(out.data(), n);
      return Status::Ok();
    }
    case Compression::kZstd: {
      if (!state_->zstd) state_->zstd = ZSTD_createCCtx();
      if (!state_->zstd) return Status::Internal("ZSTD_createCCtx failed");
      std::string& out = state_->out;
      out.resize(ZSTD_compressBound(chunk.size()));
      size_t n = ZSTD_compressCCtx(state_->zstd, out.data(), out.size(), chunk.data(),
                                   chunk.size(), kZstdLevel);
      if (ZSTD_isError(n)) {
        return Status::Internal(fmt::format("zstd: {}", ZSTD_getErrorName(n)));
      }
      piece->assign(out.data(), n);
      return Status::Ok();
    }
  }
  return Status::Internal("unknown compression");
}

void Compressor::Trim() { state_->out = std::string(); }

uint64_t Compressor::StoredChunks() const { return state_->stored_chunks; }

Status Compress(Compression format, std::string_view data, std::string* out) {
  Compressor c;
  std::string piece;
  size_t chunk = kFirstChunkBytes;
  while (!data.empty()) {
    size_t n = std::min(chunk, data.size());
    MUON_RETURN_IF_ERROR(c.CompressChunk(format, data.substr(0, n), &piece));
    out->append(piece);
    data.remove_prefix(n);
    chunk = std::min(chunk * 2, kMaxChunkBytes);
  }
  return Status::Ok();
}

Result<std::string> Decompress(Compression format, std::string_view data) {
  switch (format) {
    case Compression::kUncompressed: return std::string(data);
    case Compression::kGzip: {
      z_stream z{};
      if (inflateInit2(&z, 15 + 32) != Z_OK) return Status::Internal("inflateInit2 failed");
      std::string out;
      z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      z.avail_in = static_cast<uInt>(data.size());
      char buf[65536];
      int rc = Z_OK;
      while (rc != Z_STREAM_END) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
          inflateEnd(&z);
          return Status::Corruption(fmt::format("gzip data is corrupt ({})", rc));
        }
        out.append(buf, sizeof buf - z.avail_out);
        if (rc == Z_STREAM_END && z.avail_in > 0) {  // another gzip member follows
          inflateReset(&z);
          rc = Z_OK;
        } else if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
          inflateEnd(&z);
          return Status::Corruption("gzip data is truncated");
        }
      }
      inflateEnd(&z);
      return out;
    }
    case Compression::kZstd: {
      ZSTD_DCtx* d = ZSTD_createDCtx();
      if (!d) return Status::Internal("ZSTD_createDCtx failed");
      std::string out;
      ZSTD_inBuffer in{data.data(), data.size(), 0};
      char buf[65536];
      size_t rc = 0;
      while (in.pos < in.size) {
        ZSTD_outBuffer o{buf, sizeof buf, 0};
        rc = ZSTD_decompressStream(d, &o, &in);
        if (ZSTD_isError(rc)) {
          ZSTD_freeDCtx(d);
          return Status::Corruption(fmt::format("zstd: {}", ZSTD_getErrorName(rc)));
        }
        out.append(buf, o.pos);
      }
      // Flush what the decoder still holds of the last frame.
      while (rc != 0) {
        ZSTD_outBuffer o{buf, sizeof buf, 0};
        rc = ZSTD_decompressStream(d, &o, &in);
        if (ZSTD_isError(rc)) {
          ZSTD_freeDCtx(d);
          return Status::Corruption(fmt::format("zstd: {}", ZSTD_getErrorName(rc)));
        }
        out.append(buf, o.pos);
        if (o.pos == 0 && rc != 0) {
          ZSTD_freeDCtx(d);
          return Status::Corruption("zstd data is truncated");
        }
      }
      ZSTD_freeDCtx(d);
      return out;
    }
  }
  return Status::Internal("unknown compression");
}

}  // namespace muon::delivery
