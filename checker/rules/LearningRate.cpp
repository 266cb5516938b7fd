// W0702: implausible learning rates per optimizer (sgd ≥ 1, adam-family > 0.01, any < 1e-6).
// A learning rate ≤ 0 is sema's (E0212, from the op table's range for `lr`): this rule skips it.
#include <fmt/format.h>

#include "checker/RuleSupport.h"

namespace dls::checker {

void checkLearningRate(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const ast::Item* it = t.item("optimizer");
    auto u = it ? asOp(it->value.get()) : std::nullopt;
    if (!u) continue;
    const char* key = u->arg("lr") ? "lr" : u->arg("learning_rate") ? "learning_rate" : nullptr;
    if (!key) continue;
    auto lr = numArg(*u, key);
    if (!lr) continue;
    Span s = u->argSpans.at(key);
    std::string text = std::string(c.sources.text(u->arg(key)->span));
    if (*lr <= 0) continue;  // sema's E0212
    bool adamLike = u->op == "adam" || u->op == "adamw" || u->op == "rmsprop" || u->op == "nadam";
    std::string why;
    if (u->op == "sgd" && *lr >= 1) why = "SGD diverges from about 1 on";
    else if (adamLike && *lr > 0.01) why = "adaptive optimizers diverge above about 0.01 (typical: 1e-3)";
    else if (*lr < 1e-6) why = "below 1e-6 training barely moves";
    if (why.empty()) continue;
    c.diags.report(Code::W0702, s, text, u->op, why)
        .primary("learning rate")
        .help(adamLike ? "try `lr: 0.001`" : "try `lr: 0.01` to `lr: 0.1`");
  }
}

}  // namespace dls::checker
