// W0709: no validation set. A missing loss or optimizer is sema's (E0404, E0113), not repeated here.
#include "checker/Flow.h"

namespace dls::checker {

void checkTrainCompleteness(const RuleContext& c) {
  for (const auto& t : c.program.trains)
    if (!t->settings.count("validate"))
      c.diags.report(Code::W0709, t->nameSpan, t->name)
          .primary("no `validate = …`")
          .help("add `validate = test_input every 1 epoch metrics [accuracy, loss]`");
}

}  // namespace dls::checker
