// IDX and NPY for `dlspec check --data`: the files are parsed by the runtime's readers (DataFormats.h), so
// that what the check accepts is what the executable loads; here the samples and labels become a DataTable.
#include <cmath>

#include "checker/data/DataTable.h"

namespace dls::checker::data {

using dls::data::Array;
using dls::data::Elem;
using dls::data::Error;

std::string DataTable::recordName(int64_t row) const {
  if (row >= 0 && static_cast<size_t>(row) < fileOf.size()) return "`" + fileOf[static_cast<size_t>(row)] + "`";
  if (csv && row >= 0 && static_cast<size_t>(row) < lineOf.size()) return "line " + std::to_string(lineOf[row]);
  return "record " + std::to_string(row);
}

std::string describe(const Error& e) {
  switch (e.kind) {
    case Error::Kind::None: return "";
    case Error::Kind::Unreadable: return "cannot read it: " + e.what;
    case Error::Kind::Gzip: return "damaged gzip stream at byte " + std::to_string(e.offset) + ": " + e.what;
    case Error::Kind::TooLarge: return e.what;
    default: return "byte " + std::to_string(e.offset) + ": " + e.what;
  }
}

namespace {

char kindOf(Elem e) {
  switch (e) {
    case Elem::U8: return 'u';
    case Elem::I8: return 'b';
    case Elem::I16: return 's';
    case Elem::I32: return 'i';
    case Elem::I64: return 'l';
    case Elem::F32: return 'f';
    case Elem::F64: return 'd';
  }
  return 'u';
}

// Samples `x` (first dim: the count) and labels `y` (first dim: the same count) as a table.
void fill(const std::string& samples, const std::string& labels, Array& x, const Array& y, DataTable& out) {
  out = DataTable{};
  out.file = samples;
  out.labelFile = labels;
  out.rows = x.shape[0];
  out.sampleDims.assign(x.shape.begin() + 1, x.shape.end());
  out.sampleKind = kindOf(x.elem);
  out.elemSize = dls::data::elemSize(x.elem);
  out.rowBytes = out.elemSize;
  for (auto d : out.sampleDims) out.rowBytes *= static_cast<size_t>(d);
  out.raw = std::move(x.bytes);
  // Labels after the sample axis: (n,) and (n, 1) hold one per sample, (n, T) one per step.
  out.labelDims.assign(y.shape.begin() + 1, y.shape.end());
  out.labelsPerRow = 1;
  for (auto d : out.labelDims) out.labelsPerRow *= d;
  size_t count = static_cast<size_t>(out.rows) * static_cast<size_t>(out.labelsPerRow);
  out.labels.resize(count);
  bool floatLabels = dls::data::isFloat(y.elem);
  if (floatLabels) out.rawLabels.resize(count);
  for (size_t i = 0; i < count; ++i) {
    double v = y.at(i);
    if (floatLabels) out.rawLabels[i] = v;
    out.labels[i] = std::isfinite(v) ? static_cast<int64_t>(std::llround(v)) : INT64_MIN;
  }
}

}  // namespace

bool readIdx(const std::string& images, const std::string& labels, DataTable& out, std::string& error) {
  Array x, y;
  Error e;
  if (!dls::data::readIdx(images, x, e)) { error = "`" + images + "`: " + describe(e); return false; }
  if (!dls::data::readIdx(labels, y, e)) { error = "`" + labels + "`: " + describe(e); return false; }
  if (y.shape[0] != x.shape[0]) {
    error = "`" + images + "` has " + std::to_string(x.shape[0]) + " samples but `" + labels + "` has " +
            std::to_string(y.shape[0]) + (y.shape.size() == 1 ? " labels" : " rows of labels");
    return false;
  }
  fill(images, labels, x, y, out);
  return true;
}

bool readNpy(const std::string& samples, const std::string& labels, DataTable& out, std::string& error) {
  Array x, y;
  Error e;
  if (!dls::data::readNpy(samples, x, e)) { error = "`" + samples + "`: " + describe(e); return false; }
  if (!dls::data::readNpy(labels, y, e)) { error = "`" + labels + "`: " + describe(e); return false; }
  if (x.shape.empty()) { error = "`" + samples + "`: a scalar, not an array of samples"; return false; }
  if (y.shape.empty() || y.shape[0] != x.shape[0]) {
    std::string ys = "(";
    for (auto d : y.shape) ys += std::to_string(d) + ",";
    error = "`" + samples + "` has " + std::to_string(x.shape[0]) + " samples but `" + labels + "` has shape " + ys + ")";
    return false;
  }
  fill(samples, labels, x, y, out);
  return true;
}

}  // namespace dls::checker::data
