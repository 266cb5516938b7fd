// E0805: augmentation applied to validation or test data (a pipeline used by `validate`, or reading a
// test/valid split).
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkAugmentEval(const RuleContext& c) {
  std::vector<const PipeView*> evalPipes;
  for (const TrainView& t : c.view.trains)
    if (const PipeView* v = pipelineOf(c, t, "validate")) evalPipes.push_back(v);
  for (const PipeView& p : c.view.pipelines) {
    bool eval = p.split == "test" || p.split == "valid" || p.split == "validation";
    for (auto* v : evalPipes) eval |= v == &p;
    bool trainedOn = false;
    for (const TrainView& t : c.view.trains) trainedOn |= pipelineOf(c, t, "data") == &p;
    if (!eval || trainedOn) continue;
    for (const OpUse& s : p.steps)
      if (s.augment) {
        c.diags.report(Code::E0805, s.span, p.split.empty() ? "validation" : p.split)
            .primary("augmentation")
            .label(p.sourceSpan, "evaluation data")
            .help("remove `augment …` from this pipeline: evaluate on the data as it is");
        break;
      }
  }
}

}  // namespace dls::checker
