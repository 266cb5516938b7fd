// CsvTable.h: the one CSV format of dlspec, parsed by the same code for `dlspec check --data` (checker/data)
// and for the executable's loader (runtime/data): what one accepts the other loads. After `skip` lines (a
// preamble, such as the counts line of scikit-learn's CSVs), a header row names the columns (or, without a
// header, the first record sets their count); every other non-blank line is a record of numeric cells, as
// many as the columns. Cells are separated by commas (or semicolons, tabs, or runs of blanks: Layout::sep)
// outside double quotes, spaces, tabs and the quotes around a cell are trimmed, and a
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

// How the text is laid out: `sep` is ',', ';', '\t', or ' ' for runs of spaces and tabs.
struct Layout {
  bool header = true;
  int64_t skip = 0;
  char sep = ',';
  bool missing = false;  // a missing cell (empty, NA, N/A, nan: is_missing) is read as NaN instead of refused
  // Categorical columns ("#K": index K, 0-based, negative from the last column; else a header name): their cells
  // are kept as text (Table::text_cells) and read as NaN in `values` until encode() gives them their indices.
  std::vector<std::string> categorical = {};
};

struct Table {
  std::vector<std::string> header;  // the column names (without a header row: empty names, one per column)
  std::vector<double> values;       // rows × header.size(), row-major
  std::vector<int64_t> line_of;     // 1-based line of each record
  int64_t rows = 0;
  bool named = true;                // the columns have names (a header row)
  std::vector<int64_t> text_cols;   // Layout::categorical's columns, 0-based, in its order
  std::vector<std::string> text_cells;  // rows × text_cols.size(): their cells, trimmed
};

struct Error {
  enum class Kind { None, NoHeader, Ragged, NotANumber, Column } kind = Kind::None;
  int64_t line = 0;      // 1-based
  int64_t column = 0;    // 1-based (NotANumber)
  int64_t cells = 0;     // cells of the line (Ragged)
  int64_t expected = 0;  // cells of the header (Ragged)
  std::string what;      // NotANumber: what the cell is, without its text ("is empty", "contains a NUL byte", ...);
                         // Column: why a categorical column is not one ("has no column named `x`")
};

// Parses the whole text; on failure fills `err` and returns false (`out` then holds the records before it).
bool parse(std::string_view text, Table& out, Error& err, const Layout& layout = {});
// Why `cell` is not a decimal number, as a predicate without the cell's text ("is empty", "is a hex number",
// "contains a NUL byte", "is longer than 64 characters", "is not a number"); empty when it is one.
std::string cell_defect(std::string_view cell);
// Whether `cell` marks a missing value: empty, NA, N/A or nan (in any case, nan with an optional sign).
bool is_missing(std::string_view cell);
// The cells of one line, trimmed.
std::vector<std::string> split_line(std::string_view line, char sep = ',');
// Index of the column named `name` in `header`, or -1.
int64_t column_index(const std::vector<std::string>& header, const std::string& name);

// Which column holds the labels: by index (0-based; negative counts from the last column, as in Python),
// else by name in the header row.
struct LabelColumn {
  std::string name = {};
  bool byIndex = false;
  int64_t index = 0;
};
// The 0-based index of the label column in a table of `columns` columns, or -1 with `why` ("has no column
// named `y`", "has 5 columns, so column 7 does not exist", "has no header row to find the column `y` in").
int64_t label_index(const Table& t, const LabelColumn& label, std::string& why);
// The label columns of `t`: `several` (each a name, or "#K" for index K) when not empty, else `one`; their
// 0-based indices in that order, or an empty list with `why` (a column named twice says so).
std::vector<int64_t> label_indices(const Table& t, const std::vector<std::string>& several, const LabelColumn& one,
                                   std::string& why);
// How missing cells of the feature columns are filled: by the column's mean or median over the records that
// have it, or by zero.
enum class Impute { None, Mean, Median, Zero };
Impute impute_of(std::string_view word);  // "mean", "median", "zero"; anything else: None
// One value per feature column (every column but `labels`, in order) for `mode`: a column without a value
// gets 0. `missing` receives how many cells were missing.
std::vector<double> fill_values(const Table& t, const std::vector<int64_t>& labels, Impute mode, int64_t* missing = nullptr);

// Categorical columns (Layout::categorical). The values of each, sorted by their bytes and distinct: the
// vocabulary the training split gives it (index k is the k-th).
std::vector<std::vector<std::string>> vocabularies(const Table& t);
// Replaces every categorical cell's NaN in `t.values` with its value's index in `vocab` (one list per
// Layout::categorical entry). A value not in its list: false, with `row` and `col` (0-based) of the first.
bool encode(Table& t, const std::vector<std::vector<std::string>>& vocab, int64_t& row, int64_t& col);
// Why a categorical cell cannot be a category ("is empty (a missing category)", "contains a control byte",
// "is longer than 256 bytes"); empty when it can.
std::string category_defect(std::string_view cell);
// The categorical columns and their values in the text the program keeps (runtime.h dls_rt_csv_categories):
// a line per column, its reference then each value after a tab; backslash escapes tab, newline, backslash.
std::string categories_text(const std::vector<std::string>& refs, const std::vector<std::vector<std::string>>& vocab);
bool parse_categories(std::string_view text, std::vector<std::string>& refs, std::vector<std::vector<std::string>>& vocab);
// `values` as a short list for messages: "`a`, `b`, `c`" (the first `most`, then "… (k more)").
std::string list_values(const std::vector<std::string>& values, size_t most = 12);

}  // namespace dls::csv
#endif
