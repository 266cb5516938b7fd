// E0706: a data set that declares a mask (`label valid: mask[T]`) whose loss takes no `mask:`.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkUnmaskedLoss(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const PipeView* p = pipelineOf(c, t, "data");
    const DataView* d = p ? datasetOf(c, *p) : nullptr;
    const ast::Item* loss = t.item("loss");
    if (!d || d->masks.empty() || !loss) continue;
    auto u = asOp(loss->value.get());
    if (!u || u->arg("mask")) continue;
    c.diags.report(Code::E0706, u->span, d->masks[0]->key.name)
        .primary("no mask")
        .label(d->masks[0]->span, "invalid positions are marked here")
        .help("pass it: `" + u->op + "(…, mask: " + d->masks[0]->key.name + ")`");
  }
}

}  // namespace dls::checker
