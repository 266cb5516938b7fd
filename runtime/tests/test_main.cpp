// The runtime tests' main: the programs they start in-process never re-execute themselves (DLS_NO_REEXEC,
// runtime/train/Main.cpp), whatever the environment ctest gives them.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>

int main(int argc, char* argv[]) {
  ::setenv("DLS_NO_REEXEC", "1", 1);
  return Catch::Session().run(argc, argv);
}
