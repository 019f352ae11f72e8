#include "base/checksum.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <array>
#include <cstring>

#include "base/base64.h"

namespace muon {
namespace {

// Reflected CRC tables, built once. CRC-32C: polynomial 0x1EDC6F41
// (reflected 0x82F63B78). CRC-64/NVME: polynomial 0xAD93D23594C93659
// (reflected 0x9A6C9329AC4BC9B5). Both: initial value all ones, final xor all
// ones. Slicing by 8 keeps them at several GB/s without special instructions.
template <typename T, T kPoly>
struct CrcTables {
  std::array<std::array<T, 256>, 8> t{};
  CrcTables() {
    for (unsigned i = 0; i < 256; ++i) {
      T c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
      t[0][i] = c;
    }
    for (unsigned i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
  }
  T Update(T crc, const unsigned char* p, size_t n) const {
    while (n >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);  // little-endian hosts (x86-64, aarch64)
      w ^= static_cast<uint64_t>(crc);
      crc = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^
            t[4][(w >> 24) & 0xff] ^ t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^
            t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
      p += 8;
      n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
    return crc;
  }
};

const CrcTables<uint32_t, 0x82F63B78u>& Crc32cTables() {
  static const CrcTables<uint32_t, 0x82F63B78u> tables;
  return tables;
}
const CrcTables<uint64_t, 0x9A6C9329AC4BC9B5ull>& Crc64NvmeTables() {
  static const CrcTables<uint64_t, 0x9A6C9329AC4BC9B5ull> tables;
  return tables;
}

// Arithmetic on polynomials over GF(2) modulo a CRC's polynomial, in the
// reflected bit order the CRCs use: the top bit is x^0, bit 0 is x^(w-1)
// (zlib's crc32.c does the same for CRC-32).
template <typename T, T kPoly>
struct CrcField {
  static constexpr T kOne = T{1} << (8 * sizeof(T) - 1);  // x^0

  // a * b modulo the polynomial.
  static T Multiply(T a, T b) {
    T m = kOne;
    T p = 0;
    for (;;) {
      if (a & m) {
        p ^= b;
        if ((a & (m - 1)) == 0) break;
      }
      m >>= 1;
      b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
    }
    return p;
  }

  // powers[k] = x^(2^k) modulo the polynomial, for k up to 3 + 64 so that
  // x^(8n) is a product of entries for any 64-bit byte count n.
  std::array<T, 68> powers{};
  CrcField() {
    T p = kOne >> 1;  // x^1
    powers[0] = p;
    for (size_t k = 1; k < powers.size(); ++k) powers[k] = p = Multiply(p, p);
  }

  // x^(8n) modulo the polynomial: appending n zero bytes to a message
  // multiplies its (pre-final-xor) register by this.
  T ShiftBytes(uint64_t n) const {
    T p = kOne;
    for (size_t k = 3; n != 0; n >>= 1, ++k) {
      if (n & 1) p = Multiply(powers[k], p);
    }
    return p;
  }

  // With initial value and final xor both all ones, the xors cancel:
  // crc(A||B) = crc(A) * x^(8|B|) + crc(B).
  T Combine(T crc_a, T crc_b, uint64_t length_b) const {
    return Multiply(ShiftBytes(length_b), crc_a) ^ crc_b;
  }
};

const CrcField<uint32_t, 0xEDB88320u>& Crc32Field() {
  static const CrcField<uint32_t, 0xEDB88320u> field;
  return field;
}
const CrcField<uint32_t, 0x82F63B78u>& Crc32cField() {
  static const CrcField<uint32_t, 0x82F63B78u> field;
  return field;
}
const CrcField<uint64_t, 0x9A6C9329AC4BC9B5ull>& Crc64NvmeField() {
  static const CrcField<uint64_t, 0x9A6C9329AC4BC9B5ull> field;
  return field;
}

template <typename T>
T FromBigEndian(std::string_view raw) {
  T v = 0;
  for (char c : raw) v = static_cast<T>((v << 8) | static_cast<unsigned char>(c));
  return v;
}

template <typename T>
std::string BigEndian(T v) {
  std::string out(sizeof(T), '\0');
  for (size_t i = 0; i < sizeof(T); ++i) {
    out[i] = static_cast<char>(v >> (8 * (sizeof(T) - 1 - i)));
  }
  return out;
}

class Crc32Checksummer final : public Checksummer {
 public:
  void Update(std::string_view data) override {
    // zlib takes uInt lengths; feed large buffers in pieces.
    while (!data.empty()) {
      size_t n = std::min<size_t>(data.size(), 1u << 30);
      crc_ = crc32_z(crc_, reinterpret_cast<const Bytef*>(data.data()), n);
      data.remove_prefix(n);
    }
  }
  std::string FinishRaw() override { return BigEndian(static_cast<uint32_t>(crc_)); }

 private:
  uLong crc_ = crc32_z(0, nullptr, 0);
};

class Crc32cChecksummer final : public Checksummer {
 public:
  void Update(std::string_view data) override {
    crc_ = Crc32cTables().Update(crc_, reinterpret_cast<const unsigned char*>(data.data()),
                                 data.size());
  }
  std::string FinishRaw() override { return BigEndian(~crc_); }

