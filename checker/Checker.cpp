#include "checker/Checker.h"

#include "checker/Rule.h"
#include "checker/Suppressions.h"
#include "sema/Program.h"

namespace dls {

void runChecker(Compilation& c, const CheckOptions& opt) {
  if (!c.spec || !c.program) return;
  checker::applySuppressions(*c.spec, c.diags);
  checker::RuleContext ctx{*c.spec, *c.program, opt, c.diags, c.sources};
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
