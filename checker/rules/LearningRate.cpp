// W0702: implausible learning rates per optimizer (plain SGD ≥ 1, adaptive optimizers (OpInfo::adaptive)
// > 0.01, any < 1e-6). A learning rate ≤ 0 is sema's (E0212, from the op table's range for `lr`): this rule
// skips it.
#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkLearningRate(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    if (!t->optimizer) continue;
    const sema::OpInfo* op = sema::findOp(t->optimizer->name, {sema::OpCategory::Optimizer});
    const sema::Attr* lrAttr = givenAttr(t->optimizer->args, "lr");
    const double* lr = lrAttr ? std::get_if<double>(&lrAttr->value) : nullptr;
    if (!op || !lr || *lr <= 0) continue;  // <= 0: sema's E0212
    std::string why;
    if (!op->adaptive && *lr >= 1) why = "SGD diverges from about 1 on";
    else if (op->adaptive && *lr > 0.01) why = "adaptive optimizers diverge above about 0.01 (typical: 1e-3)";
    else if (*lr < 1e-6) why = "below 1e-6 training barely moves";
    if (why.empty()) continue;
    c.diags.report(Code::W0702, lrAttr->span, argValueText(c, *lrAttr, "lr"), op->name, why)
        .primary("learning rate")
        .help(op->adaptive ? "try `lr: 0.001`" : "try `lr: 0.01` to `lr: 0.1`");
  }
}

}  // namespace dls::checker
