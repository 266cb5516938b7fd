// W0710: the validation pipeline preprocesses a field differently from the training pipeline
// (augmentation and order ops excepted).
#include <algorithm>

#include "checker/RuleSupport.h"

namespace dls::checker {

namespace {
bool isOrderOp(const std::string& op) {
  return op == "shuffle" || op == "batch" || op == "repeat" || op == "split" || op == "prefetch" || op == "cache";
}
std::string render(const RuleContext& c, const OpUse& s) { return std::string(c.sources.text(s.span)); }
}  // namespace

void checkPreprocessingDiffers(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const PipeView* tr = pipelineOf(c, t, "data");
    const PipeView* va = pipelineOf(c, t, "validate");
    if (!tr || !va || tr == va) continue;
    std::map<std::string, std::vector<const OpUse*>> a, b;
    for (const OpUse& s : tr->steps)
      if (!s.augment && !isOrderOp(s.op) && !s.field.empty()) a[s.field].push_back(&s);
    for (const OpUse& s : va->steps)
      if (!s.augment && !isOrderOp(s.op) && !s.field.empty()) b[s.field].push_back(&s);
    const DataView* ds = datasetOf(c, *tr);
    std::string labelField = ds && ds->label ? ds->label->key.name : "";
    for (auto& [field, steps] : a) {
      if (field == labelField) continue;  // label conversions are judged by E0507
      auto& other = b[field];
      size_t n = std::min(steps.size(), other.size());
      size_t i = 0;
      while (i < n && render(c, *steps[i]) == render(c, *other[i])) ++i;
      if (i == steps.size() && i == other.size()) continue;
      Span at = i < other.size() ? other[i]->span : va->decl->name.span;
      auto& d = c.diags.report(Code::W0710, at, field);
      d.primary(i < other.size() ? "differs from training" : "a step is missing here");
      if (i < steps.size()) d.label(steps[i]->span, "training pipeline does this");
      d.help("apply the same preprocessing (without augmentation) to the validation data");
    }
  }
}

}  // namespace dls::checker
