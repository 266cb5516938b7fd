// E0603: shuffle after batch (only whole batches move) or after repeat (epochs mix).
#include "checker/Flow.h"

namespace dls::checker {

void checkShufflePosition(const RuleContext& c) {
  for (const auto& p : c.program.pipelines) {
    const sema::PipeStep* batch = nullptr;
    const sema::PipeStep* repeat = nullptr;
    for (const sema::PipeStep& s : p->steps) {
      if (s.name == "batch" && !batch) batch = &s;
      if (s.name == "repeat" && !repeat) repeat = &s;
      if (s.name != "shuffle") continue;
      const sema::PipeStep* before = batch ? batch : repeat;
      if (!before) continue;
      c.diags.report(Code::E0603, s.span, before->name, batch ? "the order of whole batches" : "across epoch boundaries")
          .primary("shuffle here")
          .label(before->span, "comes after this")
          .help("move `" + s.name + "` before `" + before->name + "`");
    }
  }
}

}  // namespace dls::checker
