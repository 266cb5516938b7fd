// dlspec fmt FILE... : prints the canonical layout; --write rewrites the files, --check only reports.
#include <cstdio>
#include <fmt/format.h>
#include <fstream>

#include "driver/Command.h"
#include "syntax/Formatter.h"

namespace dls {

static const std::string_view kUsage = commandUsage("fmt");

// Writes `text` to `path` atomically: a temporary file beside it, then rename.
static bool writeAtomically(const std::string& path, const std::string& text, std::string& error) {
  std::string tmp = path + ".dlspec-fmt.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !(out << text) || !out.flush()) {
      error = "cannot write " + tmp;
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot replace " + path;
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

int cmdFmt(const std::vector<std::string>& argv) {
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
    std::string out = formatSpec(*c.spec);
    if (check) {
      if (out != c.sources.text(c.file)) {
        fmt::print("{}: not formatted\n", path);
        rc = kExitErrors;
      }
    } else if (write) {
      std::string error;
      if (out != c.sources.text(c.file) && !writeAtomically(path, out, error)) {
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
