// Dataset.cpp: loading a declared split from its files and validating it against the spec.
#include "Dataset.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <fmt/ranges.h>
#include <numeric>

#include "../core/Memory.h"
#include "../core/Rng.h"
#include "CsvTable.h"     // data/formats: shared with `dlspec check --data`
#include "DataFormats.h"  // data/formats: the mapped IDX / .npy files
#include "Stream.h"

namespace dls {

namespace {

std::string dims_str(const int64_t* d, int rank) {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// Checks that the per-sample part of `shape` (after the leading count) has the declared element count and,
// when it has the declared rank, the declared dims. Returns the sample count.
int64_t check_samples(const std::string& path, const std::vector<int64_t>& shape, const DataDecl& decl) {
  int64_t declared = 1;
  for (int i = 0; i < decl.sample_rank; ++i) declared *= decl.dims[i];
  int64_t per = 1;
  std::vector<int64_t> tail(shape.begin() + (shape.empty() ? 0 : 1), shape.end());
  for (auto d : tail) per *= d;
  bool same_rank_ok = (int)tail.size() != decl.sample_rank ||
                      std::equal(tail.begin(), tail.end(), decl.dims);
  if (shape.empty() || per != declared || !same_rank_ok)
    fail(Diag::R0205, fmt::format("{}:byte 0", path), path, dims_str(tail.data(), (int)tail.size()),
         dims_str(decl.dims, decl.sample_rank));
  return shape[0];
}

// File-level checks of a sample array: the element type the spec declares (R0216) and finite values (R0217,
// naming the record and the feature).
void check_sample_values(const std::string& path, const Array& a, const DataDecl& decl, int64_t per) {
  if (decl.dtype >= 0 && !a.elem.empty()) {
    const bool ok = decl.dtype == DLS_U8                              ? a.elem == "u8"
                    : decl.dtype == DLS_I32 || decl.dtype == DLS_I64 ? a.elem[0] == 'u' || a.elem[0] == 'i'
                                                                     : a.elem[0] == 'f';
    const char* declared = decl.dtype == DLS_U8 ? "u8" : decl.dtype == DLS_I32 ? "i32" : decl.dtype == DLS_I64 ? "i64"
                           : decl.dtype == DLS_F16 ? "f16" : decl.dtype == DLS_BF16 ? "bf16" : "f32";
    if (!ok) fail(Diag::R0216, fmt::format("{}:byte 0", path), path, a.elem, declared);
  }
  per = std::max<int64_t>(1, per);
  for (size_t i = 0; i < a.values.size(); ++i)
    if (!std::isfinite(a.values[i]))
      fail(Diag::R0217, fmt::format("{}:record {}", path, int64_t(i) / per), path, int64_t(i) / per, int64_t(i) % per,
           std::isnan(a.values[i]) ? "NaN" : a.values[i] > 0 ? "+Inf" : "-Inf");
}

void set_labels(Dataset& ds, const std::vector<double>& raw, const std::string& path, int64_t classes,
                int64_t stride, int64_t offset) {
  if (classes > 0) {
    ds.labels.resize((size_t)ds.n);
    for (int64_t i = 0; i < ds.n; ++i) {
      double v = raw[size_t(i * stride + offset)];
      if (!std::isfinite(v)) fail(Diag::R0208, fmt::format("{}:record {}", path, i), path, i);
      if (v < 0 || v >= double(classes) || v != std::floor(v))
        fail(Diag::R0209, fmt::format("{}:record {}", path, i), path, i, v, classes);
      ds.labels[size_t(i)] = int32_t(v);
    }
  } else {
    ds.target_numel = 1;
    ds.targets.resize((size_t)ds.n);
    for (int64_t i = 0; i < ds.n; ++i) {
      double v = raw[size_t(i * stride + offset)];
      if (!std::isfinite(v)) fail(Diag::R0208, fmt::format("{}:record {}", path, i), path, i);
      ds.targets[size_t(i)] = float(v);
    }
  }
}

// A split without samples has nothing to train on, and validating on it would report a loss of NaN.
void require_samples(const Dataset& ds, const std::string& path) {
  if (ds.n == 0)
    fail(Diag::R0213, fmt::format("{}:byte 0", path),
         fmt::format("'{}' holds no samples, so split '{}' is empty; give it at least one record", path, ds.name));
}

void init_shape(Dataset& ds, const DataDecl& decl) {
  ds.rank = decl.sample_rank;
  ds.sample_numel = 1;
  for (int i = 0; i < 4; ++i) {
    ds.dims[i] = decl.dims[i];
    if (i < decl.sample_rank) ds.sample_numel *= decl.dims[i];
  }
}

// A CSV split's layout (dls_rt_csv) and label column: by index (dls_rt_csv), by name (label_column -2: path_b
// holds it), else column `fallback`.
csv::Layout csv_layout(const DataDecl& decl) {
  return csv::Layout{.header = decl.csv_header, .skip = decl.csv_skip, .sep = decl.csv_sep, .missing = decl.csv_impute,
                     .categorical = decl.csv_categorical};
}

// A CSV file with its categorical columns' cells as their indices in the program's vocabularies (the training
// split's): a value not among them is R0250 with its line, column and the known values.
void encode_table(const std::string& path, const DataDecl& decl, csv::Table& table, Array& a);
Array read_csv_encoded(const std::string& path, const DataDecl& decl, csv::Table& table) {
  Array a = read_csv(path, csv_layout(decl), table);
  encode_table(path, decl, table, a);
  return a;
}
void encode_table(const std::string& path, const DataDecl& decl, csv::Table& table, Array& a) {
  if (table.text_cols.empty()) return;
  table.values = std::move(a.values);
  int64_t row = 0, col = 0;
  if (!csv::encode(table, decl.csv_categories, row, col)) {
    size_t j = 0;
    while (j < table.text_cols.size() && table.text_cols[j] != col) ++j;
    const std::vector<std::string>& known = decl.csv_categories[j];
    const std::string& cell = table.text_cells[size_t(row) * table.text_cols.size() + j];
    const std::string name = table.named ? fmt::format("`{}`", table.header[size_t(col)]) : fmt::format("{}", col + 1);
    const int64_t line = table.line_of[size_t(row)];
    fail(Diag::R0250, fmt::format("{}:{}:{}", path, line, col + 1), path, line, col + 1, cell, known.size(), name,
         csv::list_values(known));
  }
  a.values = std::move(table.values);
}
csv::LabelColumn csv_label(const DataDecl& decl, int64_t fallback) {
  if (decl.csv_label_by_index) return csv::LabelColumn{.byIndex = true, .index = decl.csv_label_index};
  if (decl.label_column == -2) return csv::LabelColumn{.name = decl.path_b};
  return csv::LabelColumn{.byIndex = true, .index = fallback};
}

// Record i's feature cells (every column but `labels`) appended to `out`: a missing cell takes the program's fill
// value for its feature when the split imputes; a cell that is not a finite number is R0207 with its line and column.
void csv_features(const DataDecl& decl, const std::string& path, const csv::Table& table, const Array& a, int64_t i,
                  const std::vector<int64_t>& labels, std::vector<float>& out) {
  const auto cols = static_cast<int64_t>(table.header.size());
  const int64_t line = table.line_of[size_t(i)];
  for (int64_t c = 0, k = 0; c < cols; ++c) {
    if (std::find(labels.begin(), labels.end(), c) != labels.end()) continue;
    double v = a.values[size_t(i * cols + c)];
    if (std::isnan(v) && decl.csv_impute) {
      if (size_t(k) >= decl.csv_fill.size())
        fail(Diag::R0205, fmt::format("{}:{}", path, line), path, fmt::format("[{}] feature columns", k + 1),
             fmt::format("the {} features the program imputes", decl.csv_fill.size()));
      v = decl.csv_fill[size_t(k)];
    }
    if (!std::isfinite(v))
      fail(Diag::R0207, fmt::format("{}:{}:{}", path, line, c + 1), path, line, c + 1,
           std::isnan(v) ? "is NaN; input data must be finite numbers (`impute:` fills missing values)"
                         : "is an infinity; input data must be finite numbers");
    out.push_back(float(v));
    ++k;
  }
}

// The samples of an uncompressed IDX or .npy file, mapped read-only and converted per sample (Stream.h).
class MappedSource final : public SampleSource {
 public:
  data::MappedArray arr;
  int64_t per = 1;
  void read(int64_t i, float* out) const override {
    // The file's pages are read under read_mapped: a file cut short since the check before this batch is R0265,
    // not the end of the process (SIGBUS).
    struct Read {
      const data::MappedArray* arr;
      size_t first;
      int64_t per;
      float* out;
      int64_t bad = -1;  // the first feature that is not finite, and its value
      double bad_value = 0;
    } r{&arr, size_t(i) * size_t(per), per, out};
    const bool read = read_mapped([](void* p) {
      auto* r = static_cast<Read*>(p);
      for (int64_t k = 0; k < r->per; ++k) {
        const double v = r->arr->at(r->first + size_t(k));
        if (!std::isfinite(v) && r->bad < 0) r->bad = k, r->bad_value = v;
        r->out[k] = float(v);
      }
    }, &r);
    if (!read) cut_short();
    // As check_sample_values reports a held file's value: the record and the feature.
    if (r.bad >= 0)
      fail(Diag::R0217, fmt::format("{}:record {}", path, i), path, i, r.bad,
           std::isnan(r.bad_value) ? "NaN" : r.bad_value > 0 ? "+Inf" : "-Inf");
  }
  [[noreturn]] void cut_short() const {
    const size_t now = arr.currentBytes();
    fail(Diag::R0265, fmt::format("{}:byte {}", path, now), path, now, arr.fileBytes());
  }
  void check() const override {
    guard_sigbus();
    const size_t now = arr.currentBytes();
    if (now < arr.fileBytes()) cut_short();
    arr.release();  // the pages the last batch read leave this process: a batch's pages stay resident at most
  }
  uint64_t index_bytes() const override { return 0; }
  // The pages a batch's samples touch: their bytes and a page at each end at most.
  uint64_t window_bytes(int64_t samples) const override {
    return uint64_t(samples) * (uint64_t(per) * data::elemSize(arr.layout().elem) + 2 * 4096);
  }
};

// An IDX / .npy split read per batch when the policy says so (Stream.h): the file mapped, its shape and element
// type checked as a held file's are; false (nothing done) when it is held instead, or cannot be mapped (a gzip
// file: R0264 when --load stream asked for streaming; a damaged one: the held load reports it).
bool map_samples(const DataDecl& decl, Dataset& ds) {
  if (load_policy().mode == LoadMode::Memory) return false;
  auto src = std::make_shared<MappedSource>();
  data::Error e;
  bool gzip = false;
  if (!data::mapArray(decl.path_a, decl.format == DLS_DATA_IDX, src->arr, e, gzip)) {
    if (gzip && load_policy().mode == LoadMode::Stream)
      warn(Diag::R0264, decl.path_a, decl.path_a);
    return false;
  }
  const data::ArrayLayout& l = src->arr.layout();
  const int64_t n = check_samples(decl.path_a, l.shape, decl);
  const uint64_t decoded = uint64_t(src->arr.numel()) * 4;
  if (!stream_split(decoded, ds.name, decl.path_a)) return false;
  Array probe;  // the element type only: values are checked as each sample is read
  probe.elem = data::elemName(l.elem);
  check_sample_values(decl.path_a, probe, decl, ds.sample_numel);
  src->path = decl.path_a;
  src->per = ds.sample_numel;
  ds.n = n;
  auto st = std::make_shared<Stream>();
  st->rank = ds.rank;
  std::copy(ds.dims, ds.dims + 4, st->dims);
  st->sample_numel = ds.sample_numel;
  st->decoded = decoded;
  st->src = std::move(src);
  ds.stream = std::move(st);
  return true;
}

// A CSV file read per batch: indexed at load time (each record's byte offset and line), its records parsed as a
// batch takes them. Parsing a record needs its columns: a later part of the file, or one record, is parsed after
// the header line (a line of blank names when the file has none), so names, categorical columns and column
// counts mean what they mean in the whole file.
class CsvSource final : public SampleSource {
 public:
  DataDecl decl;
  csv::Layout layout;       // of the header line and one record
  std::string header;       // the header line (or a line of as many cells), then a newline
  std::vector<int64_t> labels;  // the label columns, left out of the sample
  std::vector<int64_t> offset, line;  // each record's first byte and 1-based line
  const char* text = nullptr;
  size_t size = 0;
  int fd = -1;
  ~CsvSource() override {
    if (text && size) ::munmap(const_cast<char*>(text), size);
    if (fd >= 0) ::close(fd);
  }
  void read(int64_t i, float* out) const override {
    const size_t b = size_t(offset[size_t(i)]);
    // The mapped text is read under read_mapped (find_mapped, copy_mapped): a file cut short since the check before
    // this batch is R0265, not the end of the process (SIGBUS).
    size_t len = 0;
    if (!find_mapped(text + b, size - b, '\n', len)) cut_short();
    thread_local std::string buf;
    buf.assign(header);
    buf.resize(header.size() + len);
    if (!copy_mapped(buf.data() + header.size(), text + b, len)) cut_short();
    csv::Table t;
    csv::Error err;
    const int64_t at = line[size_t(i)];
    if (!csv::parse(buf, t, err, layout)) {
      err.line = at;
      fail_csv(path, err, layout);
    }
    Array a;
    a.values = std::move(t.values);
    t.line_of.assign(1, at);
    encode_table(path, decl, t, a);
    thread_local std::vector<float> row;
    row.clear();
    csv_features(decl, path, t, a, 0, labels, row);
    std::memcpy(out, row.data(), row.size() * 4);
  }
  [[noreturn]] void cut_short() const {
    struct stat st;
    const size_t now = fd >= 0 && ::fstat(fd, &st) == 0 ? size_t(st.st_size) : 0;
    fail(Diag::R0265, fmt::format("{}:byte {}", path, now), path, now, size);
  }
  void check() const override {
    guard_sigbus();
    struct stat st;
    const size_t now = fd >= 0 && ::fstat(fd, &st) == 0 ? size_t(st.st_size) : 0;
    if (now < size) cut_short();
    if (text && size) ::madvise(const_cast<char*>(text), size, MADV_DONTNEED);  // as MappedSource::check
  }
  uint64_t index_bytes() const override { return (offset.size() + line.size()) * 8 + header.size(); }
  uint64_t window_bytes(int64_t samples) const override {
    return offset.empty() ? 0 : uint64_t(samples) * (size / offset.size() + 1 + 2 * 4096);
  }
};

// A CSV split read per batch when the policy says so: the file is parsed a part at a time (every record checked
// as the held load checks it, the labels kept), and each record's place recorded. False (nothing done) when it
// is held instead: --load memory, a label file of its own, a gzip file (R0264 under --load stream), a layout
// the held load refuses (it reports it), or under auto a file no larger than the budget.
bool index_csv(const DataDecl& decl, Dataset& ds) {
  if (load_policy().mode == LoadMode::Memory || !decl.csv_label_file.empty()) return false;
  if (decl.classes > 0 && decl.label_numel > 1) return false;
  const std::string& path = decl.path_a;
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 2) {
    ::close(fd);
    return false;
  }
  const size_t size = size_t(st.st_size);
  unsigned char magic[2] = {0, 0};
  if (::pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    ::close(fd);
    if (load_policy().mode == LoadMode::Stream) warn(Diag::R0264, path, path);
    return false;
  }
  // Held, a CSV split takes at least its text's size (the text, its cells as doubles, the samples).
  if (!stream_split(size, ds.name, path)) {
    ::close(fd);
    return false;
  }
  void* base = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    ::close(fd);
    return false;
  }
  auto src = std::make_shared<CsvSource>();
  src->fd = fd, src->text = static_cast<const char*>(base), src->size = size, src->path = path, src->decl = decl;
  const csv::Layout full = csv_layout(decl);
  std::vector<double> lvalues;  // each record's label cells
  int64_t nl = 0, lineBase = 0;
  size_t pos = 0;
  bool first = true;
  std::vector<float> scratch;
  while (pos < size) {
    size_t end = std::min(size, pos + (size_t(8) << 20));
    if (end < size) {
      const void* nlp = std::memchr(src->text + end, '\n', size - end);
      end = nlp ? size_t(static_cast<const char*>(nlp) - src->text) + 1 : size;
    }
    std::string chunk = first ? std::string() : src->header;
    chunk.append(src->text + pos, end - pos);
    // Line starts of the part: record line L of the parse is at starts[L - 1 - (first ? 0 : 1)].
    std::vector<size_t> starts{pos};
    for (size_t k = pos; k < end; ++k)
      if (src->text[k] == '\n') starts.push_back(k + 1);
    const int64_t headerLines = first ? 0 : 1;
    csv::Table t;
    csv::Error err;
    const csv::Layout& L = first ? full : src->layout;
    if (!csv::parse(chunk, t, err, L)) {
      if (!first && err.kind == csv::Error::Kind::NoHeader) return false;  // cannot happen: the header line is there
      if (first && err.kind != csv::Error::Kind::Ragged && err.kind != csv::Error::Kind::NotANumber) return false;
      err.line += lineBase - headerLines;
      fail_csv(path, err, L);
    }
    for (auto& l : t.line_of) l += lineBase - headerLines;
    if (first) {
      // The columns, and the layout of every later part: the header line first (blank names without one), the
      // preamble behind, the categorical columns by index.
      const auto cols = int64_t(t.header.size());
      const csv::LabelColumn label = csv_label(decl, decl.label_column);
      std::string why;
      src->labels = csv::label_indices(t, decl.csv_labels, label, why);
      nl = int64_t(src->labels.size());
      if (src->labels.empty() || cols - nl != ds.sample_numel || (nl > 1 && decl.classes > 0)) return false;
      std::string sep(1, decl.csv_sep == ' ' ? ' ' : decl.csv_sep);
      for (int64_t c = 0; c < cols; ++c) src->header += (c ? sep : "") + (t.named ? "h" + std::to_string(c) : "h");
      src->header += "\n";
      src->layout = full;
      src->layout.header = true, src->layout.skip = 0;
      src->layout.categorical.clear();
      for (int64_t k : t.text_cols) src->layout.categorical.push_back("#" + std::to_string(k));
    }
    Array a;
    a.values = std::move(t.values);
    encode_table(path, decl, t, a);
    const auto cols = int64_t(t.header.size());
    for (int64_t r = 0; r < t.rows; ++r) {
      scratch.clear();
      csv_features(decl, path, t, a, r, src->labels, scratch);
      for (int64_t j = 0; j < nl; ++j) lvalues.push_back(a.values[size_t(r * cols + src->labels[size_t(j)])]);
      const int64_t at = t.line_of[size_t(r)];
      src->line.push_back(at);
      src->offset.push_back(int64_t(starts[size_t(at - lineBase - 1)]));
    }
    for (size_t k = pos; k < end; ++k) lineBase += src->text[k] == '\n';
    pos = end;
    first = false;
  }
  if (first) return false;
  ds.n = int64_t(src->offset.size());
  if (nl == 1) {
    set_labels(ds, lvalues, path, decl.classes, 1, 0);
  } else {
    ds.target_numel = nl;
    ds.targets.resize(size_t(ds.n * nl));
    for (int64_t i = 0; i < ds.n; ++i)
      for (int64_t j = 0; j < nl; ++j) {
        const double v = lvalues[size_t(i * nl + j)];
        if (!std::isfinite(v)) fail(Diag::R0208, fmt::format("{}:record {}", path, i), path, i);
        ds.targets[size_t(i * nl + j)] = float(v);
      }
  }
  require_samples(ds, path);
  auto s = std::make_shared<Stream>();
  s->rank = ds.rank;
  std::copy(ds.dims, ds.dims + 4, s->dims);
  s->sample_numel = ds.sample_numel;
  s->decoded = uint64_t(ds.n) * uint64_t(ds.sample_numel) * 4;
  s->src = std::move(src);
  ds.stream = std::move(s);
  return true;
}

// One sample field of a CSV split read per batch (CSV column groups): features [offset, offset + width) of each record
// the whole split's source gives. The field that owns the source checks it and counts its index.
class ColumnsSource final : public SampleSource {
 public:
  std::shared_ptr<const SampleSource> all;
  int64_t offset = 0, width = 0, total = 0;
  bool owner = false;
  void read(int64_t i, float* out) const override {
    thread_local std::vector<float> row;
    row.resize(size_t(total));
    all->read(i, row.data());
    std::memcpy(out, row.data() + offset, size_t(width) * 4);
  }
  void check() const override {
    if (owner) all->check();
  }
  uint64_t index_bytes() const override { return owner ? all->index_bytes() : 0; }
  uint64_t window_bytes(int64_t samples) const override { return owner ? all->window_bytes(samples) : 0; }
};

// The columns of a CSV file's first record (its header row's when it has one), read from the start of the file; -1
// when that cannot be told so (a gzip file, a first record the layout cannot parse alone): the load tells then.
int64_t csv_first_columns(const DataDecl& decl) {
  std::ifstream f(decl.path_a, std::ios::binary);
  if (!f) return -1;
  char magic[2] = {0, 0};
  f.read(magic, 2);
  if (f.gcount() == 2 && static_cast<unsigned char>(magic[0]) == 0x1f && static_cast<unsigned char>(magic[1]) == 0x8b) return -1;
  f.clear();
  f.seekg(0);
  std::string text, line;
  for (int64_t k = 0; k < decl.csv_skip + 2 && std::getline(f, line); ++k) text += line + "\n";
  csv::Table t;
  csv::Error e;
  if (!csv::parse(text, t, e, csv_layout(decl))) return -1;
  return static_cast<int64_t>(t.header.size());
}

}  // namespace

