// End to end: a spec is compiled by `dlspec build` into an executable that trains on a small data set
// written by the test (three Gaussian blobs in 4-D, .npy files), reaches high accuracy, and resumes.
#include <catch2/catch.hpp>

#include "E2e.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

namespace fs = std::filesystem;

#ifdef DLSPEC_CAN_LINK
using dls::e2e::readMetrics;
using dls::e2e::run;
using dls::e2e::writeNpy;

namespace {

void writeBlobs(const fs::path& dir, const std::string& name, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 0.6f);
  std::vector<float> x(static_cast<size_t>(n) * 4);
  std::vector<int64_t> y(static_cast<size_t>(n));
  const float centres[3][4] = {{2, 0, 0, 1}, {-2, 1, 0, -1}, {0, -2, 2, 0}};
  for (int i = 0; i < n; ++i) {
    int c = i % 3;
    y[i] = c;
    for (int k = 0; k < 4; ++k) x[static_cast<size_t>(i) * 4 + k] = centres[c][k] + noise(rng);
  }
  writeNpy(dir / (name + "_x.npy"), "<f4", {n, 4}, x.data(), x.size() * 4);
  writeNpy(dir / (name + "_y.npy"), "<i8", {n}, y.data(), y.size() * 8);
}

const char* kSpec = R"(dlspec 1

dataset blobs {
  train = npy("train_x.npy", "train_y.npy")
  test  = npy("test_x.npy", "test_y.npy")
  sample x: f32[4]
  label  y: class<3>
}

pipeline train_input from blobs.train {
  shuffle(buffer: all)
  batch(32)
}

pipeline test_input from blobs.test {
  batch(32)
}

network Classifier(x: f32[N, 4]) -> logits[N, 3] {
  h = x |> dense(32) |> relu
  return h |> dense(3)
}

train blobs_run {
  model      = Classifier on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.05, momentum: 0.9)
  epochs     = 6
  validate   = test_input every 1 epoch metrics [accuracy, loss]
  checkpoint = "ckpt" every 1 epoch keep 2
  seed       = 7
}
)";



}  // namespace

