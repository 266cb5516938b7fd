// W0605: a local name in a network, or a declaration, that shadows a data set, pipeline or network. A rule
// about the spec's names as written: it reads the syntax tree.
#include <map>

#include "checker/Rule.h"

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
  for (const ast::Decl& d : c.spec.decls) {
    if (d.kind != ast::DeclKind::Network) continue;
    for (const ast::Item& it : d.items) {
      if (it.kind != ast::ItemKind::Assign || !it.value) continue;
      auto found = decls.find(it.key.name);
      if (found == decls.end() || found->second->kind == ast::DeclKind::Block) continue;
      c.diags.report(Code::W0605, it.key.span, it.key.name, std::string(ast::declKeyword(found->second->kind)))
          .primary("local value")
          .label(found->second->name.span, "declared here")
          .help("rename the local value");
    }
  }
}

}  // namespace dls::checker
