// W0730: a loss that takes logits (cross_entropy, bce_with_logits, focal, hinge) after an activation whose
// outputs are never negative (OpInfo::nonNegative: relu, relu6, softplus, hardsigmoid). A logit of 0 is the
// lowest score such a network can give, so no class can be pushed below the others' baseline, a unit that
// goes negative before the activation gets no gradient, and training stalls: the last layer's output goes
// into the loss as it is. Output types follow the last layer, so the activation reaches the loss as
// `logits`/`real` and sema's kind checks (E0401) do not see it.
#include <fmt/format.h>

#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkNonNegativeLogits(const RuleContext& c) {
  for (const auto& t : c.program.trains)
    for (const auto& term : t->lossTerms) {  // every term of the loss, on the output it reads
    if (!t->network || term.outputValue < 0) continue;
    const std::string& loss = term.call.name;
    if (loss != "cross_entropy" && loss != "bce_with_logits" && loss != "focal" && loss != "hinge") continue;
    const sema::Network& net = *t->network;
    const sema::Node* act = producerOf(net, term.outputValue);
    if (!act || !act->op || !act->op->nonNegative) continue;
    c.diags.report(Code::W0730, act->span, loss, net.name, act->op->name)
        .primary("outputs 0 or more")
        .label(term.call.nameSpan, "takes logits")
        .note(fmt::format("`{}` reads its input as unbounded scores: after `{}` none can be negative, and a unit "
                          "that is below zero before it gets no gradient",
                          loss, act->op->name))
        .help(fmt::format("remove the final `|> {}`: the last layer's output is the logits", act->op->name));
    }
}

}  // namespace dls::checker
