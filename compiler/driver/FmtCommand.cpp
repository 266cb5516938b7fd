// dlspec fmt [--width N] FILE... : prints the canonical layout; --write rewrites the files, --check prints the
// difference.
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>

#include "driver/Command.h"
#include "driver/Rewrite.h"
#include "syntax/Formatter.h"

namespace dls {

static const std::string_view kUsage = commandUsage("fmt");

int cmdFmt(const std::vector<std::string>& argvIn) {
  FormatOptions options;
  std::vector<std::string> argv;
  for (size_t i = 0; i < argvIn.size(); ++i) {
    const std::string& a = argvIn[i];
    if (a != "--width" && a.rfind("--width=", 0) != 0) {
      argv.push_back(a);
      continue;
    }
    std::string v;
    if (a != "--width") v = a.substr(8);
    else if (i + 1 < argvIn.size()) v = argvIn[++i];
    else return usageError("`--width` needs a value", kUsage);
    char* end = nullptr;
    long n = v.empty() ? 0 : std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || n < 40 || n > 1000)
      return usageError(fmt::format("`--width` takes a line width from 40 to 1000, not `{}`", v), kUsage);
    options.width = size_t(n);
  }
  CommonOptions opt;
  Args args;
  if (!parseCommon(argv, opt, args)) return kExitUsage;
  bool write = false, check = false;
  std::vector<std::string> unknown;
  for (const std::string& f : args.flags) {
    if (f == "--write" || f == "-w") write = true;
    else if (f == "--check") check = true;
    else unknown.push_back(f);
  }
  args.flags = unknown;
  if (!rejectUnknown(args, kUsage)) return kExitUsage;
  if (args.positional.empty()) return usageError("no spec file given", kUsage);
  if (write && check) return usageError("`--write` and `--check` cannot be used together", kUsage);
  int rc = kExitOk;
  for (const std::string& path : args.positional) {
    Compilation c;
    if (!c.load(path) || !parse(c)) {
      printDiagnostics(c, opt);
      rc = kExitErrors;
      continue;
    }
    std::string out = formatSpec(*c.spec, options);
    if (check) {
      std::string before(c.sources.text(c.file));
      if (out != before) {
        fmt::print("{}", unifiedDiff(path, path + " (formatted)", before, out));
        fmt::print(stderr, "{}: not in the canonical layout (`dlspec fmt --write {}` rewrites it)\n", path, path);
        rc = kExitErrors;
      }
    } else if (write) {
      std::string error;
      if (out != c.sources.text(c.file) && !writeFileAtomically(path, out, error)) {
        c.diags.report(Code::E0901, Span{}, path, error);
        printDiagnostics(c, opt);
        rc = kExitErrors;
      }
    } else {
      std::fputs(out.c_str(), stdout);
    }
  }
  return rc;
}

}  // namespace dls
