// M0103: parameters initialised twice — `init:` given twice in one layer, or a train block that loads
// pretrained weights and then re-initialises them with `init = …`.
#include "checker/RuleSupport.h"

namespace dls::checker {

void checkDoubleInit(const RuleContext& c) {
  for (const NetView& n : c.view.networks)
    for (const OpUse& u : n.layers) {
      bool twice = false;
      for (auto& d : u.duplicateArgs) twice |= d == "init";
      if (u.arg("init") && u.arg("weight_init")) twice = true;
      if (!twice) continue;
      Span first = u.span;
      for (auto& a : u.expr->args)
        if (a.name && (a.name->name == "init" || a.name->name == "weight_init")) { first = a.span; break; }
      c.diags.report(Code::M0103, u.argSpans.count("weight_init") ? u.argSpans.at("weight_init") : u.argSpans.at("init"), u.op)
          .primary("second initialiser")
          .label(first, "first initialiser")
          .help("keep one `init:`");
    }
  for (const TrainView& t : c.view.trains) {
    const ast::Item* pre = t.item("pretrained");
    if (!pre) pre = t.item("weights");
    const ast::Item* init = t.item("init");
    if (!pre || !init) continue;
    c.diags.report(Code::M0103, init->span, "the model")
        .primary("re-initialises every parameter")
        .label(pre->span, "after the weights are loaded here")
        .help("remove `init = …`: the loaded weights are the initialisation");
  }
}

}  // namespace dls::checker
