// Files compiled into the binary at build time (prices/*.toml, src/iam/policies/*.json).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace muon::plan {

// The bytes of an embedded file, by its name ("prices/us-east-1.toml",
// "policies/Analyst.json"); nullopt if none was embedded under that name.
std::optional<std::string_view> EmbeddedFile(std::string_view name);
// Names of all embedded files, in build order.
std::vector<std::string_view> EmbeddedFileNames();

namespace internal {
struct EmbeddedFile {
  const char* name;
  const char* contents;
};
extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;
}  // namespace internal

}  // namespace muon::plan
