// End to end: what `dlspec check` accepts trains as written. Each case builds a small spec with `dlspec build`,
// trains it on data the test writes, and checks the behaviour numerically: one-logit binary classification
// on class<2> labels, embedding indices from integer files (to_i32), transformations of a real-valued label
// field, random_crop after a reshape, and `eval` on the test split of a program that validates on held-out
// samples.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "E2e.h"

#ifdef DLSPEC_CAN_LINK
using namespace dls::e2e;

TEST_CASE("one-logit binary classification trains on class<2> labels (bce_with_logits and bce)", "[e2e]") {
  ScratchDir dir("binary");
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.f, 0.5f);
  for (const char* split : {"train", "test"}) {
    std::ofstream csv(dir.path / (std::string(split) + ".csv"));
    csv << "a,b,y\n";  // no `label:` in the spec: the column named like the label field
    for (int i = 0; i < 300; ++i) {
      int c = (i * 7) % 3 == 0 ? 1 : 0;  // a third are class 1: chance is not 50%
      csv << (c ? 1.5f : -1.5f) + noise(rng) << "," << (c ? -1.f : 1.f) + noise(rng) << "," << c << "\n";
    }
  }
  dir.write("bin.dls", R"(dlspec 1
dataset pts {
  train = csv("train.csv")
  test  = csv("test.csv")
  sample x: f32[2]
  label  y: class<2>
}
pipeline train_input from pts.train {
  shuffle(buffer: all)
  batch(20)
}
pipeline test_input from pts.test {
  batch(20)
}
network Logit(x: f32[N, 2]) -> logits[N, 1] {
  return x |> dense(8) |> relu |> dense(1)
}
network Prob(x: f32[N, 2]) -> sigmoid_probs[N, 1] {
  return x |> dense(8) |> relu |> dense(1) |> sigmoid
}
train logit {
  model      = Logit on cpu
  data       = train_input
  loss       = bce_with_logits(model.out, y)
  optimizer  = sgd(lr: 0.1, momentum: 0.9)
  epochs     = 4
  validate   = test_input every 1 epoch metrics [accuracy, loss]
  checkpoint = "ckpt_logit" every 1 epoch keep 1
  seed       = 1
}
train prob {
  model      = Prob on cpu
  data       = train_input
  loss       = bce(model.out, y)
  optimizer  = sgd(lr: 0.1, momentum: 0.9)
  epochs     = 4
  validate   = test_input every 1 epoch metrics [accuracy, loss]
  checkpoint = "ckpt_prob" every 1 epoch keep 1
  seed       = 1
}
)");
  for (const std::string t : {"logit", "prob"}) {
    INFO("train block " << t);
    REQUIRE(dir.build("bin", t) == 0);
    REQUIRE(dir.exec("bin train", t + ".log") == 0);
    auto rows = readMetrics(dir.path / ("ckpt_" + t) / "metrics.csv");
    REQUIRE(rows.size() == 4);
    INFO(dir.read(t + ".log"));
    CHECK(rows.back()["train_loss"] < 0.5 * rows.front()["train_loss"]);
    // Accuracy counts a logit > 0 (a probability > 0.5) as class 1; predicting one class everywhere scores
    // 0.67 or 0.33.
    CHECK(rows.back()["val_accuracy"] > 0.9);
    CHECK(rows.back()["train_accuracy"] > 0.9);
    REQUIRE(dir.exec("bin eval --checkpoint ckpt_" + t, t + ".eval") == 0);
    CHECK(dir.read(t + ".eval").find("accuracy") != std::string::npos);
  }
}

