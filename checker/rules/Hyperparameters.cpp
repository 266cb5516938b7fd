// E0713: hyperparameters outside their domain: epochs ≤ 0, batch ≤ 0, momentum outside [0, 1).
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkHyperparameters(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    if (const ast::Item* e = t.item("epochs"))
      if (auto v = evalNumber(e->value.get()); v && *v <= 0)
        c.diags.report(Code::E0713, e->value->span, "`epochs` must be at least 1").primary("no training").help("set `epochs = 10`");
    const ast::Item* it = t.item("optimizer");
    if (auto u = it ? asOp(it->value.get()) : std::nullopt)
      if (auto m = numArg(*u, "momentum"); m && (*m < 0 || *m >= 1))
        c.diags.report(Code::E0713, u->argSpans.at("momentum"), "momentum must lie in [0, 1)")
            .primary("momentum")
            .help("use `momentum: 0.9`");
  }
  for (const PipeView& p : c.view.pipelines) {
    Span s;
    if (auto b = batchOf(p, &s); b && *b <= 0)
      c.diags.report(Code::E0713, s, "the batch size must be at least 1").primary("batch").help("use `batch(64)`");
  }
}

}  // namespace dls::checker
