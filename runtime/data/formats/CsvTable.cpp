// CsvTable.cpp: the CSV parser shared by `dlspec check --data` and the runtime (see CsvTable.h).
#include "CsvTable.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace dls::csv {

std::vector<std::string> split_line(std::string_view line, char sep) {
  std::vector<std::string> cells;
  std::string cur;
  bool quoted = false;
  if (sep == ' ') {  // runs of blanks separate cells; blanks at either end separate nothing
    const size_t b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
    line = b == std::string_view::npos ? std::string_view() : line.substr(b, e - b + 1);
  }
  for (size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (ch == '"') quoted = !quoted;
    else if (sep == ' ' && !quoted && (ch == ' ' || ch == '\t')) {
      if (i + 1 < line.size() && (line[i + 1] == ' ' || line[i + 1] == '\t')) continue;
      cells.push_back(std::move(cur)), cur.clear();
    } else if (ch == sep && !quoted) cells.push_back(std::move(cur)), cur.clear();
    else if (ch != '\r') cur += ch;
  }
  cells.push_back(std::move(cur));
  for (auto& c : cells) {
    const size_t b = c.find_first_not_of(" \t"), e = c.find_last_not_of(" \t");
    c = b == std::string::npos ? std::string() : c.substr(b, e - b + 1);
  }
  return cells;
}

namespace {
bool digit(char c) { return c >= '0' && c <= '9'; }
bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if ((a[i] | 0x20) != b[i]) return false;
  return true;
}
// Whether `s` is a decimal number or a nan/inf spelling, in full.
bool decimal(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::string_view rest = s.substr(i);
  if (iequal(rest, "nan") || iequal(rest, "inf") || iequal(rest, "infinity")) return true;
  size_t digits = 0;
  while (i < s.size() && digit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && digit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp = 0;
    while (i < s.size() && digit(s[i])) ++i, ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}
}  // namespace

bool is_missing(std::string_view cell) {
  if (cell.empty() || iequal(cell, "na") || iequal(cell, "n/a") || iequal(cell, "nan")) return true;
  return cell.size() == 4 && (cell[0] == '+' || cell[0] == '-') && iequal(cell.substr(1), "nan");
}

std::string cell_defect(std::string_view cell) {
  if (cell.empty()) return "is empty (a missing value; `impute:` fills missing values)";
  if (iequal(cell, "na") || iequal(cell, "n/a")) return "is NA (a missing value; `impute:` fills missing values)";
  if (cell.find('\0') != std::string_view::npos) return "contains a NUL byte";
  if (cell.size() > 64) return "is longer than 64 characters";
  if (decimal(cell)) return "";
  size_t i = cell[0] == '+' || cell[0] == '-' ? 1 : 0;
  if (cell.size() > i + 1 && cell[i] == '0' && (cell[i + 1] | 0x20) == 'x')
    return cell.find_first_of("pP") != std::string_view::npos ? "is a hex float (only decimal numbers are read)"
                                                               : "is a hex number (only decimal numbers are read)";
  for (char ch : cell)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) return "contains a control byte";
  for (char ch : cell)
    if (static_cast<unsigned char>(ch) >= 0x80) return "contains non-ASCII bytes, not a number";
  if (digit(cell[i]) || cell[i] == '.') return "is a number followed by other characters";
  return "is text, not a number";
}

int64_t column_index(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int64_t>(i);
  return -1;
}

int64_t label_index(const Table& t, const LabelColumn& label, std::string& why) {
  const auto n = static_cast<int64_t>(t.header.size());
  if (label.byIndex) {
    const int64_t i = label.index < 0 ? n + label.index : label.index;
    if (i >= 0 && i < n) return i;
    why = "has " + std::to_string(n) + " columns, so column " + std::to_string(label.index) + " does not exist";
    return -1;
  }
  if (!t.named) {
    why = "has no header row to find the column `" + label.name + "` in";
    return -1;
  }
  const int64_t i = column_index(t.header, label.name);
  if (i < 0) why = "has no column named `" + label.name + "`";
  return i;
}

