// W0705: an optimizer with a decoupled twin (OpInfo::decoupledVariant: adam → adamw) given `weight_decay`:
// L2 folded into the gradient, which the adaptive step rescales, where the decoupled decay is meant.
#include <fmt/format.h>

#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkAdamL2(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    if (!t->optimizer) continue;
    const sema::OpInfo* op = sema::findOp(t->optimizer->name, {sema::OpCategory::Optimizer});
    const sema::Attr* wd = givenAttr(t->optimizer->args, "weight_decay");
    const double* v = wd ? std::get_if<double>(&wd->value) : nullptr;
    if (!op || op->decoupledVariant.empty() || !v || *v == 0) continue;
    c.diags.report(Code::W0705, wd->span)
        .primary("L2 penalty inside Adam")
        .label(t->optimizer->nameSpan, std::string(op->name))
        .help(fmt::format("use `{}(…, weight_decay: …)`", op->decoupledVariant))
        .fixit(t->optimizer->nameSpan, std::string(op->decoupledVariant));
  }
}

}  // namespace dls::checker
