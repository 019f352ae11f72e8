#include "delivery/compress.h"

#include <zlib.h>
#include <zstd.h>

#include <fmt/format.h>

namespace muon::delivery {
namespace {

// Fast levels: delivery must keep up with ingest on one core per stream.
constexpr int kGzipLevel = 1;
constexpr int kZstdLevel = 1;

Status Gzip(std::string_view data, std::string* out) {
  z_stream z{};
  if (deflateInit2(&z, kGzipLevel, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::Internal("deflateInit2 failed");
  }
  size_t base = out->size();
  out->resize(base + deflateBound(&z, data.size()) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out->data() + base);
  z.avail_out = static_cast<uInt>(out->size() - base);
  int rc = deflate(&z, Z_FINISH);
  size_t written = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Status::Internal(fmt::format("deflate failed ({})", rc));
  out->resize(base + written);
  return Status::Ok();
}

}  // namespace

Status Compress(Compression format, std::string_view data, std::string* out) {
  switch (format) {
    case Compression::kUncompressed:
      out->append(data);
      return Status::Ok();
    case Compression::kGzip:
      // zlib's counters are 32-bit; objects are at most 128 MiB plus framing.
      if (data.size() > (1ull << 31)) return Status::InvalidArgument("object too large to gzip");
      return Gzip(data, out);
    case Compression::kZstd: {
      size_t base = out->size();
      out->resize(base + ZSTD_compressBound(data.size()));
      size_t n = ZSTD_compress(out->data() + base, out->size() - base, data.data(), data.size(),
                               kZstdLevel);
      if (ZSTD_isError(n)) {
        return Status::Internal(fmt::format("zstd: {}", ZSTD_getErrorName(n)));
      }
      out->resize(base + n);
      return Status::Ok();
    }
  }
  return Status::Internal("unknown compression");
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