std::vector<int64_t> label_indices(const Table& t, const std::vector<std::string>& several, const LabelColumn& one,
                                   std::string& why) {
  std::vector<int64_t> out;
  if (several.empty()) {
    const int64_t i = label_index(t, one, why);
    if (i >= 0) out.push_back(i);
    return out;
  }
  for (const std::string& c : several) {
    LabelColumn l;
    if (!c.empty() && c[0] == '#') l.byIndex = true, l.index = std::strtoll(c.c_str() + 1, nullptr, 10);
    else l.name = c;
    const int64_t i = label_index(t, l, why);
    if (i < 0) return {};
    if (std::find(out.begin(), out.end(), i) != out.end()) {
      why = "has column " + std::to_string(i) + " named twice among the label columns";
      return {};
    }
    out.push_back(i);
  }
  return out;
}

Impute impute_of(std::string_view word) {
  return word == "mean" ? Impute::Mean : word == "median" ? Impute::Median : word == "zero" ? Impute::Zero : Impute::None;
}

std::vector<double> fill_values(const Table& t, const std::vector<int64_t>& labels, Impute mode, int64_t* missing) {
  const auto cols = static_cast<int64_t>(t.header.size());
  std::vector<double> fill;
  int64_t absent = 0;
  std::vector<double> col;
  for (int64_t c = 0; c < cols; ++c) {
    if (std::find(labels.begin(), labels.end(), c) != labels.end()) continue;
    col.clear();
    for (int64_t r = 0; r < t.rows; ++r) {
      const double v = t.values[size_t(r * cols + c)];
      if (std::isnan(v)) ++absent;
      else col.push_back(v);
    }
    double f = 0;
    if (!col.empty() && mode == Impute::Mean) {
      for (double v : col) f += v;
      f /= double(col.size());
    } else if (!col.empty() && mode == Impute::Median) {  // NumPy's median: the mean of the middle two of an even count
      std::sort(col.begin(), col.end());
      const size_t m = col.size() / 2;
      f = col.size() % 2 ? col[m] : (col[m - 1] + col[m]) / 2;
    }
    fill.push_back(f);
  }
  if (missing) *missing = absent;
  return fill;
}

bool parse(std::string_view text, Table& out, Error& err, const Layout& layout) {
  out = Table{};
  err = Error{};
  out.named = layout.header;
  size_t pos = 0;
  int64_t line = 0;
  bool haveHeader = false;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view row = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line;
    if (line <= layout.skip) continue;  // the preamble, whatever it holds
    if (row.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // blank lines
    std::vector<std::string> cells = split_line(row, layout.sep);
    if (!haveHeader) {
      haveHeader = true;
      if (layout.header) out.header = std::move(cells);
      else out.header.assign(cells.size(), std::string());  // the first record sets the column count
      // The categorical columns, by index or by name.
      for (const std::string& ref : layout.categorical) {
        LabelColumn c;
        if (!ref.empty() && ref[0] == '#') c.byIndex = true, c.index = std::strtoll(ref.c_str() + 1, nullptr, 10);
        else c.name = ref;
        std::string why;
        const int64_t k = label_index(out, c, why);
        if (k < 0 || std::find(out.text_cols.begin(), out.text_cols.end(), k) != out.text_cols.end()) {
          err.kind = Error::Kind::Column, err.line = line;
          err.what = k < 0 ? why : "has column " + std::to_string(k) + " named twice among the categorical columns";
          return false;
        }
        out.text_cols.push_back(k);
      }
      if (layout.header) continue;
    }
    if (cells.size() != out.header.size()) {
      err.kind = Error::Kind::Ragged, err.line = line;
      err.cells = static_cast<int64_t>(cells.size()), err.expected = static_cast<int64_t>(out.header.size());
      return false;
    }
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string& cell = cells[i];
      if (!out.text_cols.empty() &&
          std::find(out.text_cols.begin(), out.text_cols.end(), static_cast<int64_t>(i)) != out.text_cols.end()) {
        std::string why = category_defect(cell);
        if (!why.empty()) {
          err.kind = Error::Kind::NotANumber, err.line = line, err.column = static_cast<int64_t>(i) + 1, err.what = std::move(why);
          return false;
        }
        out.values.push_back(NAN);  // its index, once encode() knows the vocabulary
        continue;
      }
      if (layout.missing && is_missing(cell)) {
        out.values.push_back(NAN);
        continue;
      }
      std::string why = cell_defect(cell);
      if (!why.empty()) {
        err.kind = Error::Kind::NotANumber, err.line = line, err.column = static_cast<int64_t>(i) + 1, err.what = std::move(why);
        return false;
      }
      const double v = std::strtod(cell.c_str(), nullptr);
      out.values.push_back(v);
    }
    for (int64_t k : out.text_cols) out.text_cells.push_back(cells[size_t(k)]);
    out.line_of.push_back(line);
    ++out.rows;
  }
  if (!haveHeader) {
    err.kind = Error::Kind::NoHeader;
    return false;
  }
  return true;
}

