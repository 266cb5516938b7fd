// W0601: deprecated ops and arguments of language version 1, with their replacement.
#include "checker/RuleSupport.h"

namespace dls::checker {

namespace {
struct Deprecation {
  std::string_view old, replacement;
  bool argument;
};
constexpr Deprecation kDeprecated[] = {
    {"max_pool", "maxpool", false}, {"avg_pool", "avgpool", false}, {"linear", "dense", false},
    {"learning_rate", "lr", true},  {"padding", "pad", true},
};
}  // namespace

void checkDeprecated(const RuleContext& c) {
  auto check = [&](const OpUse& u) {
    for (const Deprecation& d : kDeprecated) {
      if (!d.argument && u.op == d.old)
        c.diags.report(Code::W0601, u.nameSpan, u.op, 1)
            .primary("deprecated")
            .help("use `" + std::string(d.replacement) + "`")
            .fixit(u.nameSpan, std::string(d.replacement));
      if (d.argument && u.args.count(std::string(d.old))) {
        Span s = u.argSpans.at(std::string(d.old));
        c.diags.report(Code::W0601, s, std::string(d.old) + ":", 1)
            .primary("deprecated argument")
            .help("write `" + std::string(d.replacement) + ":`");
      }
    }
  };
  for (const NetView& n : c.view.networks)
    for (const OpUse& u : n.layers) check(u);
  for (const TrainView& t : c.view.trains)
    for (auto& [k, it] : t.items)
      if (auto u = asOp(it->value.get())) check(*u);
}

}  // namespace dls::checker
