// The real dlspec binary run from the source directory, its exit status and its output (stdout and stderr),
// for the unit tests of the command line.
#pragma once
#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace dls_test {

struct Result {
  int rc = -1;
  std::string out;
};

inline Result dlspec(const std::string& args) {
  Result r;
  std::string cmd = std::string("cd '") + DLSPEC_SOURCE_DIR + "' && '" + DLSPEC_BIN + "' " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = ::pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace dls_test
