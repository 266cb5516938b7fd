// W0714: a training pipeline that never shuffles.
#include "checker/Flow.h"

namespace dls::checker {

void checkMissingShuffle(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    const sema::Pipeline* p = t->data;
    if (!p) continue;
    bool shuffled = false;
    for (const sema::PipeStep& s : p->steps) shuffled |= s.name == "shuffle";
    if (shuffled) continue;
    c.diags.report(Code::W0714, p->nameSpan, p->name)
        .primary("no shuffle")
        .label(t->dataSetting.span, "used for training here")
        .help("add `shuffle(buffer: all)` before `batch(…)`");
  }
}

}  // namespace dls::checker
