// W0736: cosine_embedding(model.a, model.b, t, margin: m) with m < 0 on two outputs that are never negative (the
// last layer of each an activation with OpInfo::nonNegative, relu, relu6, softplus, hardsigmoid, or a sigmoid or
// softmax output). The cosine of two vectors of non-negative entries is at least 0, so a pair labelled -1, whose loss
// is max(0, cos - m), never gets below -m: its loss never reaches 0 and keeps pushing the embeddings apart (towards
// orthogonal, sparse vectors) however well the pairs are already told apart.
#include <fmt/format.h>

#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkCosineMargin(const RuleContext& c) {
  for (const auto& t : c.program.trains)
    for (const auto& term : t->lossTerms) {
      if (!t->network || term.outputValue < 0 || term.outputValue2 < 0) continue;
      auto it = term.call.args.find("margin");
      if (it == term.call.args.end()) continue;
      double margin = 0;
      if (const double* d = std::get_if<double>(&it->second.value)) margin = *d;
      else if (const int64_t* i = std::get_if<int64_t>(&it->second.value)) margin = double(*i);
      if (!(margin < 0)) continue;
      const double* m = &margin;
      const sema::Network& net = *t->network;
      // Whether an output's entries are never negative, and the layer that makes them so.
      auto nonNegative = [&](int v) -> const sema::Node* {
        const sema::Node* p = producerOf(net, v);
        if (!p || !p->op) return nullptr;
        const sema::SemKind k = net.values[size_t(v)].type.kind;
        return p->op->nonNegative || k == sema::SemKind::Probs || k == sema::SemKind::SigmoidProbs ? p : nullptr;
      };
      const sema::Node* a = nonNegative(term.outputValue);
      const sema::Node* b = nonNegative(term.outputValue2);
      if (!a || !b) continue;
      c.diags.report(Code::W0736, it->second.span, fmt::format("{}", *m), a->op->name)
          .primary("a margin below 0")
          .label(a->span, "outputs 0 or more")
          .label(b->span, "outputs 0 or more")
          .note(fmt::format("a pair labelled -1 costs max(0, cos - ({})); with entries of 0 or more the cosine is at least 0, "
                            "so that loss never falls below {} and keeps pushing such pairs apart",
                            *m, -*m))
          .help(fmt::format("remove the final `|> {}` from the embeddings, or take `margin: 0` or more", a->op->name));
    }
}

}  // namespace dls::checker