TEST_CASE("embedding trains from integer sample files through to_i32 (i64 and u8 .npy)", "[e2e]") {
  ScratchDir dir("embed");
  // Six tokens of a 10-word vocabulary; class 1 when token 7 occurs (about half of the samples).
  const int n = 800, T = 6;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> tok(0, 9);
  std::vector<int64_t> x64(n * T), y(n);
  std::vector<uint8_t> x8(n * T);
  std::vector<float> xf(n * T);
  for (int i = 0; i < n; ++i) {
    y[i] = 0;
    for (int t = 0; t < T; ++t) {
      int v = tok(rng);
      x64[i * T + t] = v, x8[i * T + t] = uint8_t(v), xf[i * T + t] = float(v);
      if (v == 7) y[i] = 1;
    }
  }
  writeNpy(dir.path / "x64.npy", "<i8", {n, T}, x64.data(), x64.size() * 8);
  writeNpy(dir.path / "x8.npy", "|u1", {n, T}, x8.data(), x8.size());
  xf[5] = 2.5f;  // not an index
  writeNpy(dir.path / "xf.npy", "<f4", {n, T}, xf.data(), xf.size() * 4);
  writeNpy(dir.path / "y.npy", "<i8", {n}, y.data(), y.size() * 8);
  auto spec = [](const std::string& file, const std::string& dtype) {
    return R"(dlspec 1
dataset tokens {
  train = npy(")" + file + R"(", "y.npy")
  sample ids: )" + dtype + R"([6]
  label  y: class<2>
}
pipeline train_input from tokens.train {
  ids = ids |> to_i32
  split(valid: 0.25)
  shuffle(buffer: all)
  batch(25)
}
network Bag(x: i32[N, 6]) -> logits[N, 2] {
  return x |> embedding(vocab: 10, dim: 8) |> flatten |> dense(2)
}
train bag {
  model      = Bag on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = adam(lr: 0.05)
  epochs     = 8
  validate   = train_input.valid every 1 epoch metrics [accuracy, loss]
  checkpoint = "ckpt" every 1 epoch keep 1
  seed       = 2
}
)";
  };
  for (auto [file, dtype] : {std::pair{"x64.npy", "i64"}, std::pair{"x8.npy", "u8"}}) {
    INFO(dtype << " samples");
    std::filesystem::remove_all(dir.path / "ckpt");
    dir.write("bag.dls", spec(file, dtype));
    REQUIRE(dir.build("bag") == 0);
    REQUIRE(dir.exec("bag train", "train.log") == 0);
    auto rows = readMetrics(dir.path / "ckpt" / "metrics.csv");
    REQUIRE(rows.size() == 8);
    INFO(dir.read("train.log"));
    CHECK(rows.back()["val_accuracy"] > 0.9);
  }
  // to_i32 of a value that is not an integer: a located data diagnostic at load time.
  dir.write("bag.dls", spec("xf.npy", "f32"));
  REQUIRE(dir.build("bag") == 0);
  CHECK(dir.exec("bag train", "bad.log") == 1);
  CHECK(dir.read("bad.log").find("R0215") != std::string::npos);
}

TEST_CASE("a transformation of a real-valued label field applies to the targets the loss sees", "[e2e]") {
  ScratchDir dir("labelscale");
  // t = 100 (a - b/2) + 50: after `t |> scale(1/100) |> normalize(mean: 0.5, std: 1)` it is a - b/2, which a
  // linear model fits exactly; untransformed targets would leave a loss in the thousands.
  for (auto [split, count, seed] : {std::tuple{"train", 400, 1u}, std::tuple{"test", 100, 2u}}) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> x(static_cast<size_t>(count) * 2), t(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
      x[i * 2] = u(rng), x[i * 2 + 1] = u(rng);
      t[i] = 100.f * (x[i * 2] - 0.5f * x[i * 2 + 1]) + 50.f;
    }
    writeNpy(dir.path / (std::string(split) + "_x.npy"), "<f4", {count, 2}, x.data(), x.size() * 4);
    writeNpy(dir.path / (std::string(split) + "_t.npy"), "<f4", {count, 1}, t.data(), t.size() * 4);
  }
  dir.write("reg.dls", R"(dlspec 1
dataset lin {
  train = npy("train_x.npy", "train_t.npy")
  test  = npy("test_x.npy", "test_t.npy")
  sample x: f32[2]
  label  t: f32[1]
}
pipeline train_input from lin.train {
  t = t |> scale(1/100) |> normalize(mean: 0.5, std: 1)
  shuffle(buffer: all)
  batch(20)
}
pipeline test_input from lin.test {
  t = t |> scale(1/100) |> normalize(mean: 0.5, std: 1)
  batch(20)
}
network Lin(x: f32[N, 2]) -> f32[N, 1] {
  return x |> dense(1)
}
train reg {
  model      = Lin on cpu
  data       = train_input
  loss       = mse(model.out, t)
  optimizer  = sgd(lr: 0.1, momentum: 0.9)
  epochs     = 10
  validate   = test_input every 1 epoch metrics [loss]
  checkpoint = "ckpt" every 1 epoch keep 1
  seed       = 4
}
)");
  REQUIRE(dir.build("reg") == 0);
  REQUIRE(dir.exec("reg train", "train.log") == 0);
  auto rows = readMetrics(dir.path / "ckpt" / "metrics.csv");
  REQUIRE(rows.size() == 10);
  INFO(dir.read("train.log"));
  // The targets have variance ~0.4: the first epoch's loss is of that order, the last near zero.
  CHECK(rows.front()["train_loss"] < 2.0);
  CHECK(rows.back()["val_loss"] < 1e-3);
  REQUIRE(dir.exec("reg eval --checkpoint ckpt", "eval.log") == 0);
  const std::string eval = dir.read("eval.log");
  const size_t at = eval.find("loss ");
  REQUIRE(at != std::string::npos);
  CHECK(std::atof(eval.c_str() + at + 5) < 1e-3);
}

