#include "streamlog/segment.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace muon::streamlog {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the on-disk format is little-endian; add byte swaps for this target");

constexpr std::string_view kSegmentMagic = "MUONSEG1";
constexpr std::string_view kIndexMagic = "MUONIDX1";
constexpr size_t kIndexHeaderSize = 48;
constexpr size_t kIndexEntrySize = 24;
// Reads at least this much per pread while scanning.
constexpr size_t kScanChunk = 256 << 10;

template <typename T>
void Put(char* p, T v) {
  std::memcpy(p, &v, sizeof(v));
}
template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <typename T>
void Append(std::string* out, T v) {
  char b[sizeof(T)];
  Put(b, v);
  out->append(b, sizeof(T));
}

uint64_t Hash(const char* p, size_t n) { return XXH3_64bits(p, n); }

}  // namespace

std::string SegmentFileName(SegmentName name) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64 "-%010" PRIu64 ".seg", name.first_seq,
                name.generation);
  return buf;
}

std::string IndexFileName(SegmentName name) {
  std::string s = SegmentFileName(name);
  s.replace(s.size() - 4, 4, ".idx");
  return s;
}

std::optional<SegmentName> ParseSegmentFileName(std::string_view f) {
  if (f.size() != 20 + 1 + 10 + 4 || f[20] != '-' || !f.ends_with(".seg")) return std::nullopt;
  auto parse = [](std::string_view digits, uint64_t* out) {
    uint64_t v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      uint64_t next = v * 10 + static_cast<uint64_t>(c - '0');
      if (next / 10 != v) return false;  // overflow
      v = next;
    }
    *out = v;
    return true;
  };
  SegmentName n;
  if (!parse(f.substr(0, 20), &n.first_seq) || !parse(f.substr(21, 10), &n.generation)) {
    return std::nullopt;
  }
  return n;
}

std::string EncodeSegmentHeader(SegmentName name) {
  std::string out(kSegmentHeaderSize, '\0');
  std::memcpy(out.data(), kSegmentMagic.data(), 8);
  Put(out.data() + 8, name.first_seq);
  Put(out.data() + 16, name.generation);
  Put(out.data() + 24, Hash(out.data(), 24));
  return out;
}

Result<SegmentName> DecodeSegmentHeader(std::string_view b) {
  if (b.size() < kSegmentHeaderSize) return Status::Corruption("segment header is torn");
  if (b.substr(0, 8) != kSegmentMagic) return Status::Corruption("bad segment magic");
  if (Get<uint64_t>(b.data() + 24) != Hash(b.data(), 24)) {
    return Status::Corruption("segment header checksum mismatch");
  }
  return SegmentName{Get<uint64_t>(b.data() + 8), Get<uint64_t>(b.data() + 16)};
}

void EncodeRecord(const AppendEntry& e, uint64_t seq, int64_t arrival_ms, std::string* out) {
  const size_t start = out->size();
  const size_t body = e.partition_key.size() + kHashKeySize + e.data.size();
  out->resize(start + kRecordHeaderSize);
  char* h = out->data() + start;
  Put(h + 8, static_cast<uint32_t>(body));
  Put(h + 12, static_cast<uint16_t>(e.partition_key.size()));
  Put(h + 14, uint16_t{0});
  Put(h + 16, seq);
  Put(h + 24, arrival_ms);
  out->append(e.partition_key);
  out->append(reinterpret_cast<const char*>(e.hash_key.data()), kHashKeySize);
  out->append(e.data);
  h = out->data() + start;
  Put(h, Hash(h + 8, kRecordHeaderSize - 8 + body));
}

std::string EncodeIndexFile(const IndexFile& index) {
  std::string out;
  out.reserve(kIndexHeaderSize + index.entries.size() * kIndexEntrySize + 8);
  out.append(kIndexMagic);
  Append(&out, static_cast<uint32_t>(index.entries.size()));
  Append(&out, uint32_t{0});
  Append(&out, index.valid_bytes);
  Append(&out, index.end_seq);
  Append(&out, index.first_arrival_ms);
  Append(&out, index.last_arrival_ms);
  for (const IndexEntry& e : index.entries) {
    Append(&out, e.seq);
    Append(&out, e.offset);
    Append(&out, e.arrival_ms);
  }
  Append(&out, Hash(out.data(), out.size()));
  return out;
}

