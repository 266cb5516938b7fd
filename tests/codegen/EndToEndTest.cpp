// EndToEndTest: a hand-written tiny-MLP StepPlan → object → linked with dlspec_rt → `./prog train` in a
// temporary folder exits 0, writes checkpoints, and its train loss (ckpt/metrics.csv) goes down. Skipped, with a
// warning, when this build has no runtime library (decided at CMake time: DLSPEC_HAVE_RUNTIME).
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include "TempDir.h"
#include "TestPlans.h"
#include "codegen/LLVMEmitter.h"
#include "codegen/Linker.h"
#include "codegen/ObjectEmitter.h"
#include "codegen/Subprocess.h"

using namespace dls;

#ifdef DLSPEC_HAVE_RUNTIME
namespace {

// The train_loss column of a metrics.csv, one value per epoch.
std::vector<double> trainLosses(const std::string& csvPath) {
  std::vector<double> losses;
  std::ifstream in(csvPath);
  std::string line;
  if (!std::getline(in, line)) return losses;
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string cell; std::getline(hs, cell, ',');) header.push_back(cell);
  size_t column = std::find(header.begin(), header.end(), "train_loss") - header.begin();
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string cell;
    for (size_t i = 0; std::getline(ss, cell, ','); ++i)
      if (i == column) losses.push_back(std::atof(cell.c_str()));
  }
  return losses;
}

}  // namespace
#endif

TEST_CASE("end to end: a tiny MLP plan links with the runtime and trains", "[e2e]") {
#ifndef DLSPEC_HAVE_RUNTIME
  WARN("SKIPPED end-to-end codegen test: the dlspec_rt target was not part of this CMake configuration");
  return;
#else
  codegen::test::TempDir dir;
  REQUIRE(dir.ok());
  REQUIRE(codegen::test::writeTwoClassNpy(dir.file("x.npy"), dir.file("y.npy"), 256));

  auto start = std::chrono::steady_clock::now();
  llvm::LLVMContext ctx;
  std::string error;
  auto m = codegen::emitModule(codegen::test::tinyMlpPlan(dir.file("x.npy"), dir.file("y.npy"), 5, "ckpt"), ctx, error);
  INFO(error);
  REQUIRE(m);
  REQUIRE(codegen::emitObject(*m, dir.file("prog.o"), error));
  auto linkStart = std::chrono::steady_clock::now();
  REQUIRE(codegen::linkExecutable(dir.file("prog.o"), dir.file("prog"), error));
  auto end = std::chrono::steady_clock::now();
  using Ms = std::chrono::duration<double, std::milli>;
  WARN("emit " << Ms(linkStart - start).count() << " ms, link " << Ms(end - linkStart).count() << " ms");

  codegen::SubprocessResult run = codegen::runSubprocess({dir.file("prog"), "train", "--threads", "1"}, dir.path());
  INFO(run.output);
  REQUIRE(run.started);
  REQUIRE(run.exitCode == 0);
  std::vector<double> losses = trainLosses(dir.file("ckpt/metrics.csv"));
  REQUIRE(losses.size() == 5);
  CHECK(losses.back() < losses.front());
  CHECK(losses.back() < 0.5);
  CHECK(std::filesystem::is_directory(dir.file("ckpt")));
#endif
}
