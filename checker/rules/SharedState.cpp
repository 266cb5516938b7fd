// E0502: parameters or optimizer state shared across devices: a device listed twice in a data-parallel
// placement (two replicas on one device share its parameters), or the optimizer placed on another device.
#include "checker/RuleSupport.h"

namespace dls::checker {

namespace {
std::string devName(const ast::Device& d) { return d.name.name + (d.index ? ":" + std::to_string(*d.index) : ""); }
}

void checkSharedState(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const ast::Clause* on = onClause(t.item("model"));
    if (on)
      for (size_t i = 0; i < on->devices.size(); ++i)
        for (size_t j = 0; j < i; ++j)
          if (devName(on->devices[i]) == devName(on->devices[j])) {
            c.diags.report(Code::E0502, on->devices[i].span, "`" + devName(on->devices[i]) + "` is listed twice: two replicas would share one device's parameters")
                .primary("listed again")
                .label(on->devices[j].span, "first listed here")
                .help("list each device once");
            break;
          }
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
