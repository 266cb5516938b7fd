// W0725: a padded sequence (an `embedding(mask_token: k)` upstream) reaches the loss, which counts every step: the
// recurrent layers skip the padded steps, but a per-step loss without `ignore_index` still scores the predictions
// at those steps against whatever labels pad them, so the padding is trained on and inflates the accuracy (Keras
// propagates the mask into the loss; in PyTorch the padded label is given to CrossEntropyLoss(ignore_index=…)).
#include <fmt/format.h>

#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkPaddingInLoss(const RuleContext& c) {
  for (const auto& t : c.program.trains)
    for (const auto& term : t->lossTerms) {  // every term of the loss, on the output it reads
    const sema::Network* net = t->network;
    const sema::Call* lc = &term.call;
    if (!net || term.outputValue < 0) continue;
    const sema::Type& out = net->values[size_t(term.outputValue)].type;
    if (out.maskValue < 0 || out.poisoned) continue;
    auto it = lc->args.find("ignore_index");
    const sema::OpInfo* loss = sema::findOp(lc->name, {sema::OpCategory::Loss});
    if (it != lc->args.end() && !it->second.isDefault) continue;  // the padded steps' label is skipped
    auto& d = c.diags.report(Code::W0725, lc->nameSpan, net->name, fmt::format("mask_token: {}", out.maskToken),
                             lc->name);
    d.primary("scores the padded steps too");
    for (const sema::Node& n : net->nodes)
      if (n.inputs.size() == 1 && n.inputs[0] == out.maskValue && n.attrs.count("mask_token")) {
        d.label(n.span, "the padding mask starts here");
        break;
      }
    if (loss && loss->attr("ignore_index"))
      d.help(fmt::format("label the padded steps with one class and give it to the loss: `{}(model.out, …, "
                         "ignore_index: K)`",
                         lc->name));
    else
      d.help(fmt::format("`{}` cannot skip steps: use `cross_entropy` or `nll` with `ignore_index`", lc->name));
    }
}

}  // namespace dls::checker
