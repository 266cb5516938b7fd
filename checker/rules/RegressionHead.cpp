// M0105: a network declared to return real values (a regression head) trained on class labels.
#include "checker/Flow.h"

namespace dls::checker {

void checkRegressionHead(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    const sema::Network* n = t->network;
    const sema::Dataset* d = t->data ? t->data->dataset : nullptr;
    if (!n || !d || n->declaredOutput.poisoned || !n->declaredOutputSpan.valid() || d->label.poisoned ||
        d->labelName.empty() || n->declaredOutput.kind != sema::SemKind::Real)
      continue;
    if (d->label.kind != sema::SemKind::Class && d->label.kind != sema::SemKind::OneHot) continue;
    c.diags.report(Code::M0105, n->declaredOutputSpan, "real", sema::semKindName(d->label.kind))
        .primary("regression output")
        .label(d->labelTypeSpan, "the labels are classes")
        .help("return `logits[N, C]` with one unit per class and train with `cross_entropy`");
  }
}

}  // namespace dls::checker
