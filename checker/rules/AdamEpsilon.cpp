// W0703: the epsilon of an adaptive optimizer (OpInfo::adaptive: Adam and its kin) below 1e-10, where the
// update divides by (almost) zero where the gradient's second moment is small. (Training runs in f32:
// `precision = f16|bf16` is refused by sema, E0305.)
#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkAdamEpsilon(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    if (!t->optimizer) continue;
    const sema::OpInfo* op = sema::findOp(t->optimizer->name, {sema::OpCategory::Optimizer});
    auto it = t->optimizer->args.find("eps");
    if (!op || !op->adaptive || it == t->optimizer->args.end()) continue;
    const sema::Attr& a = it->second;
    const double* eps = std::get_if<double>(&a.value);
    if (!eps || *eps >= 1e-10) continue;
    std::string text = a.isDefault ? numberText(*eps) + " (the default)" : argValueText(c, a, "eps");
    c.diags.report(Code::W0703, a.span, t->optimizer->name, text, "1e-10").primary("epsilon").help("use the default `eps: 1e-8`");
  }
}

}  // namespace dls::checker
