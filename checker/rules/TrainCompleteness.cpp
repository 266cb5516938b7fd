// E0707: no loss. E0708: no optimizer. W0709: no validation set. A train block needs all three.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkTrainCompleteness(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const ast::Decl& d = *t.decl;
    if (!t.item("loss"))
      c.diags.report(Code::E0707, d.name.span, d.name.name)
          .primary("no `loss = …`")
          .help("add `loss = cross_entropy(model.out, kind)` (or the loss that fits the labels)");
    if (!t.item("optimizer"))
      c.diags.report(Code::E0708, d.name.span, d.name.name)
          .primary("no `optimizer = …`")
          .help("add `optimizer = sgd(lr: 0.01, momentum: 0.9)`");
    if (!t.item("validate"))
      c.diags.report(Code::W0709, d.name.span, d.name.name)
          .primary("no `validate = …`")
          .help("add `validate = test_input every 1 epoch metrics [accuracy, loss]`");
  }
}

}  // namespace dls::checker
