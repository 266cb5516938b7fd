#include "checker/Checker.h"

#include <filesystem>

#include "checker/Rule.h"
#include "checker/Suppressions.h"
#include "sema/Program.h"

namespace dls {

void runChecker(Compilation& c, const CheckOptions& opt) {
  if (!c.spec) return;
  checker::applySuppressions(*c.spec, c.diags);
  checker::SpecView view = checker::buildView(*c.spec);
  std::string dir;
  if (c.file != Span::kNoFile) dir = std::filesystem::path(c.sources.path(c.file)).parent_path().string();
  checker::RuleContext ctx{*c.spec, c.program.get(), view, opt, c.diags, c.sources, dir};
  for (const checker::Rule& r : checker::allRules()) {
    if (r.needsData && !opt.data) continue;
    r.check(ctx);
  }
}

bool checkSpec(Compilation& c, const CheckOptions& opt) {
  if (!c.spec) return false;
  bool syntaxOk = !c.diags.hasErrors();
  bool typed = c.analyze();
  if (syntaxOk) runChecker(c, opt);
  if (typed) c.validateLowering();  // what the backends cannot run (E10xx) is part of checking
  return typed;
}

}  // namespace dls
