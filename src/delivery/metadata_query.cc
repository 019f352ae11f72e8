#include "delivery/metadata_query.h"

#include <cctype>

#include <fmt/format.h>
#include <simdjson.h>

namespace muon::delivery {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  void SkipSpace() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    SkipSpace();
    return i_ == s_.size();
  }
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  size_t pos() const { return i_; }

  Result<std::string> Identifier() {
    SkipSpace();
    size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) {
      ++i_;
    }
    if (start == i_ || std::isdigit(static_cast<unsigned char>(s_[start]))) {
      return Error("a name");
    }
    return std::string(s_.substr(start, i_ - start));
  }

  Result<std::string> Quoted() {
    SkipSpace();
    if (Peek() != '"') return Error("a quoted name");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
      out.push_back(s_[i_++]);
    }
    if (i_ == s_.size()) return Error("a closing quote");
    ++i_;
    return out;
  }

  Status Error(std::string_view expected) const {
    return Status::InvalidArgument(fmt::format(
        "MetadataExtractionQuery '{}': expected {} at character {}", s_, expected, i_ + 1));
  }

  std::string_view Slice(size_t from, size_t to) const { return s_.substr(from, to - from); }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Result<MetadataQuery> MetadataQuery::Parse(std::string_view query) {
  Parser p(query);
  MetadataQuery q;
  if (!p.Eat('{')) return p.Error("'{'");
  if (p.Eat('}')) return p.Error("at least one key");
  while (true) {
    Field f;
    p.SkipSpace();
    if (p.Peek() == '"') {
      MUON_ASSIGN_OR_RETURN(f.key, p.Quoted());
    } else {
      MUON_ASSIGN_OR_RETURN(f.key, p.Identifier());
    }
    if (!p.Eat(':')) return p.Error("':'");
    p.SkipSpace();
    size_t start = p.pos();
    if (p.Peek() != '.') return p.Error("a path starting with '.'");
    while (true) {
      p.SkipSpace();
      if (p.Eat('.')) {
        Step s;
        if (p.Peek() == '"') {
          MUON_ASSIGN_OR_RETURN(s.name, p.Quoted());
        } else {
          MUON_ASSIGN_OR_RETURN(s.name, p.Identifier());
        }
        f.steps.push_back(std::move(s));
      } else if (p.Eat('[')) {
        p.SkipSpace();
        Step s;
        if (p.Peek() == '"') {
          MUON_ASSIGN_OR_RETURN(s.name, p.Quoted());
        } else {
          size_t digits = 0;
          while (std::isdigit(static_cast<unsigned char>(p.Peek()))) {
            s.index = s.index * 10 + static_cast<size_t>(p.Peek() - '0');
            p.Eat(p.Peek());
            ++digits;
          }
          if (digits == 0) return p.Error("an array index or quoted name");
          s.is_index = true;
        }
        if (!p.Eat(']')) return p.Error("']'");
        f.steps.push_back(std::move(s));
      } else {
        break;
      }
    }
    f.path_text = std::string(p.Slice(start, p.pos()));
    while (!f.path_text.empty() && std::isspace(static_cast<unsigned char>(f.path_text.back()))) {
      f.path_text.pop_back();
    }
    for (const auto& other : q.fields_) {
      if (other.key == f.key) {
        return Status::InvalidArgument(
            fmt::format("MetadataExtractionQuery '{}' defines '{}' twice", query, f.key));
      }
    }
    q.fields_.push_back(std::move(f));
    if (p.Eat(',')) continue;
    if (p.Eat('}')) break;
    return p.Error("',' or '}'");
  }
  if (!p.AtEnd()) return p.Error("the end of the query");
  return q;
}

std::vector<std::string> MetadataQuery::Keys() const {
  std::vector<std::string> keys;
  for (const auto& f : fields_) keys.push_back(f.key);
  return keys;
}

Result<std::map<std::string, std::string>> MetadataQuery::Evaluate(std::string_view record) const {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(record.data(), record.size()).get(root); err) {
    return Status::InvalidArgument(
        fmt::format("the record is not valid JSON ({})", simdjson::error_message(err)));
  }
  std::map<std::string, std::string> out;
  for (const auto& f : fields_) {
    simdjson::dom::element e = root;
    for (const auto& s : f.steps) {
      simdjson::dom::element next;
      simdjson::error_code err;
      if (s.is_index) {
        err = e.at(s.index).get(next);
      } else {
        err = e[s.name].get(next);
      }
      if (err) {
        return Status::InvalidArgument(
            fmt::format("partition key '{}': path {} is not in the record", f.key, f.path_text));
      }
      e = next;
    }
    switch (e.type()) {
      case simdjson::dom::element_type::STRING:
        out[f.key] = std::string(std::string_view(e.get_string().value_unsafe()));
        break;
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE:
      case simdjson::dom::element_type::BOOL:
        out[f.key] = simdjson::minify(e);
        break;
      default:
        return Status::InvalidArgument(fmt::format(
            "partition key '{}': path {} is {}, not a string, number or boolean", f.key,
            f.path_text, e.is_null() ? "null" : e.is_array() ? "an array" : "an object"));
    }
  }
  return out;
}

}  // namespace muon::delivery
