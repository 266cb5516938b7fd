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

bool readCsv(const std::string& path, const csv::Layout& layout, const csv::LabelColumn& label, DataTable& out,
             std::string& error, const std::vector<std::string>& several, csv::Impute impute) {
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
  const bool parsed = csv::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), t, e, layout);
  out.header = t.header;
  if (!parsed) {
    switch (e.kind) {
      case csv::Error::Kind::Ragged:
        error = "line " + std::to_string(e.line) + ": " + std::to_string(e.cells) + " cells, but the header has " +
                std::to_string(e.expected);
        break;
      case csv::Error::Kind::NotANumber:
        error = "line " + std::to_string(e.line) + ", column " + std::to_string(e.column) + ": the cell " + e.what;
        break;
      default: error = "the file is empty (no header row)"; break;
    }
    return false;
  }
  // The label columns by index or name (without either: the last column).
  std::vector<int64_t> labelIdx = {static_cast<int64_t>(t.header.size()) - 1};
  if (label.byIndex || !label.name.empty() || !several.empty()) {
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
    for (size_t i = 0, k = 0; i < ncols; ++i) {
      if (isLabel(i)) continue;
      const double v = t.values[static_cast<size_t>(r) * ncols + i];
      out.values.push_back(std::isnan(v) && !fill.empty() ? fill[k] : v);
      ++k;
    }
  }
  out.labelsPerRow = static_cast<int64_t>(labelIdx.size());
  out.lineOf = std::move(t.line_of);
  out.rows = t.rows;
  out.rowBytes = out.columns.size() * sizeof(double);
  out.raw.resize(out.values.size() * sizeof(double));
  if (!out.values.empty()) std::memcpy(out.raw.data(), out.values.data(), out.raw.size());
  return true;
}

}  // namespace dls::checker::data
