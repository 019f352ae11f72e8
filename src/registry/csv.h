// The whole registry as CSV files (docs/registry.md, "Export and import"):
// one file per table, named TABLE.csv, a header row of the column names, then
// one row per stored row in key order. RFC 4180 quoting (a field holding a
// comma, quote, CR or LF, or starting or ending with a space, is quoted); an
// empty field is NULL (the registry never stores empty text). Numbers are
// written in their shortest exact form, so export -> import -> export gives
// the same bytes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "registry/registry.h"

namespace muon::registry {

// File name ("sites.csv") -> content.
using CsvFiles = std::map<std::string, std::string>;

Result<CsvFiles> ExportCsv(Registry& registry);

// Where an import failed: file, 1-based line of the record, field name.
struct CsvError {
  std::string file;
  size_t line = 0;
  std::string field;
  std::string message;  // "detectors.csv line 4, field 'channels': '1.5' is not an integer"
};

// Loads every table's file into an empty registry, in one transaction: on any
// error nothing is imported and *error says where. Every table's file must be
// present. Returns rows imported per file.
Result<std::map<std::string, size_t>> ImportCsv(Registry& registry, const CsvFiles& files,
                                                CsvError* error);

// RFC 4180 helpers (exposed for tests).
std::string CsvLine(const std::vector<std::string>& fields);
struct CsvRecord {
  size_t line = 0;  // where it starts, 1-based
  std::vector<std::string> fields;
};
// Parses `text`; an unterminated quote is an error naming its line.
Result<std::vector<CsvRecord>> ParseCsv(std::string_view text);

}  // namespace muon::registry