TEST_CASE("random_crop after reshape([1, H, W]) crops the reshaped samples", "[e2e]") {
  ScratchDir dir("crop");
  // 8x8 images: class 0 bright in the top half, class 1 in the bottom half, stored flat as [64].
  const int n = 400;
  std::mt19937 rng(9);
  std::normal_distribution<float> noise(0.f, 0.2f);
  std::vector<float> x(size_t(n) * 64);
  std::vector<int64_t> y(n);
  for (int i = 0; i < n; ++i) {
    y[i] = i % 2;
    for (int p = 0; p < 64; ++p) x[size_t(i) * 64 + p] = ((p / 8 < 4) == (y[i] == 0) ? 1.f : 0.f) + noise(rng);
  }
  writeNpy(dir.path / "x.npy", "<f4", {n, 64}, x.data(), x.size() * 4);
  writeNpy(dir.path / "y.npy", "<i8", {n}, y.data(), y.size() * 8);
  auto spec = [](bool augment) {
    return std::string(R"(dlspec 1
dataset halves {
  train = npy("x.npy", "y.npy")
  sample image: f32[64]
  label  y: class<2>
}
pipeline train_input from halves.train {
  image = image |> reshape([1, 8, 8])
  split(valid: 0.25)
  shuffle(buffer: all)
)") + (augment ? "  augment random_crop(8, pad: 2)\n" : "") + R"(  batch(20)
}
network Net(x: f32[N, 1, 8, 8]) -> logits[N, 2] {
  return x |> conv2d(filters: 4, kernel: 3, pad: 1) |> relu |> flatten |> dense(2)
}
train crop {
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.05, momentum: 0.9)
  epochs     = 3
  validate   = train_input.valid every 1 epoch metrics [accuracy, loss]
  checkpoint = "ckpt" every 1 epoch keep 1
  seed       = 3
}
)";
  };
  std::vector<double> first;
  for (bool augment : {true, false}) {
    INFO((augment ? "with random_crop" : "without"));
    std::filesystem::remove_all(dir.path / "ckpt");
    dir.write("crop.dls", spec(augment));
    REQUIRE(dir.build("crop") == 0);
    REQUIRE(dir.exec("crop train", "train.log") == 0);
    auto rows = readMetrics(dir.path / "ckpt" / "metrics.csv");
    REQUIRE(rows.size() == 3);
    INFO(dir.read("train.log"));
    CHECK(rows.back()["val_accuracy"] > 0.9);
    first.push_back(rows.front()["train_loss"]);
  }
  CHECK(first[0] != first[1]);  // the crops changed what was trained on
}

