// W0712: u8 samples converted to floats but never scaled or normalised.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkUnscaledInput(const RuleContext& c) {
  for (const PipeView& p : c.view.pipelines) {
    const DataView* d = datasetOf(c, p);
    if (!d || !d->sample || !d->sample->type || d->sample->type->base.name != "u8") continue;
    const OpUse* conv = nullptr;
    bool scaled = false;
    for (const OpUse& s : p.steps) {
      if (s.field != d->sample->key.name) continue;
      if (s.op == "to_f32" || s.op == "to_f16") conv = &s;
      if (s.op == "scale" || s.op == "normalize" || s.op == "standardize" || s.op == "to_unit") scaled = true;
    }
    if (!conv || scaled) continue;
    c.diags.report(Code::W0712, conv->nameSpan, d->sample->key.name)
        .primary("converted, not scaled")
        .help("add `|> scale(1/255)` (and `normalize(mean: …, std: …)`)");
  }
}

}  // namespace dls::checker