// A CSV split whose sample fields are groups of its columns (dls_rt_csv_field): the records are read as one sample of
// every feature column (held, or indexed and read per batch), then each field takes its columns of it.
static Dataset load_csv_fields(const DataDecl& decl, const std::string& split_name) {
  const auto& groups = decl.csv_field_columns;
  if (groups.size() != decl.fields.size() + 1)
    fail(Diag::R0504, "", fmt::format("split '{}' has {} sample fields, but {} column groups", split_name, decl.fields.size() + 1,
                                      groups.size()));
  if (!decl.csv_labels.empty() || (decl.csv_label_file.empty() && !decl.csv_label_by_index))
    fail(Diag::R0504, "", "a CSV split with column groups names its label column by index");
  const bool labelColumn = decl.csv_label_file.empty();
  auto name = [&](size_t k) { return k == 0 ? (decl.sample_name.empty() ? std::string("1") : decl.sample_name) : decl.fields[k - 1].name; };
  int64_t total = 0;
  for (const auto& [a, b] : groups) total += b - a;
  // The groups against the file's columns: inside them, apart from each other and the label's, all of them taken.
  auto check = [&](int64_t cols) {
    const int64_t label = !labelColumn ? -1 : decl.csv_label_index < 0 ? cols + decl.csv_label_index : decl.csv_label_index;
    if (labelColumn && (label < 0 || label >= cols))
      fail(Diag::R0260, fmt::format("{}:1", decl.path_a), decl.path_a, cols, fmt::format("there is no label column {}", decl.csv_label_index));
    std::vector<int> taken(size_t(cols), -1);
    if (label >= 0) taken[size_t(label)] = int(groups.size());
    for (size_t k = 0; k < groups.size(); ++k) {
      const auto [a, b] = groups[k];
      if (b > cols)
        fail(Diag::R0260, fmt::format("{}:1", decl.path_a), decl.path_a, cols,
             fmt::format("sample field `{}` takes columns [{}, {}), past the last one", name(k), a, b));
      for (int64_t c = a; c < b; ++c) {
        if (taken[size_t(c)] >= 0)
          fail(Diag::R0260, fmt::format("{}:1", decl.path_a), decl.path_a, cols,
               fmt::format("column {} is taken by sample field `{}` and by {}", c, name(k),
                           taken[size_t(c)] == int(groups.size()) ? std::string("the label") : "sample field `" + name(size_t(taken[size_t(c)])) + "`"));
        taken[size_t(c)] = int(k);
      }
    }
    for (int64_t c = 0; c < cols; ++c)
      if (taken[size_t(c)] < 0)
        fail(Diag::R0260, fmt::format("{}:1", decl.path_a), decl.path_a, cols,
             fmt::format("column {} is neither the label nor in a sample field's columns", c));
    return label;
  };
  const int64_t first_cols = csv_first_columns(decl);
  if (first_cols >= 0) check(first_cols);
  // Every feature column, in the file's order, as one sample.
  DataDecl whole = decl;
  whole.csv_field_columns.clear();
  whole.fields.clear();
  whole.sample_rank = 1;
  whole.dims[0] = total, whole.dims[1] = whole.dims[2] = whole.dims[3] = 1;
  Dataset all = load_dataset(whole, split_name);
  const int64_t label = check(all.sample_numel + (labelColumn ? 1 : 0));
  Dataset ds;
  ds.name = split_name;
  ds.label_path = all.label_path;
  ds.n = all.n;
  ds.labels = std::move(all.labels), ds.label_numel = all.label_numel;
  ds.targets = std::move(all.targets), ds.target_numel = all.target_numel;
  for (size_t k = 0; k < groups.size(); ++k) {
    DataDecl fd;
    if (k == 0) {
      fd = decl;
    } else {
      const DataDecl::Field& f = decl.fields[k - 1];
      fd.sample_rank = f.rank, fd.dtype = f.dtype;
      std::copy(f.dims, f.dims + 4, fd.dims);
    }
    Dataset field;
    field.name = k == 0 ? split_name : decl.fields[k - 1].name;
    init_shape(field, fd);
    const auto [a, b] = groups[k];
    if (b - a != field.sample_numel)
      fail(Diag::R0260, fmt::format("{}:1", decl.path_a), decl.path_a, all.sample_numel + (labelColumn ? 1 : 0),
           fmt::format("sample field `{}` takes {} columns, but declares {} ({} elements)", name(k), b - a,
                       dims_str(fd.dims, fd.sample_rank), field.sample_numel));
    // The feature of column a: the label column, when it comes before, is not a feature.
    const int64_t offset = a - (label >= 0 && label < a ? 1 : 0), width = b - a;
    field.n = all.n;
    if (all.stream) {
      auto src = std::make_shared<ColumnsSource>();
      src->all = all.stream->src, src->offset = offset, src->width = width, src->total = all.sample_numel, src->owner = k == 0;
      src->path = all.stream->src->path;
      auto st = std::make_shared<Stream>();
      st->rank = field.rank;
      std::copy(field.dims, field.dims + 4, st->dims);
      st->sample_numel = field.sample_numel;
      st->decoded = uint64_t(field.n) * uint64_t(width) * 4;
      st->src = std::move(src);
      field.stream = std::move(st);
    } else {
      field.x.resize(size_t(field.n * width));
      for (int64_t i = 0; i < field.n; ++i)
        std::memcpy(field.x.data() + i * width, all.x.data() + i * all.sample_numel + offset, size_t(width) * 4);
    }
    if (k == 0) {
      ds.rank = field.rank, ds.sample_numel = field.sample_numel;
      std::copy(field.dims, field.dims + 4, ds.dims);
      ds.x = std::move(field.x), ds.stream = std::move(field.stream);
    } else {
      ds.fields.push_back(std::move(field));
    }
  }
  return ds;
}

