// Whole-payload checksums as S3 clients send them (x-amz-checksum-<name>):
// CRC32 (zlib's), CRC32C (Castagnoli), CRC64NVME, SHA-1, SHA-256. On the wire
// each is the base64 of the big-endian digest.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace muon {

enum class ChecksumAlgorithm { kCrc32, kCrc32c, kCrc64Nvme, kSha1, kSha256 };

// "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256" (S3's ChecksumAlgorithm values).
std::string_view ChecksumName(ChecksumAlgorithm algorithm);
// Case-insensitive inverse of ChecksumName; also accepts the header suffix
// ("crc64nvme" of x-amz-checksum-crc64nvme).
std::optional<ChecksumAlgorithm> ChecksumFromName(std::string_view name);
// Digest length in bytes (4, 4, 8, 20, 32).
size_t ChecksumSize(ChecksumAlgorithm algorithm);

// Incremental computation. Not thread-safe; one per payload.
class Checksummer {
 public:
  virtual ~Checksummer() = default;
  virtual void Update(std::string_view data) = 0;
  // The raw big-endian digest; call once.
  virtual std::string FinishRaw() = 0;
  // base64 of FinishRaw(), the wire form; call once (instead of FinishRaw).
  std::string FinishBase64();

  static std::unique_ptr<Checksummer> New(ChecksumAlgorithm algorithm);
};

std::string ChecksumRaw(ChecksumAlgorithm algorithm, std::string_view data);
std::string ChecksumBase64(ChecksumAlgorithm algorithm, std::string_view data);

}  // namespace muon
