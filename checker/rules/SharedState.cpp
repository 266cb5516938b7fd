// E0502: optimizer state placed on another device than the parameters it updates. (A device listed twice in
// a data-parallel placement, two replicas sharing one device's parameters, is sema's E0302.)
#include "checker/RuleSupport.h"

namespace dls::checker {

namespace {
std::string devName(const ast::Device& d) { return d.name.name + (d.index ? ":" + std::to_string(*d.index) : ""); }
}

void checkSharedState(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const ast::Clause* on = onClause(t.item("model"));
    const ast::Item* opt = t.item("optimizer");
    const ast::Clause* oon = onClause(opt);
    if (!oon || oon->devices.empty()) continue;
    bool same = false;
    if (on)
      for (auto& d : on->devices) same |= devName(d) == devName(oon->devices[0]);
    else
      same = oon->devices[0].name.name == "cpu";
    if (same) continue;
    auto& d = c.diags.report(Code::E0502, oon->devices[0].span,
                             "the optimizer state lives on `" + devName(oon->devices[0]) + "`, away from the parameters it updates");
    d.primary("optimizer placed here");
    if (on) d.label(on->span, "the parameters live here");
    d.help("remove the optimizer's `on` clause: its state follows the model's placement");
  }
}

}  // namespace dls::checker