Dataset load_dataset(const DataDecl& decl, const std::string& split_name) {
  Dataset ds;
  ds.name = split_name;
  if (decl.format == DLS_DATA_IMAGES) return load_images(decl, split_name, decl.threads);
  if (decl.format == DLS_DATA_TEXT) return load_text(decl, split_name);
  ds.label_path = decl.format == DLS_DATA_CSV ? decl.path_a : decl.path_b;
  init_shape(ds, decl);
  if (decl.format == DLS_DATA_CSV && !decl.csv_field_columns.empty()) return load_csv_fields(decl, split_name);
  if (decl.format == DLS_DATA_CSV && index_csv(decl, ds)) return ds;
  if (decl.format == DLS_DATA_CSV) {
    csv::Table table;
    Array a = read_csv_encoded(decl.path_a, decl, table);
    const int64_t cols = static_cast<int64_t>(table.header.size());
    if (decl.classes > 0 && decl.label_numel > 1)
      fail(Diag::R0213, decl.path_a, fmt::format("'{}' is a CSV file: it has one label column, but the program takes {} class "
                                                 "labels per sample (one per step); give per-step labels as .npy", decl.path_a, decl.label_numel));
    // The labels: the records of a label file of their own (dls_rt_csv_label_file), row-aligned with these; else
    // the label columns (dls_rt_csv_columns), or the one by index (dls_rt_csv), by name (label_column -2: path_b
    // holds the name), or by number.
    csv::Table ltable;
    Array la;
    std::vector<int64_t> labels;
    const bool labelFile = !decl.csv_label_file.empty();
    if (labelFile) {
      ds.label_path = decl.csv_label_file;
      la = read_csv(decl.csv_label_file, csv::Layout{.header = decl.csv_header, .skip = decl.csv_skip, .sep = decl.csv_sep}, ltable);
      if (ltable.rows != table.rows) {
        const int64_t at = ltable.rows > table.rows ? ltable.line_of[size_t(table.rows)]
                           : ltable.rows > 0         ? ltable.line_of.back() : decl.csv_skip + 1;
        fail(Diag::R0252, fmt::format("{}:{}", decl.csv_label_file, at), decl.path_a, table.rows, decl.csv_label_file, ltable.rows);
      }
      for (int64_t j = 0; j < int64_t(ltable.header.size()); ++j) labels.push_back(j);
    } else {
      const csv::LabelColumn label = csv_label(decl, decl.label_column);
      std::string why;
      labels = csv::label_indices(table, decl.csv_labels, label, why);
      if (labels.empty())
        fail(Diag::R0213, fmt::format("{}:{}", decl.path_a, decl.csv_skip + 1),
             fmt::format("'{}' {}, so it has no label column{}", decl.path_a, why,
                         table.named && !label.byIndex ? fmt::format(" (its header row has {} columns)", cols) : ""));
    }
    const std::string& lpath = labelFile ? decl.csv_label_file : decl.path_a;
    const std::vector<double>& lvalues = labelFile ? la.values : a.values;
    const int64_t lcols = labelFile ? static_cast<int64_t>(ltable.header.size()) : cols;
    const auto nl = static_cast<int64_t>(labels.size());
    const int64_t features = labelFile ? cols : cols - nl;
    std::vector<int64_t> shape = {a.shape[0], features};
    if (features != ds.sample_numel)
      fail(Diag::R0205, fmt::format("{}:1", decl.path_a), decl.path_a, dims_str(&shape[1], 1), dims_str(decl.dims, decl.sample_rank));
    if (nl > 1 && decl.classes > 0)
      fail(Diag::R0213, lpath, fmt::format("'{}': {} label columns give real-valued targets, not class labels", lpath, nl));
    ds.n = a.shape[0];
    ds.x.reserve(size_t(ds.n * ds.sample_numel));
    const std::vector<int64_t> none;
    for (int64_t i = 0; i < ds.n; ++i) csv_features(decl, decl.path_a, table, a, i, labelFile ? none : labels, ds.x);
    // Records are 0-based in messages.
    if (nl == 1) {
      set_labels(ds, lvalues, lpath, decl.classes, lcols, labels[0]);
    } else {
      ds.target_numel = nl;
      ds.targets.resize(size_t(ds.n * nl));
      for (int64_t i = 0; i < ds.n; ++i)
        for (int64_t j = 0; j < nl; ++j) {
          const double v = lvalues[size_t(i * lcols + labels[size_t(j)])];
          if (!std::isfinite(v)) fail(Diag::R0208, fmt::format("{}:record {}", lpath, i), lpath, i);
          ds.targets[size_t(i * nl + j)] = float(v);
        }
    }
    require_samples(ds, decl.path_a);
    return ds;
  }
  if (!map_samples(decl, ds)) {
    Array x = decl.format == DLS_DATA_IDX ? read_idx(decl.path_a) : read_npy(decl.path_a);
    ds.n = check_samples(decl.path_a, x.shape, decl);
    check_sample_values(decl.path_a, x, decl, ds.sample_numel);
    ds.x.resize(x.values.size());
    for (size_t i = 0; i < x.values.size(); ++i) ds.x[i] = float(x.values[i]);
  }
  Array y = decl.format == DLS_DATA_IDX ? read_idx(decl.path_b) : read_npy(decl.path_b);
  int64_t ny = y.shape.empty() ? 0 : y.shape[0];
  if (ny != ds.n) fail(Diag::R0212, decl.path_b, decl.path_a, ds.n, decl.path_b, ny);
  int64_t stride = ny ? int64_t(y.values.size()) / ny : 1;
  const int64_t per = std::max<int64_t>(1, decl.label_numel);
  if (decl.classes > 0 && stride != per)
    fail(Diag::R0205, decl.path_b, decl.path_b, fmt::format("[{}]", stride),
         per == 1 ? std::string("[] (one class label per sample)") : fmt::format("[{}] (one class label per step)", per));
  if (decl.classes > 0) {
    // One label per sample, or per step: record i's labels are values [i*per, (i+1)*per).
    Dataset flat;
    flat.n = ds.n * per;
    set_labels(flat, y.values, decl.path_b, decl.classes, 1, 0);
    ds.labels = std::move(flat.labels);
    ds.label_numel = per;
  } else {
    ds.target_numel = stride;
    ds.targets.resize(y.values.size());
    for (size_t i = 0; i < y.values.size(); ++i) {
      if (!std::isfinite(y.values[i])) fail(Diag::R0208, fmt::format("{}:record {}", decl.path_b, i / size_t(stride)), decl.path_b, i / size_t(stride));
      ds.targets[i] = float(y.values[i]);
    }
  }
  require_samples(ds, decl.path_a);
  std::vector<std::string> files;
  for (const DataDecl::Field& f : decl.fields) files.push_back(f.path);
  load_field_samples(ds, files, decl, decl.path_a);
  return ds;
}

