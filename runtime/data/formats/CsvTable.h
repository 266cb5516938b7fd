// CsvTable.h: the one CSV format of dlspec, parsed by the same code for `dlspec check --data` (checker/data)
// and for the executable's loader (runtime/data): what one accepts the other loads. A header row names the
// columns; every other non-blank line is a record of numeric cells, as many as the header has. Cells are
// separated by commas outside double quotes, spaces, tabs and the quotes around a cell are trimmed, and a
// cell is a decimal number: an optional sign, digits with an optional point and an optional exponent, or one
// of the spellings nan, inf, infinity (in any case; for the callers to judge). Everything else is refused:
// an empty cell, a hex number or hex float (0x1p3), a cell holding a NUL byte, text. A record cut short (the
// file ends inside its last record, so it has fewer cells than the header) is a ragged record; a last record
// that lacks only its final newline is complete. Errors never carry the cell's text, only its kind, so that
// a message about a data file never prints the file's contents. No dependency on the rest of the runtime or on the compiler.
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
  std::string what;      // NotANumber: what the cell is, without its text ("is empty", "contains a NUL byte", ...)
};

// Parses the whole text; on failure fills `err` and returns false (`out` then holds the records before it).
bool parse(std::string_view text, Table& out, Error& err);
// Why `cell` is not a decimal number, as a predicate without the cell's text ("is empty", "is a hex number",
// "contains a NUL byte", "is longer than 64 characters", "is not a number"); empty when it is one.
std::string cell_defect(std::string_view cell);
// The cells of one line, trimmed.
std::vector<std::string> split_line(std::string_view line);
// Index of the column named `name` in `header`, or -1.
int64_t column_index(const std::vector<std::string>& header, const std::string& name);

}  // namespace dls::csv
#endif
