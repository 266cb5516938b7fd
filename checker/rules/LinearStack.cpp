// M0104: two matrix products (OpInfo::matmul) with no non-linearity between them collapse into one linear
// map. The rule follows the data flow backwards from each one (Node::inputs), through the single-input ops
// that are not non-linear (normalisation is affine, and so are views, dropout and average pooling), so a
// branch written later in the spec (a ResNet's projection shortcut) is never taken for the layer before.
#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkLinearStack(const RuleContext& c) {
  for (const auto& net : c.program.networks)
    for (const sema::Node& n : net->nodes) {
      if (!n.op->matmul || n.inputs.empty()) continue;
      const sema::Node* prev = producerOf(*net, n.inputs[0]);
      // A value joined from several paths (add, concat) or computed non-linearly ends the search.
      while (prev && !prev->op->matmul && !prev->op->nonLinear && prev->inputs.size() == 1)
        prev = producerOf(*net, prev->inputs[0]);
      if (!prev || !prev->op->matmul) continue;
      c.diags.report(Code::M0104, n.nameSpan, n.op->name, prev->op->name)
          .primary("linear layer")
          .label(prev->nameSpan, "previous linear layer, no activation after it")
          .help("add an activation between them (`|> relu`), or merge them into one layer");
    }
}

}  // namespace dls::checker
