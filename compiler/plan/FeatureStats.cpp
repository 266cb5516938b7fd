// FeatureStats.cpp: per-feature mean, standard deviation, minimum and maximum of a training split (see
// FeatureStats.h). Sums are in double, two passes (mean, then squared deviations).
#include "plan/FeatureStats.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "CsvTable.h"     // data/formats: the CSV code the runtime and `check --data` use
#include "DataFormats.h"  // data/formats: IDX, NPY, gzip

namespace dls::plan {

namespace {
std::string describe(const data::Error& e) {
  return e.offset ? fmt::format("byte {}: {}", e.offset, e.what) : e.what;
}
// The training CSV file as the runtime reads it: its table (missing cells as NaN when it imputes, categorical
// cells as their indices in this file's own sorted values) and its label columns (none when the labels have a
// file of their own).
bool readTrainingCsv(const sema::DataSource& src, const std::string& labelField, csv::Table& t, std::vector<int64_t>& labels,
                     std::string& error, csv::Error* parseError = nullptr) {
  if (src.resolved.empty()) return error = "the split names no file", false;
  std::vector<uint8_t> bytes;
  data::Error fe;
  if (!data::readFile(src.resolved[0], bytes, fe)) return error = describe(fe), false;
  csv::Error ce;
  const csv::Layout layout{.header = src.csvHeader, .skip = src.csvSkip, .sep = src.csvSep, .missing = !src.impute.empty(),
                           .categorical = src.categorical};
  if (!csv::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), t, ce, layout)) {
    error = ce.kind == csv::Error::Kind::Ragged       ? fmt::format("line {}: {} cells, but the file has {} columns", ce.line, ce.cells, ce.expected)
            : ce.kind == csv::Error::Kind::NotANumber ? fmt::format("line {}, column {}: the cell {}", ce.line, ce.column, ce.what)
            : ce.kind == csv::Error::Kind::Column     ? "the file " + ce.what + " (a categorical column)"
                                                      : std::string("the file is empty");
    if (parseError) *parseError = ce;
    return false;
  }
  int64_t row = 0, col = 0;
  if (!t.text_cols.empty() && !csv::encode(t, csv::vocabularies(t), row, col)) return error = "a category is missing from its own file", false;
  if (t.rows == 0) return error = "it holds no records", false;
  if (!src.labelFile.empty()) return true;
  const csv::LabelColumn label = src.labelByIndex ? csv::LabelColumn{.byIndex = true, .index = src.labelIndex}
                                                  : csv::LabelColumn{.name = src.labelColumn.empty() ? labelField : src.labelColumn};
  std::string why;
  labels = csv::label_indices(t, src.labelColumns, label, why);
  if (labels.empty()) return error = "the file " + why, false;
  return true;
}
}  // namespace

bool categories(const sema::DataSource& src, const std::string& labelField, Categories& out, std::string& error) {
  out = Categories{};
  if (src.resolved.empty()) return error = "the split names no file", false;
  std::vector<uint8_t> bytes;
  data::Error fe;
  if (!data::readFile(src.resolved[0], bytes, fe)) return error = describe(fe), false;
  csv::Table t;
  csv::Error ce;
  const csv::Layout layout{.header = src.csvHeader, .skip = src.csvSkip, .sep = src.csvSep, .missing = !src.impute.empty(),
                           .categorical = src.categorical};
  if (!csv::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), t, ce, layout)) {
    out.cellLine = ce.kind == csv::Error::Kind::NotANumber ? ce.line : 0, out.cellColumn = ce.column, out.cellWhy = ce.what;
    error = ce.kind == csv::Error::Kind::Ragged       ? fmt::format("line {}: {} cells, but the file has {} columns", ce.line, ce.cells, ce.expected)
            : ce.kind == csv::Error::Kind::NotANumber ? fmt::format("line {}, column {}: the cell {}", ce.line, ce.column, ce.what)
            : ce.kind == csv::Error::Kind::Column     ? "the file " + ce.what
                                                      : std::string("the file is empty");
    return false;
  }
  out.columns = t.text_cols;
  out.values = csv::vocabularies(t);
  out.header = t.header;
  out.named = t.named;
  if (src.labelFile.empty()) {
    const csv::LabelColumn label = src.labelByIndex ? csv::LabelColumn{.byIndex = true, .index = src.labelIndex}
                                                    : csv::LabelColumn{.name = src.labelColumn.empty() ? labelField : src.labelColumn};
    std::string why;
    out.labels = csv::label_indices(t, src.labelColumns, label, why);
  }
  return true;
}

bool imputeValues(const sema::DataSource& src, const std::string& labelField, std::vector<double>& fill, std::string& error) {
  csv::Table t;
  std::vector<int64_t> labels;
  if (!readTrainingCsv(src, labelField, t, labels, error)) return false;
  fill = csv::fill_values(t, labels, csv::impute_of(src.impute));
  return true;
}

