// dlspec init --data TRAIN [--labels LABELS] [--label COLUMN] [--test TEST [--test-labels LABELS]] [-o FILE]:
// a starting spec read off the data (CSV, NPY, IDX, or a folder of images with a sub-folder per class): the data
// set with the sample and label types the files have, pipelines that normalise with the training data's own
// mean and standard deviation, a baseline network for the task (a small CNN for images, an MLP for feature
// vectors; classes or regression from the labels), and a train block with validation and checkpoints. The
// result is checked before it is written (it must check clean) and written in `dlspec fmt`'s layout.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <cstring>
#include <numeric>
#include <set>

#include "checker/data/DataTable.h"
#include "driver/Command.h"
#include "driver/Rewrite.h"
#include "syntax/Formatter.h"

namespace dls {

static const std::string_view kUsage = commandUsage("init");

namespace {

namespace fs = std::filesystem;

enum class Format { Idx, Npy, Csv, Folder, Unknown };

bool endsWith(const std::string& s, std::string_view e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}

Format formatOf(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return Format::Folder;
  std::string p = path;
  if (endsWith(p, ".gz")) p.resize(p.size() - 3);
  if (endsWith(p, ".csv")) return Format::Csv;
  if (endsWith(p, ".npy")) return Format::Npy;
  if (endsWith(p, "-ubyte") || endsWith(p, ".idx") || p.find("idx") != std::string::npos) return Format::Idx;
  return Format::Unknown;
}

std::string elemName(char kind) {
  switch (kind) {
    case 'u': return "u8";
    case 'b': return "i8";
    case 's': return "i16";
    case 'i': return "i32";
    case 'l': return "i64";
    case 'd': return "f64";
    default: return "f32";
  }
}

// An identifier from a file name: "train-images-idx3-ubyte.gz" → "train_images".
std::string identifier(std::string s, const std::string& fallback) {
  std::string out;
  for (char ch : s) {
    if (std::isalnum(static_cast<unsigned char>(ch))) out += char(std::tolower(static_cast<unsigned char>(ch)));
    else if (!out.empty() && out.back() != '_') out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) return fallback;
  return out.size() > 24 ? out.substr(0, 24) : out;
}

// The data set's name from its file: the words of the file name that do not say the split or the format
// ("train-images-idx3-ubyte.gz" has none, so the folder's, "fashion-mnist" → fashion_mnist).
std::string dataName(const std::string& path) {
  static const std::set<std::string> noise = {"train", "training", "test", "testing", "valid", "val", "images", "image",
                                              "labels", "label", "data", "x", "y", "idx1", "idx3", "ubyte", "gz",
                                              "npy", "csv", "samples", "features", "targets"};
  auto words = [&](const std::string& s) {
    std::string id = identifier(s, ""), keep;
    size_t start = 0;
    while (start <= id.size()) {
      size_t end = id.find('_', start);
      if (end == std::string::npos) end = id.size();
      std::string w = id.substr(start, end - start);
      if (!w.empty() && !noise.count(w)) keep += (keep.empty() ? "" : "_") + w;
      start = end + 1;
    }
    return keep;
  };
  fs::path p(path);
  std::string n = words(p.filename().string());
  if (n.empty()) n = words(fs::absolute(p).parent_path().filename().string());
  if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) n = "data";
  return n;
}

// A number as the spec writes it: short, and always a valid literal.
std::string lit(double v) { return fmt::format("{:.4g}", v); }

struct Read {
  checker::data::DataTable table;
  std::string error;
};

bool readSplit(Format f, const std::string& data, const std::string& labels, const std::string& labelColumn, Read& r) {
  namespace cd = checker::data;
  switch (f) {
    case Format::Idx: return cd::readIdx(data, labels, r.table, r.error);
    case Format::Npy: return cd::readNpy(data, labels, r.table, r.error);
    case Format::Csv: return cd::readCsv(data, labelColumn, r.table, r.error);
    default: return false;
  }
}

// The sample values of a table as doubles (IDX/NPY raw bytes, CSV features).
std::vector<double> sampleValues(const checker::data::DataTable& t) {
  if (t.csv) return t.values;
  std::vector<double> v;
  const size_t n = t.raw.size() / std::max<size_t>(t.elemSize, 1);
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = t.raw.data() + i * t.elemSize;
    switch (t.sampleKind) {
      case 'u': v.push_back(*p); break;
      case 'b': v.push_back(static_cast<int8_t>(*p)); break;
      case 's': { int16_t x; std::memcpy(&x, p, 2); v.push_back(x); break; }
      case 'i': { int32_t x; std::memcpy(&x, p, 4); v.push_back(x); break; }
      case 'l': { int64_t x; std::memcpy(&x, p, 8); v.push_back(double(x)); break; }
      case 'd': { double x; std::memcpy(&x, p, 8); v.push_back(x); break; }
      default: { float x; std::memcpy(&x, p, 4); v.push_back(x); break; }
    }
  }
  return v;
}

