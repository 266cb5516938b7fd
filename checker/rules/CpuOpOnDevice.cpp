// E0508: a CPU-only pipeline op (decoding, random augmentation) fed a tensor already moved to a device.
#include "checker/RuleSupport.h"

namespace dls::checker {

bool isHostOnlyOp(const std::string& op);

void checkCpuOpOnDevice(const RuleContext& c) {
  for (const PipeView& p : c.view.pipelines) {
    const OpUse* moved = nullptr;
    for (const OpUse& s : p.steps) {
      if (s.op == "to" || s.op == "cuda" || s.op == "to_device") {
        moved = &s;
        continue;
      }
      if (moved && isHostOnlyOp(s.op)) {
        c.diags.report(Code::E0508, s.nameSpan, s.op, "the GPU", moved->op)
            .primary("CPU-only op")
            .label(moved->span, "moved to the device here")
            .help("remove the transfer: the compiler moves each batch to the model's device after the pipeline");
        break;
      }
    }
  }
}

}  // namespace dls::checker
