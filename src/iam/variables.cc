#include "iam/variables.h"

#include <fmt/format.h>

namespace muon::iam {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

struct Variable {
  size_t end = 0;  // one past the closing brace
  std::string key;
  std::optional<std::string> default_value;
};

// Parses "${...}" starting at text[pos] == '$'. nullopt when malformed.
std::optional<Variable> ParseVariable(std::string_view text, size_t pos) {
  size_t i = pos + 2;
  auto skip_spaces = [&] {
    while (i < text.size() && text[i] == ' ') ++i;
  };
  skip_spaces();
  Variable v;
  while (i < text.size() && text[i] != ',' && text[i] != '}' && text[i] != ' ' && text[i] != '\'' &&
         text[i] != '{' && text[i] != '$') {
    v.key.push_back(text[i++]);
  }
  // ${$} is the one key that is a '$'.
  if (v.key.empty() && i < text.size() && text[i] == '$') v.key.push_back(text[i++]);
  if (v.key.empty()) return std::nullopt;
  skip_spaces();
  if (i < text.size() && text[i] == ',') {
    ++i;
    skip_spaces();
    if (i >= text.size() || text[i] != '\'') return std::nullopt;
    ++i;
    std::string def;
    bool closed = false;
    while (i < text.size()) {
      if (text[i] == '\'') {
        if (i + 1 < text.size() && text[i + 1] == '\'') {
          def.push_back('\'');
          i += 2;
          continue;
        }
        ++i;
        closed = true;
        break;
      }
      def.push_back(text[i++]);
    }
    if (!closed) return std::nullopt;
    v.default_value = std::move(def);
    skip_spaces();
  }
  if (i >= text.size() || text[i] != '}') return std::nullopt;
  v.end = i + 1;
  return v;
}

bool CharEq(char a, char b, bool ignore_case) {
  return ignore_case ? Lower(a) == Lower(b) : a == b;
}

// Glob over [p_begin, p_end) of a pattern and all of text.
bool GlobRange(const Pattern& p, size_t p_begin, size_t p_end, std::string_view t,
               bool ignore_case) {
  size_t pi = p_begin, ti = 0;
  size_t star_p = std::string::npos, star_t = 0;
  while (ti < t.size()) {
    if (pi < p_end && p.wild[pi] && p.text[pi] == '*') {
      star_p = pi++;
      star_t = ti;
    } else if (pi < p_end && ((p.wild[pi] && p.text[pi] == '?') ||
                              (!p.wild[pi] && CharEq(p.text[pi], t[ti], ignore_case)))) {
      ++pi;
      ++ti;
    } else if (star_p != std::string::npos) {
      pi = star_p + 1;
      ti = ++star_t;
    } else {
      return false;
    }
  }
  while (pi < p_end && p.wild[pi] && p.text[pi] == '*') ++pi;
  return pi == p_end;
}

// Positions of the first five colons, or fewer when there are fewer.
std::vector<size_t> FirstColons(std::string_view s) {
  std::vector<size_t> out;
  for (size_t i = 0; i < s.size() && out.size() < 5; ++i) {
    if (s[i] == ':') out.push_back(i);
  }
  return out;
}

}  // namespace

Status CheckVariableSyntax(std::string_view text, std::string_view field) {
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] != '$' || text[i + 1] != '{') continue;
    auto v = ParseVariable(text, i);
    if (!v) {
      return Status::InvalidArgument(fmt::format(
          "{}: malformed policy variable in \"{}\" (write ${{key}}, ${{key, 'default'}}, or "
          "${{$}} for a literal $)",
          field, text));
    }
    i = v->end - 1;
  }
  return Status::Ok();
}

std::optional<Pattern> ExpandPattern(std::string_view text, const VariableLookup* lookup,
                                     bool wildcards) {
  Pattern out;
  out.text.reserve(text.size());
  out.wild.reserve(text.size());
  auto literal = [&](std::string_view s) {
    out.text.append(s);
    out.wild.insert(out.wild.end(), s.size(), false);
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (lookup != nullptr && c == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      if (auto v = ParseVariable(text, i)) {
        if (v->key == "*" || v->key == "?" || v->key == "$") {
          literal(v->key);
        } else {
          std::string lower;
          for (char k : v->key) lower.push_back(Lower(k));
          std::optional<std::string> value = (*lookup)(lower);
          if (!value) value = v->default_value;
          if (!value) return std::nullopt;
          literal(*value);
        }
        i = v->end - 1;
        continue;
      }
    }
    out.text.push_back(c);
    out.wild.push_back(wildcards && (c == '*' || c == '?'));
  }
  return out;
}

bool GlobMatch(const Pattern& pattern, std::string_view text, bool ignore_case) {
  return GlobRange(pattern, 0, pattern.text.size(), text, ignore_case);
}

bool WildcardMatch(std::string_view pattern, std::string_view text, bool ignore_case) {
  auto p = ExpandPattern(pattern, nullptr, true);
  return GlobMatch(*p, text, ignore_case);
}

bool ArnMatch(const Pattern& pattern, std::string_view text) {
  if (pattern.text.size() == 1 && pattern.wild[0]) return true;
  std::vector<size_t> pc = FirstColons(pattern.text);
  std::vector<size_t> tc = FirstColons(text);
  if (pc.size() < 5 || tc.size() < 5) {
    if (pc.size() >= 5 || tc.size() >= 5) return false;
    return GlobMatch(pattern, text, false);
  }
  size_t pb = 0, tb = 0;
  for (int part = 0; part < 6; ++part) {
    size_t pe = part < 5 ? pc[part] : pattern.text.size();
    size_t te = part < 5 ? tc[part] : text.size();
    if (!GlobRange(pattern, pb, pe, text.substr(tb, te - tb), false)) return false;
    pb = pe + 1;
    tb = te + 1;
  }
  return true;
}

}  // namespace muon::iam
