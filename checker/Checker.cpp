#include "checker/Checker.h"

#include "checker/Rule.h"
#include "checker/Suppressions.h"

namespace dls {

void runChecker(const ast::Spec& spec, const sema::Program& program, const SourceManager& sources,
                DiagnosticEngine& diags, const CheckOptions& opt) {
  checker::applySuppressions(spec, diags);
  checker::RuleContext ctx{spec, program, opt, diags, sources};
  for (const checker::Rule& r : checker::allRules()) {
    if (r.needsData && !opt.data) continue;
    r.check(ctx);
  }
}

}  // namespace dls
