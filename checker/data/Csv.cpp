#include <cmath>
#include <cstdlib>
#include <cstring>

#include "checker/data/DataTable.h"

namespace dls::checker::data {

namespace {
std::vector<std::string> splitLine(const std::string& line) {
  std::vector<std::string> cells;
  std::string cur;
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"') quoted = !quoted;
    else if (ch == ',' && !quoted) { cells.push_back(cur); cur.clear(); }
    else if (ch != '\r') cur += ch;
  }
  cells.push_back(cur);
  for (auto& c : cells) {
    size_t b = c.find_first_not_of(" \t"), e = c.find_last_not_of(" \t");
    c = b == std::string::npos ? "" : c.substr(b, e - b + 1);
  }
  return cells;
}
double parseNumber(const std::string& s, bool& ok) {
  ok = false;
  if (s.empty()) return NAN;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  ok = end && *end == 0;
  return v;
}
}  // namespace

bool readCsv(const std::string& path, const std::string& labelColumn, DataTable& out, std::string& error) {
  std::vector<uint8_t> bytes;
  if (!readMaybeGzip(path, bytes, error)) return false;
  std::string text(bytes.begin(), bytes.end());
  out = DataTable{};
  out.csv = true;
  out.file = out.labelFile = path;
  size_t pos = 0;
  int64_t lineNo = 0;
  std::vector<std::string> header;
  size_t labelIdx = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++lineNo;
    if (line.empty() || line == "\r") continue;
    auto cells = splitLine(line);
    if (header.empty()) {
      header = cells;
      out.header = header;
      labelIdx = header.size() - 1;
      if (!labelColumn.empty()) {
        bool found = false;
        for (size_t i = 0; i < header.size(); ++i)
          if (header[i] == labelColumn) { labelIdx = i; found = true; }
        if (!found) {
          out.header = header;
          out.noLabelColumn = true;
          error = "line 1: no column `" + labelColumn + "`";
          return false;
        }
      }
      for (size_t i = 0; i < header.size(); ++i)
        if (i != labelIdx) out.columns.push_back(header[i]);
      continue;
    }
    if (cells.size() != header.size()) {
      error = "line " + std::to_string(lineNo) + ": " + std::to_string(cells.size()) + " cells, but the header has " +
              std::to_string(header.size());
      return false;
    }
    for (size_t i = 0; i < cells.size(); ++i) {
      bool ok;
      double v = parseNumber(cells[i], ok);
      if (!ok && cells[i] != "nan" && cells[i] != "NaN" && !cells[i].empty()) {
        error = "line " + std::to_string(lineNo) + ", column " + std::to_string(i + 1) + ": `" + cells[i] + "` is not a number";
        return false;
      }
      if (!ok) v = NAN;
      if (i == labelIdx) {
        out.rawLabels.push_back(v);
        out.labels.push_back(std::isfinite(v) ? static_cast<int64_t>(std::llround(v)) : INT64_MIN);
      } else {
        out.values.push_back(v);
      }
    }
    out.lineOf.push_back(lineNo);
    ++out.rows;
  }
  out.rowBytes = out.columns.size() * sizeof(double);
  out.raw.resize(out.values.size() * sizeof(double));
  if (!out.values.empty()) std::memcpy(out.raw.data(), out.values.data(), out.raw.size());
  return true;
}

}  // namespace dls::checker::data
