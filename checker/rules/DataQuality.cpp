// D01xx: `dlspec check --data` reads each declared split (IDX, NPY or CSV) and checks labels (their shape
// against the declaration: one per sample, or one per step for `class<C>[T]`; range, off by one, empty and
// rare classes, balance, over every label), samples (non-finite, duplicates, conflicting labels), features
// (near-constant, leaking the label), train/test overlap, and how many
// samples there are for the parameters (D0104), for augmentation (W0804) and for one global batch (E0810).
#include <algorithm>
#include <new>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <cmath>
#include <optional>
#include <dlspec/runtime.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unordered_map>

#include "checker/Flow.h"
#include "checker/data/CsvSource.h"
#include "checker/data/DataTable.h"
#include "Text.h"  // the runtime's text reader (data/formats)
#include "sema/OpTable.h"

namespace dls::checker {

// W0712's parts (UnscaledInput.cpp).
const sema::PipeStep* unscaledConversion(const sema::Pipeline& p);
void reportUnscaledInput(const RuleContext& c, const sema::Pipeline& p, const sema::PipeStep& conv, const std::string& range);
// Values of at most this size need no scaling (a mask of 0 and 1, a few grey levels): W0712 keeps quiet.
constexpr double kSmallInput = 10;

using data::DataTable;

namespace {

uint64_t hashRow(const uint8_t* p, size_t n) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a, 8 bytes at a time
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 1099511628211ull;
    h ^= h >> 29;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

bool sameRow(const DataTable& a, int64_t i, const DataTable& b, int64_t j) {
  if (a.rowBytes != b.rowBytes) return false;
  return std::memcmp(&a.raw[static_cast<size_t>(i) * a.rowBytes], &b.raw[static_cast<size_t>(j) * b.rowBytes], a.rowBytes) == 0;
}

// Element k of sample `row` as a number: a CSV feature, or an IDX/NPY/image element of its stored type.
double element(const DataTable& t, int64_t row, size_t k) {
  if (t.csv) return t.values[static_cast<size_t>(row) * t.columns.size() + k];
  const uint8_t* p = &t.raw[static_cast<size_t>(row) * t.rowBytes + k * t.elemSize];
  switch (t.sampleKind) {
    case 'u': return *p;
    case 'b': return static_cast<int8_t>(*p);
    case 's': { int16_t v; std::memcpy(&v, p, 2); return v; }
    case 'i': { int32_t v; std::memcpy(&v, p, 4); return v; }
    case 'l': { int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
    case 'f': { float v; std::memcpy(&v, p, 4); return v; }
    case 'd': { double v; std::memcpy(&v, p, 8); return v; }
  }
  return *p;
}

size_t elementsPerRow(const DataTable& t) {
  return t.csv ? t.columns.size() : t.elemSize ? t.rowBytes / t.elemSize : 0;
}

// A blank sample: every element the same value (an all-padding sequence, an empty image, a record of zeros),
// or, for floats, every element within 1e-6 of zero. Its description ("every value is 0") when blank.
std::optional<std::string> blankSample(const DataTable& t, int64_t row) {
  const size_t n = elementsPerRow(t);
  if (n < 2) return std::nullopt;
  const double first = element(t, row, 0);
  bool constant = true, nearZero = t.csv || t.sampleKind == 'f' || t.sampleKind == 'd';
  for (size_t k = 0; k < n && (constant || nearZero); ++k) {
    const double v = element(t, row, k);
    constant &= v == first;
    nearZero &= std::fabs(v) <= 1e-6;
  }
  if (constant) return fmt::format("every value is {}", first);
  if (nearZero) return std::string("every value within 1e-6 of 0");
  return std::nullopt;
}

struct Loaded {
  std::string split;
  Span span;
  DataTable table;
};

// An images("DIR") split: the folder as the executable reads it, and what only images have: undecodable
// files (D0119), images of another size or channel count without `size:`/`channels:` (D0120), empty class
// folders (D0121), a class count other than the label's (D0123), near-constant images (D0122). The errors
// end the split's checks, as the executable would stop there.
bool loadImages(const RuleContext& c, const sema::DataSource& src, const sema::Dataset& d, Loaded& out) {
  if (src.paths.size() != 1 || d.sample.poisoned || d.sample.shape.unknownRank) return false;
  const auto& dims = d.sample.shape.dims;
  if ((dims.size() != 2 && dims.size() != 3) || d.sample.dtype != sema::DType::U8) return false;  // sema: E0215
  for (const sema::Dim& x : dims)
    if (!x.isConst()) return false;
  data::ImageSpec spec;
  spec.channels = dims.size() == 3 ? dims[0].value : 1;
  spec.height = dims[dims.size() - 2].value, spec.width = dims.back().value;
  spec.convertTo = src.imageChannels, spec.resizeH = src.imageHeight, spec.resizeW = src.imageWidth;
  spec.resize = src.imageResize;
  const std::string& dir = src.paths[0];
  const std::string r = resolvePath(c, dir);
  std::error_code ec;
  if (!std::filesystem::is_directory(r, ec)) {
    c.diags.report(Code::D0116, out.span, dir,
                   (std::filesystem::exists(r, ec) ? "not a directory" : "no such directory") + std::string(" (looked for `") + r + "`)")
        .primary("named here")
        .help("images(…) reads a folder with one sub-folder of images per class; data paths are relative to the spec's directory");
    return false;
  }
  data::ImageFindings found;
  std::string error;
  if (!data::readImages(r, spec, out.table, found, error)) {
    c.diags.report(Code::D0116, out.span, dir, error).primary("named here").help("make the folder readable");
    return false;
  }
  // File names in messages as the spec writes the folder.
  auto shown = [&](const std::string& f) { return f.rfind(r, 0) == 0 ? dir + f.substr(r.size()) : f; };
  bool bad = false;
  const size_t kShown = 10;
  for (size_t i = 0; i < found.undecodable.size() && i < kShown; ++i) {
    auto& dg = c.diags.report(Code::D0119, out.span, dir, "`" + shown(found.undecodable[i].first) + "`", found.undecodable[i].second)
                   .primary("read from here")
                   .help("write the file again, or remove it from the folder");
    if (i + 1 == kShown && found.undecodable.size() > kShown)
      dg.note(fmt::format("{} more files of this folder cannot be decoded", found.undecodable.size() - kShown));
  }
  bad |= !found.undecodable.empty();
  const int64_t total = out.table.rows + static_cast<int64_t>(found.undecodable.size() + found.misfit.size());
  if (!found.misfit.empty()) {
    bad = true;
    const bool sizes = !spec.resizeH;
    c.diags.report(Code::D0120, out.span, dir, found.misfit.size(), total, fmt::format("[{}, {}]", spec.height, spec.width),
                   spec.channels, shown(found.misfit[0]), found.firstMisfit,
                   found.misfitShapes > 1 ? fmt::format("; {} different sizes among them", found.misfitShapes) : std::string())
        .primary("read from here")
        .help(sizes ? fmt::format("resize every image when it is read: `images(\"{}\", size: [{}, {}])` (resize: stretch, crop or pad), "
                                  "or convert the channels with `channels: {}`", dir, spec.height, spec.width, spec.channels)
                    : fmt::format("convert every image when it is read: `channels: {}`", spec.channels));
  }
  for (const std::string& e : found.emptyClasses) {
    bad = true;
    c.diags.report(Code::D0121, out.span, dir, shown(e))
        .primary("read from here")
        .help("put the class's images in the folder, or remove the folder (the classes after it move down by one)");
  }
  const int64_t C = d.label.kind == sema::SemKind::Class ? d.label.classes : 0;
  if (C > 0 && static_cast<int64_t>(out.table.classNames.size()) != C) {
    bad = true;
    c.diags.report(Code::D0123, out.span, dir,
                   fmt::format("has {} class folders ({} …), but `{}` declares {} classes", out.table.classNames.size(),
                               out.table.classNames.empty() ? std::string("none") : "`" + out.table.classNames[0] + "`",
                               d.labelName, C))
        .primary("read from here")
        .label(d.labelTypeSpan, "declared here")
        .help("give the folder one sub-folder per class, or declare as many classes as it has folders");
  }
  if (bad) return false;
  out.table.file = out.table.labelFile = dir;
  for (size_t i = 0; i < out.table.fileOf.size(); ++i) out.table.fileOf[i] = shown(out.table.fileOf[i]);
  if (!found.constantRows.empty())
    c.diags.report(Code::D0122, out.span, dir, found.constantRows.size(), out.table.rows, out.table.recordName(found.constantRows[0]),
                   found.lowConstant, found.highConstant)
        .primary("read from here")
        .help("look at these images: blank or uniform images carry no information about their class");
  return true;
}

// A text(…) split: the file as the executable reads it (D0116 when it is not there, D0106 when it cannot be
// read): UTF-8 when it reads characters (D0124, with the byte and the line). The label rules do not apply: the labels are the text's own next tokens, as
// unbalanced as the language.
void checkText(const RuleContext& c, const sema::DataSource& src, const sema::Dataset& d) {
  if (src.paths.size() != 1) return;
  const std::string& p = src.paths[0];
  const std::string r = resolvePath(c, p);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(r, ec)) {
    c.diags.report(Code::D0116, src.sourceSpan, p, (std::filesystem::exists(r, ec) ? "not a regular file" : "no such file") +
                                                      std::string(" (looked for `") + r + "`)")
        .primary("named here")
        .help("data paths are relative to the spec's directory");
    return;
  }
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> tokens;
  dls::data::Error e;
  if (!dls::data::readFile(r, bytes, e)) {
    c.diags.report(Code::D0106, src.sourceSpan, p, data::describe(e)).primary("cannot be used").help("repair or replace the file");
    return;
  }
  if (!dls::data::decodeText(bytes, src.textChars, tokens, e)) {
    c.diags.report(Code::D0124, src.sourceSpan, p, e.offset, e.what)
        .primary("read from here")
        .help("convert the file to UTF-8 (iconv -f LATIN1 -t UTF-8), or read it as bytes: `tokens: bytes`");
    return;
  }
  // The vocabulary against the label's classes is the lowering's E1006: `dlspec build` and `check` read the
  // training text for it.
  (void)d;
}

bool load(const RuleContext& c, const sema::DataSource& src, const sema::Dataset& d, Loaded& out) {
  const std::string& labelField = d.labelName;
  out.split = src.split;
  out.span = src.sourceSpan;
  if (src.format == sema::DataFormat::Images) return loadImages(c, src, d, out);
  if (src.format == sema::DataFormat::Text) {
    checkText(c, src, d);
    return false;
  }
  const std::vector<std::string>& paths = src.paths;
  std::string error;
  bool ok = false;
  if ((src.format == sema::DataFormat::Idx || src.format == sema::DataFormat::Npy) && paths.size() != 2) return false;
  if (src.format == sema::DataFormat::Csv && paths.size() != (src.labelFile.empty() ? 1u : 2u)) return false;
  // A file that is not there (or not a file) cannot be read at all: D0116; a damaged one is D0106.
  for (const std::string& p : paths) {
    std::error_code ec;
    std::string r = resolvePath(c, p);
    std::string why = !std::filesystem::exists(r, ec) ? "no such file"
                      : std::filesystem::is_directory(r, ec) ? "it is a directory"
                      : !std::filesystem::is_regular_file(r, ec) ? "not a regular file" : "";
    if (!why.empty()) {
      c.diags.report(Code::D0116, out.span, p, why + " (looked for `" + r + "`)")
          .primary("named here")
          .help("data paths are relative to the spec's directory");
      return false;
    }
  }
  try {  // a file that fits in memory whose decoded values do not is D0106 naming it, not an internal error
    if (src.format == sema::DataFormat::Npy) {
      ok = data::readNpy(resolvePath(c, paths[0]), resolvePath(c, paths[1]), out.table, error);
    } else if (src.format == sema::DataFormat::Idx) {
      ok = data::readIdx(resolvePath(c, paths[0]), resolvePath(c, paths[1]), out.table, error);
    } else if (src.format == sema::DataFormat::Csv) {
      // Categorical columns of another split take the training split's values, as the executable's program keeps them.
      std::vector<std::vector<std::string>> vocab;
      bool haveVocab = false;
      if (!src.categorical.empty() && src.split != "train")
        for (const sema::DataSource& t : d.splits)
          if (t.split == "train" && t.format == sema::DataFormat::Csv && !t.paths.empty()) {
            csv::Layout tl = data::csvLayout(t);
            tl.categorical = src.categorical;
            std::string ignored;
            haveVocab = data::csvCategories(resolvePath(c, t.paths[0]), tl, vocab, ignored);
          }
      ok = data::readCsv(resolvePath(c, paths[0]), data::csvLayout(src), data::csvLabel(src, labelField), out.table, error,
                        src.labelColumns, csv::impute_of(src.impute), haveVocab ? &vocab : nullptr,
                        src.labelFile.empty() ? std::string() : resolvePath(c, paths[1]));
    } else {
      return false;
    }
  } catch (const std::bad_alloc&) {
    out.table = DataTable{};
    ok = false, error = "its values do not fit in this process's memory once decoded";
  }
  // A categorical column the training file lacks, or a cell of it that names no category: the lowering's E0631 and
  // E0635, which `check` reports when the program is lowered.
  if (!ok && out.table.categoricalDefect && src.split == "train") return false;
  if (!ok && out.table.unknown.line > 0) {
    const DataTable& t = out.table;
    const std::vector<std::string>& known = t.categories[t.unknown.which];
    c.diags.report(Code::D0129, out.span, paths[0], t.unknown.line, t.unknown.column, t.unknown.value, known.size(),
                   csv::list_values(known))
        .primary("read from here")
        .label(src.categoricalSpan, "categorical")
        .help("the program maps the training split's values only: correct the value, or add records with it to the training split");
    return false;
  }
  if (!ok && !out.table.textColumns.empty()) {
    for (const DataTable::TextColumn& tc : out.table.textColumns) {
      const std::string name = src.csvHeader && size_t(tc.column) < out.table.header.size()
                                   ? fmt::format("`{}`", out.table.header[size_t(tc.column)]) : std::to_string(tc.column);
      c.diags.report(Code::D0130, out.span, paths[0], name, tc.distinct, tc.first, tc.line)
          .primary("read from here")
          .help(fmt::format("read its values as categories, their indices in the training split's sorted values: `categorical: [{}]`",
                            src.csvHeader ? "\"" + out.table.header[size_t(tc.column)] + "\"" : std::to_string(tc.column)));
    }
    return false;
  }
  if (!ok && out.table.labelFileRows >= 0) {
    c.diags.report(Code::D0132, src.labelFileSpan.valid() ? src.labelFileSpan : out.span, paths[0], out.table.rows, paths[1],
                   out.table.labelFileRows)
        .primary("the label file")
        .label(out.span, "read from here")
        .help("give the label file one record per record of the samples' file, in the same order");
    return false;
  }
  if (!ok && out.table.noLabelColumn) {
    // As the executable reads it: the label column by index, by the name the spec gives, or the label field's
    // name. The header's names are the file's contents: counted, not printed.
    const Span at = src.labelColumnSpan.valid() ? src.labelColumnSpan : out.span;
    std::string why = error.rfind("the file ", 0) == 0 ? error.substr(9) : error;
    if (!src.labelByIndex && src.csvHeader) why += fmt::format(" (its header has {} columns, not printed)", out.table.header.size());
    c.diags.report(Code::D0118, at, paths[0], data::csvLabelText(src, labelField), why)
        .primary("the label column")
        .help(src.labelByIndex ? std::string("give the index of one of the file's columns: `label: -1` is the last")
              : out.table.header.empty() ? std::string("give the file a header row that names its columns")
                                         : std::string("name one of the columns of the file's header row, or give its index: `label: -1` is the last"));
    return false;
  }
  if (!ok) {
    c.diags.report(Code::D0106, out.span, paths.empty() ? std::string("?") : paths[0], error)
        .primary("cannot be used")
        .help("repair or replace the file");
    return false;
  }
  if (!out.table.csv || !src.labelFile.empty()) out.table.file = paths[0], out.table.labelFile = paths[1];
  else out.table.file = out.table.labelFile = paths[0];
  // The categorical columns of the training split, as the program keeps them.
  if (src.split == "train")
    for (size_t j = 0; j < out.table.categoricalColumns.size(); ++j) {
      const int64_t col = out.table.categoricalColumns[j];
      const std::string name = src.csvHeader && size_t(col) < out.table.header.size()
                                   ? fmt::format("`{}`", out.table.header[size_t(col)]) : std::to_string(col);
      c.diags.report(Code::D0128, src.categoricalSpan.valid() ? src.categoricalSpan : out.span, paths[0], name,
                     out.table.categories[j].size(), csv::list_values(out.table.categories[j]))
          .primary("categorical");
    }
  if (std::getenv("DLSPEC_DATA_DEBUG"))
    std::fprintf(stderr, "dlspec-data: %s: %s: %lld records of %zu bytes, %zu labels\n", out.split.c_str(), out.table.file.c_str(),
                 static_cast<long long>(out.table.rows), out.table.rowBytes, out.table.labels.size());
  return true;
}

std::string dimsText(const std::vector<int64_t>& dims) { return fmt::format("[{}]", fmt::join(dims, ", ")); }

// Label `k` of the flat `labels`: "record 17", or "record 17, step 3" when each sample has one per step.
std::string labelName(const DataTable& t, size_t k) {
  int64_t per = std::max<int64_t>(t.labelsPerRow, 1);
  int64_t row = static_cast<int64_t>(k) / per;
  return per == 1 ? t.recordName(row) : t.recordName(row) + ", step " + std::to_string(static_cast<int64_t>(k) % per);
}

// Whether the labels file holds what the class label declares: `class<C>` one label per sample ((n,) or
// (n, 1)), `class<C>[T]` one per step ((n, T)); size-1 axes aside, and a symbolic dim fits any length. A CSV
// file has one label column, so one per sample. D0117 when not.
std::vector<std::optional<int64_t>> labelDims(const sema::Dataset& d) {
  std::vector<std::optional<int64_t>> out;
  for (const sema::Dim& x : d.label.shape.dims) out.push_back(x.isConst() ? std::optional<int64_t>(x.value) : std::nullopt);
  return out;
}

bool labelShapeFits(const RuleContext& c, const sema::Dataset& d, const Loaded& L, int64_t C) {
  const DataTable& t = L.table;
  std::vector<std::optional<int64_t>> want;
  for (auto& x : labelDims(d))
    if (!x || *x != 1) want.push_back(x);
  std::vector<int64_t> have;
  if (!t.csv)
    for (auto x : t.labelDims)
      if (x != 1) have.push_back(x);
  bool fits = want.size() == have.size();
  for (size_t k = 0; fits && k < want.size(); ++k) fits = !want[k] || *want[k] == have[k];
  if (fits) return true;
  std::vector<std::string> wantText = {std::to_string(t.rows)};
  for (const sema::Dim& x : d.label.shape.dims) wantText.push_back(x.str());
  std::vector<int64_t> file = {t.rows};
  if (!t.csv) file.insert(file.end(), t.labelDims.begin(), t.labelDims.end());
  bool perStep = !want.empty();
  std::string decl = "label " + d.labelName + ": " + std::string(c.sources.text(d.labelTypeSpan));
  std::string stepDims = fmt::format("{}", fmt::join(wantText.begin() + 1, wantText.end(), ", "));
  Diagnostic& diag = c.diags.report(Code::D0117, L.span, t.labelFile, dimsText(file) + (t.csv ? " (one label column)" : ""), decl,
                                    fmt::format("[{}]", fmt::join(wantText, ", ")),
                                    perStep ? "one class label per step" : "one class label per sample");
  diag.primary("labels read from here").label(d.labelTypeSpan, "declared here");
  if (t.csv && perStep)
    diag.help(fmt::format("a CSV file has one label column: give per-step labels as `npy(SAMPLES, LABELS)` with labels of "
                          "shape [samples, {}]",
                          stepDims));
  else if (perStep)
    diag.help(fmt::format("save the labels as an array of shape [samples, {}], one class per step of each sample, or declare "
                          "`class<{}>` for one label per sample",
                          stepDims, C));
  else
    diag.help(fmt::format("declare `class<{}>{}` if the file holds one label per step, or save one label per sample, shape "
                          "[samples]",
                          C, have.empty() ? std::string() : dimsText(have)));
  return false;
}

// ignored: the label the training loss skips (its explicit ignore_index: padding), or -1: it neither counts
// toward the balance of the classes (D0103, D0109) nor needs to be of a class the other labels lack (D0114).
// padToken: with one label per step, the token (an `embedding(mask_token: k)` on the network's input) whose
// steps are padding; their labels are not counted either. weighted: the loss gives class weights, which is the
// remedy D0103 and D0127 point to.
void checkLabels(const RuleContext& c, const sema::Dataset& d, Loaded& L, int64_t C, int64_t ignored,
                 std::optional<int64_t> padToken, bool weighted) {
  const DataTable& t = L.table;
  Span at = L.span;
  for (size_t k = 0; k < t.rawLabels.size(); ++k)
    if (!std::isfinite(t.rawLabels[k])) {
      c.diags.report(Code::D0105, at, t.labelFile, labelName(t, k), "the label", "not a number")
          .primary("read from here")
          .help("remove the record or repair its label");
      return;
    }
  // Every label counts: one per sample, or one per step of each sample (`class<C>[T]`).
  int64_t per = std::max<int64_t>(t.labelsPerRow, 1);
  // The padded steps of a per-step label: the integer token of the sample at that step is the padding token.
  const bool isIntSample = !t.csv && (t.sampleKind == 'u' || t.sampleKind == 'b' || t.sampleKind == 's' ||
                                      t.sampleKind == 'i' || t.sampleKind == 'l');
  const bool maskSteps = padToken && per > 1 && isIntSample && t.rowBytes == static_cast<size_t>(per) * t.elemSize &&
                         t.raw.size() == static_cast<size_t>(t.rows) * t.rowBytes &&
                         t.labels.size() == static_cast<size_t>(t.rows * per);
  auto tokenAt = [&](size_t k) -> int64_t {
    const uint8_t* b = &t.raw[k * t.elemSize];
    switch (t.sampleKind) {
      case 'u': return *b;
      case 'b': return static_cast<int8_t>(*b);
      case 's': { int16_t v; std::memcpy(&v, b, 2); return v; }
      case 'i': { int32_t v; std::memcpy(&v, b, 4); return v; }
      default: { int64_t v; std::memcpy(&v, b, 8); return v; }
    }
  };
  int64_t paddedSteps = 0;
  std::vector<int64_t> count(static_cast<size_t>(C), 0);
  int64_t lo = INT64_MAX, hi = INT64_MIN, firstOut = -1;
  for (size_t k = 0; k < t.labels.size(); ++k) {
    int64_t v = t.labels[k];
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    if (v < 0 || v >= C) { if (firstOut < 0) firstOut = static_cast<int64_t>(k); }
    else if (maskSteps && tokenAt(k) == *padToken) ++paddedSteps;
    else if (v != ignored) ++count[static_cast<size_t>(v)];
  }
  const bool skipsPadding = ignored >= 0 && ignored < C;
  if (t.labels.empty()) return;
  std::string unit = per == 1 ? "samples" : "step labels";
  std::string perStepNote = fmt::format("each sample has {} labels, one per step: the counts are over all {} x {} of them", per,
                                        t.rows, per);
  if (firstOut >= 0) {
    if (lo == 1 && hi == C)
      c.diags.report(Code::D0102, at, t.labelFile, C, C - 1)
          .primary("labels read from here")
          .label(d.labelTypeSpan, "declared class indices in [0, " + std::to_string(C) + ")")
          .help("subtract 1 in the pipeline: `" + d.labelName + " = " + d.labelName + " |> add(-1)`");
    else
      c.diags.report(Code::D0101, at, t.labelFile, labelName(t, static_cast<size_t>(firstOut)), t.labels[static_cast<size_t>(firstOut)], C)
          .primary("labels read from here")
          .label(d.labelTypeSpan, "declared here")
          .help("fix the label, or declare the right number of classes");
    return;
  }
  int64_t present = 0, maxC = 0, minC = 0;
  for (int64_t k = 0; k < C; ++k) {
    if (count[static_cast<size_t>(k)]) ++present;
    if (count[static_cast<size_t>(k)] > count[static_cast<size_t>(maxC)]) maxC = k;
  }
  minC = -1;
  for (int64_t k = 0; k < C; ++k)
    if (count[static_cast<size_t>(k)] && (minC < 0 || count[static_cast<size_t>(k)] < count[static_cast<size_t>(minC)])) minC = k;
  if (skipsPadding && !count[static_cast<size_t>(ignored)]) ++present;  // the padding label is not a class to learn
  if (present < C && L.split == "train")
    c.diags.report(Code::D0114, d.labelTypeSpan, t.labelFile, C, present)
        .primary("declared classes")
        .help("declare `class<" + std::to_string(present) + ">` or add samples of the missing classes");
  if (minC >= 0 && L.split == "train") {
    int64_t mn = count[static_cast<size_t>(minC)], mx = count[static_cast<size_t>(maxC)];
    const std::string padNote =
        skipsPadding ? fmt::format("the {} labelled {} (the loss's ignore_index) are padding and not counted",
                                   per == 1 ? "samples" : "steps", ignored)
                     : "";
    if (mn < 5 && static_cast<int64_t>(t.labels.size()) >= 5 * C) {
      Diagnostic& r = c.diags.report(Code::D0109, at, t.labelFile, minC, mn, unit);
      r.primary("read from here").help("collect more samples of this class, or merge it with another");
      if (per > 1) r.note(perStepNote);
      if (!padNote.empty()) r.note(padNote);
    } else if (mn > 0 && mx >= 10 * mn && !weighted && per == 1) {
      Diagnostic& r = c.diags.report(Code::D0103, at, t.labelFile, maxC, mx, unit, minC, mn, mx / mn);
      r.primary("read from here").help("balance the data set (collect or oversample the rare classes, or subsample the frequent ones)");
      if (!padNote.empty()) r.note(padNote);
    } else if (mn > 0 && mx >= 10 * mn && !weighted) {
      // One label per step (token tagging): one class covering most steps (the "outside" tag) is the nature of
      // many such tasks, so this is a pedantic finding, counted over the labelled steps that are not padding.
      int64_t total = 0;
      for (int64_t k = 0; k < C; ++k)
        if (k != ignored) total += count[static_cast<size_t>(k)];
      Diagnostic& r = c.diags.report(Code::D0127, at, t.labelFile, maxC, mx, total, minC, fmt::format("covers {}", mn), mx / mn);
      r.primary("read from here");
      r.note(fmt::format("each sample has {} labels, one per step: the counts are over the steps that are not padding", per));
      if (maskSteps && paddedSteps)
        r.note(fmt::format("{} padded steps (the token {} of the network's `mask_token`) are not counted", paddedSteps, *padToken));
      if (!padNote.empty()) r.note(padNote);
      // Inverse-frequency weights, the mean weight of a labelled step 1 (sklearn's class_weight="balanced").
      std::vector<std::string> w;
      int64_t classesCounted = 0;
      for (int64_t k = 0; k < C; ++k)
        if (k != ignored && count[static_cast<size_t>(k)]) ++classesCounted;
      for (int64_t k = 0; k < C; ++k) {
        const int64_t n = count[static_cast<size_t>(k)];
        w.push_back(n && k != ignored ? fmt::format("{:.3g}", double(total) / double(classesCounted * n)) : std::string("0"));
      }
      r.help(fmt::format("a dominant class is often the nature of per-step labels; if the rare classes matter, weight them "
                         "in the loss: `weight: [{}]`",
                         fmt::join(w, ", ")));
    }
  }
}

void checkSamples(const RuleContext& c, Loaded& L, bool wantConflicts) {
  const DataTable& t = L.table;
  if (t.csv)
    for (size_t i = 0; i < t.values.size(); ++i)
      if (!std::isfinite(t.values[i])) {
        int64_t row = static_cast<int64_t>(i / std::max<size_t>(t.columns.size(), 1));
        c.diags.report(Code::D0105, L.span, t.file, t.recordName(row),
                       "column `" + t.columns[i % t.columns.size()] + "`", std::isnan(t.values[i]) ? "NaN" : "infinite")
            .primary("read from here")
            .help("drop or impute the record before training");
        break;
      }
  if (!t.csv && (t.sampleKind == 'f' || t.sampleKind == 'd'))
    for (size_t i = 0, n = t.raw.size() / t.elemSize; i < n; ++i) {
      double v;
      if (t.sampleKind == 'f') { float f; std::memcpy(&f, &t.raw[i * 4], 4); v = f; }
      else std::memcpy(&v, &t.raw[i * 8], 8);
      if (!std::isfinite(v)) {
        c.diags.report(Code::D0105, L.span, t.file, t.recordName(static_cast<int64_t>(i * t.elemSize / t.rowBytes)),
                       "element " + std::to_string(i % (t.rowBytes / t.elemSize)), std::isnan(v) ? "NaN" : "infinite")
            .primary("read from here")
            .help("drop or impute the record before training");
        break;
      }
    }
  std::unordered_map<uint64_t, int64_t> first;
  first.reserve(static_cast<size_t>(t.rows) * 2);
  // Identical samples conflict when any of their labels differ (one per sample, or one per step).
  size_t per = static_cast<size_t>(std::max<int64_t>(t.labelsPerRow, 1));
  auto firstDifference = [&](int64_t a, int64_t b) -> int64_t {
    for (size_t s = 0; s < per; ++s)
      if (t.labels[static_cast<size_t>(a) * per + s] != t.labels[static_cast<size_t>(b) * per + s]) return static_cast<int64_t>(s);
    return -1;
  };
  bool labelled = t.labels.size() == static_cast<size_t>(t.rows) * per;
  int64_t dups = 0, conflicts = 0, d1 = -1, d2 = -1, c1 = -1, c2 = -1, cs = -1;
  // Blank samples (all padding, all zero) repeat one another without being copies of a real sample: they are
  // D0126's (D0122's for an image folder), not duplicates or conflicting labels.
  int64_t blanks = 0, firstBlank = -1;
  std::string blankWhat;
  std::map<int64_t, int64_t> blankLabels;  // the first label of each blank sample
  for (int64_t i = 0; i < t.rows; ++i) {
    if (auto what = blankSample(t, i)) {
      if (blanks++ == 0) firstBlank = i, blankWhat = *what;
      if (labelled) blankLabels[t.labels[static_cast<size_t>(i) * per]]++;
      continue;
    }
    uint64_t h = hashRow(&t.raw[static_cast<size_t>(i) * t.rowBytes], t.rowBytes);
    auto [it, fresh] = first.emplace(h, i);
    if (fresh || !sameRow(t, it->second, t, i)) continue;
    if (int64_t s = labelled ? firstDifference(it->second, i) : -1; s >= 0) {
      if (conflicts++ == 0) c1 = it->second, c2 = i, cs = s;
    } else if (dups++ == 0) {
      d1 = it->second, d2 = i;
    }
  }
  // Two or more blank samples, 1 in 1,000 records or more (an image folder's are D0122's).
  if (blanks >= 2 && blanks * 1000 >= t.rows && t.classNames.empty()) {
    Diagnostic& r = c.diags.report(Code::D0126, L.span, t.file, blanks, t.rows, t.recordName(firstBlank), blankWhat);
    r.primary("read from here")
        .help(per > 1   ? std::string("drop the blank samples when the file is written (a sequence that is all padding "
                                      "has no steps left: filter out empty sequences before padding them)")
              : t.csv   ? std::string("remove the blank records, or check how the file was written (a join or an export "
                                      "that filled missing values with 0)")
                        : std::string("remove the blank samples from the file, or find where its writer produced them (a "
                                      "read that failed, an empty crop)"));
    if (blankLabels.size() > 1)
      r.note(fmt::format("they carry {} different labels: no model can tell them apart", blankLabels.size()));
  }
  // A few exact repeats are normal in real image sets; report from 1% on.
  if (dups > 0 && dups * 100 >= t.rows)
    c.diags.report(Code::D0107, L.span, t.file, dups, t.recordName(d2), t.recordName(d1))
        .primary("read from here")
        .help("remove the duplicates");
  if (wantConflicts && conflicts > 0 && conflicts * 1000 >= t.rows)
    c.diags.report(Code::D0108, L.span, t.file, t.recordName(c1), t.recordName(c2),
                   t.labels[static_cast<size_t>(c1) * per + static_cast<size_t>(cs)],
                   std::to_string(t.labels[static_cast<size_t>(c2) * per + static_cast<size_t>(cs)]) +
                       (per > 1 ? " at step " + std::to_string(cs) : ""),
                   conflicts)
        .primary("read from here")
        .help("relabel them, or merge the classes they confuse");
}

void checkFeatures(const RuleContext& c, Loaded& L) {
  const DataTable& t = L.table;
  if (!t.csv || t.rows < 2) return;
  size_t nc = t.columns.size();
  for (size_t j = 0; j < nc; ++j) {
    std::vector<double> col(static_cast<size_t>(t.rows));
    for (int64_t i = 0; i < t.rows; ++i) col[static_cast<size_t>(i)] = t.values[static_cast<size_t>(i) * nc + j];
    bool leak = true;
    for (int64_t i = 0; i < t.rows && leak; ++i) leak = col[static_cast<size_t>(i)] == t.rawLabels[static_cast<size_t>(i)];
    if (leak) {
      c.diags.report(Code::D0112, L.span, t.file, t.columns[j]).primary("read from here").help("remove the column from the file: it is the answer, not a feature");
      continue;
    }
    std::map<double, int64_t> freq;
    for (double v : col) freq[v]++;
    int64_t top = 0;
    for (auto& [v, n] : freq) top = std::max(top, n);
    if ((freq.size() == 1 || (t.rows >= 100 && top * 100 >= 99 * t.rows)))
      c.diags.report(Code::D0110, L.span, t.file, t.columns[j],
                     freq.size() == 1 ? "every record has the same value" : fmt::format("{} of {} records share one value", top, t.rows))
          .primary("read from here")
          .help("remove the column from the file, or check how it was recorded");
  }
}

// D0125: a table whose feature columns differ in typical size (root mean square) by 100 times or more, trained
// through a pipeline with no per-feature step (standardize, min_max): the large columns dominate the first
// layer's products and its gradients, so training is erratic or slow (the wine data's 0.1 against 1,680).
void checkFeatureScales(const RuleContext& c, const sema::Dataset& d, const Loaded& L, const sema::Pipeline* trainPipe) {
  const DataTable& t = L.table;
  if (!t.csv || t.rows < 2 || !trainPipe || t.columns.size() < 2) return;
  for (const sema::PipeStep& s : trainPipe->steps)
    if (s.op && (s.op->opcode == sema::kOpcodeStandardize || s.op->opcode == sema::kOpcodeMinMax)) return;
  const size_t nc = t.columns.size();
  size_t big = nc, small = nc;
  std::vector<double> rms(nc, 0.0);
  for (size_t j = 0; j < nc; ++j) {
    for (int64_t i = 0; i < t.rows; ++i) {
      const double v = t.values[static_cast<size_t>(i) * nc + j];
      rms[j] += std::isfinite(v) ? v * v : 0.0;
    }
    rms[j] = std::sqrt(rms[j] / double(t.rows));
    if (!(rms[j] > 0)) continue;  // an all-zero column is D0110's
    if (big == nc || rms[j] > rms[big]) big = j;
    if (small == nc || rms[j] < rms[small]) small = j;
  }
  if (big == nc || small == nc || rms[big] < 100 * rms[small]) return;
  auto name = [&](size_t j) { return t.columns[j].empty() ? fmt::format("column {}", j) : fmt::format("column `{}`", t.columns[j]); };
  auto size = [](double v) { return v >= 100 ? fmt::format("{:.0f}", v) : v >= 1 ? fmt::format("{:.3g}", v) : fmt::format("{:.2g}", v); };
  c.diags.report(Code::D0125, L.span, t.file, fmt::format("{:.0f}", rms[big] / rms[small]),
                 fmt::format("{} of typical size {}", name(big), size(rms[big])), fmt::format("{} of {}", name(small), size(rms[small])),
                 trainPipe->name)
      .primary("read from here")
      .label(trainPipe->span, "the training pipeline")
      .help(fmt::format("rescale each feature by the training data's statistics: `{0} = {0} |> standardize` in pipeline `{1}`",
                        d.sampleName, trainPipe->name));
}

// The loss term that compares a network output with the data set's label field, and the network value it
// reads: with several outputs, the first term whose target is the label (a term whose target is the sample field,
// an autoencoder's, says nothing about the labels); with one output, the loss.
struct LabelTerm {
  const sema::Call* call = nullptr;
  int value = -1;
};
LabelTerm labelTerm(const sema::TrainConfig* t) {
  if (!t || !t->loss || !t->network) return {};
  if (t->lossTerms.empty()) return {&*t->loss, t->network->output};
  for (const sema::TrainConfig::LossTerm& term : t->lossTerms)
    if (!term.targetIsSample) return {&term.call, term.outputValue >= 0 ? term.outputValue : t->network->output};
  return {};
}

// D0131: real-valued targets, after the training pipeline's steps of the label field, that the network's output
// activation cannot produce: negative targets under relu or softplus, beyond [0, 6] under relu6, outside [0, 1]
// under sigmoid or hardsigmoid, outside [-1, 1] under tanh. A regression loss then cannot get below what those
// rows contribute, and their gradient through the saturated activation is zero or vanishing.
void checkTargetRange(const RuleContext& c, const sema::Dataset& d, const Loaded& L, const sema::Pipeline* pipe,
                      const sema::TrainConfig* train) {
  const LabelTerm term = labelTerm(train);
  if (!pipe || !term.call || term.value < 0 || d.label.kind != sema::SemKind::Real || L.table.rawLabels.empty()) return;
  const std::string& loss = term.call->name;
  if (loss == "cross_entropy" || loss == "bce_with_logits" || loss == "focal" || loss == "hinge" || loss == "nll") return;
  const sema::Network& net = *train->network;
  const sema::Node* act = producerOf(net, term.value);
  if (!act || !act->op) return;
  const std::string a(act->op->name);
  double lo = 0, hi = INFINITY;
  if (a == "relu" || a == "softplus") lo = 0, hi = INFINITY;
  else if (a == "relu6") lo = 0, hi = 6;
  else if (a == "sigmoid" || a == "hardsigmoid") lo = 0, hi = 1;
  else if (a == "tanh") lo = -1, hi = 1;
  else return;
  // The targets as the loss sees them: the label field's steps in order.
  std::vector<double> y = L.table.rawLabels;
  std::vector<std::string> steps;
  for (const sema::PipeStep& s : pipe->steps) {
    if (!s.op || s.field != d.labelName || s.field == d.sampleName) continue;
    auto num = [&](const char* n, double dflt) {
      auto it = s.attrs.find(n);
      if (it == s.attrs.end()) return dflt;
      if (const double* v = std::get_if<double>(&it->second.value)) return *v;
      if (const int64_t* v = std::get_if<int64_t>(&it->second.value)) return double(*v);
      return dflt;
    };
    const int code = s.op->opcode;
    if (code == DLS_PIPE_SCALE) {
      for (double& v : y) v *= num("factor", 1);
    } else if (code == DLS_PIPE_NORMALIZE) {
      for (double& v : y) v = (v - num("mean", 0)) / num("std", 1);
    } else if (code == DLS_PIPE_ADD) {
      for (double& v : y) v += num("offset", 0);
    } else if (code == DLS_PIPE_LOG1P) {
      for (double& v : y) v = v > -1 ? std::log1p(v) : NAN;
    } else if (code == sema::kOpcodeStandardize) {
      double m = 0, q = 0;
      for (double v : y) m += v;
      m /= double(y.size());
      for (double v : y) q += (v - m) * (v - m);
      const double sd = std::sqrt(q / double(y.size()));
      for (double& v : y) v = sd > 0 ? (v - m) / sd : 0;
    } else if (code != DLS_PIPE_TO_F32 && code != DLS_PIPE_RESHAPE) {
      return;  // a step whose effect is not followed here
    }
    steps.push_back(s.name);
  }
  const int64_t per = std::max<int64_t>(1, L.table.labelsPerRow);
  int64_t outside = 0, first = -1;
  for (size_t i = 0; i < y.size(); ++i)
    if (std::isfinite(y[i]) && (y[i] < lo || y[i] > hi) && outside++ == 0) first = int64_t(i);
  if (outside == 0) return;
  const std::string range = std::isinf(hi) ? fmt::format("[{}, ∞)", lo) : fmt::format("[{}, {}]", lo, hi);
  const int64_t rows = int64_t(y.size());
  c.diags.report(Code::D0131, act->span, L.table.labelFile, outside, rows, range, a, L.table.recordName(first / per),
                 fmt::format("{:.6g}{}", y[size_t(first)], steps.empty() ? "" : fmt::format(" after `{}`", fmt::join(steps, "`, `"))))
      .primary(fmt::format("outputs values in {}", range))
      .label(L.span, "the training targets")
      .label(term.call->nameSpan, "compares them")
      .help(lo == 0 && std::isinf(hi) ? fmt::format("remove the final `|> {}` (a regression head is linear), or shift the targets: `{} = {} |> add(…)`", a, d.labelName, d.labelName)
            : fmt::format("remove the final `|> {}` (a regression head is linear), or rescale the targets into {}", a, range));
}

// D0133: cosine_embedding's targets hold another value than 1 or -1 (the executable refuses them, R0257); D0134: the
// training targets are all 1 or all -1, so the loss sees one kind of pair only (all alike: every embedding may
// collapse onto one direction; all unlike: nothing pulls alike samples together).
void checkPairTargets(const RuleContext& c, const Loaded& L, const sema::TrainConfig* train) {
  const LabelTerm term = labelTerm(train);
  if (!term.call || term.call->name != "cosine_embedding" || L.table.rawLabels.empty()) return;
  const std::vector<double>& y = L.table.rawLabels;
  const int64_t per = std::max<int64_t>(1, L.table.labelsPerRow);
  int64_t bad = 0, first = -1, ones = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] == 1) ++ones;
    else if (y[i] != -1 && bad++ == 0) first = int64_t(i);
  }
  const int64_t rows = int64_t(y.size());
  if (bad > 0) {
    c.diags.report(Code::D0133, L.span, L.table.labelFile, bad, rows, L.table.recordName(first / per), fmt::format("{:.6g}", y[size_t(first)]))
        .primary("read from here")
        .label(term.call->nameSpan, "compares the pairs")
        .help("give each pair the target 1 (alike) or -1 (not alike)");
  } else if (L.split == "train" && (ones == 0 || ones == rows)) {
    c.diags.report(Code::D0134, L.span, L.table.labelFile, rows, ones ? "1" : "-1", ones ? "alike" : "unlike")
        .primary("read from here")
        .label(term.call->nameSpan, "compares the pairs")
        .help("train on both kinds of pairs: alike ones (1) and unlike ones (-1)");
  }
}

}  // namespace

