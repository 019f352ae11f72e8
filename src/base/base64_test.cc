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

// Long inputs take the vector path (32 characters a step) where the CPU has
// one: every byte value at every position of a block must be decoded exactly
// as the alphabet says or rejected.
TEST(Base64Test, EveryByteValueAtEveryBlockPositionDecodesOrIsRejected) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>(i * 131 + 7));
  const std::string enc = Base64Encode(data);  // 400 characters, no padding
  ASSERT_EQ(enc.size(), 400u);
  for (size_t pos : {0, 1, 5, 15, 16, 17, 31, 32, 63, 64, 100, 255, 383, 384, 399}) {
    for (int c = 0; c < 256; ++c) {
      if (c == '=' && pos == enc.size() - 1) continue;  // padding there may be valid
      std::string text = enc;
      text[pos] = static_cast<char>(c);
      auto dec = Base64Decode(text);
      const size_t value = kAlphabet.find(static_cast<char>(c));
      if (value == std::string::npos || c == 0) {
        EXPECT_FALSE(dec.has_value()) << "byte " << c << " at " << pos;
        continue;
      }
      ASSERT_TRUE(dec.has_value()) << "byte " << c << " at " << pos;
      // The reference: rewrite the 6 bits the character carries.
      std::string want = data;
      const size_t bit = pos * 6;
      for (int b = 0; b < 6; ++b) {
        const size_t at = bit + static_cast<size_t>(b);
        const unsigned char mask = static_cast<unsigned char>(0x80u >> (at % 8));
        if ((value >> (5 - b)) & 1) {
          want[at / 8] = static_cast<char>(want[at / 8] | mask);
        } else {
          want[at / 8] = static_cast<char>(want[at / 8] & ~mask);
        }
      }
      EXPECT_EQ(*dec, want) << "byte " << c << " at " << pos;
    }
  }
}

TEST(Base64Test, DecodeAppendKeepsWhatWasThereAndUndoesAFailure) {
  std::string data(1000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  std::string out = "prefix";
  ASSERT_TRUE(Base64DecodeAppend(Base64Encode(data), &out));
  EXPECT_EQ(out, "prefix" + data);
  std::string bad = Base64Encode(data);
  bad[700] = '*';
  std::string out2 = "prefix";
  EXPECT_FALSE(Base64DecodeAppend(bad, &out2));
  EXPECT_EQ(out2, "prefix");
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
