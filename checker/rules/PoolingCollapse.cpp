// M0112: pooling (OpInfo::pooling) that shrinks the feature map to 1x1 while layers that read the spatial
// axes (OpInfo::spatial: convolutions, pooling) still follow along the data flow. The shapes are sema's, so
// every way of writing the window (`maxpool(28)`, `maxpool(kernel: 28)`), and the dilation, groups and
// padding of the layers before it, count.
#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkPoolingCollapse(const RuleContext& c) {
  for (const auto& net : c.program.networks) {
    std::vector<std::vector<int>> users;
    for (const sema::Node& n : net->nodes) {
      if (!n.op->pooling) continue;
      const sema::Shape& s = net->values[static_cast<size_t>(n.output)].type.shape;
      if (s.unknownRank || s.rank() < 3) continue;
      bool collapsed = true;
      for (size_t k = 2; k < s.rank(); ++k) collapsed &= s.dims[k].isConst() && s.dims[k].value == 1;
      if (!collapsed) continue;
      if (users.empty()) users = consumers(*net);
      int spatialAfter = 0;
      for (int id : descendants(*net, users, n.output)) spatialAfter += net->nodes[static_cast<size_t>(id)].op->spatial;
      if (!spatialAfter) continue;
      c.diags.report(Code::M0112, n.span, n.op->name, spatialAfter)
          .primary("the feature map is 1x1 from here on")
          .help("remove a pooling layer or pool with a smaller window, so that later convolutions see spatial structure");
      break;
    }
  }
}

}  // namespace dls::checker