Result<IndexFile> DecodeIndexFile(std::string_view b) {
  if (b.size() < kIndexHeaderSize + 8 || b.substr(0, 8) != kIndexMagic) {
    return Status::Corruption("bad index header");
  }
  const uint32_t count = Get<uint32_t>(b.data() + 8);
  if (b.size() != kIndexHeaderSize + uint64_t{count} * kIndexEntrySize + 8) {
    return Status::Corruption("index length does not match its entry count");
  }
  if (Get<uint64_t>(b.data() + b.size() - 8) != Hash(b.data(), b.size() - 8)) {
    return Status::Corruption("index checksum mismatch");
  }
  IndexFile idx;
  idx.valid_bytes = Get<uint64_t>(b.data() + 16);
  idx.end_seq = Get<uint64_t>(b.data() + 24);
  idx.first_arrival_ms = Get<int64_t>(b.data() + 32);
  idx.last_arrival_ms = Get<int64_t>(b.data() + 40);
  idx.entries.resize(count);
  const char* p = b.data() + kIndexHeaderSize;
  for (uint32_t i = 0; i < count; ++i, p += kIndexEntrySize) {
    idx.entries[i] = {Get<uint64_t>(p), Get<uint64_t>(p + 8), Get<int64_t>(p + 16)};
  }
  return idx;
}

SegmentScanner::SegmentScanner(const RandomAccessFile* file, uint64_t offset, uint64_t limit)
    : file_(file), offset_(offset), limit_(limit) {}

Result<bool> SegmentScanner::Fill(size_t n) {
  if (offset_ >= buf_offset_ && offset_ + n <= buf_offset_ + buf_len_) return true;
  const size_t want =
      static_cast<size_t>(std::min<uint64_t>(std::max(n, kScanChunk), limit_ - offset_));
  if (buf_.size() < want) buf_.resize(want);
  MUON_ASSIGN_OR_RETURN(std::string_view got, file_->Read(offset_, want, buf_.data()));
  if (got.data() != buf_.data()) std::memmove(buf_.data(), got.data(), got.size());
  buf_offset_ = offset_;
  buf_len_ = got.size();
  return buf_len_ >= n;
}

Result<SegmentScanner::State> SegmentScanner::Next(SegmentRecord* rec) {
  if (offset_ >= limit_) return State::kEnd;
  if (limit_ - offset_ < kRecordHeaderSize) {
    bad_reason_ = "partial record header";
    return State::kBad;
  }
  MUON_ASSIGN_OR_RETURN(bool have_header, Fill(kRecordHeaderSize));
  if (!have_header) {
    bad_reason_ = "file shorter than expected";
    return State::kBad;
  }
  const char* h = buf_.data() + (offset_ - buf_offset_);
  const uint32_t body = Get<uint32_t>(h + 8);
  const uint16_t pk_len = Get<uint16_t>(h + 12);
  if (body > kMaxRecordBody || body < size_t{pk_len} + kHashKeySize) {
    bad_reason_ = "impossible record length";
    return State::kBad;
  }
  const uint64_t size = kRecordHeaderSize + body;
  if (size > limit_ - offset_) {
    bad_reason_ = "partial record body";
    return State::kBad;
  }
  MUON_ASSIGN_OR_RETURN(bool have_body, Fill(size));
  if (!have_body) {
    bad_reason_ = "file shorter than expected";
    return State::kBad;
  }
  h = buf_.data() + (offset_ - buf_offset_);
  if (Get<uint64_t>(h) != Hash(h + 8, size - 8)) {
    bad_reason_ = "record checksum mismatch";
    return State::kBad;
  }
  rec->offset = offset_;
  rec->size = size;
  rec->seq = Get<uint64_t>(h + 16);
  rec->arrival_ms = Get<int64_t>(h + 24);
  rec->partition_key = std::string_view(h + kRecordHeaderSize, pk_len);
  rec->hash_key = reinterpret_cast<const uint8_t*>(h + kRecordHeaderSize + pk_len);
  rec->data =
      std::string_view(h + kRecordHeaderSize + pk_len + kHashKeySize, body - pk_len - kHashKeySize);
  offset_ += size;
  return State::kRecord;
}

}  // namespace muon::streamlog