TEST_CASE("eval uses the data set's test split when training validates on held-out samples", "[e2e]") {
  ScratchDir dir("evaltest");
  // Train: two blobs; test: the same blobs with every label flipped, so accuracy on it is near 0 while the
  // held-out training samples score near 1.
  auto blobs = [&](const std::string& name, int count, unsigned seed, bool flip) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> noise(0.f, 0.5f);
    std::vector<float> x(size_t(count) * 2);
    std::vector<int64_t> y(count);
    for (int i = 0; i < count; ++i) {
      int c = i % 2;
      x[i * 2] = (c ? 2.f : -2.f) + noise(rng), x[i * 2 + 1] = noise(rng);
      y[i] = flip ? 1 - c : c;
    }
    writeNpy(dir.path / (name + "_x.npy"), "<f4", {count, 2}, x.data(), x.size() * 4);
    writeNpy(dir.path / (name + "_y.npy"), "<i8", {count}, y.data(), y.size() * 8);
  };
  blobs("train", 400, 1, false);
  blobs("test", 90, 2, true);
  dir.write("held.dls", R"(dlspec 1
dataset blobs {
  train = npy("train_x.npy", "train_y.npy")
  test  = npy("test_x.npy", "test_y.npy")
  sample x: f32[2]
  label  y: class<2>
}
pipeline train_input from blobs.train {
  x = x |> scale(0.5)
  split(valid: 0.25)
  shuffle(buffer: all)
  batch(20)
}
network Net(x: f32[N, 2]) -> logits[N, 2] {
  return x |> dense(8) |> relu |> dense(2)
}
train held {
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.1, momentum: 0.9)
  epochs     = 3
  validate   = train_input.valid every 1 epoch metrics [accuracy, loss]
  checkpoint = "ckpt" every 1 epoch keep 1
  seed       = 3
}
)");
  REQUIRE(dir.build("held") == 0);
  REQUIRE(dir.exec("held train", "train.log") == 0);
  auto rows = readMetrics(dir.path / "ckpt" / "metrics.csv");
  REQUIRE(rows.size() == 3);
  CHECK(rows.back()["val_accuracy"] > 0.9);  // validation: the 100 held-out training samples
  REQUIRE(dir.exec("held eval --checkpoint ckpt", "eval.log") == 0);
  const std::string eval = dir.read("eval.log");
  INFO(eval);
  CHECK(eval.find("test: 90 samples") != std::string::npos);
  const size_t at = eval.find("accuracy ");
  REQUIRE(at != std::string::npos);
  CHECK(std::atof(eval.c_str() + at + 9) < 10.0);  // percent: the flipped labels
}

TEST_CASE("the validate clause's metrics [...] says which validation metrics are reported", "[e2e]") {
  ScratchDir dir("metrics");
  std::mt19937 rng(4);
  std::normal_distribution<float> noise(0.f, 0.5f);
  const int n = 120;
  std::vector<float> x(n * 2);
  std::vector<int64_t> y(n);
  for (int i = 0; i < n; ++i) {
    y[i] = i % 2;
    x[i * 2] = (y[i] ? 2.f : -2.f) + noise(rng), x[i * 2 + 1] = noise(rng);
  }
  writeNpy(dir.path / "x.npy", "<f4", {n, 2}, x.data(), x.size() * 4);
  writeNpy(dir.path / "y.npy", "<i8", {n}, y.data(), y.size() * 8);
  auto spec = [](const std::string& metrics) {
    return R"(dlspec 1
dataset blobs {
  train = npy("x.npy", "y.npy")
  sample x: f32[2]
  label  y: class<2>
}
pipeline train_input from blobs.train {
  split(valid: 0.25)
  shuffle(buffer: all)
  batch(10)
}
network Net(x: f32[N, 2]) -> logits[N, 2] {
  return x |> dense(4) |> relu |> dense(2)
}
train run {
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.1)
  epochs     = 2
  validate   = train_input.valid every 1 epoch metrics [)" + metrics + R"(]
  checkpoint = "ckpt" every 1 epoch keep 1
  seed       = 2
}
)";
  };
  // The metrics.csv columns: epoch,train_loss,val_loss,val_accuracy,... (an empty cell: not reported).
  auto cells = [&](const std::string& name) {
    std::string csv = dir.read(name + "_ckpt/metrics.csv");
    std::vector<std::string> row;
    std::stringstream last(csv.substr(csv.rfind('\n', csv.size() - 2) + 1));
    for (std::string c; std::getline(last, c, ',');) row.push_back(c);
    return row;
  };
  for (const std::string m : {"loss", "accuracy", "accuracy, loss"}) {
    INFO("metrics [" << m << "]");
    const std::string name = m == "loss" ? "l" : m == "accuracy" ? "a" : "al";
    dir.write(name + ".dls", spec(m));
    REQUIRE(dir.build(name) == 0);
    REQUIRE(dir.exec(name + " train", name + ".log") == 0);
    std::filesystem::rename(dir.path / "ckpt", dir.path / (name + "_ckpt"));
    const std::string log = dir.read(name + ".log");
    INFO(log);
    auto row = cells(name);
    REQUIRE(row.size() >= 4);
    CHECK(row[2].empty() == (m == "accuracy"));  // val_loss
    CHECK(row[3].empty() == (m == "loss"));      // val_accuracy
    CHECK((log.find("val_loss") != std::string::npos) == (m != "accuracy"));
    CHECK((log.find("val_acc") != std::string::npos) == (m != "loss"));
  }
}

