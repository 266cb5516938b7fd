// Subprocess: runs a program with fork/exec (no shell) and collects its combined stdout and stderr.
#pragma once
#include <string>
#include <vector>

namespace dls::codegen {

struct SubprocessResult {
  bool started = false;  // false: fork or exec failed (`output` says why)
  int exitCode = -1;     // the exit status, or 128 + signal number when killed by a signal
  std::string output;    // stdout and stderr, interleaved
};

// argv[0] is looked up on PATH (execvp). The child's stdin is /dev/null; it runs in `cwd` when given.
SubprocessResult runSubprocess(const std::vector<std::string>& argv, const std::string& cwd = "");

// argv as a printable command line (arguments with spaces or quotes are single-quoted).
std::string commandLine(const std::vector<std::string>& argv);

}  // namespace dls::codegen
