// CsvTable.cpp: the CSV parser shared by `dlspec check --data` and the runtime (see CsvTable.h).
#include "CsvTable.h"

#include <cerrno>
#include <cstdlib>

namespace dls::csv {

std::vector<std::string> split_line(std::string_view line) {
  std::vector<std::string> cells;
  std::string cur;
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"') quoted = !quoted;
    else if (ch == ',' && !quoted) cells.push_back(std::move(cur)), cur.clear();
    else if (ch != '\r') cur += ch;
  }
  cells.push_back(std::move(cur));
  for (auto& c : cells) {
    const size_t b = c.find_first_not_of(" \t"), e = c.find_last_not_of(" \t");
    c = b == std::string::npos ? std::string() : c.substr(b, e - b + 1);
  }
  return cells;
}

int64_t column_index(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int64_t>(i);
  return -1;
}

bool parse(std::string_view text, Table& out, Error& err) {
  out = Table{};
  err = Error{};
  size_t pos = 0;
  int64_t line = 0;
  bool haveHeader = false;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view row = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line;
    if (row.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank lines
    std::vector<std::string> cells = split_line(row);
    if (!haveHeader) {
      out.header = std::move(cells);
      haveHeader = true;
      continue;
    }
    if (cells.size() != out.header.size()) {
      err.kind = Error::Kind::Ragged, err.line = line;
      err.cells = static_cast<int64_t>(cells.size()), err.expected = static_cast<int64_t>(out.header.size());
      return false;
    }
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string& cell = cells[i];
      char* end = nullptr;
      errno = 0;
      const double v = cell.empty() ? 0 : std::strtod(cell.c_str(), &end);
      if (cell.empty() || *end != 0) {
        err.kind = Error::Kind::NotANumber, err.line = line, err.column = static_cast<int64_t>(i) + 1, err.cell = cell;
        return false;
      }
      out.values.push_back(v);
    }
    out.line_of.push_back(line);
    ++out.rows;
  }
  if (!haveHeader) {
    err.kind = Error::Kind::NoHeader;
    return false;
  }
  return true;
}

}  // namespace dls::csv
