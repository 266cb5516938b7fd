// dlspec summary FILE [--format=text|json]: per layer output shape, parameters, FLOPs, activation memory.
#include <cstdio>

#include "driver/Command.h"
#include "sema/Program.h"
#include "sema/Summary.h"

namespace dls {

static constexpr std::string_view kUsage = "dlspec summary [--format=text|json] FILE";

int cmdSummary(const std::vector<std::string>& argv) {
  CommonOptions opt;
  Args args;
  if (!parseCommon(argv, opt, args)) return kExitUsage;
  if (!rejectUnknown(args, kUsage)) return kExitUsage;
  if (args.positional.size() != 1) return usageError("expected one spec file", kUsage);
  if (opt.format == DiagFormat::Sarif) return usageError("summary prints text or json", kUsage);
  Compilation c;
  if (!applyLevels(opt, c.diags)) return kExitUsage;
  bool ok = c.load(args.positional[0]) && c.parse() && c.analyze();
  if (!ok || !c.program) {
    CommonOptions diagOpt = opt;
    diagOpt.format = DiagFormat::Text;
    printDiagnostics(c, diagOpt);
    return kExitErrors;
  }
  std::vector<sema::NetworkSummary> all;
  for (auto& n : c.program->networks) all.push_back(sema::summarize(*c.program, *n));
  std::string out = opt.format == DiagFormat::Json ? sema::summaryJson(all) : sema::summaryText(all);
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

}  // namespace dls
