// Dynamic partitioning's MetadataExtractionQuery: the subset of jq that
// Firehose users write to pull partition keys out of JSON records, an object
// of named field paths:
//
//   {detector: .detector, site: .location.site, "day": .meta."utc day"}
//
// A path is a chain of `.name`, `."quoted name"` or `[index]` steps. Each key
// must evaluate to a string, number or boolean (a string yields its contents,
// a number its JSON text); anything else fails the record, which then goes to
// the ErrorOutputPrefix with the reason.
//
// Thread safety: a parsed query is immutable; Evaluate may run concurrently.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace muon::delivery {

class MetadataQuery {
 public:
  static Result<MetadataQuery> Parse(std::string_view query);

  // The keys in the order the query names them.
  std::vector<std::string> Keys() const;

  // Evaluates the query over one record. InvalidArgument (with the reason) if
  // the record is not JSON or a path does not lead to a scalar.
  Result<std::map<std::string, std::string>> Evaluate(std::string_view record) const;

 private:
  struct Step {
    bool is_index = false;
    std::string name;
    size_t index = 0;
  };
  struct Field {
    std::string key;
    std::string path_text;
    std::vector<Step> steps;
  };
  std::vector<Field> fields_;
};

}  // namespace muon::delivery
