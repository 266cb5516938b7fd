// W0703: Adam epsilon below 1e-10, where the update divides by (almost) zero where the gradient's second
// moment is small. (Training runs in f32: `precision = f16|bf16` is refused by sema, E0305.)
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkAdamEpsilon(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const ast::Item* it = t.item("optimizer");
    auto u = it ? asOp(it->value.get()) : std::nullopt;
    if (!u || (u->op != "adam" && u->op != "adamw" && u->op != "nadam")) continue;
    const char* key = u->arg("eps") ? "eps" : u->arg("epsilon") ? "epsilon" : nullptr;
    auto eps = key ? numArg(*u, key) : std::optional<double>(1e-8);
    if (!eps) continue;
    if (*eps >= 1e-10) continue;
    Span s = key ? u->argSpans.at(key) : u->span;
    std::string text = key ? std::string(c.sources.text(u->arg(key)->span)) : "1e-8 (the default)";
    auto& d = c.diags.report(Code::W0703, s, text, "1e-10");
    d.primary("epsilon");
    d.help("use the default `eps: 1e-8`");
  }
}

}  // namespace dls::checker
