// FeatureStats.cpp: per-feature mean, standard deviation, minimum and maximum of a training split (see
// FeatureStats.h). Sums are in double, two passes (mean, then squared deviations).
#include "plan/FeatureStats.h"

#include <cmath>
#include <fmt/format.h>

#include "CsvTable.h"     // data/formats: the CSV code the runtime and `check --data` use
#include "DataFormats.h"  // data/formats: IDX, NPY, gzip

namespace dls::plan {

namespace {
std::string describe(const data::Error& e) {
  return e.offset ? fmt::format("byte {}: {}", e.offset, e.what) : e.what;
}
}  // namespace

bool featureStats(const sema::DataSource& src, const std::string& labelField, int64_t features, FeatureStats& out,
                  std::string& error) {
  out = FeatureStats{};
  if (src.resolved.empty()) return error = "the split names no file", false;
  std::vector<double> values;  // records × features
  int64_t records = 0;
  if (src.format == sema::DataFormat::Csv) {
    std::vector<uint8_t> bytes;
    data::Error fe;
    if (!data::readFile(src.resolved[0], bytes, fe)) return error = describe(fe), false;
    csv::Table t;
    csv::Error ce;
    const csv::Layout layout{.header = src.csvHeader, .skip = src.csvSkip, .sep = src.csvSep};
    if (!csv::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), t, ce, layout)) {
      error = ce.kind == csv::Error::Kind::Ragged       ? fmt::format("line {}: {} cells, but the file has {} columns", ce.line, ce.cells, ce.expected)
              : ce.kind == csv::Error::Kind::NotANumber ? fmt::format("line {}, column {}: the cell {}", ce.line, ce.column, ce.what)
                                                        : std::string("the file is empty");
      return false;
    }
    const csv::LabelColumn label = src.labelByIndex ? csv::LabelColumn{.byIndex = true, .index = src.labelIndex}
                                                    : csv::LabelColumn{.name = src.labelColumn.empty() ? labelField : src.labelColumn};
    std::string why;
    const int64_t li = csv::label_index(t, label, why);
    if (li < 0) return error = "the file " + why, false;
    const auto cols = static_cast<int64_t>(t.header.size());
    if (cols - 1 != features)
      return error = fmt::format("its records have {} feature columns, but the sample has {} elements", cols - 1, features), false;
    records = t.rows;
    values.reserve(size_t(records * features));
    for (int64_t r = 0; r < records; ++r)
      for (int64_t c = 0; c < cols; ++c)
        if (c != li) values.push_back(t.values[size_t(r * cols + c)]);
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
