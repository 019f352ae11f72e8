#include "objectstore/framing.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace muon::objectstore {

void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

uint32_t Crc32(uint32_t crc, std::string_view data) {
  // zlib's crc32 takes a uInt length; feed large buffers in steps.
  while (!data.empty()) {
    size_t n = std::min<size_t>(data.size(), 1u << 30);
    crc = static_cast<uint32_t>(crc32(crc, reinterpret_cast<const Bytef*>(data.data()),
                                      static_cast<uInt>(n)));
    data.remove_prefix(n);
  }
  return crc;
}

std::string EncodeFrame(std::string_view magic, std::string_view body) {
  std::string out(magic.substr(0, 8));
  out.resize(kFrameHeadSize);
  PutU32(out.data() + 8, static_cast<uint32_t>(body.size()));
  PutU32(out.data() + 12, Crc32(0, body));
  out += body;
  return out;
}

Result<std::string_view> DecodeFrame(std::string_view buf, std::string_view magic,
                                     uint32_t max_len, std::string_view what, size_t* end) {
  if (buf.size() < kFrameHeadSize) return Status::OutOfRange(fmt::format("short {}", what));
  if (buf.substr(0, 8) != magic.substr(0, 8)) {
    return Status::Corruption(fmt::format("bad {} magic", what));
  }
  const uint32_t len = GetU32(buf.data() + 8);
  if (len > max_len) return Status::Corruption(fmt::format("{} too long", what));
  if (buf.size() < kFrameHeadSize + len) return Status::OutOfRange(fmt::format("short {}", what));
  std::string_view body = buf.substr(kFrameHeadSize, len);
  if (Crc32(0, body) != GetU32(buf.data() + 12)) {
    return Status::Corruption(fmt::format("{} checksum mismatch", what));
  }
  *end = kFrameHeadSize + len;
  return body;
}

Status ReadUpTo(const RandomAccessFile& f, uint64_t offset, size_t n, std::string* out) {
  out->resize(n);
  size_t done = 0;
  while (done < n) {
    MUON_ASSIGN_OR_RETURN(std::string_view got, f.Read(offset + done, n - done, out->data() + done));
    if (got.empty()) break;
    if (got.data() != out->data() + done) std::memmove(out->data() + done, got.data(), got.size());
    done += got.size();
  }
  out->resize(done);
  return Status::Ok();
}

}  // namespace muon::objectstore
