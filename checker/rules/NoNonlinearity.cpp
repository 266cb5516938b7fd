// M0106: a network with several weight layers and no non-linearity anywhere is a linear model. The
// probabilities at the end (softmax: OpInfo::outputOnly) do not count as a hidden non-linearity.
#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkNoNonlinearity(const RuleContext& c) {
  for (const auto& net : c.program.networks) {
    int weights = 0;
    bool nonlinear = false;
    for (const sema::Node& n : net->nodes) {
      if (n.op->hasWeights) ++weights;
      if (n.op->nonLinear && !n.op->outputOnly) nonlinear = true;
    }
    if (weights < 3 || nonlinear) continue;
    c.diags.report(Code::M0106, net->nameSpan, net->name, weights)
        .primary("no activation in this network")
        .help("add an activation after each hidden layer (`|> relu`)");
  }
}

}  // namespace dls::checker
