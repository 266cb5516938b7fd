// W0714: a training pipeline that never shuffles.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkMissingShuffle(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const PipeView* p = pipelineOf(c, t, "data");
    if (!p) continue;
    bool shuffled = false;
    for (const OpUse& s : p->steps) shuffled |= s.op == "shuffle";
    if (shuffled) continue;
    c.diags.report(Code::W0714, p->decl->name.span, p->decl->name.name)
        .primary("no shuffle")
        .label(t.item("data")->span, "used for training here")
        .help("add `shuffle(buffer: all)` before `batch(…)`");
  }
}

}  // namespace dls::checker