 private:
  uint32_t crc_ = ~0u;
};

class Crc64NvmeChecksummer final : public Checksummer {
 public:
  void Update(std::string_view data) override {
    crc_ = Crc64NvmeTables().Update(crc_, reinterpret_cast<const unsigned char*>(data.data()),
                                    data.size());
  }
  std::string FinishRaw() override { return BigEndian(~crc_); }

 private:
  uint64_t crc_ = ~0ull;
};

class EvpChecksummer final : public Checksummer {
 public:
  explicit EvpChecksummer(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_, md, nullptr);
  }
  ~EvpChecksummer() override { EVP_MD_CTX_free(ctx_); }
  EvpChecksummer(const EvpChecksummer&) = delete;
  EvpChecksummer& operator=(const EvpChecksummer&) = delete;

  void Update(std::string_view data) override {
    EVP_DigestUpdate(ctx_, data.data(), data.size());
  }
  std::string FinishRaw() override {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, out, &n);
    return std::string(reinterpret_cast<char*>(out), n);
  }

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace

std::string_view ChecksumName(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32: return "CRC32";
    case ChecksumAlgorithm::kCrc32c: return "CRC32C";
    case ChecksumAlgorithm::kCrc64Nvme: return "CRC64NVME";
    case ChecksumAlgorithm::kSha1: return "SHA1";
    case ChecksumAlgorithm::kSha256: return "SHA256";
  }
  return "";
}

std::optional<ChecksumAlgorithm> ChecksumFromName(std::string_view name) {
  auto eq = [&](std::string_view want) {
    if (name.size() != want.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
      char c = name[i];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (c != want[i]) return false;
    }
    return true;
  };
  for (auto a : {ChecksumAlgorithm::kCrc32, ChecksumAlgorithm::kCrc32c,
                 ChecksumAlgorithm::kCrc64Nvme, ChecksumAlgorithm::kSha1,
                 ChecksumAlgorithm::kSha256}) {
    if (eq(ChecksumName(a))) return a;
  }
  return std::nullopt;
}

size_t ChecksumSize(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
    case ChecksumAlgorithm::kCrc32c: return 4;
    case ChecksumAlgorithm::kCrc64Nvme: return 8;
    case ChecksumAlgorithm::kSha1: return 20;
    case ChecksumAlgorithm::kSha256: return 32;
  }
  return 0;
}

std::string Checksummer::FinishBase64() { return Base64Encode(FinishRaw()); }

std::unique_ptr<Checksummer> Checksummer::New(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32: return std::make_unique<Crc32Checksummer>();
    case ChecksumAlgorithm::kCrc32c: return std::make_unique<Crc32cChecksummer>();
    case ChecksumAlgorithm::kCrc64Nvme: return std::make_unique<Crc64NvmeChecksummer>();
    case ChecksumAlgorithm::kSha1: return std::make_unique<EvpChecksummer>(EVP_sha1());
    case ChecksumAlgorithm::kSha256: return std::make_unique<EvpChecksummer>(EVP_sha256());
  }
  return nullptr;
}

std::string ChecksumRaw(ChecksumAlgorithm algorithm, std::string_view data) {
  auto c = Checksummer::New(algorithm);
  c->Update(data);
  return c->FinishRaw();
}

std::string ChecksumBase64(ChecksumAlgorithm algorithm, std::string_view data) {
  return Base64Encode(ChecksumRaw(algorithm, data));
}

uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
  return Crc32Field().Combine(crc_a, crc_b, length_b);
}

uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
  return Crc32cField().Combine(crc_a, crc_b, length_b);
}

uint64_t Crc64NvmeCombine(uint64_t crc_a, uint64_t crc_b, uint64_t length_b) {
  return Crc64NvmeField().Combine(crc_a, crc_b, length_b);
}

bool ChecksumCombines(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
    case ChecksumAlgorithm::kCrc32c:
    case ChecksumAlgorithm::kCrc64Nvme:
      return true;
    case ChecksumAlgorithm::kSha1:
    case ChecksumAlgorithm::kSha256:
      return false;
  }
  return false;
}

std::optional<std::string> ChecksumCombineRaw(ChecksumAlgorithm algorithm, std::string_view raw_a,
                                              std::string_view raw_b, uint64_t length_b) {
  if (!ChecksumCombines(algorithm) || raw_a.size() != ChecksumSize(algorithm) ||
      raw_b.size() != ChecksumSize(algorithm)) {
    return std::nullopt;
  }
  switch (algorithm) {
    case ChecksumAlgorithm::kCrc32:
      return BigEndian(
          Crc32Combine(FromBigEndian<uint32_t>(raw_a), FromBigEndian<uint32_t>(raw_b), length_b));
    case ChecksumAlgorithm::kCrc32c:
      return BigEndian(
          Crc32cCombine(FromBigEndian<uint32_t>(raw_a), FromBigEndian<uint32_t>(raw_b), length_b));
    case ChecksumAlgorithm::kCrc64Nvme:
      return BigEndian(Crc64NvmeCombine(FromBigEndian<uint64_t>(raw_a),
                                        FromBigEndian<uint64_t>(raw_b), length_b));
    default:
      return std::nullopt;
  }
}

}  // namespace muon
