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

// Combining CRCs (zlib's crc32_combine, for each CRC here): the CRC of A
// followed by B from the CRC of A, the CRC of B and B's length in bytes,
// without the data. It is how a multipart object's full-object checksum
// (S3's checksum type FULL_OBJECT) follows from its parts' checksums. Each
// takes O(log length_b) multiplications modulo the CRC's polynomial. The
// CRC of no bytes is 0 for all three, so folding parts into 0 gives the CRC
// of their concatenation.
uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);
uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);
uint64_t Crc64NvmeCombine(uint64_t crc_a, uint64_t crc_b, uint64_t length_b);

// Whether `algorithm` combines so: the CRCs do, SHA-1 and SHA-256 do not.
bool ChecksumCombines(ChecksumAlgorithm algorithm);

// The combination on raw big-endian digests (ChecksumRaw's form). nullopt
// when the algorithm does not combine or a digest is not ChecksumSize long.
std::optional<std::string> ChecksumCombineRaw(ChecksumAlgorithm algorithm, std::string_view raw_a,
                                              std::string_view raw_b, uint64_t length_b);

}  // namespace muon
