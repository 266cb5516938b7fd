// M0101: weights initialised to a constant (zeros, ones, constant(c)) — every unit stays identical. Every op
// with learned weights (OpInfo::hasWeights) is covered, whatever its name.
#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

void checkConstantInit(const RuleContext& c) {
  for (const auto& net : c.program.networks)
    for (const sema::Node& n : net->nodes) {
      if (!n.op->hasWeights) continue;
      const sema::Attr* init = givenAttr(n.attrs, "init");
      const std::string* text = init ? std::get_if<std::string>(&init->value) : nullptr;
      auto spec = text ? sema::parseInit(*text) : std::nullopt;
      if (!spec || (spec->kind != sema::InitKind::Zeros && spec->kind != sema::InitKind::Ones &&
                    spec->kind != sema::InitKind::Constant))
        continue;
      c.diags.report(Code::M0101, init->span, n.op->name, sema::initName(spec->kind))
          .primary("constant initialiser")
          .note("identical weights receive identical gradients: the units never become different (symmetry)")
          .help("remove `init:` (the default is matched to the activation), or use `init: he` before ReLU and `init: glorot` before tanh/sigmoid");
    }
}

}  // namespace dls::checker
