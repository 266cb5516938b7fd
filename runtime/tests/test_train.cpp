// End-to-end runs of the hand-made programs on a small synthetic dataset: learning, resume == uninterrupted,
// the non-finite loss guard, evaluation and prediction.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "SmallData.h"
#include "TrainRuns.h"
#include "train/Metrics.h"
#include "train/Trainer.h"

using namespace dls;

using dlt::mlp_program;
using dlt::train_opts;

TEST_CASE("mlp learns, and a resumed run continues the exact trajectory", "[train]") {
  std::string data = dlt::temp_dir(), a = dlt::temp_dir(), b = dlt::temp_dir();
  dlt::write_small_mnist(data);
  mlp_config() = dlt::small_config(data);
  mlp_config().dropout = true;  // exercises the per-step dropout RNG
  mlp_config().checkpoint_dir = a + "/ck/nested";  // directories are created as needed
  REQUIRE(run(train_opts(4), mlp_program()) == 0);
  auto full = read_metrics(a + "/ck/nested");
  REQUIRE(full.size() == 4);
  CHECK(full[3].train_loss < full[0].train_loss);
  CHECK(full[3].val_acc > 0.9);
  // Interrupted after 2 epochs, then resumed.
  mlp_config().checkpoint_dir = b + "/ck";
  REQUIRE(run(train_opts(2), mlp_program()) == 0);
  Options r = train_opts(4);
  r.resume = b + "/ck";
  REQUIRE(run(r, mlp_program()) == 0);
  auto resumed = read_metrics(b + "/ck");
  REQUIRE(resumed.size() == 4);
  for (int e = 0; e < 4; ++e) {
    CHECK(resumed[size_t(e)].train_loss == full[size_t(e)].train_loss);
    CHECK(resumed[size_t(e)].val_loss == full[size_t(e)].val_loss);
  }
  std::ifstream svg(b + "/ck/curves.svg");
  std::stringstream ss;
  ss << svg.rdbuf();
  CHECK_THAT(ss.str(), Catch::StartsWith("<svg") && Catch::Contains("polyline"));
  // eval and predict from the checkpoint
  Options ev;
  ev.command = "eval", ev.checkpoint = b + "/ck", ev.quiet = true;
  CHECK(run(ev, mlp_program()) == 0);
  // predict: an .npy of 3 samples (u8, as the raw IDX pixels), one class per line on stdout
  std::vector<uint8_t> px(3 * 784);
  for (int i = 0; i < 3; ++i)
    for (int p = 0; p < 784; ++p) px[size_t(i * 784 + p)] = uint8_t((p / 28) * 10 / 28 == i * 3 ? 200 : 40);
  dlt::write_bytes(data + "/three.npy", dlt::npy_bytes("|u1", {3, 1, 28, 28}, px.data(), px.size()));
  Options pr;
  pr.command = "predict", pr.checkpoint = b + "/ck", pr.predict_file = data + "/three.npy";
  std::fflush(stdout);
  std::string out_path = data + "/predict.txt";
  int saved = dup(1);
  FILE* f = std::freopen(out_path.c_str(), "w", stdout);
  REQUIRE(f != nullptr);
  int rc = run(pr, mlp_program());
  std::fflush(stdout);
  dup2(saved, 1);
  close(saved);
  CHECK(rc == 0);
  std::ifstream pin(out_path);
  std::string l1, l2, l3;
  pin >> l1 >> l2 >> l3;
  CHECK(l1 == "0");
  CHECK(l2 == "3");
  CHECK(l3 == "6");
  // a sample file of the wrong shape is a diagnostic
  dlt::write_bytes(data + "/bad.npy", dlt::npy_bytes("|u1", {3, 27, 28}, px.data(), 3 * 27 * 28));
  pr.predict_file = data + "/bad.npy";
  CHECK_THAT(dlt::fault_of([&] { run(pr, mlp_program()); }, Diag::R0205), Catch::Contains("bad.npy"));
}

TEST_CASE("a non-finite loss stops training at the op that produced it", "[train]") {
  std::string data = dlt::temp_dir();
  dlt::write_small_mnist(data, 256, 64);
  mlp_config() = dlt::small_config(data);
  mlp_config().lr = 1e12;
  mlp_config().checkpoint_dir = data + "/ck";
  std::string text = dlt::fault_of([&] { run(train_opts(3), mlp_program()); }, Diag::R0101);
  CHECK_THAT(text, Catch::StartsWith("R0101: loss became") && Catch::Contains("@ mlp.dls:"));
}

TEST_CASE("LeNet trains on the small set", "[train]") {
  std::string data = dlt::temp_dir();
  dlt::write_small_mnist(data, 512, 128);
  lenet_config() = dlt::small_config(data);
  lenet_config().checkpoint_dir = data + "/ck";
  REQUIRE(run(train_opts(2), {lenet_setup, lenet_train_step, lenet_eval_step}) == 0);
  auto m = read_metrics(data + "/ck");
  REQUIRE(m.size() == 2);
  CHECK(m[1].val_acc > 0.5);
}

TEST_CASE("curves.svg: axis ticks at round values, accuracies inside 0-100%", "[train]") {
  auto round_multiple = [](double v, double step) { return std::fabs(v / step - std::round(v / step)) < 1e-6; };
  // A loss that falls from 0.0342 to 0.0157: ticks 0.01 0.015 ... or 0.005 apart, never 0.034 or -0.0034.
  Axis a = nice_axis(0.0157, 0.0342, 4, false);
  REQUIRE(a.ticks.size() >= 3);
  const double step = a.ticks[1] - a.ticks[0];
  CHECK(a.ticks.front() <= 0.0157);
  CHECK(a.ticks.back() >= 0.0342);
  for (double t : a.ticks) CHECK(round_multiple(t, step));
  CHECK((round_multiple(step, 0.005) || round_multiple(step, 0.002) || round_multiple(step, 0.01)));
  CHECK(a.decimals == 3);
  // Accuracies near 100% never get a 103.5% tick.
  Axis acc = nice_axis(0.91, 0.995, 4, true);
  CHECK(acc.ticks.back() <= 1.0);
  CHECK(acc.ticks.front() >= 0.0);
  CHECK(acc.ticks.back() >= 0.995 - 1e-12);
  CHECK(acc.ticks.front() <= 0.91);
  // A flat series still gets an axis around it.
  Axis flat = nice_axis(2.0, 2.0, 4, false);
  CHECK(flat.ticks.front() < 2.0);
  CHECK(flat.ticks.back() > 2.0);
  // Losses in the hundreds: integer ticks, no decimals.
  Axis big = nice_axis(120, 480, 4, false);
  CHECK(big.decimals == 0);
  for (double t : big.ticks) CHECK(round_multiple(t, 100));
}
