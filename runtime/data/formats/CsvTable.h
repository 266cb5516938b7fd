// CsvTable.h: the one CSV format of dlspec, parsed by the same code for `dlspec check --data` (checker/data)
// and for the executable's loader (runtime/data): what one accepts the other loads. A header row names the
// columns; every other non-blank line is a record of numeric cells, as many as the header has. Cells are
// separated by commas outside double quotes, spaces, tabs and the quotes around a cell are trimmed, and a
// cell is a number as strtod reads it in full ("nan" and "inf" included, for the callers to judge); an empty
// cell is not a number. No dependency on the rest of the runtime or on the compiler.
#ifndef DLSPEC_RUNTIME_DATA_CSVTABLE_H
#define DLSPEC_RUNTIME_DATA_CSVTABLE_H
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dls::csv {

struct Table {
  std::vector<std::string> header;  // the column names
  std::vector<double> values;       // rows × header.size(), row-major
  std::vector<int64_t> line_of;     // 1-based line of each record
  int64_t rows = 0;
};

struct Error {
  enum class Kind { None, NoHeader, Ragged, NotANumber } kind = Kind::None;
  int64_t line = 0;      // 1-based
  int64_t column = 0;    // 1-based (NotANumber)
  int64_t cells = 0;     // cells of the line (Ragged)
  int64_t expected = 0;  // cells of the header (Ragged)
  std::string cell;      // the cell's text (NotANumber)
};

// Parses the whole text; on failure fills `err` and returns false (`out` then holds the records before it).
bool parse(std::string_view text, Table& out, Error& err);
// The cells of one line, trimmed.
std::vector<std::string> split_line(std::string_view line);
// Index of the column named `name` in `header`, or -1.
int64_t column_index(const std::vector<std::string>& header, const std::string& name);

}  // namespace dls::csv
#endif
