// W0709: no validation set. A missing loss or optimizer is sema's (E0404, E0113), not repeated here.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkTrainCompleteness(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const ast::Decl& d = *t.decl;
    if (!t.item("validate"))
      c.diags.report(Code::W0709, d.name.span, d.name.name)
          .primary("no `validate = …`")
          .help("add `validate = test_input every 1 epoch metrics [accuracy, loss]`");
  }
}

}  // namespace dls::checker
