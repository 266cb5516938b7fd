// E0501: a device index beyond the declared device count (`devices = 2`, then `on cuda:3`), for the model's
// placement and the optimizer's.
// W0509: GPUs declared but the model has no placement.
#include "checker/Flow.h"

namespace dls::checker {

void checkDeviceReference(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    if (!t->deviceCount || *t->deviceCount < 0) continue;
    const int64_t count = *t->deviceCount;
    auto check = [&](const std::vector<sema::Device>& devs, const std::vector<Span>& spans) {
      for (size_t i = 0; i < devs.size() && i < spans.size(); ++i)
        if (devs[i].kind == sema::Device::Kind::Cuda && devs[i].index >= count)
          c.diags.report(Code::E0501, spans[i], devs[i].str(), "only " + std::to_string(count) + " GPU(s) are declared")
              .primary("no such device")
              .label(t->devicesSetting.span, "declared here")
              .help("use a device in cuda:0..cuda:" + std::to_string(count > 0 ? count - 1 : 0) + ", or raise `devices`");
    };
    check(t->devices, t->deviceSpans);
    check(t->optimizerDevices, t->optimizerDeviceSpans);
    if (count > 0 && t->settings.count("model") && !t->placementSpan.valid())
      c.diags.report(Code::W0509, t->model.span, std::to_string(count) + " GPU(s)")
          .primary("no `on` placement")
          .label(t->devicesSetting.span, "GPUs declared here")
          .help("place the model: `model = Net on cuda:0`");
  }
}

}  // namespace dls::checker