TEST_CASE("gradient clipping that clips every step of the first epoch is R0112, with the count and the norm", "[e2e]") {
  ScratchDir dir("clip");
  std::mt19937 rng(5);
  std::normal_distribution<float> noise(0.f, 0.5f);
  const int n = 100;  // batch(10): 10 steps an epoch
  std::vector<float> x(n * 2);
  std::vector<int64_t> y(n);
  for (int i = 0; i < n; ++i) {
    y[i] = i % 2;
    x[i * 2] = (y[i] ? 2.f : -2.f) + noise(rng), x[i * 2 + 1] = noise(rng);
  }
  writeNpy(dir.path / "x.npy", "<f4", {n, 2}, x.data(), x.size() * 4);
  writeNpy(dir.path / "y.npy", "<i8", {n}, y.data(), y.size() * 8);
  auto spec = [](const std::string& clip, const std::string& ckpt) {
    return R"(dlspec 1
dataset blobs {
  train = npy("x.npy", "y.npy")
  sample x: f32[2]
  label  y: class<2>
}
pipeline train_input from blobs.train {
  shuffle(buffer: all)
  batch(10)
}
network Net(x: f32[N, 2]) -> logits[N, 2] {
  return x |> dense(4) |> relu |> dense(2)
}
train run {
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.1)
  clip       = )" + clip + R"(
  epochs     = 2
  checkpoint = ")" + ckpt + R"(" every 1 epoch keep 1
  seed       = 2
}
)";
  };
  struct Case {
    std::string name, clip;
    bool warns;
  };
  for (const Case& c : {Case{"tight", "norm(0.001)", true}, Case{"loose", "norm(1000)", false},
                        Case{"tightv", "value(0.0001)", true}, Case{"loosev", "value(1000)", false}}) {
    INFO("clip = " << c.clip);
    dir.write(c.name + ".dls", spec(c.clip, c.name + "_ckpt"));
    REQUIRE(dir.build(c.name) == 0);
    REQUIRE(dir.exec(c.name + " train", c.name + ".log") == 0);
    const std::string log = dir.read(c.name + ".log");
    INFO(log);
    CHECK((log.find("warning[R0112]") != std::string::npos) == c.warns);
    if (c.warns) {
      CHECK(log.find("clipped all 10 steps of the first epoch") != std::string::npos);
      CHECK(log.find(c.clip.substr(0, 4) == "norm" ? "global L2 norm averaged" : "largest element averaged") !=
            std::string::npos);
    }
  }
  // A tight norm bounds every update: after 2 epochs (20 steps of lr 0.1, each at most 0.001 long) the loss
  // is about where it started, while the loose run (never clipped) learns.
  auto loss = [&](const std::string& name) {
    auto rows = readMetrics(dir.path / (name + "_ckpt") / "metrics.csv");
    REQUIRE(rows.size() == 2);
    return std::pair{rows.front()["train_loss"], rows.back()["train_loss"]};
  };
  auto [t0, t1] = loss("tight");
  auto [l0, l1] = loss("loose");
  CHECK(std::fabs(t1 - t0) < 0.01);
  CHECK(l1 < l0);
  CHECK(l1 < t1 - 0.05);
}

