// W0605: a local name in a network that shadows a data set, pipeline or network (a declaration that
// repeats another's name is sema's E0104). A rule
// about the spec's names as written: it reads the syntax tree.
#include <map>

#include "checker/Rule.h"

namespace dls::checker {

void checkShadowing(const RuleContext& c) {
  // Two declarations of one name are E0104 (sema), whatever their kinds: not reported again here.
  std::map<std::string, const ast::Decl*> decls;
  for (const ast::Decl& d : c.spec.decls) decls.emplace(d.name.name, &d);
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