TEST_CASE("a compiled spec trains, validates, checkpoints and resumes", "[e2e]") {
  fs::path dir = fs::temp_directory_path() / ("dlspec-e2e-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  writeBlobs(dir, "train", 600, 1);
  writeBlobs(dir, "test", 150, 2);
  { std::ofstream(dir / "blobs.dls") << kSpec; }
  std::string dlspec = DLSPEC_BIN;
  REQUIRE(run(dlspec + " build " + (dir / "blobs.dls").string() + " -o " + (dir / "blobs").string()) == 0);
  REQUIRE(fs::exists(dir / "blobs"));
  REQUIRE(run("cd " + dir.string() + " && ./blobs train --epochs 4 > train.log 2>&1") == 0);
  auto rows = readMetrics(dir / "ckpt" / "metrics.csv");
  REQUIRE(rows.size() == 4);
  CHECK(rows.back()["train_loss"] < rows.front()["train_loss"]);
  CHECK(rows.back()["train_loss"] > 0);
  CHECK(rows.back()["val_accuracy"] > 0.9);
  // Resume from the newest checkpoint: two more epochs continue the numbering.
  REQUIRE(run("cd " + dir.string() + " && ./blobs train --resume ckpt --epochs 6 > resume.log 2>&1") == 0);
  rows = readMetrics(dir / "ckpt" / "metrics.csv");
  REQUIRE(rows.size() == 6);
  CHECK(rows.back()["epoch"] == 6);
  // The resumed run continues the exact trajectory of an uninterrupted one with the same seed.
  fs::create_directories(dir / "straight");
  REQUIRE(run("cd " + (dir / "straight").string() + " && ../blobs train --epochs 6 > train.log 2>&1") == 0);
  auto straight = readMetrics(dir / "straight" / "ckpt" / "metrics.csv");
  REQUIRE(straight.size() == 6);
  for (size_t e = 0; e < 6; ++e) {
    INFO("epoch " << e + 1);
    CHECK(rows[e]["train_loss"] == straight[e]["train_loss"]);
    CHECK(rows[e]["val_loss"] == straight[e]["val_loss"]);
  }
  // A bad command line is a diagnostic, not a crash.
  CHECK(run("cd " + dir.string() + " && ./blobs train --no-such-flag > bad.log 2>&1") == 2);
  fs::remove_all(dir);
}
TEST_CASE("validate and checkpoint `every N epochs` with N > 1: only those epochs, and the last", "[e2e]") {
  fs::path dir = fs::temp_directory_path() / ("dlspec-every-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  writeBlobs(dir, "train", 120, 1);
  writeBlobs(dir, "test", 60, 2);
  std::string spec = kSpec;
  auto replace = [&](const std::string& from, const std::string& to) {
    size_t at = spec.find(from);
    REQUIRE(at != std::string::npos);
    spec.replace(at, from.size(), to);
  };
  // Different periods, so that one read in place of the other shows.
  replace("every 1 epoch metrics", "every 3 epochs metrics");
  replace("\"ckpt\" every 1 epoch keep 2", "\"ckpt\" every 2 epochs keep 10");
  replace("epochs     = 6", "epochs     = 7");
  { std::ofstream(dir / "every.dls") << spec; }
  REQUIRE(run(std::string(DLSPEC_BIN) + " build " + (dir / "every.dls").string() + " -o " + (dir / "every").string() +
              " > " + (dir / "build.log").string() + " 2>&1") == 0);
  REQUIRE(run("cd " + dir.string() + " && ./every train > train.log 2>&1") == 0);
  // metrics.csv: one row per epoch; the validation cells are empty where the epoch did not validate.
  std::ifstream csv(dir / "ckpt" / "metrics.csv");
  std::string line;
  REQUIRE(std::getline(csv, line));
  REQUIRE(line.rfind("epoch,train_loss,val_loss,", 0) == 0);
  std::vector<int> validated;
  int rows = 0;
  while (std::getline(csv, line)) {
    ++rows;
    std::stringstream ls(line);
    std::string epoch, train_loss, val_loss;
    std::getline(ls, epoch, ',');
    std::getline(ls, train_loss, ',');
    std::getline(ls, val_loss, ',');
    INFO(line);
    CHECK(!train_loss.empty());
    if (!val_loss.empty()) validated.push_back(std::stoi(epoch));
  }
  CHECK(rows == 7);
  CHECK(validated == std::vector<int>{3, 6, 7});  // every 3 epochs, and the last
  std::vector<std::string> ckpts;
  for (const auto& e : fs::directory_iterator(dir / "ckpt"))
    if (e.path().extension() == ".dlsc") ckpts.push_back(e.path().filename().string());
  std::sort(ckpts.begin(), ckpts.end());
  // every 2 epochs, and the last (keep 10 keeps them all)
  CHECK(ckpts == std::vector<std::string>{"ckpt-000002.dlsc", "ckpt-000004.dlsc", "ckpt-000006.dlsc", "ckpt-000007.dlsc"});
  fs::remove_all(dir);
}

TEST_CASE("a compiled spec reads CSV data with the label column named in the spec", "[e2e]") {
  fs::path dir = fs::temp_directory_path() / ("dlspec-csv-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.f, 0.5f);
  for (const char* split : {"train", "test"}) {
    std::ofstream csv(dir / (std::string(split) + ".csv"));
    csv << "a,species,b\n";  // the label is the middle column
    for (int i = 0; i < 300; ++i) {
      int c = i % 2;
      csv << (c ? 1.5f : -1.5f) + noise(rng) << "," << c << "," << (c ? -1.f : 1.f) + noise(rng) << "\n";
    }
  }
  std::string spec = R"(dlspec 1
dataset pts {
  train = csv("train.csv", label: "species")
  test  = csv("test.csv", label: "species")
  sample x: f32[2]
  label  species: class<2>
}
pipeline train_input from pts.train {
  shuffle(buffer: all)
  batch(20)
}
pipeline test_input from pts.test {
  batch(20)
}
network Net(x: f32[N, 2]) -> logits[N, 2] {
  return x |> dense(8) |> relu |> dense(2)
}
train csv_run {
  model     = Net on cpu
  data      = train_input
  loss      = cross_entropy(model.out, species)
  optimizer = sgd(lr: 0.1, momentum: 0.9)
  epochs    = 3
  validate  = test_input every 1 epoch metrics [accuracy, loss]
  checkpoint = "ckpt" every 1 epoch keep 1
  seed      = 1
}
)";
  { std::ofstream(dir / "pts.dls") << spec; }
  REQUIRE(run(std::string(DLSPEC_BIN) + " build " + (dir / "pts.dls").string() + " -o " + (dir / "pts").string()) == 0);
  REQUIRE(run("cd " + dir.string() + " && ./pts train > train.log 2>&1") == 0);
  auto rows = readMetrics(dir / "ckpt" / "metrics.csv");
  REQUIRE(rows.size() == 3);
  CHECK(rows.back()["val_accuracy"] > 0.9);
  fs::remove_all(dir);
}
namespace {
// A sequence task: one-hot symbols of a 6-letter alphabet, and at every step the class of the PREVIOUS
// symbol (class 0 at the first step): a model must carry one step of memory; chance is 1/6.
void writeShifted(const fs::path& dir, const std::string& name, int n, unsigned seed, bool flatLabels = false) {
  const int T = 10, V = 6;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> sym(0, V - 1);
  std::vector<float> x(static_cast<size_t>(n) * T * V, 0.f);
  std::vector<int64_t> y(static_cast<size_t>(n) * T);
  for (int i = 0; i < n; ++i) {
    int prev = 0;
    for (int t = 0; t < T; ++t) {
      int s = sym(rng);
      x[(static_cast<size_t>(i) * T + t) * V + s] = 1.f;
      y[static_cast<size_t>(i) * T + t] = prev;
      prev = s;
    }
  }
  writeNpy(dir / (name + "_x.npy"), "<f4", {n, T, V}, x.data(), x.size() * 4);
  if (flatLabels) {
    writeNpy(dir / (name + "_y.npy"), "<i8", {n}, y.data(), static_cast<size_t>(n) * 8);  // one per sample
  } else {
    writeNpy(dir / (name + "_y.npy"), "<i8", {n, T}, y.data(), y.size() * 8);
  }
}
}  // namespace

TEST_CASE("split(valid:) holds out training samples, and validate = PIPELINE.valid validates on them", "[e2e]") {
  fs::path dir = fs::temp_directory_path() / ("dlspec-split-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  writeBlobs(dir, "train", 600, 1);
  std::string spec = kSpec;
  auto replace = [&](const std::string& from, const std::string& to) {
    size_t at = spec.find(from);
    REQUIRE(at != std::string::npos);
    spec.replace(at, from.size(), to);
  };
  replace("  test  = npy(\"test_x.npy\", \"test_y.npy\")\n", "");
  replace("pipeline test_input from blobs.test {\n  batch(32)\n}\n", "");
  replace("  shuffle(buffer: all)\n", "  split(valid: 0.25)\n  shuffle(buffer: all)\n");
  replace("validate   = test_input every", "validate   = train_input.valid every");
  { std::ofstream(dir / "split.dls") << spec; }
  std::string dlspec = DLSPEC_BIN;
  REQUIRE(run(dlspec + " build " + (dir / "split.dls").string() + " -o " + (dir / "split").string() + " > build.log 2>&1") == 0);
  REQUIRE(run("cd " + dir.string() + " && ./split train --epochs 3 > train.log 2>&1") == 0);
  auto rows = readMetrics(dir / "ckpt" / "metrics.csv");
  REQUIRE(rows.size() == 3);
  CHECK(rows.back()["val_accuracy"] > 0.9);
  CHECK(rows.back()["val_loss"] > 0);
  // eval of the checkpoint: on the same 150 held-out samples (600 x 0.25)
  REQUIRE(run("cd " + dir.string() + " && ./split eval --checkpoint ckpt > eval.log 2>&1") == 0);
  std::ifstream in(dir / "eval.log");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("valid: 150 samples") != std::string::npos);
  // Naming the held-out part of a pipeline that holds nothing out is an error at check time.
  replace("  split(valid: 0.25)\n", "");
  { std::ofstream(dir / "nosplit.dls") << spec; }
  CHECK(run(dlspec + " check " + (dir / "nosplit.dls").string() + " > " + (dir / "check.log").string() + " 2>&1") == 1);
  std::ifstream cin(dir / "check.log");
  std::string check((std::istreambuf_iterator<char>(cin)), std::istreambuf_iterator<char>());
  CHECK(check.find("`train_input` holds nothing out") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("a compiled sequence model (gru, per-step dense and cross-entropy) learns to recall the previous symbol", "[e2e]") {
  fs::path dir = fs::temp_directory_path() / ("dlspec-seq-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  writeShifted(dir, "train", 640, 1);
  writeShifted(dir, "test", 150, 2);  // 150 = 4 * 32 + 22: the last evaluation batch is padded
  std::string spec = R"(dlspec 1
dataset shifted {
  train = npy("train_x.npy", "train_y.npy")
  test  = npy("test_x.npy", "test_y.npy")
  sample x: f32[10, 6]
  label  prev: class<6>[10]
}
pipeline train_input from shifted.train {
  shuffle(buffer: all)
  batch(32)
}
pipeline test_input from shifted.test {
  batch(32)
}
network Recall(x: f32[N, 10, 6]) -> logits[N, 10, 6] {
  return x |> gru(16) |> dense(6)
}
train recall {
  model      = Recall on cpu
  data       = train_input
  loss       = cross_entropy(model.out, prev)
  optimizer  = adam(lr: 0.02)
  epochs     = 6
  validate   = test_input every 1 epoch metrics [accuracy, loss]
  checkpoint = "ckpt" every 1 epoch keep 1
  seed       = 5
}
)";
  { std::ofstream(dir / "recall.dls") << spec; }
  REQUIRE(run(std::string(DLSPEC_BIN) + " build " + (dir / "recall.dls").string() + " -o " + (dir / "recall").string()) == 0);
  REQUIRE(run("cd " + dir.string() + " && ./recall train > train.log 2>&1") == 0);
  auto rows = readMetrics(dir / "ckpt" / "metrics.csv");
  REQUIRE(rows.size() == 6);
  for (const auto& r : rows)
    UNSCOPED_INFO("epoch " << r.at("epoch") << " loss " << r.at("train_loss") << " val_loss " << r.at("val_loss")
                           << " val_acc " << r.at("val_accuracy"));
  CHECK(rows.back()["train_loss"] < 0.5 * rows.front()["train_loss"]);
  CHECK(rows.back()["val_accuracy"] > 0.9);  // per step; chance is 1/6
  // predict: one line per sample, the predicted class of each of its 10 steps.
  REQUIRE(run("cd " + dir.string() + " && ./recall predict test_x.npy > pred.txt 2> pred.err") == 0);
  std::ifstream pred(dir / "pred.txt");
  std::string first;
  REQUIRE(std::getline(pred, first));
  std::stringstream fs1(first);
  int count = 0;
  for (int v; fs1 >> v;) ++count;
  CHECK(count == 10);
  // Labels of the wrong shape (one per sample) are a data diagnostic, not a crash.
  writeShifted(dir, "train", 64, 3, true);
  CHECK(run("cd " + dir.string() + " && ./recall train --epochs 1 > bad.log 2>&1") == 1);
  std::ifstream bad(dir / "bad.log");
  std::string log((std::istreambuf_iterator<char>(bad)), std::istreambuf_iterator<char>());
  CHECK(log.find("R0205") != std::string::npos);
  fs::remove_all(dir);
}
#else
TEST_CASE("a compiled spec trains, validates, checkpoints and resumes", "[e2e]") {
  WARN("SKIPPED: this build has no runtime or code generator to link against");
}
#endif
