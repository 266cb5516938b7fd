// BuildProgramTest: `dlspec build`'s back end for each --emit kind, and its failure modes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "TempDir.h"
#include "TestPlans.h"
#include "codegen/BuildProgram.h"
#include "codegen/Subprocess.h"

using namespace dls;

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("emit=llvm writes IR to a file or hands it back for stdout", "[build]") {
  codegen::test::TempDir dir;
  REQUIRE(dir.ok());
  plan::StepPlan p = codegen::test::tinyMlpPlan("x.npy", "y.npy", 1);
  std::string error, text;
  REQUIRE(codegen::buildProgram(p, codegen::EmitKind::LLVM, "-", error, &text));
  CHECK_THAT(text, Catch::Contains("define i32 @main("));
  REQUIRE(codegen::buildProgram(p, codegen::EmitKind::LLVM, dir.file("p.ll"), error));
  CHECK(slurp(dir.file("p.ll")) == text);
}

TEST_CASE("emit=obj writes an object and a bad plan writes nothing", "[build]") {
  codegen::test::TempDir dir;
  REQUIRE(dir.ok());
  std::string error;
  REQUIRE(codegen::buildProgram(codegen::test::tinyMlpPlan("x.npy", "y.npy", 1), codegen::EmitKind::Object,
                                dir.file("p.o"), error));
  CHECK(std::filesystem::file_size(dir.file("p.o")) > 0);
  plan::StepPlan bad;
  bad.train.push_back(plan::Call{"dls_rt_fwd", {}});
  for (auto kind : {codegen::EmitKind::LLVM, codegen::EmitKind::Object, codegen::EmitKind::Executable}) {
    CHECK_FALSE(codegen::buildProgram(bad, kind, dir.file("bad"), error));
    CHECK_THAT(error, Catch::StartsWith("internal error: codegen: train call 0 (dls_rt_fwd)"));
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("bad")));
  CHECK_FALSE(codegen::buildProgram(plan::StepPlan{}, codegen::EmitKind::LLVM, "/nonexistent-dlspec-dir/p.ll", error));
  CHECK_THAT(error, Catch::Contains("/nonexistent-dlspec-dir/p.ll"));
}

TEST_CASE("emit=exe links a LeNet-sized program into an executable that runs", "[build][e2e]") {
#ifndef DLSPEC_HAVE_RUNTIME
  WARN("SKIPPED --emit=exe test: the dlspec_rt target was not part of this CMake configuration");
  return;
#else
  codegen::test::TempDir dir;
  REQUIRE(dir.ok());
  std::string error;
  INFO(error);
  REQUIRE(codegen::buildProgram(codegen::test::lenetSizedPlan(), codegen::EmitKind::Executable, dir.file("lenet"),
                                error));
  codegen::SubprocessResult help = codegen::runSubprocess({dir.file("lenet"), "--help"}, dir.path());
  INFO(help.output);
  CHECK(help.exitCode == 0);
  CHECK_THAT(help.output, Catch::Contains("usage"));
  // Only the executable is left: the temporary object and link outputs are gone.
  size_t entries = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir.path())) entries += 1 + 0 * entry.is_regular_file();
  CHECK(entries == 1);
#endif
}
