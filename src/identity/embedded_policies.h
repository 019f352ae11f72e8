// The predefined managed policies (src/iam/policies/*.json), compiled in at
// build time by src/plan/embed.cmake.
#pragma once

#include <cstddef>

namespace muon::identity::internal {

struct EmbeddedFile {
  const char* name;      // the policy name: "Administrator", "Operator", ...
  const char* contents;  // the JSON document
};
extern const EmbeddedFile kEmbeddedFiles[];
extern const size_t kEmbeddedFileCount;

}  // namespace muon::identity::internal
