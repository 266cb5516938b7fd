// CsvReader.cpp: comma-separated numeric tables with one header row.
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "Dataset.h"

namespace dls {

Array read_csv(const std::string& path, int64_t* columns, std::vector<std::string>* header) {
  std::vector<uint8_t> b = read_file(path);
  std::string text(b.begin(), b.end());
  Array a;
  size_t pos = 0;
  int64_t line = 0, ncols = -1;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string row = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (!row.empty() && row.back() == '\r') row.pop_back();
    if (row.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines
    std::vector<std::string> cells;
    size_t s = 0;
    for (;;) {
      size_t c = row.find(',', s);
      cells.push_back(row.substr(s, c == std::string::npos ? std::string::npos : c - s));
      if (c == std::string::npos) break;
      s = c + 1;
    }
    if (ncols < 0) {  // header
      ncols = (int64_t)cells.size();
      if (header)
        for (std::string cell : cells) {
          size_t f = cell.find_first_not_of(" \t\""), l = cell.find_last_not_of(" \t\"");
          header->push_back(f == std::string::npos ? "" : cell.substr(f, l - f + 1));
        }
      continue;
    }
    if ((int64_t)cells.size() != ncols)
      fail(Diag::R0206, fmt::format("{}:{}", path, line), path, line, cells.size(), ncols);
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string cell = cells[i];
      size_t f = cell.find_first_not_of(" \t\""), l = cell.find_last_not_of(" \t\"");
      cell = f == std::string::npos ? "" : cell.substr(f, l - f + 1);
      char* endp = nullptr;
      errno = 0;
      double v = cell.empty() ? 0 : std::strtod(cell.c_str(), &endp);
      if (cell.empty() || *endp != 0)
        fail(Diag::R0207, fmt::format("{}:{}:{}", path, line, i + 1), path, line, i + 1, cells[i]);
      a.values.push_back(v);
    }
  }
  if (ncols < 0) fail(Diag::R0213, path, fmt::format("'{}' is empty (no header row)", path));
  a.shape = {(int64_t)(a.values.size() / size_t(ncols)), ncols};
  *columns = ncols;
  return a;
}

}  // namespace dls
