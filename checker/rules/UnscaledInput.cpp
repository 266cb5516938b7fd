// W0712: u8 samples converted to floats but never rescaled (no step with OpInfo::rescales: scale, normalize).
#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkUnscaledInput(const RuleContext& c) {
  for (const auto& p : c.program.pipelines) {
    const sema::Dataset* d = p->dataset;
    if (!d || d->sample.poisoned || d->sample.dtype != sema::DType::U8) continue;
    const sema::PipeStep* conv = nullptr;
    bool scaled = false;
    for (const sema::PipeStep& s : p->steps) {
      if (s.field != d->sampleName) continue;
      const bool toFloat = s.after.dtype == sema::DType::F32 || s.after.dtype == sema::DType::F16 ||
                           s.after.dtype == sema::DType::BF16;  // indices (to_i32) are not rescaled
      if (s.before.dtype == sema::DType::U8 && toFloat && !s.after.poisoned) conv = &s;
      if (s.op->rescales) scaled = true;
    }
    if (!conv || scaled) continue;
    Span name{conv->span.file, conv->span.begin, conv->span.begin + static_cast<uint32_t>(conv->name.size())};
    c.diags.report(Code::W0712, name, d->sampleName)
        .primary("converted, not scaled")
        .help("add `|> scale(1/255)` (and `normalize(mean: …, std: …)`)");
  }
}

}  // namespace dls::checker
