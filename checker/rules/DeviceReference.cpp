// E0501: a device index beyond the declared device count (`devices = 2`, then `on cuda:3`).
// W0509: GPUs declared but the model has no placement.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkDeviceReference(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const ast::Item* dev = t.item("devices");
    std::optional<int64_t> count = dev ? evalInt(dev->value.get()) : std::nullopt;
    if (count && *count >= 0) {
      for (auto& [key, it] : t.items)
        if (const ast::Clause* on = onClause(it))
          for (const ast::Device& d : on->devices)
            if (d.name.name == "cuda" && d.index && *d.index >= *count)
              c.diags.report(Code::E0501, d.span, "cuda:" + std::to_string(*d.index),
                             "only " + std::to_string(*count) + " GPU(s) are declared")
                  .primary("no such device")
                  .label(dev->span, "declared here")
                  .help("use a device in cuda:0..cuda:" + std::to_string(*count > 0 ? *count - 1 : 0) + ", or raise `devices`");
      const ast::Item* model = t.item("model");
      if (*count > 0 && model && !onClause(model))
        c.diags.report(Code::W0509, model->span, std::to_string(*count) + " GPU(s)")
            .primary("no `on` placement")
            .label(dev->span, "GPUs declared here")
            .help("place the model: `model = Net on cuda:0`");
    }
  }
}

}  // namespace dls::checker
