// CSV for `dlspec check --data`: parsed by the runtime's CSV code (runtime/data/formats/CsvTable.h), so that
// what the check accepts is what the executable loads; the label column is split off as the executable does.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "checker/data/DataTable.h"
#include "CsvTable.h"

namespace dls::checker::data {

bool readCsv(const std::string& path, const std::string& labelColumn, DataTable& out, std::string& error) {
  return readCsv(path, csv::Layout{}, csv::LabelColumn{.name = labelColumn}, out, error);
}

namespace {
std::string parseError(const csv::Error& e) {
  switch (e.kind) {
    case csv::Error::Kind::Ragged:
      return "line " + std::to_string(e.line) + ": " + std::to_string(e.cells) + " cells, but the header has " + std::to_string(e.expected);
    case csv::Error::Kind::NotANumber:
      return "line " + std::to_string(e.line) + ", column " + std::to_string(e.column) + ": the cell " + e.what;
    case csv::Error::Kind::Column: return "the categorical column: the file " + e.what;
    default: return "the file is empty (no header row)";
  }
}
}  // namespace

bool csvCategories(const std::string& path, const csv::Layout& layout, std::vector<std::vector<std::string>>& vocab,
                   std::string& error) {
  std::vector<uint8_t> bytes;
  dls::data::Error fileError;
  if (!dls::data::readFile(path, bytes, fileError)) return error = describe(fileError), false;
  csv::Table t;
  csv::Error e;
  if (!csv::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), t, e, layout))
    return error = parseError(e), false;
  vocab = csv::vocabularies(t);
  return true;
}

