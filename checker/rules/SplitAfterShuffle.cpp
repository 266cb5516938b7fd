// W0604: a validation split taken after an unseeded shuffle.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkSplitAfterShuffle(const RuleContext& c) {
  bool globalSeed = false;
  for (const TrainView& t : c.view.trains) globalSeed |= t.item("seed") != nullptr;
  for (const PipeView& p : c.view.pipelines) {
    const OpUse* shuffle = nullptr;
    for (const OpUse& s : p.steps) {
      if (s.op == "shuffle" && !s.arg("seed") && !globalSeed) shuffle = &s;
      if (s.op == "split" && shuffle) {
        c.diags.report(Code::W0604, s.span)
            .primary("split")
            .label(shuffle->span, "unseeded shuffle")
            .help("give the shuffle a seed (`shuffle(buffer: all, seed: 1)`) or set `seed = …` in the train block");
        break;
      }
    }
  }
}

}  // namespace dls::checker
