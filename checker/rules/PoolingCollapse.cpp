// M0112: pooling that shrinks the feature map to 1x1 while convolutions or pooling still follow.
#include "checker/NetShapes.h"
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkPoolingCollapse(const RuleContext& c) {
  for (const NetView& n : c.view.networks) {
    NetFacts f = analyzeNet(n);
    for (size_t i = 0; i < n.layers.size() && i < f.layers.size(); ++i) {
      const LayerFacts& L = f.layers[i];
      if (L.cls != LayerClass::Pool || n.layers[i].op.rfind("global", 0) == 0 || !L.shapeKnown) continue;
      if (L.outShape.size() < 2) continue;
      bool collapsed = true;
      for (size_t k = 1; k < L.outShape.size(); ++k) collapsed &= L.outShape[k] == 1;
      if (!collapsed) continue;
      int spatialAfter = 0;
      for (size_t j = i + 1; j < n.layers.size(); ++j) {
        const std::string& op = n.layers[j].op;
        if (op.rfind("conv", 0) == 0 || classify(op) == LayerClass::Pool) ++spatialAfter;
      }
      if (!spatialAfter) continue;
      c.diags.report(Code::M0112, n.layers[i].span, n.layers[i].op, spatialAfter)
          .primary("the feature map is 1x1 from here on")
          .help("remove a pooling layer or pool with a smaller window, so that later convolutions see spatial structure");
      break;
    }
  }
}

}  // namespace dls::checker