bool targetValues(const sema::DataSource& src, const std::string& labelField, std::vector<std::vector<double>>& columns,
                  std::string& error) {
  csv::Table t;
  std::vector<int64_t> labels;
  if (src.format != sema::DataFormat::Csv) return error = "target statistics are computed for CSV training data", false;
  if (!src.labelFile.empty()) {
    // The labels' own file: every column a target.
    sema::DataSource lf = src;
    lf.resolved = {src.labelFile}, lf.categorical.clear(), lf.impute.clear(), lf.labelFile.clear();
    lf.labelColumns.clear(), lf.labelByIndex = true, lf.labelIndex = 0;
    if (!readTrainingCsv(lf, labelField, t, labels, error)) return false;
    labels.clear();
    for (int64_t j = 0; j < int64_t(t.header.size()); ++j) labels.push_back(j);
  } else if (!readTrainingCsv(src, labelField, t, labels, error)) {
    return false;
  }
  const auto cols = static_cast<int64_t>(t.header.size());
  columns.assign(labels.size(), {});
  for (size_t j = 0; j < labels.size(); ++j)
    for (int64_t r = 0; r < t.rows; ++r) {
      const double v = t.values[size_t(r * cols + labels[j])];
      if (!std::isfinite(v))
        return error = fmt::format("line {}, column {}: the target is not a finite number", t.line_of[size_t(r)], labels[j] + 1), false;
      columns[j].push_back(v);
    }
  return true;
}

bool featureStats(const sema::DataSource& src, const std::string& labelField, int64_t features, FeatureStats& out,
                  std::string& error, std::pair<int64_t, int64_t> columns) {
  out = FeatureStats{};
  if (src.resolved.empty()) return error = "the split names no file", false;
  std::vector<double> values;  // records × features
  int64_t records = 0;
  if (src.format == sema::DataFormat::Csv) {
    csv::Table t;
    std::vector<int64_t> labels;
    if (!readTrainingCsv(src, labelField, t, labels, error)) return false;
    const auto cols = static_cast<int64_t>(t.header.size());
    const bool group = columns.first >= 0;
    if (group && (columns.second > cols || columns.second - columns.first != features))
      return error = fmt::format("its records have {} columns, so columns [{}, {}) are not the {} of the sample field", cols,
                                 columns.first, columns.second, features), false;
    if (!group && cols - int64_t(labels.size()) != features)
      return error = fmt::format("its records have {} feature columns, but the sample has {} elements", cols - int64_t(labels.size()), features), false;
    // Missing cells count as the values `impute:` gives them.
    const std::vector<double> fill = src.impute.empty() ? std::vector<double>{} : csv::fill_values(t, labels, csv::impute_of(src.impute));
    records = t.rows;
    values.reserve(size_t(records * features));
    for (int64_t r = 0; r < records; ++r)
      for (int64_t c = 0, k = 0; c < cols; ++c) {
        if (std::find(labels.begin(), labels.end(), c) != labels.end()) continue;
        const double v = t.values[size_t(r * cols + c)];
        if (!group || (c >= columns.first && c < columns.second)) values.push_back(std::isnan(v) && !fill.empty() ? fill[size_t(k)] : v);
        ++k;
      }
  } else if (src.format == sema::DataFormat::Npy || src.format == sema::DataFormat::Idx) {
    data::Array a;
    data::Error fe;
    const bool ok = src.format == sema::DataFormat::Npy ? data::readNpy(src.resolved[0], a, fe) : data::readIdx(src.resolved[0], a, fe);
    if (!ok) return error = describe(fe), false;
    records = a.shape.empty() ? 0 : a.shape[0];
    if (records == 0 || int64_t(a.numel()) != records * features)
      return error = fmt::format("it holds {} values in {} records, not {} per record", a.numel(), records, features), false;
    values.resize(a.numel());
    for (size_t i = 0; i < values.size(); ++i) values[i] = a.at(i);
  } else {
    return error = "only CSV, NPY and IDX files are read for per-feature statistics", false;
  }
  if (records == 0) return error = "it holds no records", false;
  const auto F = size_t(features);
  out.records = records;
  out.mean.assign(F, 0.0), out.std.assign(F, 0.0), out.min.assign(F, INFINITY), out.max.assign(F, -INFINITY);
  for (int64_t r = 0; r < records; ++r)
    for (size_t f = 0; f < F; ++f) {
      const double v = values[size_t(r) * F + f];
      if (!std::isfinite(v))
        return error = fmt::format("record {} has a value that is not a finite number in feature {}", r, f), false;
      out.mean[f] += v, out.min[f] = std::min(out.min[f], v), out.max[f] = std::max(out.max[f], v);
    }
  for (double& m : out.mean) m /= double(records);
  for (int64_t r = 0; r < records; ++r)
    for (size_t f = 0; f < F; ++f) {
      const double d = values[size_t(r) * F + f] - out.mean[f];
      out.std[f] += d * d;
    }
  for (double& s : out.std) s = std::sqrt(s / double(records));
  return true;
}

}  // namespace dls::plan
