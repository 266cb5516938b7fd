// W0716: a network with a recurrence over time (OpInfo::recurrent: rnn, gru, lstm) or attention over time
// (OpInfo::attention: multi_head_attention, cross_attention) trained without gradient clipping. Backpropagation through time
// multiplies the recurrent Jacobian once per step, so the gradient of a long sequence can grow without bound on
// one batch and throw the weights away (exploding gradients); attention's softmax over the scores q k^T grows
// sharp as the query and key weights grow, and transformers show the same loss spikes. The remedy PyTorch
// users apply to both is clip_grad_norm_ between backward() and step(), here `clip = norm(…)`.
#include <fmt/format.h>

#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkRecurrentClip(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    if (t->clip || !t->network || !t->optimizer) continue;
    const sema::Node* first = nullptr;
    for (const sema::Node& n : t->network->nodes)
      if (n.op && (n.op->recurrent || n.op->attention)) {
        first = &n;
        break;
      }
    if (!first) continue;
    const bool attention = !first->op->recurrent;
    c.diags.report(Code::W0716, t->nameSpan, t->network->name, attention ? "attention" : "recurrent", t->name)
        .primary("trains without gradient clipping")
        .label(first->nameSpan, attention ? fmt::format("`{}` mixes every time step by softmax weights that sharpen as "
                                                        "its weights grow",
                                                        first->op->name)
                                          : fmt::format("`{}` backpropagates through every time step", first->op->name))
        .help(fmt::format("add `clip = norm(1.0)` to train `{}` (torch.nn.utils.clip_grad_norm_ before the "
                          "optimizer step)",
                          t->name));
  }
}

}  // namespace dls::checker
