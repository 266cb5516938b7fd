// E0503: a batch not divisible by the number of data-parallel devices.
// E0504: a per-device batch of 1 under batch normalisation.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkDataParallelBatch(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const ast::Clause* on = onClause(t.item("model"));
    const PipeView* p = pipelineOf(c, t, "data");
    if (!on || !p) continue;
    int64_t devices = static_cast<int64_t>(on->devices.size());
    Span bspan;
    auto batch = batchOf(*p, &bspan);
    if (!batch || *batch <= 0 || devices < 1) continue;
    if (devices > 1 && *batch % devices != 0) {
      c.diags.report(Code::E0503, bspan, *batch, devices)
          .primary("batch size")
          .label(on->span, "data-parallel devices")
          .help("use a batch that is a multiple of " + std::to_string(devices));
      continue;
    }
    if (*batch / devices != 1) continue;
    const NetView* n = modelOf(c, t);
    if (!n) continue;
    for (const OpUse& u : n->layers)
      if (u.op == "batch_norm") {
        c.diags.report(Code::E0504, bspan, devices, "batch_norm")
            .primary("one sample per device")
            .label(u.nameSpan, "batch statistics over one sample")
            .help("raise the batch size, or use `layer_norm`/`group_norm`");
        break;
      }
  }
}

}  // namespace dls::checker
