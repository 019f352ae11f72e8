#include "auth/sigv4.h"

#include <gtest/gtest.h>

namespace muon::auth {
namespace {
TEST(Sha256HexTest, EmptyString) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
}  // namespace
}  // namespace muon::auth
