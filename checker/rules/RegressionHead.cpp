// M0105: a network declared to return real values (a regression head) trained on class labels.
#include "checker/Flow.h"

namespace dls::checker {

void checkRegressionHead(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    const sema::Network* n = t->network;
    const sema::Dataset* d = t->data ? t->data->dataset : nullptr;
    if (!n || !d || d->label.poisoned || d->labelName.empty()) continue;
    if (d->label.kind != sema::SemKind::Class && d->label.kind != sema::SemKind::OneHot) continue;
    // The outputs compared with the labels: each loss term's whose target is the label field (a term whose target is
    // the sample field, an autoencoder's, is a regression on purpose), or the one output without a loss.
    std::vector<std::pair<const sema::Type*, Span>> outs;
    for (const auto& term : t->lossTerms) {
      if (term.targetIsSample || term.target.empty()) continue;  // (an unresolved target is E0136 already)
      if (const sema::Network::Output* o = term.output.empty() ? nullptr : n->findOutput(term.output))
        outs.push_back({&o->declared, o->declaredSpan});
      else
        outs.push_back({&n->declaredOutput, n->declaredOutputSpan});
    }
    if (t->lossTerms.empty()) outs.push_back({&n->declaredOutput, n->declaredOutputSpan});
    for (size_t i = 0; i < outs.size(); ++i) {
      const auto& [type, span] = outs[i];
      bool seen = false;
      for (size_t j = 0; j < i; ++j) seen |= outs[j].second.begin == span.begin;
      if (seen || type->poisoned || !span.valid() || type->kind != sema::SemKind::Real) continue;
      c.diags.report(Code::M0105, span, "real", sema::semKindName(d->label.kind))
          .primary("regression output")
          .label(d->labelTypeSpan, "the labels are classes")
          .help("return `logits[N, C]` with one unit per class and train with `cross_entropy`");
    }
  }
}

}  // namespace dls::checker
