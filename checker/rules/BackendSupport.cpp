// E0505: an op the chosen backend cannot run: host-only ops (image decoding, random augmentation) used
// inside a network placed on a GPU.
#include <set>

#include "checker/RuleSupport.h"

namespace dls::checker {

bool isHostOnlyOp(const std::string& op) {
  static const std::set<std::string> host = {"decode_jpeg", "decode_png", "decode_image", "random_crop",
                                             "random_flip", "random_rotation", "color_jitter", "resize_image"};
  return host.count(op) != 0;
}

void checkBackendSupport(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const ast::Clause* on = onClause(t.item("model"));
    const NetView* n = modelOf(c, t);
    if (!on || !n || on->devices.empty() || on->devices[0].name.name != "cuda") continue;
    for (const OpUse& u : n->layers)
      if (isHostOnlyOp(u.op))
        c.diags.report(Code::E0505, u.nameSpan, u.op, "the CUDA backend")
            .primary("host-only op")
            .label(on->span, "the network runs here")
            .help("move `" + u.op + "` into the input pipeline, which runs on the CPU");
  }
}

}  // namespace dls::checker
