// W0716: a network with a recurrence over time (OpInfo::recurrent: rnn, gru, lstm) trained without gradient
// clipping. Backpropagation through time multiplies the recurrent Jacobian once per step, so the gradient
// of a long sequence can grow without bound on one batch and throw the weights away (exploding gradients);
// the remedy PyTorch users apply is clip_grad_norm_ between backward() and step(), here `clip = norm(…)`.
#include <fmt/format.h>

#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkRecurrentClip(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    if (t->clip || !t->network || !t->optimizer) continue;
    const sema::Node* first = nullptr;
    for (const sema::Node& n : t->network->nodes)
      if (n.op && n.op->recurrent) {
        first = &n;
        break;
      }
    if (!first) continue;
    c.diags.report(Code::W0716, t->nameSpan, t->network->name, t->name)
        .primary("trains without gradient clipping")
        .label(first->nameSpan, fmt::format("`{}` backpropagates through every time step", first->op->name))
        .help(fmt::format("add `clip = norm(1.0)` to train `{}` (torch.nn.utils.clip_grad_norm_ before the "
                          "optimizer step)",
                          t->name));
  }
}

}  // namespace dls::checker