void load_field_samples(Dataset& ds, const std::vector<std::string>& files, const DataDecl& decl, const std::string& first_file) {
  ds.fields.clear();
  for (size_t k = 0; k < decl.fields.size() && k < files.size(); ++k) {
    const DataDecl::Field& f = decl.fields[k];
    const std::string& path = files[k];
    // The field's own declaration, as the checks of the first field's samples read it.
    DataDecl fd;
    fd.sample_rank = f.rank, fd.dtype = f.dtype;
    std::copy(f.dims, f.dims + 4, fd.dims);
    Dataset field;
    field.name = f.name;
    init_shape(field, fd);
    auto ends = [&](std::string_view e) { return path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0; };
    Array a = ends(".npy") || ends(".npy.gz") || (decl.format == DLS_DATA_NPY && !ends(".gz")) ? read_npy(path) : read_idx(path);
    if (a.values.size() == size_t(field.sample_numel) && ds.n == 1) a.shape.insert(a.shape.begin(), 1);  // one sample
    field.n = check_samples(path, a.shape, fd);
    if (field.n != ds.n) fail(Diag::R0255, fmt::format("{}:byte 0", path), first_file, ds.n, path, f.name, field.n);
    check_sample_values(path, a, fd, field.sample_numel);
    field.x.assign(a.values.begin(), a.values.end());
    ds.fields.push_back(std::move(field));
  }
}

