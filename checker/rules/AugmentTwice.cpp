// W0806: the same augmentation twice in one pipeline.
#include <map>

#include "checker/Flow.h"

namespace dls::checker {

void checkAugmentTwice(const RuleContext& c) {
  for (const auto& p : c.program.pipelines) {
    std::map<const sema::OpInfo*, const sema::PipeStep*> seen;
    for (const sema::PipeStep& s : p->steps) {
      if (!s.augment) continue;
      auto [it, fresh] = seen.emplace(s.op, &s);
      if (fresh) continue;
      c.diags.report(Code::W0806, s.span, s.name, p->name)
          .primary("again")
          .label(it->second->span, "first applied here")
          .help("remove one of them");
    }
  }
}

}  // namespace dls::checker