TEST_CASE("early stopping ends training after `patience` validations without an improvement by min_delta", "[e2e]") {
  ScratchDir dir("early");
  std::mt19937 rng(6);
  std::normal_distribution<float> noise(0.f, 0.5f);
  const int n = 120;
  std::vector<float> x(n * 2);
  std::vector<int64_t> y(n);
  for (int i = 0; i < n; ++i) {
    y[i] = i % 2;
    x[i * 2] = (y[i] ? 2.f : -2.f) + noise(rng), x[i * 2 + 1] = noise(rng);
  }
  writeNpy(dir.path / "x.npy", "<f4", {n, 2}, x.data(), x.size() * 4);
  writeNpy(dir.path / "y.npy", "<i8", {n}, y.data(), y.size() * 8);
  auto spec = [](const std::string& stop, const std::string& ckpt) {
    return R"(dlspec 1
dataset blobs {
  train = npy("x.npy", "y.npy")
  sample x: f32[2]
  label  y: class<2>
}
pipeline train_input from blobs.train {
  split(valid: 0.25)
  shuffle(buffer: all)
  batch(10)
}
network Net(x: f32[N, 2]) -> logits[N, 2] {
  return x |> dense(4) |> relu |> dense(2)
}
train run {
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.1)
  epochs     = 8
  validate   = train_input.valid every 1 epoch metrics [accuracy, loss]
  stop       = )" + stop + R"(
  checkpoint = ")" + ckpt + R"(" every 1 epoch keep 1
  seed       = 2
}
)";
  };
  struct Case {
    std::string name, stop;
    size_t epochs;  // trained before it stops
  };
  // min_delta 100: only the first validation improves (on +inf), then 2 without one: stops after epoch 3.
  // A patience of 8 cannot run out in 8 epochs (the first validation always improves): all 8 run.
  for (const Case& c : {Case{"never", "early(monitor: val_loss, patience: 2, min_delta: 100)", 3},
                        Case{"acc", "early(monitor: val_accuracy, patience: 1, min_delta: 2)", 2},
                        Case{"keeps", "early(val_loss, patience: 8)", 8}}) {
    INFO("stop = " << c.stop);
    dir.write(c.name + ".dls", spec(c.stop, c.name + "_ckpt"));
    REQUIRE(dir.build(c.name) == 0);
    REQUIRE(dir.exec(c.name + " train", c.name + ".log") == 0);
    const std::string log = dir.read(c.name + ".log");
    INFO(log);
    auto rows = readMetrics(dir.path / (c.name + "_ckpt") / "metrics.csv");
    CHECK(rows.size() == c.epochs);
    const std::string said = "early stopping at epoch " + std::to_string(c.epochs) + ": ";
    CHECK((log.find(said) != std::string::npos) == (c.epochs < 8));
    if (c.name == "never") CHECK(log.find("val_loss has not improved by more than 100 for 2 validations; best ") != std::string::npos);
    if (c.name == "acc") CHECK(log.find("val_accuracy has not improved by more than 2 for 1 validations; best ") != std::string::npos);
    // The final checkpoint is the epoch where training stopped.
    CHECK(std::filesystem::exists(dir.path / (c.name + "_ckpt")));
  }
}

