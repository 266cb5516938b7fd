// E0507: class labels converted to a float dtype in the pipeline (a wrong-dtype transfer of labels).
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkLabelDType(const RuleContext& c) {
  for (const PipeView& p : c.view.pipelines) {
    const DataView* d = datasetOf(c, p);
    if (!d || !d->label || !d->label->type || d->label->type->base.name != "class") continue;
    const std::string& lname = d->label->key.name;
    for (const OpUse& s : p.steps)
      if (s.field == lname && (s.op == "to_f32" || s.op == "to_f16" || s.op == "to_bf16"))
        c.diags.report(Code::E0507, s.nameSpan, s.op.substr(3))
            .primary("float labels")
            .label(d->label->type->span, "class indices")
            .help("remove `|> " + s.op + "`: class labels stay integers (use `onehot` for one-hot targets)");
  }
}

}  // namespace dls::checker
