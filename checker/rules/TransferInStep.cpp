// E0506: an explicit device transfer (`to(cuda: 0)`, `to(cpu)`, `cuda`, `cpu`) inside a network: the
// compiler places values and inserts one transfer per batch; a transfer in the network runs every step.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkTransferInStep(const RuleContext& c) {
  for (const NetView& n : c.view.networks)
    for (const OpUse& u : n.layers)
      if (u.op == "to" || u.op == "cuda" || u.op == "cpu" || u.op == "to_device")
        c.diags.report(Code::E0506, u.span, u.op, n.decl->name.name)
            .primary("transfer inside the step")
            .help("remove it and place the model with `model = " + n.decl->name.name + " on cuda:0`: the compiler moves each batch once");
}

}  // namespace dls::checker
