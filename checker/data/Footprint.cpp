#include "Footprint.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <new>

#include "DataFormats.h"  // runtime/data/formats: streamBuffers, as the executable counts a streamed split

#include "CsvSource.h"
#include "DataTable.h"
#include "checker/Flow.h"

namespace dls::checker::data {

int64_t loadedBytesPerSample(const sema::Dataset& d) {
  const int64_t sample = d.sample.shape.elements(0).value_or(0);
  int64_t label = d.label.shape.elements(0).value_or(1);
  if (d.label.kind != sema::SemKind::Class) label = std::max(label, d.label.classes);
  return 4 * (sample + std::max<int64_t>(label, 1));
}

namespace {
SplitFootprint count(const sema::Dataset& d, const std::string& split) {
  SplitFootprint f;
  f.split = split;
  f.bytesPerSample = loadedBytesPerSample(d);
  const sema::DataSource* src = d.find(split);
  if (!src) {
    f.error = "the data set declares no split `" + split + "`";
    return f;
  }
  if (!src->paths.empty()) f.file = src->paths[0];
  const std::vector<std::string>& p = src->resolved;
  DataTable t;
  bool ok = false;
  try {
    if (src->format == sema::DataFormat::Npy && p.size() == 2) ok = readNpy(p[0], p[1], t, f.error);
    else if (src->format == sema::DataFormat::Idx && p.size() == 2) ok = readIdx(p[0], p[1], t, f.error);
    else if (src->format == sema::DataFormat::Csv && p.size() == 1)
      ok = readCsv(p[0], csvLayout(*src), csvLabel(*src, d.labelName), t, f.error, src->labelColumns, csv::impute_of(src->impute));
    else f.error = "this data source is not counted";
  } catch (const std::bad_alloc&) {
    f.error = "its values do not fit in this process's memory once decoded";
  }
  if (ok) f.samples = t.rows;
  // As runtime/data/Stream.h reads it per batch: uncompressed IDX/.npy mapped, CSV indexed; gzip files are held.
  f.sampleElems = d.sample.shape.elements(0).value_or(0);
  f.labelElems = f.bytesPerSample / 4 - f.sampleElems;
  const bool gzip = !p.empty() && [&] {
    std::FILE* fp = std::fopen(p[0].c_str(), "rb");
    if (!fp) return false;
    unsigned char m[2] = {0, 0};
    const bool z = std::fread(m, 1, 2, fp) == 2 && m[0] == 0x1f && m[1] == 0x8b;
    std::fclose(fp);
    return z;
  }();
  if (src->format == sema::DataFormat::Idx || src->format == sema::DataFormat::Npy) {
    f.streamable = !gzip;
    f.fileBytesPerSample = static_cast<int64_t>(sema::dtypeBytes(d.sample.dtype)) * f.sampleElems;
  } else if (src->format == sema::DataFormat::Csv) {
    f.streamable = !gzip && src->labelFile.empty();
    f.indexBytesPerSample = 16;
  }
  return f;
}

}  // namespace

int64_t SplitFootprint::streamedBytes(int64_t rows) const {
  if (!streamable || samples <= 0) return 0;
  // The executable's loader: a queue of 3 batches, a pool of --threads threads (2 by default).
  const uint64_t buffers = dls::data::streamBuffers(3, rows, sampleElems, labelElems, 2, sampleElems, sampleElems,
                                                    static_cast<uint64_t>(fileBytesPerSample));
  return samples * (4 * labelElems + indexBytesPerSample) + static_cast<int64_t>(buffers);
}

std::vector<SplitFootprint> loadedData(const sema::TrainConfig& train) {
  std::vector<SplitFootprint> out;
  const sema::Pipeline* p = train.data;
  if (!p || !p->dataset) return out;
  out.push_back(count(*p->dataset, p->split));
  const sema::Pipeline* v = train.validate;
  if (v && v->dataset && !train.validateHeldOut && !(v->dataset == p->dataset && v->split == p->split))
    out.push_back(count(*v->dataset, v->split));
  return out;
}

std::string describe(const std::vector<SplitFootprint>& splits, double memory, int64_t rows) {
  std::string s;
  for (const auto& f : splits) {
    if (!s.empty()) s += ", ";
    if (f.samples < 0) s += fmt::format("{} not counted", f.split);
    else s += fmt::format("{} {} × {}", f.split, f.samples, humanBytes(static_cast<double>(f.bytesPerSample)));
    if (memory > 0 && f.streamedBy(memory))
      s += fmt::format(" read per batch ({} held)", humanBytes(static_cast<double>(f.streamedBytes(rows))));
  }
  return s;
}

}  // namespace dls::checker::data
