// W0715: a train block that validates on the samples it trains on (both pipelines read the same split of
// the same data set). Its validation metrics then measure how well the model fits, not how it generalises,
// and the guards that read them (overfitting, R0106) cannot fire. The held-out samples of the training
// pipeline, `validate = train_input.valid` (split(valid: f)), are the intended way to validate without a
// separate split.
#include <fmt/format.h>

#include "checker/Flow.h"

namespace dls::checker {

void checkValidateOnTraining(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    const sema::Pipeline* train = t->data;
    const sema::Pipeline* valid = t->validate;
    if (!train || !valid || t->validateHeldOut || !train->dataset || valid->dataset != train->dataset ||
        train->split.empty() || train->split != valid->split)
      continue;
    bool holdsOut = false;
    for (const sema::PipeStep& s : train->steps) holdsOut |= s.name == "split";
    const std::string& ds = train->dataset->name;
    auto& d = c.diags.report(Code::W0715, t->validateSetting.valueSpan, t->name, ds + "." + train->split);
    d.primary(fmt::format("`{}` reads {}.{}", valid->name, ds, valid->split))
        .label(t->dataSetting.valueSpan, fmt::format("trained on {}.{}", ds, train->split));
    if (holdsOut)
      d.help(fmt::format("validate on the samples `{}` holds out: `validate = {}.valid`", train->name, train->name));
    else
      d.help(fmt::format("validate on a test split, or hold training samples out: `split(valid: 0.1)` in `{}` and "
                         "`validate = {}.valid`",
                         train->name, train->name));
  }
}

}  // namespace dls::checker
