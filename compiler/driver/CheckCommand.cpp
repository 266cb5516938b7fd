// dlspec check FILE... : parse, type-check and run the taxonomy rules.
#include "checker/Checker.h"
#include "driver/Command.h"

namespace dls {

static constexpr std::string_view kUsage =
    "dlspec check [--data] [--format=text|json|sarif] [--deny|--warn|--allow CODE]... FILE...";

int cmdCheck(const std::vector<std::string>& argv) {
  CommonOptions opt;
  Args args;
  if (!parseCommon(argv, opt, args)) return kExitUsage;
  CheckOptions check;
  std::vector<std::string> unknown;
  for (const std::string& f : args.flags) {
    if (f == "--data") check.data = true;
    else unknown.push_back(f);
  }
  args.flags = unknown;
  if (!rejectUnknown(args, kUsage)) return kExitUsage;
  if (args.positional.empty()) return usageError("no spec file given", kUsage);
  bool errors = false;
  for (const std::string& path : args.positional) {
    Compilation c;
    if (!applyLevels(opt, c.diags)) return kExitUsage;
    if (c.load(path) && c.parse()) checkSpec(c, check);
    printDiagnostics(c, opt);
    errors |= c.diags.hasErrors();
  }
  return errors ? kExitErrors : kExitOk;
}

}  // namespace dls
