// dlspec check FILE... : parse, type-check and run the taxonomy rules.
#include <cstdio>
#include <memory>

#include "driver/Command.h"

namespace dls {

static const std::string_view kUsage = commandUsage("check");

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
  // json and sarif: one document for all the files, printed at the end.
  std::vector<std::unique_ptr<Compilation>> kept;
  std::vector<FileDiagnostics> files;
  for (const std::string& path : args.positional) {
    auto c = std::make_unique<Compilation>();
    if (!applyLevels(opt, c->diags)) return kExitUsage;
    if (c->load(path) && c->parse()) checkSpec(*c, check);
    errors |= c->diags.hasErrors();
    if (opt.format == DiagFormat::Text) {
      printDiagnostics(*c, opt);
      continue;
    }
    files.push_back({path, &c->sources, c->diags.finish()});
    kept.push_back(std::move(c));
  }
  if (opt.format == DiagFormat::Json) std::fputs(renderJson(files, renderOptions(opt)).c_str(), stdout);
  if (opt.format == DiagFormat::Sarif) std::fputs(renderSarif(files, renderOptions(opt)).c_str(), stdout);
  return errors ? kExitErrors : kExitOk;
}

}  // namespace dls