Dataset load_samples(const std::string& path, const DataDecl& decl) {
  if (decl.format == DLS_DATA_IMAGES) {
    Dataset ds = load_image_files(path, decl, decl.threads);
    ds.label_numel = std::max<int64_t>(1, decl.label_numel);
    ds.labels.assign(size_t(ds.n * ds.label_numel), 0);
    return ds;
  }
  Dataset ds;
  ds.name = path;
  init_shape(ds, decl);
  auto ends = [&](std::string_view e) { return path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0; };
  bool npy = ends(".npy");
  if (!npy && (decl.format == DLS_DATA_CSV || ends(".csv") || ends(".csv.gz"))) {
    // Records laid out as the program's CSV split: with the label column (it is dropped) or without it. A
    // categorical label column the file does not have is no categorical column of it.
    DataDecl use = decl;
    const std::string labelRef = decl.csv_label_by_index ? "#" + std::to_string(decl.csv_label_index)
                                 : decl.label_column == -2 ? decl.path_b : std::string();
    auto at = std::find(use.csv_categorical.begin(), use.csv_categorical.end(), labelRef);
    if (!labelRef.empty() && at != use.csv_categorical.end()) {
      const std::vector<uint8_t> bytes = read_file(path);
      csv::Table probe;
      csv::Error e;
      if (!csv::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), probe, e, csv_layout(use)) &&
          e.kind == csv::Error::Kind::Column) {
        use.csv_categories.erase(use.csv_categories.begin() + (at - use.csv_categorical.begin()));
        use.csv_categorical.erase(at);
      }
    }
    csv::Table table;
    Array a = read_csv_encoded(path, use, table);
    const auto cols = static_cast<int64_t>(table.header.size());
    // The program's label columns are dropped when the file has them.
    std::vector<int64_t> drop;
    const int64_t nl = std::max<int64_t>(1, int64_t(decl.csv_labels.size()));
    if (cols == ds.sample_numel + nl) {
      const csv::LabelColumn label = csv_label(decl, -1);
      std::string why;
      drop = csv::label_indices(table, decl.csv_labels, label, why);
      if (drop.empty()) fail(Diag::R0213, fmt::format("{}:{}", path, decl.csv_skip + 1), fmt::format("'{}' {}", path, why));
    } else if (cols != ds.sample_numel) {
      std::vector<int64_t> shape = {cols};
      fail(Diag::R0205, fmt::format("{}:{}", path, decl.csv_skip + 1), path, dims_str(shape.data(), 1),
           dims_str(decl.dims, decl.sample_rank) + fmt::format(" (or {} more: the label{})", nl == 1 ? "one" : std::to_string(nl), nl == 1 ? "" : "s"));
    }
    ds.n = table.rows;
    ds.x.reserve(size_t(ds.n * ds.sample_numel));
    for (int64_t i = 0; i < ds.n; ++i) csv_features(decl, path, table, a, i, drop, ds.x);
    ds.label_numel = std::max<int64_t>(1, decl.label_numel);
    ds.labels.assign(size_t(ds.n * ds.label_numel), 0);
    require_samples(ds, path);
    return ds;
  }
  Array x = npy ? read_npy(path) : read_idx(path);
  int64_t declared = ds.sample_numel;
  if (x.values.size() == size_t(declared)) x.shape.insert(x.shape.begin(), 1);  // a single sample
  ds.n = check_samples(path, x.shape, decl);
  check_sample_values(path, x, decl, ds.sample_numel);
  ds.x.assign(x.values.begin(), x.values.end());
  ds.label_numel = std::max<int64_t>(1, decl.label_numel);
  ds.labels.assign(size_t(ds.n * ds.label_numel), 0);
  return ds;
}

