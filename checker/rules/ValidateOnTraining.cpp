// W0715: a train block that validates on the samples it trains on (both pipelines read the same split of
// the same data set). Its validation metrics then measure how well the model fits, not how it generalises,
// and the guards that read them (overfitting, R0106) cannot fire. The held-out samples of the training
// pipeline, `validate = train_input.valid` (split(valid: f)), are the intended way to validate without a
// separate split.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkValidateOnTraining(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const ast::Item* data = t.item("data");
    const ast::Item* validate = t.item("validate");
    if (!data || !validate) continue;
    const PipeView* train = c.view.pipeline(nameOf(data->value.get()));
    const std::string vname = nameOf(validate->value.get());
    const PipeView* valid = c.view.pipeline(vname);
    if (!valid && vname.find('.') != std::string::npos) {
      const std::string head = vname.substr(0, vname.find('.')), tail = vname.substr(vname.find('.') + 1);
      if (c.view.pipeline(head)) continue;  // pipeline.valid: the held-out samples
      for (const PipeView& p : c.view.pipelines)  // dataset.split: the pipeline reading it
        if (p.dataset == head && p.split == tail) valid = &p;
    }
    if (!train || !valid || train->dataset.empty() || train->dataset != valid->dataset || train->split != valid->split)
      continue;
    bool holdsOut = false;
    for (const OpUse& s : train->steps) holdsOut |= s.op == "split";
    auto& d = c.diags.report(Code::W0715, validate->value->span, t.decl->name.name,
                             train->dataset + "." + train->split);
    d.primary(fmt::format("`{}` reads {}.{}", valid->decl->name.name, valid->dataset, valid->split))
        .label(data->value->span, fmt::format("trained on {}.{}", train->dataset, train->split));
    if (holdsOut)
      d.help(fmt::format("validate on the samples `{}` holds out: `validate = {}.valid`", train->decl->name.name,
                         train->decl->name.name));
    else
      d.help(fmt::format("validate on a test split, or hold training samples out: `split(valid: 0.1)` in `{}` and "
                         "`validate = {}.valid`",
                         train->decl->name.name, train->decl->name.name));
  }
}

}  // namespace dls::checker
