#include "base/base64.h"

#include <gtest/gtest.h>

#include "base/json_writer.h"

namespace muon {
namespace {

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (auto [plain, enc] : cases) {
    EXPECT_EQ(Base64Encode(plain), enc);
    auto dec = Base64Decode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, plain);
  }
}

TEST(Base64Test, RejectsInvalidInput) {
  for (const char* bad : {"Zg=", "Zm9v!", "Z===", "Zh==", "Zm9=", "Zm 9v", "Zm9vY"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

TEST(Base64Test, BinaryRoundTripAllLengths) {
  std::string data;
  for (int n = 0; n < 300; ++n) {
    auto enc = Base64Encode(data);
    auto dec = Base64Decode(enc);
    ASSERT_TRUE(dec.has_value());
    EXPECT_EQ(*dec, data);
    auto url = Base64UrlDecode(Base64UrlEncode(data));
    ASSERT_TRUE(url.has_value());
    EXPECT_EQ(*url, data);
    data.push_back(static_cast<char>(n * 37));
  }
}

TEST(JsonWriterTest, EscapesAndSeparates) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("a");
  w.String("q\"\\\n\x01");
  w.Key("b");
  w.BeginArray();
  w.Int(-3);
  w.Uint(7);
  w.Bool(true);
  w.EndArray();
  w.Key("c");
  w.Base64String("foo");
  w.EndObject();
  EXPECT_EQ(out, R"({"a":"q\"\\\n\u0001","b":[-3,7,true],"c":"Zm9v"})");
}

}  // namespace
}  // namespace muon