Dataset split_off(Dataset& train, double fraction, uint64_t seed) {
  Dataset v;
  v.name = "valid";
  v.rank = train.rank, v.sample_numel = train.sample_numel, v.target_numel = train.target_numel;
  v.label_numel = train.label_numel;
  std::copy(train.dims, train.dims + 4, v.dims);
  int64_t nv = int64_t(double(train.n) * fraction);
  if (nv <= 0) return v;
  std::vector<int64_t> idx(size_t(train.n));
  std::iota(idx.begin(), idx.end(), 0);
  Rng rng(hash3(seed, 0x73706c6974ull /* "split" */, 0));
  for (int64_t i = train.n - 1; i > 0; --i) std::swap(idx[size_t(i)], idx[size_t(rng.below(uint64_t(i + 1)))]);
  Dataset t;
  t.name = train.name, t.rank = train.rank, t.sample_numel = train.sample_numel, t.target_numel = train.target_numel;
  t.label_numel = train.label_numel;
  std::copy(train.dims, train.dims + 4, t.dims);
  // A streamed split is cut by its record numbers: each part reads its own records of the same source.
  if (train.stream) {
    for (Dataset* d : {&v, &t}) {
      d->stream = std::make_shared<Stream>(*train.stream);
      d->stream->rows.clear();
    }
  }
  auto take = [&](Dataset& dst, int64_t from, int64_t to) {
    dst.n = to - from;
    for (int64_t k = from; k < to; ++k) {
      int64_t i = idx[size_t(k)];
      if (dst.stream) dst.stream->rows.push_back(train.stream->rows.empty() ? i : train.stream->rows[size_t(i)]);
      else dst.x.insert(dst.x.end(), train.x.begin() + i * train.sample_numel, train.x.begin() + (i + 1) * train.sample_numel);
      if (!train.labels.empty())
        dst.labels.insert(dst.labels.end(), train.labels.begin() + i * train.label_numel,
                          train.labels.begin() + (i + 1) * train.label_numel);
      if (!train.targets.empty())
        dst.targets.insert(dst.targets.end(), train.targets.begin() + i * train.target_numel,
                           train.targets.begin() + (i + 1) * train.target_numel);
    }
  };
  take(v, 0, nv);
  take(t, nv, train.n);
  // The further sample fields, in the same order as the samples.
  for (const Dataset& f : train.fields) {
    Dataset fv, ft;
    for (Dataset* d : {&fv, &ft}) {
      d->name = f.name, d->rank = f.rank, d->sample_numel = f.sample_numel;
      std::copy(f.dims, f.dims + 4, d->dims);
      if (f.stream) {  // a field read per batch (CSV column groups): by its record numbers, as the samples
        d->stream = std::make_shared<Stream>(*f.stream);
        d->stream->rows.clear();
      }
    }
    auto takeField = [&](Dataset& dst, int64_t from, int64_t to) {
      dst.n = to - from;
      for (int64_t k = from; k < to; ++k) {
        const int64_t i = idx[size_t(k)];
        if (dst.stream) dst.stream->rows.push_back(f.stream->rows.empty() ? i : f.stream->rows[size_t(i)]);
        else dst.x.insert(dst.x.end(), f.x.begin() + i * f.sample_numel, f.x.begin() + (i + 1) * f.sample_numel);
      }
    };
    takeField(fv, 0, nv);
    takeField(ft, nv, train.n);
    v.fields.push_back(std::move(fv));
    t.fields.push_back(std::move(ft));
  }
  train = std::move(t);
  return v;
}

}  // namespace dls
