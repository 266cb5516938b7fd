// M0111: `bias: false` with no normalisation layer after it (whose shift would replace the bias).
#include "checker/NetShapes.h"
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkMissingBias(const RuleContext& c) {
  for (const NetView& n : c.view.networks)
    for (size_t i = 0; i < n.layers.size(); ++i) {
      const OpUse& u = n.layers[i];
      if (classify(u.op) != LayerClass::Weight || nameArg(u, "bias") != "false") continue;
      bool normalised = false;
      for (size_t j = i + 1; j < n.layers.size(); ++j) {
        LayerClass cls = classify(n.layers[j].op);
        if (cls == LayerClass::Norm) { normalised = true; break; }
        if (cls != LayerClass::Dropout && cls != LayerClass::Shape) break;
      }
      if (normalised) continue;
      c.diags.report(Code::M0111, u.argSpans.at("bias"), u.op)
          .primary("no bias")
          .help("remove `bias: false`, or follow the layer with `batch_norm`/`layer_norm`");
    }
}

}  // namespace dls::checker
