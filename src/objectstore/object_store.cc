#include "objectstore/object_store.h"

#include "base/base64.h"

namespace muon::objectstore {

std::string_view ChecksumTypeName(ChecksumType type) {
  return type == ChecksumType::kFullObject ? "FULL_OBJECT" : "COMPOSITE";
}

std::optional<ChecksumType> ChecksumTypeFromName(std::string_view name) {
  if (name == "FULL_OBJECT") return ChecksumType::kFullObject;
  if (name == "COMPOSITE") return ChecksumType::kComposite;
  return std::nullopt;
}

std::optional<std::string> FullObjectChecksum(ChecksumAlgorithm algorithm,
                                              const std::vector<PartInfo>& parts) {
  if (!ChecksumCombines(algorithm)) return std::nullopt;
  std::string combined = ChecksumRaw(algorithm, "");
  for (const PartInfo& p : parts) {
    auto it = p.checksums.find(algorithm);
    if (it == p.checksums.end()) return std::nullopt;
    auto raw = Base64Decode(it->second);
    if (!raw) return std::nullopt;
    auto next = ChecksumCombineRaw(algorithm, combined, *raw, p.size);
    if (!next) return std::nullopt;
    combined = std::move(*next);
  }
  return Base64Encode(combined);
}

}  // namespace muon::objectstore
