// E0805: augmentation applied to validation or test data (a pipeline used by `validate`, or reading a
// test/valid split, that no train block trains on).
#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkAugmentEval(const RuleContext& c) {
  for (const auto& p : c.program.pipelines) {
    bool eval = p->split == "test" || p->split == "valid" || p->split == "validation";
    bool trainedOn = false;
    for (const auto& t : c.program.trains) {
      eval |= t->validate == p.get() && !t->validateHeldOut;
      trainedOn |= t->data == p.get();
    }
    if (!eval || trainedOn) continue;
    for (const sema::PipeStep& s : p->steps)
      if (s.augment || (s.op && s.op->augmentation)) {
        c.diags.report(Code::E0805, s.span, p->split.empty() ? "validation" : p->split)
            .primary("augmentation")
            .label(p->sourceSpan, "evaluation data")
            .help("remove `augment …` from this pipeline: evaluate on the data as it is");
        break;
      }
  }
}

}  // namespace dls::checker
