// W0806: the same augmentation twice in one pipeline.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkAugmentTwice(const RuleContext& c) {
  for (const PipeView& p : c.view.pipelines) {
    std::map<std::string, const OpUse*> seen;
    for (const OpUse& s : p.steps) {
      if (!s.augment) continue;
      auto [it, fresh] = seen.emplace(s.op, &s);
      if (fresh) continue;
      c.diags.report(Code::W0806, s.span, s.op, p.decl->name.name)
          .primary("again")
          .label(it->second->span, "first applied here")
          .help("remove one of them");
    }
  }
}

}  // namespace dls::checker
