// M0101: weights initialised to a constant (zeros, ones, constant(c)) — every unit stays identical.
#include "checker/RuleSupport.h"
#include "checker/NetShapes.h"

namespace dls::checker {

void checkConstantInit(const RuleContext& c) {
  for (const NetView& n : c.view.networks)
    for (const OpUse& u : n.layers) {
      if (classify(u.op) != LayerClass::Weight) continue;
      std::string init = nameArg(u, "init");
      if (init != "zeros" && init != "ones" && init != "constant") continue;
      c.diags.report(Code::M0101, u.argSpans.at("init"), u.op, init)
          .primary("constant initialiser")
          .note("identical weights receive identical gradients: the units never become different (symmetry)")
          .help("remove `init:` (the default is matched to the activation), or use `init: he` before ReLU and `init: glorot` before tanh/sigmoid");
    }
}

}  // namespace dls::checker
