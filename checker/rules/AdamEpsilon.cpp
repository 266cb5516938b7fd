// W0703: the epsilon of an adaptive optimizer (OpInfo::adaptive: Adam and its kin) below 1e-10, or below
// float16's smallest normal (6.1e-5) under `precision = f16`, where it rounds to zero and the update divides
// by (almost) zero.
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
    bool f16 = t->precision && *t->precision == "f16";
    double floor = f16 ? 6.103515625e-05 : 1e-10;
    if (!eps || *eps >= floor) continue;
    std::string text = a.isDefault ? numberText(*eps) + " (the default)" : argValueText(c, a, "eps");
    auto& d = c.diags.report(Code::W0703, a.span, text, f16 ? "float16's smallest normal number (6.1e-5)" : "1e-10");
    d.primary("epsilon");
    if (f16) d.label(t->settings.at("precision").span, "half precision");
    d.help(f16 ? "use `eps: 1e-4` under f16" : "use the default `eps: 1e-8`");
  }
}

}  // namespace dls::checker
