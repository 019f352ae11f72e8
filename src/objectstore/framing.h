// The framed header object files ("MUONOBJ1") and segment files ("MUONSEG1")
// both start with, and the little-endian and CRC helpers their formats use:
//
//   magic (8) | body length (u32 LE) | crc32(body) (u32 LE) | body
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"

namespace muon::objectstore {

constexpr size_t kFrameHeadSize = 16;

void PutU32(char* p, uint32_t v);
uint32_t GetU32(const char* p);
// zlib's CRC-32 of `data`, continuing from `crc` (0 to start).
uint32_t Crc32(uint32_t crc, std::string_view data);

// `magic` is 8 bytes.
std::string EncodeFrame(std::string_view magic, std::string_view body);
// The body framed at the start of `buf` and, in *end, where the frame ends.
// OutOfRange when `buf` is too short to hold it (read more); Corruption when
// the magic or CRC is wrong or the body is longer than `max_len`. Messages
// name `what`.
Result<std::string_view> DecodeFrame(std::string_view buf, std::string_view magic,
                                     uint32_t max_len, std::string_view what, size_t* end);

// Reads up to n bytes at `offset` into *out (fewer only at the end of the file).
Status ReadUpTo(const RandomAccessFile& f, uint64_t offset, size_t n, std::string* out);

}  // namespace muon::objectstore
