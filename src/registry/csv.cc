#include "registry/csv.h"

#include <charconv>

#include <fmt/format.h>

namespace muon::registry {
namespace {

std::string CellOf(const SqlValue& v) {
  if (IsNull(v)) return "";
  if (auto* d = std::get_if<double>(&v)) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, *d);  // shortest form that reads back exactly
    return std::string(buf, r.ptr);
  }
  return AsText(v);
}

}  // namespace

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out.push_back(',');
    const std::string& f = fields[i];
    bool quote = f.find_first_of(",\"\r\n") != std::string::npos ||
                 (!f.empty() && (f.front() == ' ' || f.back() == ' '));
    if (!quote) {
      out += f;
      continue;
    }
    out.push_back('"');
    for (char c : f) {
      if (c == '"') out.push_back('"');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out += "\r\n";
  return out;
}

Result<std::vector<CsvRecord>> ParseCsv(std::string_view text) {
  std::vector<CsvRecord> out;
  size_t i = 0, line = 1;
  while (i < text.size()) {
    CsvRecord rec;
    rec.line = line;
    std::string field;
    bool done = false;
    while (!done) {
      if (i < text.size() && text[i] == '"') {
        size_t open_line = line;
        ++i;
        while (true) {
          if (i >= text.size()) {
            return Status::InvalidArgument(
                fmt::format("line {}: a quoted field is never closed", open_line));
          }
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field.push_back('"');
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          field.push_back(text[i++]);
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\r' && text[i] != '\n') {
          return Status::InvalidArgument(
              fmt::format("line {}: text after a closing quote (write \"\" for a quote)", line));
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\r' && text[i] != '\n') {
          if (text[i] == '"') {
            return Status::InvalidArgument(
                fmt::format("line {}: a quote inside an unquoted field (quote the field)", line));
          }
          field.push_back(text[i++]);
        }
      }
      rec.fields.push_back(std::move(field));
      field.clear();
      if (i >= text.size()) {
        done = true;
      } else if (text[i] == ',') {
        ++i;
      } else {
        if (text[i] == '\r') ++i;
        if (i < text.size() && text[i] == '\n') ++i;
        ++line;
        done = true;
      }
    }
    out.push_back(std::move(rec));
  }
  return out;
}

Result<CsvFiles> ExportCsv(Registry& registry) {
  CsvFiles files;
  for (const auto& table : Registry::TableNames()) {
    MUON_ASSIGN_OR_RETURN(SqlRows rows, registry.ExportTable(table));
    std::string text = CsvLine(rows.columns);
    for (const auto& row : rows.rows) {
      std::vector<std::string> cells;
      cells.reserve(row.size());
      for (const auto& v : row) cells.push_back(CellOf(v));
      text += CsvLine(cells);
    }
    files[table + ".csv"] = std::move(text);
  }
  return files;
}

Result<std::map<std::string, size_t>> ImportCsv(Registry& registry, const CsvFiles& files,
                                                CsvError* error) {
  auto fail = [&](std::string file, size_t line, std::string field, std::string message) {
    *error = {file, line, field, ""};
    error->message = field.empty()
                         ? fmt::format("{} line {}: {}", file, line, message)
                         : fmt::format("{} line {}, field '{}': {}", file, line, field, message);
    return Status::InvalidArgument(error->message);
  };
  for (const auto& [name, text] : files) {
    std::string table = name.size() > 4 ? name.substr(0, name.size() - 4) : name;
    if (name.size() <= 4 || name.substr(name.size() - 4) != ".csv" ||
        std::find(Registry::TableNames().begin(), Registry::TableNames().end(), table) ==
            Registry::TableNames().end()) {
      return fail(name, 0, "", "not a registry table file");
    }
  }
  std::map<std::string, std::vector<std::vector<std::string>>> cells;
  std::map<std::string, std::vector<size_t>> lines;
  std::map<std::string, std::vector<std::string>> headers;
  std::map<std::string, size_t> counts;
  for (const auto& table : Registry::TableNames()) {
    const std::string file = table + ".csv";
    auto it = files.find(file);
    if (it == files.end()) return fail(file, 0, "", "the file is missing (export writes all six)");
    auto parsed = ParseCsv(it->second);
    if (!parsed.ok()) return fail(file, 0, "", parsed.status().message());
    MUON_ASSIGN_OR_RETURN(SqlRows shape, registry.ExportTable(table));  // the expected header
    if (parsed->empty() || parsed->front().fields != shape.columns) {
      return fail(file, 1, "",
                  fmt::format("the header must be exactly: {}", fmt::join(shape.columns, ",")));
    }
    headers[table] = shape.columns;
    auto& rows = cells[table];
    for (size_t r = 1; r < parsed->size(); ++r) {
      rows.push_back((*parsed)[r].fields);
      lines[table].push_back((*parsed)[r].line);
    }
    counts[file] = rows.size();
  }
  Registry::ImportError ie;
  Status s = registry.Import(cells, &ie);
  if (!s.ok()) {
    size_t line = ie.table.empty() || lines[ie.table].empty() ? 0 : lines[ie.table][ie.row];
    if (ie.table.empty()) return s;
    return fail(ie.table + ".csv", line, ie.column, ie.message);
  }
  return counts;
}

}  // namespace muon::registry
