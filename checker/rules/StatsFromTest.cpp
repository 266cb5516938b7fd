// E0711: normalisation statistics fitted on the test/validation split: `normalize(from: fashion.test)`.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkStatsFromTest(const RuleContext& c) {
  for (const PipeView& p : c.view.pipelines)
    for (const OpUse& s : p.steps) {
      if (s.op != "normalize" && s.op != "standardize") continue;
      const ast::Expr* from = stripParens(s.arg("from"));
      if (!from || from->kind != ast::ExprKind::Name || from->path.size() < 2) continue;
      const std::string& split = from->path.back().name;
      if (split == "train") continue;
      c.diags.report(Code::E0711, s.argSpans.at("from"), split, from->dotted())
          .primary("statistics from held-out data")
          .help("fit them on the training split: `from: " + from->path[0].name + ".train`");
    }
}

}  // namespace dls::checker
