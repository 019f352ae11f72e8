// Policy variables and wildcard patterns.
//
// A policy string (a Resource, or a value of a String*/Arn* condition) is
// expanded against the request before it is compared: ${key} becomes the value
// of the context key (names compare case-insensitively), ${key, 'default'}
// falls back to the quoted text ('' inside it is one quote), and ${*}, ${?},
// ${$} are the literal characters. Expansion is one pass: text a variable
// brings in is never expanded again and never acts as a wildcard, so a user
// named "*" cannot widen a ${aws:username} resource.
//
// A variable whose key is absent or has several values, with no default, makes
// the expansion fail; the caller then treats the element as not matching (AWS:
// "the entire statement might be invalid").
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace muon::iam {

// A pattern after expansion: wild[i] says text[i] is a * or ? wildcard rather
// than a literal character.
struct Pattern {
  std::string text;
  std::vector<bool> wild;
};

// The single value of a context key (name lower-cased), or nullopt when the
// key is absent or multi-valued.
using VariableLookup = std::function<std::optional<std::string>(std::string_view lower_key)>;

// Checks ${...} syntax. `field` names the element in the error.
Status CheckVariableSyntax(std::string_view text, std::string_view field);

// Expands variables (when `lookup` is non-null) and marks * and ? as wildcards
// when `wildcards`. nullopt when a variable cannot be resolved. Text that
// fails CheckVariableSyntax is taken literally.
std::optional<Pattern> ExpandPattern(std::string_view text, const VariableLookup* lookup,
                                     bool wildcards);

// Matches `text` against `pattern`: a wildcard * matches any run of characters
// (including none), ? exactly one. Linear in practice, never exponential
// (greedy with one backtrack point). `ignore_case` folds ASCII letters.
bool GlobMatch(const Pattern& pattern, std::string_view text, bool ignore_case);

// Convenience for patterns without variables.
bool WildcardMatch(std::string_view pattern, std::string_view text, bool ignore_case);

// ARN matching as IAM does it for Resource and ArnLike: both sides split into
// six colon-separated parts (arn:partition:service:region:account:resource);
// each of the first five matches on its own (a * never crosses a colon there)
// and the sixth, the resource, takes the rest. A pattern that is a lone "*"
// matches anything. A text that is not a six-part ARN matches only a pattern
// that is not one either, compared as a whole.
bool ArnMatch(const Pattern& pattern, std::string_view text);

}  // namespace muon::iam
