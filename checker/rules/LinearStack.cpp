// M0104: two weight layers with no non-linearity between them collapse into one linear map.
#include "checker/NetShapes.h"
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkLinearStack(const RuleContext& c) {
  for (const NetView& n : c.view.networks) {
    const OpUse* prev = nullptr;
    for (const OpUse& u : n.layers) {
      LayerClass cls = classify(u.op);
      if (cls == LayerClass::Weight && u.op != "embedding") {
        if (prev)
          c.diags.report(Code::M0104, u.nameSpan, u.op, prev->op)
              .primary("linear layer")
              .label(prev->nameSpan, "previous linear layer, no activation after it")
              .help("add an activation between them (`|> relu`), or merge them into one layer");
        prev = &u;
      } else if (isNonLinear(u.op) || cls == LayerClass::Other) {
        prev = nullptr;  // a non-linearity, or an op (add, concat) that may join other paths; a normalisation
                         // layer is affine, so it does not separate two linear layers
      }
    }
  }
}

}  // namespace dls::checker
