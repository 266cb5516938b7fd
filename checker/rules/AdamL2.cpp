// W0705: adam with weight_decay (L2 folded into the gradient) where AdamW's decoupled decay is meant.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkAdamL2(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const ast::Item* it = t.item("optimizer");
    auto u = it ? asOp(it->value.get()) : std::nullopt;
    if (!u || u->op != "adam" || !u->arg("weight_decay")) continue;
    auto wd = numArg(*u, "weight_decay");
    if (wd && *wd == 0) continue;
    c.diags.report(Code::W0705, u->argSpans.at("weight_decay"))
        .primary("L2 penalty inside Adam")
        .label(u->nameSpan, "adam")
        .help("use `adamw(…, weight_decay: …)`")
        .fixit(u->nameSpan, "adamw");
  }
}

}  // namespace dls::checker