void checkDataQuality(const RuleContext& c) {
  for (const auto& dp : c.program.datasets) {
    const sema::Dataset& d = *dp;
    if (d.labelName.empty() || d.label.poisoned) continue;
    int64_t C = d.label.kind == sema::SemKind::Class ? d.label.classes : 0;
    std::vector<const sema::DataSource*> splits;
    for (const sema::DataSource& src : d.splits) splits.push_back(&src);
    std::sort(splits.begin(), splits.end(), [](auto* a, auto* b) { return a->split < b->split; });
    std::vector<Loaded> loaded;
    for (const sema::DataSource* src : splits) {
      Loaded L;
      if (load(c, *src, d, L)) loaded.push_back(std::move(L));
    }
    // Image folders: every split's class folders are the training folder's (the class of an image is its
    // folder's index, so another set of folders relabels the images).
    for (const Loaded& L : loaded)
      for (const Loaded& T : loaded)
        if (T.split == "train" && &L != &T && !L.table.classNames.empty() && !T.table.classNames.empty() &&
            L.table.classNames != T.table.classNames)
          c.diags.report(Code::D0123, L.span, L.table.file,
                         fmt::format("has other class folders than the training split's `{}`: `{}`", T.table.file,
                                     fmt::join(L.table.classNames, "`, `")))
              .primary("read from here")
              .label(T.span, "training split")
              .help(fmt::format("give it the class folders `{}`", fmt::join(T.table.classNames, "`, `")));
    // Which pipeline trains on this data set, and with what.
    const sema::Pipeline* trainPipe = nullptr;
    const sema::TrainConfig* trainBlock = nullptr;
    for (const auto& t : c.program.trains)
      if (t->data && t->data->dataset == &d) trainPipe = t->data, trainBlock = t.get();
    // The label its loss skips, when the loss names one (ignore_index): padding, not a class.
    const LabelTerm term = labelTerm(trainBlock);
    int64_t ignoredLabel = -1;
    if (term.call)
      if (auto it = term.call->args.find("ignore_index"); it != term.call->args.end() && !it->second.isDefault)
        if (const int64_t* k = std::get_if<int64_t>(&it->second.value)) ignoredLabel = *k;
    // Class weights in the loss: the remedy for an unbalanced label.
    const bool weighted = term.call && term.call->args.count("weight") && !term.call->args.at("weight").isDefault;
    // The padding token of per-step labels: the network's output is padded where its input token is the
    // `mask_token` of an embedding that reads that input.
    std::optional<int64_t> padToken;
    if (term.value >= 0 && !trainBlock->network->inputs.empty()) {
      const sema::Type& out = trainBlock->network->values[size_t(term.value)].type;
      if (out.maskValue >= 0 && out.maskValue == trainBlock->network->inputs[0]) padToken = out.maskToken;
    }
    bool shapeReported = false;
    for (Loaded& L : loaded) {
      // A split whose sample fields are groups of its columns: the groups against the file's columns (E0639).
      const sema::DataSource* grouped = d.find(L.split);
      if (grouped && (!L.table.csv || grouped->columnGroups.empty())) grouped = nullptr;
      if (grouped) {
        const bool labelColumn = grouped->labelFile.empty();
        const int64_t cols = static_cast<int64_t>(L.table.columns.size()) + (labelColumn ? 1 : 0);
        int64_t last = labelColumn && grouped->labelByIndex ? (grouped->labelIndex < 0 ? cols + grouped->labelIndex : grouped->labelIndex) + 1 : 0;
        bool past = false;
        for (const sema::DataSource::ColumnGroup& g : grouped->columnGroups) {
          last = std::max(last, g.end);
          if (g.end > cols && !past) {
            past = true;
            c.diags.report(Code::E0639, g.span, L.table.file, cols,
                           fmt::format("sample field `{}` takes columns [{}, {}), past the last one, {}", g.field, g.first, g.end, cols - 1))
                .primary(fmt::format("columns [{}, {})", g.first, g.end))
                .label(L.span, "read from here")
                .help("count the file's columns from 0, the label's too");
          }
        }
        if (!past && last < cols)
          c.diags.report(Code::E0639, grouped->sourceSpan, L.table.file, cols,
                         fmt::format("{} in no sample field and not the label", cols - last == 1 ? fmt::format("column {} is", last)
                                                                                              : fmt::format("columns {} to {} are", last, cols - 1)))
              .primary("the split's column groups")
              .help("every column of the file is a sample field's or the label's: widen a group, or remove the columns from the file");
      }
      if (L.table.csv && !grouped && !d.sample.poisoned && !d.sample.shape.unknownRank) {
        // Every column but the label is a feature of the sample, as the executable reads the file.
        int64_t a = 1;
        for (const sema::Dim& x : d.sample.shape.dims) a *= x.isConst() ? x.value : -1;
        const int64_t have = static_cast<int64_t>(L.table.columns.size());
        // The file was read: its labels and records are still checked.
        if (a != have && !shapeReported) {
          shapeReported = true;
          c.diags.report(Code::D0115, d.sampleTypeSpan, L.table.file,
                         fmt::format("[{}] ({} columns besides the label)", have, have),
                         std::string(c.sources.text(d.sampleTypeSpan)))
              .primary("declared here")
              .label(L.span, "read from here")
              .help(fmt::format("declare `f32[{}]`, or remove the extra columns from the file", have));
        }
      }
      if (L.table.rows == 0) {
        // As the executable refuses it (R0213): nothing to train on, and validation would report NaN.
        c.diags.report(Code::D0106, L.span, L.table.file, "it holds no samples, so split `" + L.split + "` is empty")
            .primary("an empty split")
            .help("give the split at least one record");
        continue;
      }
      if (!L.table.csv && !d.sample.poisoned) {
        // The element type, as the executable checks it (R0216): u8 samples from u8 files, integer samples
        // from integer files, float samples from float files.
        const char k = L.table.sampleKind;
        const bool isInt = k == 'u' || k == 'b' || k == 's' || k == 'i' || k == 'l';
        const sema::DType want = d.sample.dtype;
        const bool fits = want == sema::DType::U8                               ? k == 'u'
                          : want == sema::DType::I32 || want == sema::DType::I64 ? isInt
                          : want == sema::DType::Unknown                        ? true
                                                                                 : !isInt;
        if (!fits) {
          static const char* names[] = {"u8", "i8", "i16", "i32", "i64", "f32", "f64"};
          const std::string kinds = "ubsilfd";
          const std::string have = names[kinds.find(k)];
          c.diags.report(Code::D0106, d.sampleTypeSpan, L.table.file,
                         "it holds " + have + " elements, but the spec declares " + std::string(sema::dtypeName(want)) + " samples")
              .primary("declared here")
              .label(L.span, "read from here")
              .help("declare the element type the file holds, or convert the file");
          continue;
        }
      }
      if (!L.table.csv && !d.sample.poisoned && !d.sample.shape.unknownRank) {
        int64_t a = 1, b = 1;
        for (const sema::Dim& x : d.sample.shape.dims) a *= x.isConst() ? x.value : -1;
        for (auto x : L.table.sampleDims) b *= x;
        if (a != b) {
          if (shapeReported) continue;
          shapeReported = true;
          c.diags.report(Code::D0115, d.sampleTypeSpan, L.table.file, fmt::format("{}", fmt::join(L.table.sampleDims, "x")),
                         std::string(c.sources.text(d.sampleTypeSpan)))
              .primary("declared here")
              .help("declare the shape the file holds");
          continue;
        }
      }
      if (C > 0 && labelShapeFits(c, d, L, C)) checkLabels(c, d, L, C, ignoredLabel, padToken, weighted);
      checkSamples(c, L, L.split == "train");
      checkFeatures(c, L);
      if (L.split == "train") checkFeatureScales(c, d, L, trainPipe);
      if (L.split == "train") checkTargetRange(c, d, L, trainPipe, trainBlock);
      checkPairTargets(c, L, trainBlock);
    }
    // W0712 with the values the data have: the range of the split each unscaled pipeline reads (no step but a
    // rescaling one changes a value); none when they are already small.
    for (const auto& p : c.program.pipelines) {
      const sema::PipeStep* conv = p->dataset == &d ? unscaledConversion(*p) : nullptr;
      if (!conv) continue;
      const Loaded* read = nullptr;
      for (const Loaded& L : loaded)
        if (L.split == p->split && L.table.rows > 0 && elementsPerRow(L.table) > 0) read = &L;
      if (!read) {
        reportUnscaledInput(c, *p, *conv, "[0, 255] (u8's range: the data could not be read)");
        continue;
      }
      double lo = INFINITY, hi = -INFINITY;
      for (int64_t i = 0; i < read->table.rows; ++i)
        for (size_t k = 0, n = elementsPerRow(read->table); k < n; ++k) {
          const double v = element(read->table, i, k);
          lo = std::min(lo, v), hi = std::max(hi, v);
        }
      if (std::max(std::fabs(lo), std::fabs(hi)) <= kSmallInput) continue;
      reportUnscaledInput(c, *p, *conv, fmt::format("[{}, {}] in `{}`", lo, hi, read->table.file));
    }
    // Train/test overlap.
    const Loaded* tr = nullptr;
    for (auto& L : loaded) if (L.split == "train") tr = &L;
    for (auto& L : loaded) {
      if (!tr || &L == tr || L.table.rowBytes != tr->table.rowBytes) continue;
      std::unordered_map<uint64_t, int64_t> h;
      h.reserve(static_cast<size_t>(tr->table.rows) * 2);
      for (int64_t i = 0; i < tr->table.rows; ++i) h.emplace(hashRow(&tr->table.raw[static_cast<size_t>(i) * tr->table.rowBytes], tr->table.rowBytes), i);
      int64_t overlap = 0, o1 = -1, o2 = -1;
      for (int64_t j = 0; j < L.table.rows; ++j) {
        auto it = h.find(hashRow(&L.table.raw[static_cast<size_t>(j) * L.table.rowBytes], L.table.rowBytes));
        if (it != h.end() && sameRow(tr->table, it->second, L.table, j) && overlap++ == 0) o1 = j, o2 = it->second;
      }
      if (overlap > 0 && overlap * 100 >= L.table.rows)
        c.diags.report(Code::D0113, L.span, overlap, L.table.file, tr->table.file, L.table.recordName(o1), tr->table.recordName(o2))
            .primary("evaluation split")
            .label(tr->span, "training split")
            .help("remove the shared samples from the evaluation split");
    }
    // E0810: fewer training samples than one (global) batch: no step can be made, on any number of ranks.
    // The samples split(valid: f) holds out are not trained on (the executable keeps int(n * f) of them).
    if (tr && trainPipe && trainPipe->batch && *trainPipe->batch > 0) {
      int64_t rows = tr->table.rows;
      for (const sema::PipeStep& s : trainPipe->steps)
        if (s.op && s.op->opcode == sema::kOpcodeSplit)
          if (auto it = s.attrs.find("valid"); it != s.attrs.end())
            if (const double* f = std::get_if<double>(&it->second.value)) rows -= static_cast<int64_t>(double(rows) * *f);
      // Under `accumulate = K steps` one optimiser step takes K batches: the effective batch is K times the batch.
      const int64_t K = trainBlock ? trainBlock->accumulate : 1;
      const int64_t effective = *trainPipe->batch * K;
      if (rows < effective) {
        auto& dg = c.diags.report(Code::E0810, trainPipe->batchSpan, tr->table.file, rows, effective)
                       .primary(K > 1 ? fmt::format("one batch, {} of them per step", K) : std::string("one batch"))
                       .label(tr->span, "read from here");
        if (K > 1 && trainBlock->accumulateSpan.valid()) dg.label(trainBlock->accumulateSpan, fmt::format("{} batches per optimiser step", K));
        dg.help(K > 1 ? fmt::format("make batch × accumulate at most {} samples, or use more data", rows)
                      : fmt::format("use a batch of at most {} samples, or more data", rows));
      }
    }
    // Samples against parameters; augmentation of small image sets.
    if (tr && trainBlock) {
      const sema::Network* n = trainBlock->network;
      std::optional<int64_t> params = n ? trainableParams(*n) : std::nullopt;
      if (params && tr->table.rows * 10 < *params / 100 && tr->table.rows < 100000)
        c.diags.report(Code::D0104, tr->span, tr->table.file, tr->table.rows, *params)
            .primary("read from here")
            .help("collect more data, augment it, or use a smaller model");
      bool augmented = false;
      if (trainPipe) for (const sema::PipeStep& s : trainPipe->steps) augmented |= s.augment;
      // Samples of two or more axes are images, unless they are sequences ([T, F]): the network reads them
      // with a recurrent layer, or the labels are per step. Cropping or flipping a sequence is no augmentation.
      bool sequence = C > 0 && !d.label.shape.dims.empty();
      if (n) for (const sema::Node& l : n->nodes) sequence |= l.op->recurrent;
      if (!tr->table.csv && tr->table.sampleDims.size() >= 2 && tr->table.rows < 10000 && !augmented && trainPipe && !sequence)
        c.diags.report(Code::W0804, trainPipe->nameSpan, tr->table.rows)
            .primary("training pipeline")
            .help("add `augment random_crop(…)` or `augment random_flip()` to the pipeline");
    }
  }
}

}  // namespace dls::checker
