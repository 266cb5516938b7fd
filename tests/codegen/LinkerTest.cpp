// LinkerTest: the link command line, and link failures reported as text with the command and no output.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "TempDir.h"
#include "codegen/Linker.h"
#include "codegen/Subprocess.h"

using namespace dls;

TEST_CASE("subprocesses run without a shell and report exit codes and output", "[link]") {
  codegen::SubprocessResult ok = codegen::runSubprocess({"sh", "-c", "echo out; echo err >&2; exit 3"});
  CHECK(ok.started);
  CHECK(ok.exitCode == 3);
  CHECK_THAT(ok.output, Catch::Contains("out") && Catch::Contains("err"));
  codegen::SubprocessResult missing = codegen::runSubprocess({"dlspec-no-such-program-xyz"});
  CHECK_FALSE(missing.started);
  CHECK_THAT(missing.output, Catch::Contains("exec failed"));
  CHECK_FALSE(codegen::runSubprocess({}).started);
  CHECK(codegen::commandLine({"c++", "a b.o", "-o", "it's"}) == "c++ 'a b.o' -o 'it'\\''s'");
}

TEST_CASE("the link command puts the object before the runtime and its libraries", "[link]") {
  std::vector<std::string> argv;
  std::string error;
  if (!codegen::linkCommand("p.o", "p", argv, error)) {
    WARN("no runtime configured: " << error);
    return;
  }
  REQUIRE(argv.size() >= 5);
  CHECK(argv[1] == "p.o");
  CHECK(argv[2] == "-o");
  CHECK(argv[3] == "p");
  CHECK_THAT(argv[4], Catch::EndsWith("libdlspec_rt.a") || Catch::EndsWith("libdlspec_rt.so"));
  CHECK(std::find(argv.begin(), argv.end(), "-ldnnl") != argv.end());
}

TEST_CASE("DLSPEC_RUNTIME_DIR overrides the runtime location", "[link]") {
  codegen::test::TempDir dir;
  REQUIRE(dir.ok());
  ::setenv("DLSPEC_RUNTIME_DIR", dir.path().c_str(), 1);
  std::vector<std::string> argv;
  std::string error;
  CHECK_FALSE(codegen::linkCommand("p.o", "p", argv, error));
  CHECK_THAT(error, Catch::Contains("DLSPEC_RUNTIME_DIR") && Catch::Contains(dir.path()));
  { std::ofstream(dir.file("libdlspec_rt.a")) << "!<arch>\n"; }
  { std::ofstream(dir.file("dlspec_rt_link.txt")) << "/elsewhere/libdlspec_rt.a -lfoo -lbar\n"; }
  REQUIRE(codegen::linkCommand("p.o", "p", argv, error));
  CHECK(argv[4] == dir.file("libdlspec_rt.a"));
  CHECK(std::vector<std::string>(argv.begin() + 5, argv.end()) == std::vector<std::string>{"-lfoo", "-lbar"});
  ::unsetenv("DLSPEC_RUNTIME_DIR");
}

TEST_CASE("a failed link is reported with the command line and leaves no output", "[link]") {
  codegen::test::TempDir dir;
  REQUIRE(dir.ok());
  { std::ofstream(dir.file("bad.o")) << "not an object"; }
  { std::ofstream(dir.file("libdlspec_rt.a")) << "!<arch>\n"; }
  ::setenv("DLSPEC_RUNTIME_DIR", dir.path().c_str(), 1);
  std::string error;
  CHECK_FALSE(codegen::linkExecutable(dir.file("bad.o"), dir.file("prog"), error));
  ::unsetenv("DLSPEC_RUNTIME_DIR");
  CHECK_THAT(error, Catch::Contains("linking '" + dir.file("prog") + "' failed") && Catch::Contains("command: c++ ") &&
                        Catch::Contains("bad.o"));
  CHECK_FALSE(std::filesystem::exists(dir.file("prog")));
  for (auto& entry : std::filesystem::directory_iterator(dir.path()))
    CHECK_THAT(entry.path().filename().string(), !Catch::Contains(".tmp"));
}
