// M0102: initialisers mismatched to the activations, judged by the signal-propagation estimate.
#include <cmath>
#include <fmt/format.h>

#include "checker/RuleSupport.h"
#include "checker/SignalPropagation.h"

namespace dls::checker {

void checkInitVariance(const RuleContext& c) {
  for (const NetView& n : c.view.networks) {
    NetFacts f = analyzeNet(n);
    VarianceEstimate v = estimateVariance(n, f);
    if (!v.judged || (v.ratio >= 1e-3 && v.ratio <= 1e3)) continue;
    Span at = n.decl->name.span;
    for (const OpUse& u : n.layers)
      if (u.arg("init")) { at = u.argSpans.at("init"); break; }
    c.diags.report(Code::M0102, at, fmt::format("{:.2g}", v.ratio), v.weightLayers)
        .primary(v.ratio < 1 ? "the signal vanishes with depth" : "the signal explodes with depth")
        .label(n.decl->name.span, "in this network")
        .help("use `init: he` for layers followed by ReLU and `init: glorot` for tanh/sigmoid, or add batch_norm");
  }
}

}  // namespace dls::checker
