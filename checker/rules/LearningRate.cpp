// W0702: learning rates far from what each optimizer is published and used with. The evidence is the
// optimizer's own default in the op table, which is the published one (Adam 1e-3: Kingma & Ba 2015, the
// default of torch.optim.Adam and keras.optimizers.Adam; NAdam 2e-3; RMSprop 1e-2 in torch; Adadelta 1.0):
// an adaptive optimizer more than 10 times above its default is unusually high. Plain SGD has no published
// default (torch requires one; Keras uses 0.01, ResNet training 0.1): from 1 on it is unusually high. Any rate
// below 1e-6 is unusually low. The wording says "unusually", not "wrong": these rates are sometimes intended
// (a short warm-up, a tiny fine-tuning step). A learning rate ≤ 0 is sema's (E0212): this rule skips it.
#include <fmt/format.h>

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
    // The published default, when the op table has one.
    std::optional<double> dflt;
    if (const sema::AttrSpec* a = op->attr("lr"); a && a->dflt)
      if (const double* d = std::get_if<double>(&*a->dflt)) dflt = *d;
    std::string how, why, help;
    if (op->adaptive && dflt && *lr > 10 * *dflt) {
      how = "unusually high";
      why = fmt::format("it is {:.3g} times `{}`'s published default {} (torch.optim and Keras use it), and adaptive "
                        "optimizers often diverge this far above it",
                        *lr / *dflt, op->name, numberText(*dflt));
      help = fmt::format("start from the default, `lr: {}`, unless this rate is tuned", numberText(*dflt));
    } else if (!op->adaptive && !dflt && *lr >= 1) {
      how = "unusually high";
      why = "plain SGD is typically run between 0.001 and 0.1 (Keras' default is 0.01) and often diverges from 1 on";
      help = "try `lr: 0.01` to `lr: 0.1`, unless this rate is tuned";
    } else if (*lr < 1e-6) {
      how = "unusually low";
      why = dflt ? fmt::format("its published default is {}; below 1e-6 training barely moves", numberText(*dflt))
                 : std::string("below 1e-6 training barely moves");
      help = dflt ? fmt::format("try the default, `lr: {}`", numberText(*dflt)) : std::string("try `lr: 0.01` to `lr: 0.1`");
    }
    if (how.empty()) continue;
    c.diags.report(Code::W0702, lrAttr->span, argValueText(c, *lrAttr, "lr"), how, op->name, why)
        .primary("learning rate")
        .help(help);
  }
}

}  // namespace dls::checker
