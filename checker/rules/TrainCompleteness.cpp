// W0709: no validation set, with the `validate = …` this spec can use; W0719: `metrics [accuracy]` on
// real-valued targets, which have no accuracy. A missing loss or optimizer is sema's (E0404, E0113), not
// repeated here.
#include <fmt/format.h>

#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

namespace {

bool classLabels(const sema::Pipeline* p) {
  if (!p) return true;  // unknown: suggest what a classifier uses
  sema::SemKind k = p->label.kind;
  return k == sema::SemKind::Class || k == sema::SemKind::OneHot || k == sema::SemKind::MultiLabel;
}

bool holdsOut(const sema::Pipeline& p) {
  for (const sema::PipeStep& s : p.steps)
    if (s.op && s.op->opcode == sema::kOpcodeSplit) return true;
  return false;
}

}  // namespace

void checkTrainCompleteness(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    const sema::Pipeline* data = t->data;
    const bool classes = classLabels(data);
    const std::string metrics = classes ? "[accuracy, loss]" : "[loss]";
    if (!t->settings.count("validate")) {
      auto& d = c.diags.report(Code::W0709, t->nameSpan, t->name).primary("no `validate = …`");
      // A pipeline over another split of the same data set, the test or validation one first.
      const sema::Pipeline* other = nullptr;
      if (data && data->dataset)
        for (const auto& p : c.program.pipelines)
          if (p.get() != data && p->dataset == data->dataset && p->split != data->split &&
              (!other || p->split == "valid" || (p->split == "test" && other->split != "valid")))
            other = p.get();
      if (other)
        d.help(fmt::format("add `validate = {} every 1 epoch metrics {}`", other->name, metrics));
      else if (data && holdsOut(*data))
        d.help(fmt::format("add `validate = {}.valid every 1 epoch metrics {}` (the samples its `split` holds out)",
                           data->name, metrics));
      else if (data)
        d.help(fmt::format("hold samples out with `split(valid: 0.1)` in pipeline `{}`, then add `validate = {}.valid "
                           "every 1 epoch metrics {}`{}",
                           data->name, data->name, metrics,
                           data->dataset ? fmt::format(" (or declare a test split in data set `{}` and a pipeline "
                                                       "that reads it)", data->dataset->name)
                                         : std::string()));
    }
    // A label whose type did not check (poisoned, or of no known kind) is not known to be real-valued.
    // A pair loss (cosine_embedding) has an accuracy of its own: the pairs'.
    bool pairLoss = false;
    for (const auto& term : t->lossTerms) pairLoss |= term.outputValue2 >= 0;
    const bool realTargets = !classes && !pairLoss && data && !data->label.poisoned && data->label.kind == sema::SemKind::Real;
    if (realTargets)
      for (const std::string& m : t->metrics)
        if (m == "accuracy") {
          auto it = t->settings.find("validate");
          Span at = it != t->settings.end() ? it->second.span : t->nameSpan;
          c.diags.report(Code::W0719, at, t->name)
              .primary("`metrics [accuracy]`")
              .note(fmt::format("the labels of `{}` are {}: no prediction is right or wrong, so no accuracy is reported",
                                data->name, data->label.kindStr()))
              .help("report the loss (`metrics [loss]`); for classes, declare the label as `class<C>`");
          break;
        }
  }
}

}  // namespace dls::checker
