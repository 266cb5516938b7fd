// dlspec_fuzz_regress FILE...: feeds each file (an input that once crashed, hung or leaked a fuzz target)
// through every stage the fuzz targets run, in a normal (non-fuzz) build. A crash fails the ctest test;
// diagnostics are expected and ignored.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "FuzzEntry.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: dlspec_fuzz_regress FILE...\n");
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "dlspec_fuzz_regress: cannot read %s\n", argv[i]);
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    auto t0 = std::chrono::steady_clock::now();
    for (auto stage : {dls::fuzz::Stage::Parse, dls::fuzz::Stage::Analyze, dls::fuzz::Stage::Check})
      dls::fuzz::runSpec(reinterpret_cast<const uint8_t*>(s.data()), s.size(), stage);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %zu bytes, ok in %.1f ms\n", argv[i], s.size(), ms);
  }
  return 0;
}
