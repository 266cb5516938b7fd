// E0502: optimizer state placed on another device than the parameters it updates. (A device listed twice in
// a data-parallel placement, two replicas sharing one device's parameters, is sema's E0302.)
#include "checker/Flow.h"

namespace dls::checker {

void checkSharedState(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    if (t->optimizerDevices.empty()) continue;
    const sema::Device& od = t->optimizerDevices.front();
    bool same = false;
    if (t->placementSpan.valid())
      for (const sema::Device& d : t->devices) same |= d == od;
    else
      same = od.kind == sema::Device::Kind::Cpu;
    if (same) continue;
    auto& d = c.diags.report(Code::E0502, t->optimizerDeviceSpans.front(),
                             "the optimizer state lives on `" + od.str() + "`, away from the parameters it updates");
    d.primary("optimizer placed here");
    if (t->placementSpan.valid()) d.label(t->placementSpan, "the parameters live here");
    d.help("remove the optimizer's `on` clause: its state follows the model's placement");
  }
}

}  // namespace dls::checker
