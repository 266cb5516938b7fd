// W0712: u8 samples converted to floats but never rescaled (no step with OpInfo::rescales: scale, normalize,
// standardize, min_max). From the spec alone the inputs range over u8's [0, 255]; with `check --data` the
// data rule (DataQuality.cpp) reads the split the pipeline takes and reports the range its values actually
// have after the pipeline (no step of it but the rescaling ones changes a value), and nothing when they are
// already small (at most kSmallInput: a u8 mask of 0 and 1 needs no scaling).
#include <fmt/format.h>

#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

// The step that converts a pipeline's u8 samples to floats, when no step rescales them; else nullptr.
const sema::PipeStep* unscaledConversion(const sema::Pipeline& p) {
  const sema::Dataset* d = p.dataset;
  if (!d || d->sample.poisoned || d->sample.dtype != sema::DType::U8) return nullptr;
  const sema::PipeStep* conv = nullptr;
  bool scaled = false;
  for (const sema::PipeStep& s : p.steps) {
    if (s.field != d->sampleName) continue;
    const bool toFloat = s.after.dtype == sema::DType::F32 || s.after.dtype == sema::DType::F16 ||
                         s.after.dtype == sema::DType::BF16;  // indices (to_i32) are not rescaled
    if (s.before.dtype == sema::DType::U8 && toFloat && !s.after.poisoned) conv = &s;
    if (s.op->rescales) scaled = true;
  }
  return scaled ? nullptr : conv;
}

// Whether `check --data` reads this pipeline's data set (DataQuality.cpp visits every data set with a label).
bool dataRuleReads(const RuleContext& c, const sema::Pipeline& p) {
  return c.options.data && p.dataset && !p.dataset->labelName.empty() && !p.dataset->label.poisoned;
}

void reportUnscaledInput(const RuleContext& c, const sema::Pipeline& p, const sema::PipeStep& conv, const std::string& range) {
  Span name{conv.span.file, conv.span.begin, conv.span.begin + static_cast<uint32_t>(conv.name.size())};
  c.diags.report(Code::W0712, name, p.dataset->sampleName, range)
      .primary("converted, not scaled")
      .help("add `|> scale(1/255)` (and `normalize(mean: …, std: …)`)");
}

void checkUnscaledInput(const RuleContext& c) {
  for (const auto& p : c.program.pipelines) {
    const sema::PipeStep* conv = unscaledConversion(*p);
    if (!conv || dataRuleReads(c, *p)) continue;
    reportUnscaledInput(c, *p, *conv, "[0, 255] (u8's range; `dlspec check --data` reads the values the data have)");
  }
}

}  // namespace dls::checker