TEST_CASE("random_crop to a smaller window trains on random windows and evaluates on the centre one", "[e2e]") {
  ScratchDir dir("smallcrop");
  // [1, 4, 4] samples: class 1 has a bright 2x2 centre, class 0 a dark one; the border is noise.
  std::mt19937 rng(6);
  std::normal_distribution<float> noise(0.f, 0.3f);
  const int n = 200;
  std::vector<float> x(n * 16);
  std::vector<int64_t> y(n);
  for (int i = 0; i < n; ++i) {
    y[i] = i % 2;
    for (int k = 0; k < 16; ++k) {
      const int r = k / 4, c = k % 4;
      const bool centre = r >= 1 && r <= 2 && c >= 1 && c <= 2;
      x[i * 16 + k] = (centre ? (y[i] ? 1.f : -1.f) : 0.f) + noise(rng);
    }
  }
  writeNpy(dir.path / "x.npy", "<f4", {n, 1, 4, 4}, x.data(), x.size() * 4);
  writeNpy(dir.path / "y.npy", "<i8", {n}, y.data(), y.size() * 8);
  dir.write("crop.dls", R"(dlspec 1
dataset img {
  train = npy("x.npy", "y.npy")
  sample x: f32[1, 4, 4]
  label  y: class<2>
}
pipeline train_input from img.train {
  split(valid: 0.25)
  shuffle(buffer: all)
  augment random_crop([3, 2])
  batch(10)
}
network Net(x: f32[N, 1, 3, 2]) -> logits[N, 2] {
  return x |> flatten |> dense(2)
}
train run {
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.1, momentum: 0.9)
  epochs     = 4
  validate   = train_input.valid every 1 epoch metrics [accuracy, loss]
  checkpoint = "ckpt" every 1 epoch keep 1
  seed       = 1
}
)");
  REQUIRE(dir.build("crop") == 0);
  REQUIRE(dir.exec("crop train", "train.log") == 0);
  INFO(dir.read("train.log"));
  auto rows = readMetrics(dir.path / "ckpt" / "metrics.csv");
  REQUIRE(rows.size() == 4);
  CHECK(rows.back()["val_accuracy"] > 0.9);  // the centre window (rows 0-2, columns 1-2) holds the signal
}
namespace {
// Blobs of two classes whose test labels are noise: the network learns the training split, so its test loss is
// lowest early and rises as it grows confident (the best epoch is not the last).
void writeNoisyBlobs(const ScratchDir& dir) {
  std::mt19937 rng(12);
  std::normal_distribution<float> noise(0.f, 0.5f);
  const int n = 96, m = 40;
  std::vector<float> x(n * 2), xt(m * 2);
  std::vector<int64_t> y(n), yt(m);
  for (int i = 0; i < n; ++i) {
    y[i] = i % 2;
    x[i * 2] = (y[i] ? 2.f : -2.f) + noise(rng), x[i * 2 + 1] = noise(rng);
  }
  for (int i = 0; i < m; ++i) {
    yt[i] = (i * 7 / 3) % 2;
    xt[i * 2] = (i % 2 ? 2.f : -2.f) + noise(rng), xt[i * 2 + 1] = noise(rng);
  }
  writeNpy(dir.path / "x.npy", "<f4", {n, 2}, x.data(), x.size() * 4);
  writeNpy(dir.path / "y.npy", "<i8", {n}, y.data(), y.size() * 8);
  writeNpy(dir.path / "xt.npy", "<f4", {m, 2}, xt.data(), xt.size() * 4);
  writeNpy(dir.path / "yt.npy", "<i8", {m}, yt.data(), yt.size() * 8);
}

std::string noisyBlobsSpec(const std::string& ckpt, const std::string& extra) {
  return R"(dlspec 1
dataset blobs {
  train = npy("x.npy", "y.npy")
  test  = npy("xt.npy", "yt.npy")
  sample x: f32[2]
  label  y: class<2>
}
pipeline train_input from blobs.train {
  shuffle(buffer: all)
  batch(8)
}
pipeline test_input from blobs.test {
  batch(8)
}
network Net(x: f32[N, 2]) -> logits[N, 2] {
  return x |> dense(8) |> relu |> dense(2)
}
train run {
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.2, momentum: 0.9)
  epochs     = 8
  validate   = test_input every 1 epoch metrics [loss, accuracy, f1]
  checkpoint = ")" + ckpt + R"(" every 1 epoch )" + extra + R"(
  seed       = 4
}
)";
}

std::string bytesOf(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
}  // namespace

