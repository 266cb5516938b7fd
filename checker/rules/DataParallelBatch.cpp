// E0503: a batch not divisible by the number of data-parallel devices.
// E0504: a per-device batch of 1 under a normalisation over batch statistics (OpInfo::batchStatistics).
#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkDataParallelBatch(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    const sema::Pipeline* p = t->data;
    if (!t->placementSpan.valid() || !p || !p->batch) continue;
    int64_t devices = static_cast<int64_t>(t->devices.size()), batch = *p->batch;
    if (batch <= 0 || devices < 1) continue;
    if (devices > 1 && batch % devices != 0) {
      c.diags.report(Code::E0503, p->batchSpan, batch, devices)
          .primary("batch size")
          .label(t->placementSpan, "data-parallel devices")
          .help("use a batch that is a multiple of " + std::to_string(devices));
      continue;
    }
    if (batch / devices != 1 || !t->network) continue;
    for (const sema::Node& n : t->network->nodes)
      if (n.op->batchStatistics) {
        c.diags.report(Code::E0504, p->batchSpan, devices, n.op->name)
            .primary("one sample per device")
            .label(n.nameSpan, "batch statistics over one sample")
            .help("raise the batch size, or use `layer_norm`/`group_norm`");
        break;
      }
  }
}

}  // namespace dls::checker
