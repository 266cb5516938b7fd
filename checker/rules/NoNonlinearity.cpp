// M0106: a network with several weight layers and no non-linearity anywhere is a linear model.
#include "checker/NetShapes.h"
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkNoNonlinearity(const RuleContext& c) {
  for (const NetView& n : c.view.networks) {
    int weights = 0;
    bool nonlinear = false;
    for (const OpUse& u : n.layers) {
      if (classify(u.op) == LayerClass::Weight) ++weights;
      if (isNonLinear(u.op) && u.op != "softmax" && u.op != "log_softmax") nonlinear = true;
      if (classify(u.op) == LayerClass::Other) nonlinear = true;  // unknown ops: do not judge
    }
    if (weights < 3 || nonlinear) continue;
    c.diags.report(Code::M0106, n.decl->name.span, n.decl->name.name, weights)
        .primary("no activation in this network")
        .help("add an activation after each hidden layer (`|> relu`)");
  }
}

}  // namespace dls::checker
