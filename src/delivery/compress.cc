#include "delivery/compress.h"

#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>

#include <fmt/format.h>

namespace muon::delivery {
namespace {

// Fast levels: delivery must keep up with ingest on one core per stream.
constexpr int kGzipLevel = 1;
constexpr int kZstdLevel = 1;

}  // namespace

struct Compressor::State {
  libdeflate_compressor* gzip = nullptr;
  ZSTD_CCtx* zstd = nullptr;
  ~State() {
    if (gzip) libdeflate_free_compressor(gzip);
    if (zstd) ZSTD_freeCCtx(zstd);
  }
};

Compressor::Compressor() : state_(std::make_unique<State>()) {}
Compressor::~Compressor() = default;

Status Compressor::Compress(Compression format, std::string_view data, std::string* out) {
  switch (format) {
    case Compression::kUncompressed:
      out->assign(data);
      return Status::Ok();
    case Compression::kGzip: {
      if (!state_->gzip) state_->gzip = libdeflate_alloc_compressor(kGzipLevel);
      if (!state_->gzip) return Status::Internal("libdeflate_alloc_compressor failed");
      out->resize(libdeflate_gzip_compress_bound(state_->gzip, data.size()));
      size_t n = libdeflate_gzip_compress(state_->gzip, data.data(), data.size(), out->data(),
                                          out->size());
      if (n == 0) return Status::Internal("libdeflate_gzip_compress: output buffer too small");
      out->resize(n);
      return Status::Ok();
    }
    case Compression::kZstd: {
      if (!state_->zstd) state_->zstd = ZSTD_createCCtx();
      if (!state_->zstd) return Status::Internal("ZSTD_createCCtx failed");
      out->resize(ZSTD_compressBound(data.size()));
      size_t n = ZSTD_compressCCtx(state_->zstd, out->data(), out->size(), data.data(),
                                   data.size(), kZstdLevel);
      if (ZSTD_isError(n)) {
        return Status::Internal(fmt::format("zstd: {}", ZSTD_getErrorName(n)));
      }
      out->resize(n);
      return Status::Ok();
    }
  }
  return Status::Internal("unknown compression");
}

Status Compress(Compression format, std::string_view data, std::string* out) {
  Compressor c;
  std::string tmp;
  MUON_RETURN_IF_ERROR(c.Compress(format, data, &tmp));
  out->append(tmp);
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
      unsigned long long size = ZSTD_getFrameContentSize(data.data(), data.size());
      if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
        return Status::Corruption("zstd frame has no content size");
      }
      std::string out(size, '\0');
      size_t n = ZSTD_decompress(out.data(), out.size(), data.data(), data.size());
      if (ZSTD_isError(n)) return Status::Corruption(fmt::format("zstd: {}", ZSTD_getErrorName(n)));
      out.resize(n);
      return out;
    }
  }
  return Status::Internal("unknown compression");
}

}  // namespace muon::delivery
