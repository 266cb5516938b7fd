// Tests of the taxonomy checker: the IDX, NPY and CSV readers, the data rules over per-step class labels
// (`class<C>[T]`, labels of shape [samples, T]), and docs/taxonomy.md (every diagnostic code it names is in
// the table, every spec file it names exists).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <tuple>

#include "Compilation.h"
#include "checker/data/DataTable.h"
#include "sema/OpTable.h"
#include "support/Diagnostic.h"

namespace fs = std::filesystem;
using namespace dls::checker::data;

namespace {

fs::path tempFile(const std::string& name, const std::string& bytes) {
  fs::path p = fs::temp_directory_path() / ("dlspec_checker_tests_" + name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

std::string idxHeader(uint8_t rank, std::initializer_list<uint32_t> dims) {
  std::string s = {0, 0, 0x08, static_cast<char>(rank)};
  for (uint32_t d : dims)
    for (int k = 3; k >= 0; --k) s += static_cast<char>((d >> (8 * k)) & 0xff);
  return s;
}

// A .npy file: version `major`, header dict `dict` (padded as NumPy pads it), then `data`.
std::string npy(const std::string& dict, const std::string& data, int major = 1) {
  size_t pre = major == 1 ? 10 : 12;
  std::string h = dict;
  while ((pre + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += '\0';
  for (size_t k = 0; k < pre - 8; ++k) s += static_cast<char>((h.size() >> (8 * k)) & 0xff);
  return s + h + data;
}

template <class T>
std::string bytesOf(std::initializer_list<T> v) {
  std::string s;
  for (T x : v) s.append(reinterpret_cast<const char*>(&x), sizeof x);
  return s;
}

// Shape text for an .npy header: (3,) or (3, 8).
std::string shapeText(std::initializer_list<int64_t> dims) {
  std::string s = "(";
  for (int64_t d : dims) s += std::to_string(d) + ", ";
  if (dims.size() > 1) s.resize(s.size() - 2);
  else s.resize(s.size() - 1);
  return s + ")";
}

std::string npyI8(std::initializer_list<int64_t> dims, const std::vector<int64_t>& v) {
  std::string data(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t));
  return npy("{'descr': '<i8', 'fortran_order': False, 'shape': " + shapeText(dims) + ", }", data);
}

std::string npyF4(std::initializer_list<int64_t> dims, const std::vector<float>& v) {
  std::string data(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  return npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + shapeText(dims) + ", }", data);
}

void write(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

// 40 samples of 8 steps x 2 features, distinct (no duplicates), as f32 [n, 8, 2]; `from` offsets the values.
std::string sequences(int64_t n = 40, float from = 0) {
  std::vector<float> x;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < 16; ++k) x.push_back(from + static_cast<float>(i) + 0.01f * static_cast<float>(k));
  return npyF4({n, 8, 2}, x);
}

// Balanced per-step labels: sample i, step s has class (i + s) % 4.
std::vector<int64_t> stepLabels(int64_t n = 40) {
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t s = 0; s < 8; ++s) y.push_back((i + s) % 4);
  return y;
}

// A fresh directory for one test's data files and spec, with a clean test split (test.npy, test-labels.npy).
fs::path dataDir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("dlspec_checker_tests_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  write(d / "test.npy", sequences(12, 1000));
  write(d / "test-labels.npy", npyI8({12, 8}, stepLabels(12)));
  return d;
}

// A sequence tagger over windows of 8 steps x 2 features with 4 classes per step: `trainSplit` is the training
// split (`npy(...)`, `idx(...)` or `csv(...)`), validated on the clean test split of dataDir().
std::string taggerSpec(const std::string& trainSplit, const std::string& labelType = "class<4>[8]") {
  return "dlspec 1\n"
         "dataset seq {\n"
         "  train = " + trainSplit + "\n"
         "  test  = npy(\"test.npy\", \"test-labels.npy\")\n"
         "  sample steps: f32[8, 2]\n"
         "  label next: " + labelType + "\n"
         "}\n"
         "pipeline train_input from seq.train {\n"
         "  shuffle(buffer: all)\n"
         "  batch(10)\n"
         "}\n"
         "pipeline test_input from seq.test {\n"
         "  batch(10)\n"
         "}\n"
         "network Tagger(x: f32[N, 8, 2]) -> logits[N, 8, 4] {\n"
         "  h = x |> gru(4)\n"
         "  return h |> dense(4)\n"
         "}\n"
         "train tagger {\n"
         "  model     = Tagger on cpu\n"
         "  data      = train_input\n"
         "  loss      = cross_entropy(model.out, next)\n"
         "  optimizer = adam(lr: 0.01)\n"
         "  clip      = norm(1.0)\n"
         "  epochs    = 1\n"
         "  validate  = test_input every 1 epoch metrics [accuracy, loss]\n"
         "  seed      = 42\n"
         "}\n";
}

struct Checked {
  std::vector<dls::Diagnostic> diags;
  const dls::Diagnostic* find(const std::string& code) const {
    for (const auto& d : diags)
      if (dls::codeInfo(d.code).id == code) return &d;
    return nullptr;
  }
  std::string all() const {
    std::string s;
    for (const auto& d : diags) s += std::string(dls::codeInfo(d.code).id) + ": " + d.message + "\n";
    return s;
  }
};

// Writes `spec` into `dir` and checks it with the data rules on.
Checked checkWithData(const fs::path& dir, const std::string& spec) {
  fs::path p = dir / "spec.dls";
  write(p, spec);
  dls::Compilation c;
  c.loadText(p.string(), spec);
  c.diags.setLintLevel(dls::LintGroup::Pedantic);  // every finding, whatever its lint group
  dls::CheckOptions opt;
  opt.data = true;
  if (c.parse()) dls::checkSpec(c, opt);
  return Checked{c.diags.finish()};
}

}  // namespace

TEST_CASE("NPY: v1 and v2 headers, every element type, samples and labels") {
  std::string x = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", bytesOf<float>({1, 2, 3, 4, 5, 6}));
  std::string y = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", bytesOf<int64_t>({0, 2, 1}), 2);
  DataTable t;
  std::string err;
  REQUIRE(readNpy(tempFile("x.npy", x).string(), tempFile("y.npy", y).string(), t, err));
  CHECK(t.rows == 3);
  CHECK(t.sampleDims == std::vector<int64_t>{2});
  CHECK(t.rowBytes == 8);
  CHECK(t.sampleKind == 'f');
  CHECK(t.labels == std::vector<int64_t>{0, 2, 1});
  dls::data::Array a;
  dls::data::Error e;
  for (auto [descr, data, want] : std::vector<std::tuple<std::string, std::string, double>>{
           {"|u1", std::string("\x07\x09", 2), 9}, {"<i4", bytesOf<int32_t>({-3, -4}), -4},
           {"<f8", bytesOf<double>({0.5, 1.5}), 1.5}, {"<i8", bytesOf<int64_t>({5, 6}), 6}}) {
    INFO(descr);
    REQUIRE(dls::data::readNpy(tempFile("t.npy", npy("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (2,), }", data)).string(), a, e));
    CHECK(a.shape == std::vector<int64_t>{2});
    CHECK(a.at(1) == want);
  }
}

TEST_CASE("NPY: malformed headers are errors with the byte offset") {
  dls::data::Array a;
  auto bad = [&](const std::string& bytes) {
    dls::data::Error e;
    CHECK_FALSE(dls::data::readNpy(tempFile("bad.npy", bytes).string(), a, e));
    return describe(e);
  };
  CHECK(bad("not numpy at all") == "byte 0: not an .npy file (no \\x93NUMPY magic)");
  CHECK(bad(std::string("\x93NUMPY\x04\x00\x10\x00", 10)).rfind("byte 6: format version 4.0", 0) == 0);
  CHECK(bad(std::string("\x93NUMPY\x01\x00\xff\x00{", 11)).rfind("byte 10: the header is 255 bytes", 0) == 0);
  std::string fortran = bad(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", bytesOf<float>({1})));
  CHECK(fortran.find("Fortran order") != std::string::npos);
  CHECK(fortran.rfind("byte 44:", 0) == 0);  // 10 bytes of preamble + the value's offset in the dict
  CHECK(bad(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", bytesOf<float>({1}))).find("'>f4'") != std::string::npos);
  CHECK(bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (x,), }", "")).rfind("byte 61:", 0) == 0);
  CHECK(bad(npy("{'descr': '<f4', 'fortran_order': False, }", "")).find("no 'shape'") != std::string::npos);
  CHECK(bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", bytesOf<float>({1, 2}))).find("truncated") != std::string::npos);
  // Samples and labels that disagree on the count.
  DataTable t;
  std::string err;
  CHECK_FALSE(readNpy(tempFile("x2.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1), }", "ab")).string(),
                      tempFile("y2.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", "abc")).string(), t, err));
  CHECK(err.find("2 samples") != std::string::npos);
}

TEST_CASE("IDX: images and labels are read with their dims") {
  std::string images = idxHeader(3, {3, 2, 2}) + std::string("\x01\x02\x03\x04" "\x05\x06\x07\x08" "\x09\x0a\x0b\x0c", 12);
  std::string labels = idxHeader(1, {3}) + std::string("\x00\x01\x02", 3);
  DataTable t;
  std::string err;
  REQUIRE(readIdx(tempFile("i.idx", images).string(), tempFile("l.idx", labels).string(), t, err));
  CHECK(err.empty());
  CHECK(t.rows == 3);
  CHECK(t.rowBytes == 4);
  CHECK(t.sampleDims == std::vector<int64_t>{2, 2});
  CHECK(t.labels == std::vector<int64_t>{0, 1, 2});
  CHECK(t.raw[4] == 5);
}

TEST_CASE("IDX: a truncated file and a count mismatch are errors, not crashes") {
  DataTable t;
  std::string err;
  std::string labels = idxHeader(1, {3}) + std::string("\x00\x01\x02", 3);
  CHECK_FALSE(readIdx(tempFile("short.idx", idxHeader(3, {3, 2, 2}) + "\x01\x02").string(),
                      tempFile("l2.idx", labels).string(), t, err));
  CHECK_FALSE(err.empty());
  err.clear();
  std::string twoLabels = idxHeader(1, {2}) + std::string("\x00\x01", 2);
  std::string images = idxHeader(3, {3, 1, 1}) + std::string("\x01\x02\x03", 3);
  CHECK_FALSE(readIdx(tempFile("i3.idx", images).string(), tempFile("l3.idx", twoLabels).string(), t, err));
  CHECK_FALSE(err.empty());
  err.clear();
  CHECK_FALSE(readIdx("/nonexistent/file.idx", "/nonexistent/labels.idx", t, err));
  CHECK_FALSE(err.empty());
}

TEST_CASE("CSV: features, the label column and line numbers") {
  DataTable t;
  std::string err;
  REQUIRE(readCsv(tempFile("a.csv", "x,y,label\n1,2.5,0\n3,4,1\n").string(), "label", t, err));
  CHECK(t.csv);
  CHECK(t.rows == 2);
  CHECK(t.columns == std::vector<std::string>{"x", "y"});
  CHECK(t.values == std::vector<double>{1, 2.5, 3, 4});
  CHECK(t.labels == std::vector<int64_t>{0, 1});
  CHECK(t.lineOf == std::vector<int64_t>{2, 3});
}

TEST_CASE("CSV: a missing label column is an error") {
  DataTable t;
  std::string err;
  CHECK_FALSE(readCsv(tempFile("b.csv", "x,y\n1,2\n").string(), "label", t, err));
  CHECK_FALSE(err.empty());
}

TEST_CASE("docs/taxonomy.md names only existing codes and spec files") {
  fs::path root = DLSPEC_ROOT;
  std::ifstream in(root / "docs/taxonomy.md");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string md = ss.str();
  std::regex code(R"(\b([EWMDI][0-9]{4})\b)"), spec(R"((specs/[A-Za-z0-9_./-]+\.dls))"), rule(R"((checker/rules/[A-Za-z]+\.cpp))");
  size_t codes = 0, specs = 0;
  for (auto it = std::sregex_iterator(md.begin(), md.end(), code); it != std::sregex_iterator(); ++it, ++codes) {
    INFO("code " << (*it)[1]);
    CHECK(dls::findCode((*it)[1].str()) != nullptr);
  }
  for (auto it = std::sregex_iterator(md.begin(), md.end(), spec); it != std::sregex_iterator(); ++it, ++specs) {
    INFO("spec " << (*it)[1]);
    CHECK(fs::exists(root / (*it)[1].str()));
  }
  for (auto it = std::sregex_iterator(md.begin(), md.end(), rule); it != std::sregex_iterator(); ++it) {
    INFO("rule " << (*it)[1]);
    CHECK(fs::exists(root / (*it)[1].str()));
  }
  // Runtime guards' codes live in the runtime's own table.
  std::ifstream rin(root / "runtime/core/RuntimeDiagnostics.def");
  REQUIRE(rin);
  std::stringstream rs;
  rs << rin.rdbuf();
  std::regex rcode(R"(\b(R[0-9]{4})\b)");
  for (auto it = std::sregex_iterator(md.begin(), md.end(), rcode); it != std::sregex_iterator(); ++it) {
    INFO("runtime code " << (*it)[1]);
    CHECK(rs.str().find("(" + (*it)[1].str() + ",") != std::string::npos);
  }
  CHECK(codes > 30);
  CHECK(specs > 10);
}

// The rules read the op table's columns, not op names: an op is covered by a rule when its row has the
// property. These are the implications between the columns and the rest of the row that a new op's row must
// keep, or a rule would silently skip it.
namespace {
// `check` of a spec given as text (no data read); its diagnostics.
std::vector<dls::Diagnostic> checkText(const std::string& spec) {
  dls::Compilation c;
  c.loadText("spec.dls", spec);
  c.diags.setLintLevel(dls::LintGroup::Pedantic);  // every finding, whatever its lint group
  dls::CheckOptions opt;
  if (c.parse()) dls::checkSpec(c, opt);
  return c.diags.finish();
}
const dls::Diagnostic* find(const std::vector<dls::Diagnostic>& ds, const char* code) {
  for (const auto& d : ds)
    if (std::string(dls::codeInfo(d.code).id) == code) return &d;
  return nullptr;
}
// The estimate E0801's message states, in MiB ("training needs about 15.2 MiB on cpu, …").
double mib(const std::string& message) {
  std::smatch r;
  REQUIRE(std::regex_search(message, r, std::regex("about ([0-9.]+) MiB")));
  return std::stod(r[1]);
}
// An MLP of dense(1000) layers on 784 features, batch 256, in `precision`, with `memory` bytes.
std::string mlpSpec(const std::string& precision, const std::string& memory, const std::string& optimizer = "sgd(lr: 0.01)") {
  return "dlspec 1\n"
         "dataset d {\n  train = npy(\"x.npy\", \"y.npy\")\n  sample x: f32[784]\n  label y: class<10>\n}\n"
         "pipeline p from d.train {\n  shuffle(buffer: all)\n  batch(256)\n}\n"
         "network Net(x: f32[N, 784]) -> logits[N, 10] {\n  h = x |> dense(1000) |> relu\n  return h |> dense(10)\n}\n"
         "train t {\n  model = Net on cpu\n  data = p\n  loss = cross_entropy(model.out, y)\n  optimizer = " + optimizer +
         "\n  epochs = 1\n  memory = " + memory + "\n  precision = " + precision + "\n}\n";
}
}  // namespace

TEST_CASE("E0801 counts the bf16 copies of precision bf16: inputs, weights and d(output) of the dense layers") {
  // f32: weights+grads 2 x 4 x 795,010 params = 6.06 MiB (SGD keeps no state), activations and the rest ~9 MiB.
  // bf16 adds 2 x 795,010 (weights) + 2 x 256 x (784 + 1000 + 1000 + 10) bytes = 2.9 MiB.
  auto f32 = checkText(mlpSpec("f32", "1 * MiB"));
  auto bf16 = checkText(mlpSpec("bf16", "1 * MiB"));
  const dls::Diagnostic* a = find(f32, "E0801");
  const dls::Diagnostic* b = find(bf16, "E0801");
  REQUIRE(a);
  REQUIRE(b);
  const double extra = (2.0 * 795010 + 2.0 * 256 * (784 + 1000 + 1000 + 10)) / (1 << 20);
  CHECK(mib(b->message) - mib(a->message) == Approx(extra).margin(0.11));
  bool noted = false;
  for (const auto& n : b->notes) noted = noted || n.find("bf16 copies") != std::string::npos;
  CHECK(noted);
}

TEST_CASE("W0720: an Adam epsilon that rounds to zero in f32, the precision of the update, in every precision") {
  for (const char* p : {"f32", "bf16"}) {
    INFO(p);
    auto ds = checkText(mlpSpec(p, "64 * GiB", "adam(lr: 0.001, eps: 1e-46)"));
    CHECK(find(ds, "W0720"));
    CHECK_FALSE(find(ds, "W0703"));  // the more specific warning replaces it
    auto ok = checkText(mlpSpec(p, "64 * GiB", "adam(lr: 0.001, eps: 1e-12)"));
    CHECK_FALSE(find(ok, "W0720"));
    CHECK(find(ok, "W0703"));
  }
}

TEST_CASE("the op table's rule columns agree with the rest of each row") {
  using dls::sema::OpCategory;
  size_t layers = 0;
  for (const dls::sema::OpInfo& op : dls::sema::opTable()) {
    INFO("op " << op.name);
    if (op.category == OpCategory::Activation) {
      CHECK(op.nonLinear);  // every activation is a non-linearity: M0104, M0106, M0102
      CHECK(op.gain > 0);
    }
    if (op.attr("init")) CHECK(op.hasWeights);  // what `init:` initialises is checked by M0101, M0102
    if (op.matmul) CHECK((op.hasWeights && op.params != nullptr));
    if (op.hasWeights) CHECK(op.params != nullptr);
    if (op.recurrent) CHECK((op.hasWeights && op.nonLinear));
    if (op.pooling) CHECK(op.spatial);
    if (op.batchStatistics) CHECK(op.normalization);
    if (op.outputOnly) CHECK(op.nonLinear);
    if (op.category == OpCategory::Optimizer && op.attr("eps")) CHECK(op.adaptive);  // W0703, W0702
    if (!op.decoupledVariant.empty()) {
      const dls::sema::OpInfo* twin = dls::sema::findOp(op.decoupledVariant, {OpCategory::Optimizer});
      REQUIRE(twin);
      CHECK(twin->attr("weight_decay"));
    }
    if (op.category == OpCategory::Pipeline && (op.name == "shuffle" || op.name == "batch")) CHECK(op.wholeDataset);
    // Mixed precision: bf16 products only where a learned product is, never on an op kept in f32; the ops unstable
    // in low precision (softmax/log-sum-exp, normalisation statistics, losses) are kept in f32.
    if (op.bf16) CHECK((op.matmul && !op.keepF32 && op.cpu));
    if (op.opcode >= 0 && (op.outputOnly || op.normalization || op.category == OpCategory::Loss ||
                           op.name == "log_softmax"))
      CHECK(op.keepF32);
    layers += op.category == OpCategory::Layer;
  }
  CHECK(layers > 10);
}

TEST_CASE("NPY: per-step labels of shape (n, T) are read as n x T labels") {
  DataTable t;
  std::string err;
  REQUIRE(readNpy(tempFile("sx.npy", sequences(3)).string(), tempFile("sy.npy", npyI8({3, 8}, stepLabels(3))).string(), t, err));
  CHECK(t.rows == 3);
  CHECK(t.labelDims == std::vector<int64_t>{8});
  CHECK(t.labelsPerRow == 8);
  CHECK(t.labels == stepLabels(3));
  DataTable one;
  REQUIRE(readNpy(tempFile("sx1.npy", sequences(3)).string(), tempFile("sy1.npy", npyI8({3}, {0, 1, 2})).string(), one, err));
  CHECK(one.labelDims.empty());
  CHECK(one.labelsPerRow == 1);
}

TEST_CASE("IDX: labels of shape (n, T) are read per step") {
  std::string images = idxHeader(3, {2, 1, 1}) + std::string("\x01\x02", 2);
  std::string labels = idxHeader(2, {2, 3}) + std::string("\x00\x01\x02\x03\x00\x01", 6);
  DataTable t;
  std::string err;
  REQUIRE(readIdx(tempFile("si.idx", images).string(), tempFile("sl.idx", labels).string(), t, err));
  CHECK(t.labelsPerRow == 3);
  CHECK(t.labels == std::vector<int64_t>{0, 1, 2, 3, 0, 1});
}

TEST_CASE("data rules: per-step labels of shape (samples, T) for class<C> with T steps are accepted") {
  fs::path d = dataDir("seq_ok");
  write(d / "train.npy", sequences());
  write(d / "labels.npy", npyI8({40, 8}, stepLabels()));
  Checked r = checkWithData(d, taggerSpec("npy(\"train.npy\", \"labels.npy\")"));
  INFO(r.all());
  CHECK(r.diags.empty());
}

TEST_CASE("data rules: a labels file of the wrong shape is D0117 with the file and both shapes") {
  fs::path d = dataDir("seq_shape");
  write(d / "train.npy", sequences());
  SECTION("one label per sample where per-step labels are declared") {
    write(d / "labels.npy", npyI8({40}, std::vector<int64_t>(40, 1)));
    Checked r = checkWithData(d, taggerSpec("npy(\"train.npy\", \"labels.npy\")"));
    INFO(r.all());
    const dls::Diagnostic* e = r.find("D0117");
    REQUIRE(e);
    CHECK(e->message == "`labels.npy` holds labels of shape [40], but `label next: class<4>[8]` wants [40, 8] (one class label per step)");
    CHECK(e->span.valid());
    CHECK(r.find("D0101") == nullptr);
    CHECK(r.find("D0106") == nullptr);
  }
  SECTION("another number of steps") {
    std::vector<int64_t> y(40 * 6, 2);
    write(d / "labels.npy", npyI8({40, 6}, y));
    Checked r = checkWithData(d, taggerSpec("npy(\"train.npy\", \"labels.npy\")"));
    INFO(r.all());
    const dls::Diagnostic* e = r.find("D0117");
    REQUIRE(e);
    CHECK(e->message.find("shape [40, 6]") != std::string::npos);
    CHECK(e->message.find("wants [40, 8]") != std::string::npos);
  }
  SECTION("per-step labels where one per sample is declared") {
    write(d / "labels.npy", npyI8({40, 8}, stepLabels()));
    std::string spec = taggerSpec("npy(\"train.npy\", \"labels.npy\")", "class<4>");
    // The network's per-step logits need per-step labels (E0405); the data check still names the file.
    Checked r = checkWithData(d, spec);
    INFO(r.all());
    const dls::Diagnostic* e = r.find("D0117");
    REQUIRE(e);
    CHECK(e->message == "`labels.npy` holds labels of shape [40, 8], but `label next: class<4>` wants [40] (one class label per sample)");
    REQUIRE_FALSE(e->helps.empty());
    CHECK(e->helps[0].find("class<4>[8]") != std::string::npos);
  }
  SECTION("a labels file with another number of samples stays D0106") {
    write(d / "labels.npy", npyI8({39, 8}, std::vector<int64_t>(39 * 8, 0)));
    Checked r = checkWithData(d, taggerSpec("npy(\"train.npy\", \"labels.npy\")"));
    INFO(r.all());
    REQUIRE(r.find("D0106"));
    CHECK(r.find("D0106")->message.find("40 samples") != std::string::npos);
  }
}

TEST_CASE("data rules: a class outside 0..C-1 at one step names the sample and the step") {
  fs::path d = dataDir("seq_range");
  write(d / "train.npy", sequences());
  std::vector<int64_t> y = stepLabels();
  y[17 * 8 + 5] = 9;
  write(d / "labels.npy", npyI8({40, 8}, y));
  Checked r = checkWithData(d, taggerSpec("npy(\"train.npy\", \"labels.npy\")"));
  INFO(r.all());
  const dls::Diagnostic* e = r.find("D0101");
  REQUIRE(e);
  CHECK(e->message == "`labels.npy` record 17, step 5: label 9 is outside [0, 4)");
}

TEST_CASE("data rules: a NaN label at one step names the sample and the step") {
  fs::path d = dataDir("seq_nan");
  write(d / "train.npy", sequences());
  std::vector<float> y;
  for (int64_t v : stepLabels()) y.push_back(static_cast<float>(v));
  y[3 * 8 + 2] = NAN;
  write(d / "labels.npy", npyF4({40, 8}, y));
  Checked r = checkWithData(d, taggerSpec("npy(\"train.npy\", \"labels.npy\")"));
  INFO(r.all());
  const dls::Diagnostic* e = r.find("D0105");
  REQUIRE(e);
  CHECK(e->message.find("record 3, step 2") != std::string::npos);
}

TEST_CASE("data rules: class balance counts every step's label") {
  fs::path d = dataDir("seq_balance");
  write(d / "train.npy", sequences());
  // Per sample the classes look balanced at step 0 (i % 4), but steps 1..7 are all class 0: 290 step labels
  // of class 0 against 10 of classes 1, 2 and 3.
  std::vector<int64_t> y;
  for (int64_t i = 0; i < 40; ++i)
    for (int64_t s = 0; s < 8; ++s) y.push_back(s == 0 ? i % 4 : 0);
  write(d / "labels.npy", npyI8({40, 8}, y));
  Checked r = checkWithData(d, taggerSpec("npy(\"train.npy\", \"labels.npy\")"));
  INFO(r.all());
  // Per-step labels: D0127 (pedantic), not D0103.
  CHECK(r.find("D0103") == nullptr);
  const dls::Diagnostic* e = r.find("D0127");
  REQUIRE(e);
  CHECK(e->message.find("class 0 covers 290 of the 320 labelled steps, class 1 covers 10 (29:1)") != std::string::npos);
  REQUIRE_FALSE(e->notes.empty());
  CHECK(e->notes[0].find("per step") != std::string::npos);
}

TEST_CASE("data rules: identical samples whose labels differ at one step conflict") {
  fs::path d = dataDir("seq_conflict");
  // Sample 39 repeats sample 0; its labels differ at step 6 only.
  std::vector<float> x;
  for (int64_t i = 0; i < 40; ++i)
    for (int64_t k = 0; k < 16; ++k) x.push_back(static_cast<float>(i == 39 ? 0 : i) + 0.01f * static_cast<float>(k));
  write(d / "train.npy", npyF4({40, 8, 2}, x));
  std::vector<int64_t> y = stepLabels();
  for (int64_t s = 0; s < 8; ++s) y[39 * 8 + s] = y[s];
  y[39 * 8 + 6] = (y[6] + 1) % 4;
  write(d / "labels.npy", npyI8({40, 8}, y));
  Checked r = checkWithData(d, taggerSpec("npy(\"train.npy\", \"labels.npy\")"));
  INFO(r.all());
  const dls::Diagnostic* e = r.find("D0108");
  REQUIRE(e);
  CHECK(e->message.find("record 0 and record 39 are identical but labelled 2 and 3 at step 6") != std::string::npos);
  CHECK(r.find("D0107") == nullptr);
}

TEST_CASE("data rules: per-step labels from a CSV file (one label column) are D0117") {
  fs::path d = dataDir("seq_csv");
  std::string csv = "a,b,next\n";
  for (int i = 0; i < 40; ++i) csv += std::to_string(i) + "," + std::to_string(i * 2 + 1) + "," + std::to_string(i % 4) + "\n";
  write(d / "train.csv", csv);
  Checked r = checkWithData(d, taggerSpec("csv(\"train.csv\")"));
  INFO(r.all());
  const dls::Diagnostic* e = r.find("D0117");
  REQUIRE(e);
  CHECK(e->message == "`train.csv` holds labels of shape [40] (one label column), but `label next: class<4>[8]` wants [40, 8] (one class label per step)");
  REQUIRE_FALSE(e->helps.empty());
  CHECK(e->helps[0].find("npy(") != std::string::npos);
}

TEST_CASE("data rules: per-step labels from a 1-D IDX labels file are D0117, an (n, T) IDX file is read per step") {
  fs::path d = dataDir("seq_idx");
  std::string images = idxHeader(3, {40, 8, 2});
  for (int i = 0; i < 40 * 16; ++i) images += static_cast<char>((i * 7 + i / 16) & 0xff);
  write(d / "img.idx", images);
  std::string flat = idxHeader(1, {40});
  for (int i = 0; i < 40; ++i) flat += static_cast<char>(i % 4);
  write(d / "flat.idx", flat);
  std::string steps = idxHeader(2, {40, 8});
  for (int64_t v : stepLabels()) steps += static_cast<char>(v);
  steps[steps.size() - 1] = 7;  // record 39, step 7
  write(d / "steps.idx", steps);
  std::string spec = taggerSpec("idx(\"img.idx\", \"flat.idx\")");
  size_t at = spec.find("f32[8, 2]\n");
  spec.replace(at, 9, "u8[8, 2]");
  Checked r = checkWithData(d, spec);
  INFO(r.all());
  REQUIRE(r.find("D0117"));
  CHECK(r.find("D0117")->message.find("`flat.idx` holds labels of shape [40]") != std::string::npos);
  spec.replace(spec.find("flat.idx"), 8, "steps.idx");
  Checked r2 = checkWithData(d, spec);
  INFO(r2.all());
  CHECK(r2.find("D0117") == nullptr);
  REQUIRE(r2.find("D0101"));
  CHECK(r2.find("D0101")->message == "`steps.idx` record 39, step 7: label 7 is outside [0, 4)");
}

TEST_CASE("data rules: blank samples (all padding, near zero) are D0126, not duplicates or conflicting labels") {
  fs::path d = dataDir("seq_blank");
  // Records 34 and 35 are near zero (every value below 1e-6, not equal), 36..39 all zero (all padding) under
  // the per-step labels of other records: no duplicates and no conflicts among the real samples.
  std::vector<float> x;
  for (int64_t i = 0; i < 40; ++i)
    for (int64_t k = 0; k < 16; ++k)
      x.push_back(i >= 36 ? 0.0f : i >= 34 ? 1e-9f * static_cast<float>(k + 1) : static_cast<float>(i) + 0.01f * static_cast<float>(k));
  write(d / "train.npy", npyF4({40, 8, 2}, x));
  write(d / "labels.npy", npyI8({40, 8}, stepLabels()));
  Checked r = checkWithData(d, taggerSpec("npy(\"train.npy\", \"labels.npy\")"));
  INFO(r.all());
  CHECK(r.find("D0107") == nullptr);
  CHECK(r.find("D0108") == nullptr);
  const dls::Diagnostic* e = r.find("D0126");
  REQUIRE(e);
  CHECK(e->message == "`train.npy`: 6 of 40 samples are blank (first: record 34, every value within 1e-6 of 0)");
  REQUIRE(!e->helps.empty());
  CHECK(e->helps[0].find("filter out empty sequences") != std::string::npos);
  REQUIRE(!e->notes.empty());
  CHECK(e->notes[0].find("different labels") != std::string::npos);
  // The same file without its blank records: nothing.
  x.resize(34 * 16);
  std::vector<int64_t> y = stepLabels(34);
  write(d / "train.npy", npyF4({34, 8, 2}, x));
  write(d / "labels.npy", npyI8({34, 8}, y));
  Checked clean = checkWithData(d, taggerSpec("npy(\"train.npy\", \"labels.npy\")"));
  INFO(clean.all());
  CHECK(clean.find("D0126") == nullptr);
}

namespace {
// A token tagger: 40 sentences of 8 i32 tokens, padded with token 0 at the end (`embedding(mask_token: 0)`),
// one class of 4 per token; `loss` is the loss setting.
std::string tokenTaggerSpec(const std::string& loss) {
  return "dlspec 1\n"
         "dataset words {\n"
         "  train = npy(\"tokens.npy\", \"tags.npy\")\n"
         "  test  = npy(\"test-tokens.npy\", \"test-tags.npy\")\n"
         "  sample tokens: i32[8]\n"
         "  label tags: class<4>[8]\n"
         "}\n"
         "pipeline train_input from words.train {\n"
         "  shuffle(buffer: all)\n"
         "  batch(10)\n"
         "}\n"
         "pipeline test_input from words.test {\n"
         "  batch(10)\n"
         "}\n"
         "network Tagger(x: i32[N, 8]) -> logits[N, 8, 4] {\n"
         "  h = x |> embedding(vocab: 100, dim: 8, mask_token: 0) |> lstm(8)\n"
         "  return h |> dense(4)\n"
         "}\n"
         "train tagger {\n"
         "  model     = Tagger on cpu\n"
         "  data      = train_input\n"
         "  loss      = " + loss + "\n"
         "  optimizer = adam(lr: 0.01)\n"
         "  clip      = norm(1.0)\n"
         "  epochs    = 1\n"
         "  validate  = test_input every 1 epoch metrics [accuracy, loss]\n"
         "  seed      = 42\n"
         "}\n";
}

std::string npyI4(std::initializer_list<int64_t> dims, const std::vector<int32_t>& v) {
  std::string data(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int32_t));
  return npy("{'descr': '<i4', 'fortran_order': False, 'shape': " + shapeText(dims) + ", }", data);
}

// Sentence i has 1 + i % 3 tokens (1 + (i * 8 + s) % 97), then token 0; its tags are `tag(i, s)` on the
// tokens and class 0 on the padding.
template <class F>
fs::path tokenData(const std::string& name, F tag) {
  fs::path d = fs::temp_directory_path() / ("dlspec_checker_tests_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  auto make = [&](int64_t n, int64_t from, const std::string& x, const std::string& y) {
    std::vector<int32_t> tokens;
    std::vector<int64_t> tags;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t s = 0; s < 8; ++s) {
        const bool real = s < 1 + i % 3;
        tokens.push_back(real ? static_cast<int32_t>(1 + ((from + i) * 8 + s) % 97) : 0);
        tags.push_back(real ? tag(i, s) : 0);
      }
    write(d / x, npyI4({n, 8}, tokens));
    write(d / y, npyI8({n, 8}, tags));
  };
  make(40, 0, "tokens.npy", "tags.npy");
  make(12, 40, "test-tokens.npy", "test-tags.npy");
  return d;
}
}  // namespace

TEST_CASE("data rules: the padded steps of per-step labels do not count toward class balance") {
  // The 79 tokens are tagged (i + s) % 4, 19 or 20 of each class; the 241 padding steps, tagged 0, would make
  // class 0 dominate (261 steps against 19 of class 1) if they were counted.
  fs::path d = tokenData("tok_padding", [](int64_t i, int64_t s) { return (i + s) % 4; });
  Checked r = checkWithData(d, tokenTaggerSpec("cross_entropy(model.out, tags)"));
  INFO(r.all());
  CHECK(r.find("D0103") == nullptr);
  CHECK(r.find("D0127") == nullptr);
  CHECK(r.find("W0725") != nullptr);  // the loss still counts them: a finding of its own
}

TEST_CASE("data rules: one tag dominating the tokens is D0127 with weights that make it go away") {
  // Every token is class 1 (the "outside" tag) but the first of the sentences i % 8 == 0 (class 2) and
  // i % 8 == 1 (class 3).
  auto tag = [](int64_t i, int64_t s) -> int64_t { return s == 0 && i % 8 == 0 ? 2 : s == 0 && i % 8 == 1 ? 3 : 1; };
  fs::path d = tokenData("tok_dominant", tag);
  Checked r = checkWithData(d, tokenTaggerSpec("cross_entropy(model.out, tags, ignore_index: 0)"));
  INFO(r.all());
  CHECK(r.find("D0103") == nullptr);
  const dls::Diagnostic* e = r.find("D0127");
  REQUIRE(e);
  // 79 tokens: 69 of class 1, 5 each of classes 2 and 3 (the padding, class 0, is neither counted nor weighted).
  CHECK(e->message == "`tags.npy`: class 1 covers 69 of the 79 labelled steps, class 2 covers 5 (13:1), and the loss has no class weights");
  REQUIRE(e->helps.size() == 1);
  const std::string& help = e->helps[0];
  auto at = help.find("`weight: [");
  REQUIRE(at != std::string::npos);
  const std::string weights = help.substr(at + 1, help.find('`', at + 1) - at - 1);
  CHECK(weights == "weight: [0, 0.382, 5.27, 5.27]");
  // The help applied verbatim: the finding goes away.
  Checked fixed = checkWithData(d, tokenTaggerSpec("cross_entropy(model.out, tags, ignore_index: 0, " + weights + ")"));
  INFO(fixed.all());
  CHECK(fixed.find("D0127") == nullptr);
  CHECK(fixed.find("D0103") == nullptr);
}

TEST_CASE("E0801 counts gradient accumulation's f64 sums of the gradients on the cpu") {
  // 795,010 parameters: accumulate = 4 steps adds 8 bytes each (6.07 MiB), named in the note.
  const std::string plain = mlpSpec("f32", "1 * MiB");
  std::string accum = plain;
  accum.replace(accum.find("  epochs = 1\n"), 0, "  accumulate = 4 steps\n");
  auto without = checkText(plain);
  auto withAccum = checkText(accum);
  const dls::Diagnostic* a = find(without, "E0801");
  const dls::Diagnostic* b = find(withAccum, "E0801");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(mib(b->message) - mib(a->message) == Approx(8.0 * 795010 / (1 << 20)).margin(0.11));
  bool noted = false;
  for (const auto& n : b->notes) noted = noted || n.find("accumulated gradients 6.") != std::string::npos;
  CHECK(noted);
}

TEST_CASE("E0801 counts a split the executable would read per batch as it holds it: its labels and batches ahead") {
  // 2,000 samples of 784 f32: 6.0 MiB decoded, more than half of `memory = 6 * MiB`, so the executable (--load auto,
  // --data-memory half of the memory) reads the split per batch and holds about 1.3 MiB of it. Held whole, the data
  // and the tiny network would not fit.
  fs::path d = fs::temp_directory_path() / "dlspec_checker_e0801_stream";
  fs::create_directories(d);
  const int64_t n = 2000;
  std::vector<float> x(static_cast<size_t>(n * 784), 0.25f);
  for (size_t i = 0; i < x.size(); i += 97) x[i] = static_cast<float>(i % 13);
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[static_cast<size_t>(i)] = i % 10;
  write(d / "x.npy", npyF4({n, 784}, x));
  write(d / "y.npy", npyI8({n}, y));
  auto spec = [](const std::string& memory) {
    return "dlspec 1\n"
           "dataset d {\n  train = npy(\"x.npy\", \"y.npy\")\n  sample x: f32[784]\n  label y: class<10>\n}\n"
           "pipeline p from d.train {\n  batch(32)\n}\n"
           "network Net(x: f32[N, 784]) -> logits[N, 10] {\n  return x |> dense(10)\n}\n"
           "train t {\n  model = Net on cpu\n  data = p\n  loss = cross_entropy(model.out, y)\n  optimizer = sgd(lr: 0.01)\n"
           "  epochs = 1\n  memory = " + memory + "\n}\n";
  };
  Checked fits = checkWithData(d, spec("6 * MiB"));
  INFO(fits.all());
  CHECK(fits.find("E0801") == nullptr);
  // With 1 MiB even the streamed split does not fit: E0801 counts what it holds and says it is read per batch.
  Checked tight = checkWithData(d, spec("1 * MiB"));
  INFO(tight.all());
  const dls::Diagnostic* e = tight.find("E0801");
  REQUIRE(e);
  CHECK(mib(e->message) < 3.0);  // held whole, the 6.0 MiB of samples alone would be counted
  bool said = false, listed = false;
  for (const auto& note : e->notes) {
    said = said || note.find("split `train` is read per batch: its 6.0 MiB of decoded samples exceed") != std::string::npos;
    listed = listed || note.find("read per batch (") != std::string::npos;
  }
  CHECK(said);
  CHECK(listed);
  // Held whole it is counted whole: with 16 MiB (half is 8 MiB, more than the 6.0 MiB) the split stays in memory.
  Checked held = checkWithData(d, spec("16 * MiB"));
  CHECK(held.find("E0801") == nullptr);
  CHECK(held.find("W0802") == nullptr);
}
