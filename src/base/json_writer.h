// A minimal streaming JSON writer for hot paths (responses with thousands of
// records), where building a DOM first would cost more than the work itself.
// The caller is responsible for well-formed nesting; strings are escaped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace muon {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject() { Sep(); out_->push_back('{'); first_ = true; }
  void EndObject() { out_->push_back('}'); first_ = false; }
  void BeginArray() { Sep(); out_->push_back('['); first_ = true; }
  void EndArray() { out_->push_back(']'); first_ = false; }
  void Key(std::string_view k) { Sep(); AppendString(k); out_->push_back(':'); first_ = true; }
  void String(std::string_view s) { Sep(); AppendString(s); }
  void Int(int64_t v);
  void Uint(uint64_t v);
  void Double(double v);
  void Bool(bool b) { Sep(); out_->append(b ? "true" : "false"); }
  // A string value whose content is the base64 encoding of data.
  void Base64String(std::string_view data);
  // An already-serialised JSON value.
  void Raw(std::string_view json) { Sep(); out_->append(json); }

  // Escapes s as a JSON string literal onto out.
  static void Escape(std::string_view s, std::string* out);

 private:
  void Sep() {
    if (!first_) out_->push_back(',');
    first_ = false;
  }
  void AppendString(std::string_view s) { Escape(s, out_); }

  std::string* out_;
  bool first_ = true;
};

}  // namespace muon