TEST_CASE("keep N best by a validation metric keeps the best epoch's checkpoint beside the newest, and eval reads it", "[e2e]") {
  ScratchDir dir("keepbest");
  writeNoisyBlobs(dir);
  // keep 8: every epoch's checkpoint stays, to compare best.dlsc with the best epoch's own.
  dir.write("all.dls", noisyBlobsSpec("all_ckpt", "keep 8 best by val_loss"));
  REQUIRE(dir.build("all") == 0);
  REQUIRE(dir.exec("all train", "all.log") == 0);
  INFO(dir.read("all.log"));
  auto rows = readMetrics(dir.path / "all_ckpt" / "metrics.csv");
  REQUIRE(rows.size() == 8);
  size_t best = 0;
  for (size_t e = 1; e < rows.size(); ++e)
    if (rows[e]["val_loss"] < rows[best]["val_loss"]) best = e;
  INFO("best epoch " << best + 1);
  REQUIRE(best + 1 < rows.size());  // the case this test is about: the best epoch is not the last
  char name[32];
  std::snprintf(name, sizeof name, "ckpt-%06zu.dlsc", best + 1);
  REQUIRE(fs::exists(dir.path / "all_ckpt" / "best.dlsc"));
  // The same state, header and all: the best epoch's checkpoint, byte for byte.
  CHECK(bytesOf(dir.path / "all_ckpt" / "best.dlsc") == bytesOf(dir.path / "all_ckpt" / name));
  for (auto& e : fs::directory_iterator(dir.path / "all_ckpt")) CHECK(e.path().filename().string().rfind(".tmp-", 0) != 0);

  // keep 1 best by val_f1 (higher is better): the newest alone, and best.dlsc beside it, never pruned.
  dir.write("one.dls", noisyBlobsSpec("one_ckpt", "keep 1 best by val_f1"));
  REQUIRE(dir.build("one") == 0);
  REQUIRE(dir.exec("one train", "one.log") == 0);
  INFO(dir.read("one.log"));
  auto frows = readMetrics(dir.path / "one_ckpt" / "metrics.csv");
  REQUIRE(frows.size() == 8);
  size_t fbest = 0;
  for (size_t e = 1; e < frows.size(); ++e)
    if (frows[e]["val_f1"] > frows[fbest]["val_f1"]) fbest = e;
  // The epoch best.dlsc holds (its header's i64 after the magic, the version and the layout hash).
  const std::string bestBytes = bytesOf(dir.path / "one_ckpt" / "best.dlsc");
  REQUIRE(bestBytes.size() > 28);
  int64_t bestEpoch = 0;
  std::memcpy(&bestEpoch, bestBytes.data() + 20, 8);
  CHECK(frows[size_t(bestEpoch - 1)]["val_f1"] == frows[fbest]["val_f1"]);  // an epoch of the highest val_f1
  fbest = size_t(bestEpoch - 1);
  REQUIRE(fs::exists(dir.path / "one_ckpt" / "best.dlsc"));
  size_t ckpts = 0;
  for (auto& e : fs::directory_iterator(dir.path / "one_ckpt")) ckpts += e.path().filename().string().rfind("ckpt-", 0) == 0;
  CHECK(ckpts == 1);
  // eval --checkpoint best.dlsc: the test split's loss and f1 are those the best epoch's validation printed.
  REQUIRE(dir.exec("one eval --checkpoint one_ckpt/best.dlsc", "eval.log") == 0);
  const std::string ev = dir.read("eval.log");
  INFO(ev);
  // The figures as the best epoch's progress line printed them (the same evaluation, to the last bit).
  const std::string log = dir.read("one.log");
  const size_t at = log.find("epoch " + std::to_string(fbest + 1) + "/8 ");
  REQUIRE(at != std::string::npos);
  const std::string line = log.substr(at, log.find('\n', at) - at);
  auto figure = [&](const std::string& key) {
    const size_t k = line.find("  " + key + " ");
    return k == std::string::npos ? std::string("?") : line.substr(k + key.size() + 3, line.find(' ', k + key.size() + 3) - (k + key.size() + 3));
  };
  INFO(line);
  CHECK(ev.find("  loss " + figure("val_loss")) != std::string::npos);
  CHECK(ev.find("  f1 " + figure("val_f1")) != std::string::npos);
  // predict takes it too.
  CHECK(dir.exec("one predict xt.npy --checkpoint one_ckpt/best.dlsc", "predict.log") == 0);
}

TEST_CASE("early stopping's patience count and best value survive a resume: it stops at the uninterrupted run's epoch", "[e2e]") {
  ScratchDir dir("stopresume");
  writeNoisyBlobs(dir);
  // min_delta 100: only the first validation improves; patience 4 ends the run at epoch 5.
  const std::string stop = "keep 2\n  stop       = early(monitor: val_loss, patience: 4, min_delta: 100)";
  dir.write("whole.dls", noisyBlobsSpec("whole_ckpt", stop));
  REQUIRE(dir.build("whole") == 0);
  REQUIRE(dir.exec("whole train", "whole.log") == 0);
  const std::string whole = dir.read("whole.log");
  INFO(whole);
  REQUIRE(whole.find("early stopping at epoch 5: ") != std::string::npos);
  // The same run stopped after epoch 3 (two validations into its patience), then resumed.
  dir.write("split.dls", noisyBlobsSpec("split_ckpt", stop));
  REQUIRE(dir.build("split") == 0);
  REQUIRE(dir.exec("split train --epochs 3", "first.log") == 0);
  REQUIRE(dir.exec("split train --resume split_ckpt", "second.log") == 0);
  const std::string second = dir.read("second.log");
  INFO(dir.read("first.log") << second);
  CHECK(second.find("resumed from") != std::string::npos);
  CHECK(second.find("early stopping at epoch 5: ") != std::string::npos);
  CHECK(second.find("best ") != std::string::npos);
  CHECK(second.find("at epoch 1") != std::string::npos);  // the best value is the first epoch's, from the checkpoint
  CHECK(readMetrics(dir.path / "split_ckpt" / "metrics.csv").size() == 5);
}

#endif