bool readCsv(const std::string& path, const csv::Layout& layout, const csv::LabelColumn& label, DataTable& out,
             std::string& error, const std::vector<std::string>& several, csv::Impute impute,
             const std::vector<std::vector<std::string>>* vocab, const std::string& labelFile) {
  std::vector<uint8_t> bytes;
  dls::data::Error fileError;
  if (!dls::data::readFile(path, bytes, fileError)) {
    error = describe(fileError);
    return false;
  }
  out = DataTable{};
  out.csv = true;
  out.file = out.labelFile = path;
  csv::Table t;
  csv::Error e;
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  bool parsed = csv::parse(text, t, e, layout);
  if (!parsed && e.kind == csv::Error::Kind::NotANumber && e.what.find("is text") != std::string::npos) {
    // Columns of text that are not categorical: read them as categories to say how many values they hold.
    csv::Layout more = layout;
    csv::Table probe;
    csv::Error pe = e;
    for (int tries = 0; tries < 64 && pe.kind == csv::Error::Kind::NotANumber && pe.what.find("is text") != std::string::npos; ++tries) {
      more.categorical.push_back("#" + std::to_string(pe.column - 1));
      if (csv::parse(text, probe, pe, more)) break;
    }
    if (pe.kind == csv::Error::Kind::None) {
      const auto vocabs = csv::vocabularies(probe);
      // Only columns of text throughout: a numeric column with a stray cell is D0106, which never prints the cell.
      const size_t k = probe.text_cols.size();
      for (size_t j = layout.categorical.size(); j < k && probe.rows > 0; ++j) {
        bool text = true;
        for (int64_t r = 0; r < probe.rows && text; ++r) text = !csv::cell_defect(probe.text_cells[size_t(r) * k + j]).empty();
        if (!text) {
          out.textColumns.clear();
          break;
        }
        out.textColumns.push_back({probe.text_cols[j], int64_t(vocabs[j].size()), probe.text_cells[j], probe.line_of[0]});
      }
    }
  }
  out.header = t.header;
  if (!parsed) {
    error = parseError(e);
    out.categoricalDefect = e.kind == csv::Error::Kind::Column ||
                            (e.kind == csv::Error::Kind::NotANumber &&
                             std::find(t.text_cols.begin(), t.text_cols.end(), e.column - 1) != t.text_cols.end());
    return false;
  }
  // The categorical cells as indices into the training split's values (or this file's own).
  out.categoricalColumns = t.text_cols;
  out.categories = vocab ? *vocab : csv::vocabularies(t);
  if (!t.text_cols.empty()) {
    int64_t row = 0, col = 0;
    if (!csv::encode(t, out.categories, row, col)) {
      size_t j = 0;
      while (j < t.text_cols.size() && t.text_cols[j] != col) ++j;
      out.unknown = {t.line_of[size_t(row)], col + 1, t.text_cells[size_t(row) * t.text_cols.size() + j], j};
      return false;
    }
  }
  // The labels' own file: its records, row-aligned with these.
  csv::Table lt;
  if (!labelFile.empty()) {
    std::vector<uint8_t> lbytes;
    if (!dls::data::readFile(labelFile, lbytes, fileError)) return error = "its label file: " + describe(fileError), false;
    const csv::Layout ll{.header = layout.header, .skip = layout.skip, .sep = layout.sep};
    if (!csv::parse(std::string_view(reinterpret_cast<const char*>(lbytes.data()), lbytes.size()), lt, e, ll))
      return error = "its label file `" + labelFile + "`: " + parseError(e), false;
    if (lt.rows != t.rows) {
      out.labelFileRows = lt.rows;
      out.rows = t.rows;
      return false;
    }
    out.labelFile = labelFile;
  }
  // The label columns by index or name (without either: the last column).
  std::vector<int64_t> labelIdx = {static_cast<int64_t>(t.header.size()) - 1};
  if (!labelFile.empty()) {
    labelIdx.clear();
  } else if (label.byIndex || !label.name.empty() || !several.empty()) {
    std::string why;
    labelIdx = csv::label_indices(t, several, label, why);
    if (labelIdx.empty()) {
      out.noLabelColumn = true;
      error = "the file " + why;
      return false;
    }
  }
  auto isLabel = [&](size_t i) { return std::find(labelIdx.begin(), labelIdx.end(), static_cast<int64_t>(i)) != labelIdx.end(); };
  const std::vector<double> fill = impute == csv::Impute::None ? std::vector<double>{} : csv::fill_values(t, labelIdx, impute);
  const size_t ncols = t.header.size();
  for (size_t i = 0; i < ncols; ++i)
    if (!isLabel(i)) out.columns.push_back(t.header[i]);
  for (int64_t r = 0; r < t.rows; ++r) {
    for (int64_t i : labelIdx) {
      const double v = t.values[static_cast<size_t>(r) * ncols + static_cast<size_t>(i)];
      out.rawLabels.push_back(v);
      out.labels.push_back(std::isfinite(v) ? static_cast<int64_t>(std::llround(v)) : INT64_MIN);
    }
    for (size_t i = 0, lc = lt.header.size(); i < lc && !labelFile.empty(); ++i) {
      const double v = lt.values[static_cast<size_t>(r) * lc + i];
      out.rawLabels.push_back(v);
      out.labels.push_back(std::isfinite(v) ? static_cast<int64_t>(std::llround(v)) : INT64_MIN);
    }
    for (size_t i = 0, k = 0; i < ncols; ++i) {
      if (isLabel(i)) continue;
      const double v = t.values[static_cast<size_t>(r) * ncols + i];
      out.values.push_back(std::isnan(v) && !fill.empty() ? fill[k] : v);
      ++k;
    }
  }
  out.labelsPerRow = labelFile.empty() ? static_cast<int64_t>(labelIdx.size()) : static_cast<int64_t>(lt.header.size());
  out.lineOf = std::move(t.line_of);
  out.rows = t.rows;
  out.rowBytes = out.columns.size() * sizeof(double);
  out.raw.resize(out.values.size() * sizeof(double));
  if (!out.values.empty()) std::memcpy(out.raw.data(), out.values.data(), out.raw.size());
  return true;
}

}  // namespace dls::checker::data
