// W0703: Adam epsilon below 1e-10, or below float16's smallest normal (6.1e-5) under `precision = f16`,
// where it rounds to zero and the update divides by (almost) zero.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkAdamEpsilon(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const ast::Item* it = t.item("optimizer");
    auto u = it ? asOp(it->value.get()) : std::nullopt;
    if (!u || (u->op != "adam" && u->op != "adamw" && u->op != "nadam")) continue;
    const char* key = u->arg("eps") ? "eps" : u->arg("epsilon") ? "epsilon" : nullptr;
    const ast::Item* prec = t.item("precision");
    bool f16 = prec && nameOf(prec->value.get()) == "f16";
    auto eps = key ? numArg(*u, key) : std::optional<double>(1e-8);
    if (!eps) continue;
    double floor = f16 ? 6.103515625e-05 : 1e-10;
    if (*eps >= floor) continue;
    Span s = key ? u->argSpans.at(key) : u->span;
    std::string text = key ? std::string(c.sources.text(u->arg(key)->span)) : "1e-8 (the default)";
    auto& d = c.diags.report(Code::W0703, s, text, f16 ? "float16's smallest normal number (6.1e-5)" : "1e-10");
    d.primary("epsilon");
    if (f16) d.label(prec->span, "half precision");
    d.help(f16 ? "use `eps: 1e-4` under f16" : "use the default `eps: 1e-8`");
  }
}

}  // namespace dls::checker
