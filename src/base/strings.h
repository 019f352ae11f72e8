// Small ASCII string helpers shared by the protocol edges (HTTP header names,
// SigV4, IAM action names, S3 and Query parameters are all ASCII and
// compared without regard to case).
#pragma once

#include <string_view>

namespace muon {

constexpr char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

// True when a and b are equal ignoring ASCII case (no locale).
constexpr bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

}  // namespace muon
