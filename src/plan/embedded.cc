#include "plan/embedded.h"

namespace muon::plan {

std::optional<std::string_view> EmbeddedFile(std::string_view name) {
  for (size_t i = 0; i < internal::kEmbeddedFileCount; ++i) {
    if (name == internal::kEmbeddedFiles[i].name) return internal::kEmbeddedFiles[i].contents;
  }
  return std::nullopt;
}

std::vector<std::string_view> EmbeddedFileNames() {
  std::vector<std::string_view> names;
  for (size_t i = 0; i < internal::kEmbeddedFileCount; ++i) {
    names.push_back(internal::kEmbeddedFiles[i].name);
  }
  return names;
}

}  // namespace muon::plan
