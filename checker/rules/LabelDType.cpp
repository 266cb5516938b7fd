// E0507: class labels converted to a float dtype in the pipeline (a wrong-dtype transfer of labels): a step
// on the label field whose output is floating point while its input was not.
#include "checker/Flow.h"

namespace dls::checker {

namespace {
bool isFloat(sema::DType d) { return d == sema::DType::F32 || d == sema::DType::F16 || d == sema::DType::BF16; }
}  // namespace

void checkLabelDType(const RuleContext& c) {
  for (const auto& p : c.program.pipelines) {
    const sema::Dataset* d = p->dataset;
    if (!d || d->labelName.empty() || d->label.poisoned || d->label.kind != sema::SemKind::Class) continue;
    for (const sema::PipeStep& s : p->steps)
      if (s.field == d->labelName && !s.before.poisoned && !s.after.poisoned && isFloat(s.after.dtype) &&
          !isFloat(s.before.dtype))
        c.diags.report(Code::E0507, s.span, sema::dtypeName(s.after.dtype))
            .primary("float labels")
            .label(d->labelTypeSpan, "class indices")
            .help("remove `|> " + s.name + "`: class labels stay integers (use `onehot` for one-hot targets)");
  }
}

}  // namespace dls::checker
