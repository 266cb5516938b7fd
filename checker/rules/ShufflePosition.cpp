// E0603: shuffle after batch (only whole batches move) or after repeat (epochs mix).
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkShufflePosition(const RuleContext& c) {
  for (const PipeView& p : c.view.pipelines) {
    const OpUse* batch = nullptr;
    const OpUse* repeat = nullptr;
    for (const OpUse& s : p.steps) {
      if (s.op == "batch" && !batch) batch = &s;
      if (s.op == "repeat" && !repeat) repeat = &s;
      if (s.op != "shuffle") continue;
      const OpUse* before = batch ? batch : repeat;
      if (!before) continue;
      c.diags.report(Code::E0603, s.span, before->op, batch ? "the order of whole batches" : "across epoch boundaries")
          .primary("shuffle here")
          .label(before->span, "comes after this")
          .help("move `" + std::string(s.op) + "` before `" + before->op + "`");
    }
  }
}

}  // namespace dls::checker
