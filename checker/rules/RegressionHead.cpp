// M0105: a network declared to return real values (a regression head) trained on class labels.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkRegressionHead(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const NetView* n = modelOf(c, t);
    const PipeView* p = pipelineOf(c, t, "data");
    const DataView* d = p ? datasetOf(c, *p) : nullptr;
    if (!n || !d || !d->label || !d->label->type || n->outKind != "real") continue;
    const std::string& lk = d->label->type->base.name;
    if (lk != "class" && lk != "onehot") continue;
    c.diags.report(Code::M0105, n->decl->returns->span, "real", lk)
        .primary("regression output")
        .label(d->label->type->span, "the labels are classes")
        .help("return `logits[N, C]` with one unit per class and train with `cross_entropy`");
  }
}

}  // namespace dls::checker