struct Task {
  bool classify = true;
  int64_t classes = 0;
};

// Classes when every label is a whole number in [0, 1000) and there are few distinct values compared with the
// rows; regression otherwise.
Task taskOf(const checker::data::DataTable& t) {
  Task k;
  std::set<double> distinct;
  bool whole = true;
  double hi = 0;
  auto see = [&](double v) {
    if (!std::isfinite(v) || v < 0 || v != std::floor(v) || v >= 1000) whole = false;
    hi = std::max(hi, v);
    if (distinct.size() <= 1000) distinct.insert(v);
  };
  if (!t.rawLabels.empty()) for (double v : t.rawLabels) see(v);
  else for (int64_t v : t.labels) see(double(v));
  bool few = distinct.size() <= 100 && distinct.size() * 5 <= std::max<size_t>(t.labels.size() + t.rawLabels.size(), 10);
  k.classify = whole && few && distinct.size() >= 2;
  k.classes = k.classify ? int64_t(hi) + 1 : 0;
  return k;
}

}  // namespace

int cmdInit(const std::vector<std::string>& argvIn) {
  std::string data, labels, labelColumn, test, testLabels, out, name;
  bool force = false;
  std::vector<std::string> argv;
  auto value = [&](size_t& i, std::string& into) {
    if (i + 1 >= argvIn.size()) return false;
    into = argvIn[++i];
    return true;
  };
  for (size_t i = 0; i < argvIn.size(); ++i) {
    const std::string& a = argvIn[i];
    bool ok = true;
    if (a == "--data") ok = value(i, data);
    else if (a == "--labels") ok = value(i, labels);
    else if (a == "--label") ok = value(i, labelColumn);
    else if (a == "--test") ok = value(i, test);
    else if (a == "--test-labels") ok = value(i, testLabels);
    else if (a == "-o" || a == "--output") ok = value(i, out);
    else if (a == "--name") ok = value(i, name);
    else if (a == "--force") force = true;
    else argv.push_back(a);
    if (!ok) return usageError(fmt::format("`{}` needs a value", a), kUsage);
  }
  CommonOptions opt;
  Args args;
  if (!parseCommon(argv, opt, args)) return kExitUsage;
  if (!rejectUnknown(args, kUsage)) return kExitUsage;
  if (!args.positional.empty()) return usageError(fmt::format("unexpected `{}`: name the data with --data", args.positional[0]), kUsage);
  if (data.empty())
    return usageError("no data given: --data TRAIN (a CSV, an NPY or IDX samples file with --labels, or an image folder)", kUsage);
  Format f = formatOf(data);
  if (f == Format::Unknown)
    return usageError(fmt::format("`{}`: cannot tell the format from the name (.csv, .npy, or IDX such as *-ubyte[.gz])", data), kUsage);
  if ((f == Format::Idx || f == Format::Npy) && labels.empty())
    return usageError(fmt::format("`{}` holds the samples only: give the labels file with --labels", data), kUsage);
  if (f == Format::Csv && !labels.empty()) return usageError("a CSV holds its labels: name the column with --label, not --labels", kUsage);
  if (!test.empty() && formatOf(test) != f) return usageError("--test must have the same format as --data", kUsage);
  if (f == Format::Folder && (!labels.empty() || !labelColumn.empty() || !testLabels.empty()))
    return usageError("an image folder's labels are its class sub-folders: --labels, --label and --test-labels do not apply", kUsage);
  if (!test.empty() && (f == Format::Idx || f == Format::Npy) && testLabels.empty()) return usageError("--test needs --test-labels", kUsage);
  // The spec is never written over a data file, nor over another file unless --force.
  std::error_code ec;
  if (!out.empty()) {
    for (const std::string& in : {data, labels, test, testLabels})
      if (!in.empty() && fs::exists(in, ec) && fs::equivalent(in, out, ec))
        return usageError(fmt::format("`{}` is a data file; the spec must go elsewhere", out), kUsage);
    if (fs::exists(out, ec) && !force)
      return usageError(fmt::format("`{}` exists; choose another name or pass --force to replace it", out), kUsage);
  }

  Read train, held;
  Compilation report;  // where data errors are reported
  report.loadText(out.empty() ? "<init>" : out, "");
  auto fail = [&](const std::string& file, const std::string& why) {
    report.diags.report(Code::E0901, Span{}, file, why);
    printDiagnostics(report, opt);
    return kExitErrors;
  };
  // What the spec is written from: the sample's element type and dims, the task, the training data's mean and
  // standard deviation (of integers scaled to [0, 1] first: u8 by 1/255), and an image folder's survey.
  std::vector<int64_t> dims;
  std::string elem;
  Task task;
  int64_t rows = 0;
  double scale = 1.0, mean = 0, sd = 1;
  checker::data::ImageSurvey survey;
  const checker::data::DataTable& t = train.table;
  if (f == Format::Folder) {
    std::string error;
    if (!checker::data::surveyImages(data, 2000, survey, error)) return fail(data, error);
    int64_t classes = 0;
    for (int64_t c : survey.perClass) classes += c > 0;
    if (survey.images == 0 || classes < 2)
      return fail(data, fmt::format("an image folder needs one sub-folder per class with .png or .jpg files; this one has "
                                    "{} class folder(s) with images", classes));
    if (survey.decoded == 0) return fail(data, "none of the images it holds could be decoded (`dlspec check --data` names them)");
    if (!test.empty()) {
      checker::data::ImageSurvey testSurvey;
      if (!checker::data::surveyImages(test, 1, testSurvey, error)) return fail(test, error);
      if (testSurvey.classes != survey.classes)
        return fail(test, fmt::format("its class folders are not those of `{}` ({} against {})", data, testSurvey.classes.size(),
                                      survey.classes.size()));
    }
    dims = {survey.channels, survey.height, survey.width};
    elem = "u8";
    task.classify = true;
    task.classes = static_cast<int64_t>(survey.classes.size());
    rows = survey.images;
    scale = 255.0;
    mean = survey.mean;
    sd = survey.std;
  } else {
    if (!readSplit(f, data, labels, labelColumn, train))
      return fail(data, train.error.empty() ? "not a data file dlspec reads" : train.error);
    if (!test.empty() && !readSplit(f, test, testLabels, labelColumn, held)) return fail(test, held.error);
    if (t.rows < 2) return fail(data, "it holds fewer than two samples");
    if (t.labelsPerRow != 1)
      return usageError("labels with more than one value per sample (sequence or multi-label targets) are not supported by `init` yet", kUsage);
    dims = t.csv ? std::vector<int64_t>{int64_t(t.columns.size())} : t.sampleDims;
    if (dims.empty()) dims = {1};
    elem = t.csv ? "f32" : elemName(t.sampleKind);
    task = taskOf(t);
    rows = static_cast<int64_t>(t.rows);
    std::vector<double> v = sampleValues(t);
    scale = elem == "u8" ? 255.0 : 1.0;
    double sq = 0;
    size_t finite = 0;
    for (double x : v)
      if (std::isfinite(x)) mean += x / scale, sq += (x / scale) * (x / scale), ++finite;
    mean = finite ? mean / double(finite) : 0;
    sd = finite ? std::sqrt(std::max(sq / double(finite) - mean * mean, 0.0)) : 1;
    if (!(sd > 1e-8)) sd = 1;
  }
  std::string labelName = f == Format::Csv && !labelColumn.empty() ? identifier(labelColumn, "label")
                          : f == Format::Csv && !t.header.empty() ? identifier(t.header.back(), "label") : "label";
  std::string sampleName = dims.size() >= 2 ? "image" : "x";
  if (labelName == sampleName) labelName = "target";
  std::string setName = name.empty() ? dataName(data) : identifier(name, "data");
  if (setName == sampleName || setName == labelName) setName += "_set";

  // Image-like: [H, W] or [C, H, W] with C ≤ 4 and both sides at least 8.
  bool image = (dims.size() == 2 && dims[0] >= 8 && dims[1] >= 8) ||
               (dims.size() == 3 && dims[0] <= 4 && dims[1] >= 8 && dims[2] >= 8);
  std::vector<int64_t> netDims = image ? (dims.size() == 2 ? std::vector<int64_t>{1, dims[0], dims[1]} : dims)
                                       : std::vector<int64_t>{std::accumulate(dims.begin(), dims.end(), int64_t(1), std::multiplies<>())};
  int64_t batch = std::clamp<int64_t>(rows / 20, 1, 64);

  // The paths as the spec writes them: relative to the spec's directory.
  fs::path specDir = out.empty() ? fs::current_path(ec) : fs::absolute(out, ec).parent_path();
  auto rel = [&](const std::string& p) {
    fs::path a = fs::absolute(p, ec);
    fs::path r = a.lexically_relative(specDir);
    // Beside or below the spec: relative (the project moves with it); elsewhere, such as /usr/share: absolute.
    std::string s = (r.empty() || r.string().rfind("..", 0) == 0) ? a.string() : r.string();
    std::string q;
    for (char ch : s) q += (ch == '"' || ch == '\\') ? std::string("\\") + ch : std::string(1, ch);
    return q;
  };
  auto source = [&](const std::string& d, const std::string& l) {
    switch (f) {
      case Format::Idx: return fmt::format("idx(\"{}\", \"{}\")", rel(d), rel(l));
      case Format::Npy: return fmt::format("npy(\"{}\", \"{}\")", rel(d), rel(l));
      case Format::Folder:
        return fmt::format("images(\"{}\", size: [{}, {}], channels: {})", rel(d), survey.height, survey.width, survey.channels);
      default:
        return labelColumn.empty() && !t.header.empty() ? fmt::format("csv(\"{}\", label: \"{}\")", rel(d), t.header.back())
               : labelColumn.empty()                    ? fmt::format("csv(\"{}\")", rel(d))
                                                        : fmt::format("csv(\"{}\", label: \"{}\")", rel(d), labelColumn);
    }
  };
  auto dimList = [](const std::vector<int64_t>& d) { return fmt::format("{}", fmt::join(d, ", ")); };

  std::string s = "dlspec 1\n\n";
  s += fmt::format("// Written by `dlspec init` from {}: {} samples of {}[{}], {}.\n", data, rows, elem, dimList(dims),
                   task.classify ? fmt::format("{} classes", task.classes) : std::string("real-valued targets"));
  if (f == Format::Folder && survey.otherShapes > 0)
    s += fmt::format("// {} of the {} images looked at {} another size or channel count: `size:` and `channels:` make every\n"
                     "// image {}x{} with {} channel(s), the most common shape (`resize:` says how).\n",
                     survey.otherShapes, survey.decoded, survey.otherShapes == 1 ? "has" : "have", survey.height,
                     survey.width, survey.channels);
  s += "// A starting point: check it, train it, then make it yours.\n";
  s += fmt::format("dataset {} {{\n", setName);
  s += fmt::format("  train = {}\n", source(data, labels));
  if (!test.empty()) s += fmt::format("  test  = {}\n", source(test, testLabels));
  s += fmt::format("  sample {}: {}[{}]\n", sampleName, elem, dimList(dims));
  s += fmt::format("  label {}: {}\n", labelName, task.classify ? fmt::format("class<{}>", task.classes) : std::string("f32[1]"));
  s += "}\n\n";
  std::string transform = fmt::format("{} = {}", sampleName, sampleName);
  if (elem != "f32") transform += " |> to_f32";
  if (scale != 1.0) transform += " |> scale(1/255)";
  transform += fmt::format(" |> normalize(mean: {}, std: {})", lit(mean), lit(sd));
  if (netDims != dims) transform += fmt::format(" |> reshape([{}])", dimList(netDims));
  s += fmt::format("// mean and std are the training data's{}.\n", scale != 1.0 ? ", after scaling to [0, 1]" : "");
  s += fmt::format("pipeline train_input from {}.train {{\n  {}\n", setName, transform);
  if (test.empty()) s += "  split(valid: 0.1)\n";
  s += fmt::format("  shuffle(buffer: all)\n  batch({})\n}}\n\n", batch);
  if (!test.empty()) s += fmt::format("pipeline test_input from {}.test {{\n  {}\n  batch({})\n}}\n\n", setName, transform, batch);

  std::string outType = task.classify ? fmt::format("logits[N, {}]", task.classes) : std::string("real[N, 1]");
  int64_t outUnits = task.classify ? task.classes : 1;
  s += fmt::format("network Net(x: f32[N, {}]) -> {} {{\n", dimList(netDims), outType);
  if (image) {
    s += "  h = x |> conv2d(filters: 16, kernel: 3, pad: same) |> relu |> maxpool(2)\n";
    s += "  h = h |> conv2d(filters: 32, kernel: 3, pad: same) |> relu |> maxpool(2)\n";
    // Large images: pooled to 8x8 before the dense layer, so that its weights stay a few hundred thousand.
    if ((netDims[1] / 4) * (netDims[2] / 4) > 64) s += "  h = h |> adaptive_avgpool(8)\n";
    s += "  h = h |> flatten |> dense(128) |> relu\n";
  } else {
    int64_t width = std::clamp<int64_t>(netDims[0] * 2, 32, 256);
    s += fmt::format("  h = x |> dense({}) |> relu\n", width);
    s += fmt::format("  h = h |> dense({}) |> relu\n", width);
  }
  s += fmt::format("  return h |> dense({}){}\n}}\n\n", outUnits, task.classify ? "  // logits: the loss applies softmax" : "");
  std::string trainName = "baseline";
  s += fmt::format("train {} {{\n", trainName);
  s += "  model      = Net on cpu\n";
  s += "  data       = train_input\n";
  s += fmt::format("  loss       = {}(model.out, {})\n", task.classify ? "cross_entropy" : "mse", labelName);
  s += "  optimizer  = adam(lr: 0.001)\n";
  s += "  epochs     = 10\n";
  s += fmt::format("  validate   = {} every 1 epoch metrics [{}]\n", test.empty() ? "train_input.valid" : "test_input",
                   task.classify ? "accuracy, loss" : "loss");
  s += fmt::format("  checkpoint = \"runs/{}\" every 1 epoch keep 3\n", setName);
  s += "  seed       = 42\n}\n";

  // The result must check clean; it is checked as it will be read (from where it will be written).
  Compilation c;
  c.loadText(out.empty() ? (specDir / "init.dls").string() : out, s);
  if (c.parse()) checkSpec(c, CheckOptions{});
  if (c.diags.hasErrors()) {
    std::fputs(s.c_str(), stderr);
    printDiagnostics(c, opt);
    fmt::print(stderr, "error[I0001]: internal error: the spec `init` wrote does not check; please report it\n");
    return kExitUsage;
  }
  s = formatSpec(*c.spec);  // in `dlspec fmt`'s layout
  if (out.empty()) {
    std::fputs(s.c_str(), stdout);
  } else {
    std::string error;
    if (!writeFileAtomically(out, s, error)) {
      report.diags.report(Code::E0901, Span{}, out, error);
      printDiagnostics(report, opt);
      return kExitErrors;
    }
    fmt::print(stderr, "wrote {}: `dlspec check {}`, then `dlspec run {}`\n", out, out, out);
  }
  printDiagnostics(c, opt);  // the warnings a starting spec still has, if any
  return kExitOk;
}

}  // namespace dls
