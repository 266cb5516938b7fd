// E0803: `resume = "path"` naming a checkpoint that does not exist (relative to the spec).
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkResumeMissing(const RuleContext& c) {
  for (const TrainView& t : c.view.trains)
    for (const char* key : {"resume", "pretrained", "weights"}) {
      const ast::Item* r = t.item(key);
      const ast::Expr* e = r ? stripParens(r->value.get()) : nullptr;
      if (!e || e->kind != ast::ExprKind::String || pathExists(c, e->text)) continue;
      c.diags.report(Code::E0803, e->span, e->text)
          .primary("no such file or directory")
          .note("looked for `" + resolvePath(c, e->text) + "`")
          .help("point it at an existing checkpoint (paths are relative to the spec), or remove it to train from scratch");
    }
}

}  // namespace dls::checker
