// W0710: the validation pipeline preprocesses a field differently from the training pipeline: the steps
// (their ops and resolved arguments, so `scale(1/255)` and `scale(factor: 0.00392…)` are the same step) of
// each field compared in order, augmentation and the steps over the whole data set (OpInfo::wholeDataset:
// shuffle, batch …) excepted.
#include <algorithm>
#include <map>

#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

namespace {
bool sameStep(const sema::PipeStep& a, const sema::PipeStep& b) {
  if (a.op != b.op || a.attrs.size() != b.attrs.size()) return false;
  for (auto& [k, v] : a.attrs) {
    auto it = b.attrs.find(k);
    if (it == b.attrs.end() || !(it->second.value == v.value)) return false;
  }
  return true;
}
using Steps = std::map<std::string, std::vector<const sema::PipeStep*>>;
Steps byField(const sema::Pipeline& p) {
  Steps out;
  for (const sema::PipeStep& s : p.steps)
    if (!s.augment && !s.op->wholeDataset && !s.field.empty()) out[s.field].push_back(&s);
  return out;
}
}  // namespace

void checkPreprocessingDiffers(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    const sema::Pipeline* tr = t->data;
    const sema::Pipeline* va = t->validate;
    if (!tr || !va || tr == va) continue;
    Steps a = byField(*tr), b = byField(*va);
    std::string labelField = tr->dataset ? tr->dataset->labelName : "";
    for (auto& [field, steps] : a) {
      if (field == labelField) continue;  // label conversions are judged by E0507
      auto& other = b[field];
      size_t n = std::min(steps.size(), other.size());
      size_t i = 0;
      while (i < n && sameStep(*steps[i], *other[i])) ++i;
      if (i == steps.size() && i == other.size()) continue;
      Span at = i < other.size() ? other[i]->span : va->nameSpan;
      auto& d = c.diags.report(Code::W0710, at, field);
      d.primary(i < other.size() ? "differs from training" : "a step is missing here");
      if (i < steps.size()) d.label(steps[i]->span, "training pipeline does this");
      d.help("apply the same preprocessing (without augmentation) to the validation data");
    }
  }
}

}  // namespace dls::checker