std::string category_defect(std::string_view cell) {
  if (cell.empty()) return "is empty (a missing category; a categorical column's cells name categories)";
  if (cell.size() > 256) return "is longer than 256 bytes (a categorical column's cells name categories)";
  for (char ch : cell)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) return "contains a control byte";
  return "";
}

std::vector<std::vector<std::string>> vocabularies(const Table& t) {
  const size_t k = t.text_cols.size();
  std::vector<std::vector<std::string>> out(k);
  for (size_t j = 0; j < k; ++j) {
    for (int64_t r = 0; r < t.rows; ++r) out[j].push_back(t.text_cells[size_t(r) * k + j]);
    std::sort(out[j].begin(), out[j].end());
    out[j].erase(std::unique(out[j].begin(), out[j].end()), out[j].end());
  }
  return out;
}

bool encode(Table& t, const std::vector<std::vector<std::string>>& vocab, int64_t& row, int64_t& col) {
  const size_t k = t.text_cols.size(), cols = t.header.size();
  static const std::vector<std::string> none;
  for (int64_t r = 0; r < t.rows; ++r)
    for (size_t j = 0; j < k; ++j) {
      const std::string& cell = t.text_cells[size_t(r) * k + j];
      const std::vector<std::string>& v = j < vocab.size() ? vocab[j] : none;
      auto it = std::lower_bound(v.begin(), v.end(), cell);
      if (it == v.end() || *it != cell) {
        row = r, col = t.text_cols[j];
        return false;
      }
      t.values[size_t(r) * cols + size_t(t.text_cols[j])] = double(it - v.begin());
    }
  return true;
}

namespace {
void escape_to(std::string& out, std::string_view s) {
  for (char ch : s) {
    if (ch == '\\') out += "\\\\";
    else if (ch == '\t') out += "\\t";
    else if (ch == '\n') out += "\\n";
    else out += ch;
  }
}
}  // namespace

std::string categories_text(const std::vector<std::string>& refs, const std::vector<std::vector<std::string>>& vocab) {
  std::string out;
  for (size_t j = 0; j < refs.size(); ++j) {
    if (j) out += '\n';
    escape_to(out, refs[j]);
    if (j < vocab.size())
      for (const std::string& v : vocab[j]) out += '\t', escape_to(out, v);
  }
  return out;
}

bool parse_categories(std::string_view text, std::vector<std::string>& refs, std::vector<std::vector<std::string>>& vocab) {
  refs.clear(), vocab.clear();
  if (text.empty()) return true;
  std::vector<std::string> fields(1);
  auto endLine = [&] {
    refs.push_back(fields[0]);
    vocab.emplace_back(fields.begin() + 1, fields.end());
    fields.assign(1, std::string());
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '\\') {
      if (++i >= text.size()) return false;
      const char e = text[i];
      if (e == 't') fields.back() += '\t';
      else if (e == 'n') fields.back() += '\n';
      else if (e == '\\') fields.back() += '\\';
      else return false;
    } else if (ch == '\t') {
      fields.emplace_back();
    } else if (ch == '\n') {
      endLine();
    } else {
      fields.back() += ch;
    }
  }
  endLine();
  for (const auto& v : vocab)
    if (v.empty() || !std::is_sorted(v.begin(), v.end()) || std::adjacent_find(v.begin(), v.end()) != v.end()) return false;
  return true;
}

std::string list_values(const std::vector<std::string>& values, size_t most) {
  std::string out;
  for (size_t i = 0; i < values.size() && i < most; ++i) out += (i ? ", `" : "`") + values[i] + "`";
  if (values.size() > most) out += ", … (" + std::to_string(values.size() - most) + " more)";
  return out;
}

}  // namespace dls::csv
