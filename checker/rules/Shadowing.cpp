// W0605: a local name in a network, or a declaration, that shadows a data set, pipeline or network.
#include <map>

#include "checker/RuleSupport.h"

namespace dls::checker {

void checkShadowing(const RuleContext& c) {
  std::map<std::string, const ast::Decl*> decls;
  for (const ast::Decl& d : c.spec.decls) {
    auto [it, fresh] = decls.emplace(d.name.name, &d);
    if (!fresh && it->second->kind != d.kind)
      c.diags.report(Code::W0605, d.name.span, d.name.name, std::string(ast::declKeyword(it->second->kind)))
          .primary("same name")
          .label(it->second->name.span, "declared here")
          .help("rename one of them");
  }
  for (const NetView& n : c.view.networks)
    for (size_t i = 0; i < n.locals.size(); ++i) {
      auto it = decls.find(n.locals[i]);
      if (it == decls.end() || it->second->kind == ast::DeclKind::Block) continue;
      c.diags.report(Code::W0605, n.localSpans[i], n.locals[i], std::string(ast::declKeyword(it->second->kind)))
          .primary("local value")
          .label(it->second->name.span, "declared here")
          .help("rename the local value");
    }
}

}  // namespace dls::checker
