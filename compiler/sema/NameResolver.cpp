// Declarations: one namespace for data sets, pipelines, blocks, networks and trains; duplicates are
// errors; a reference names the kind of declaration it wants and gets a did-you-mean.
#include <fmt/format.h>

#include "sema/Analyzer.h"
#include "support/Suggest.h"

namespace dls::sema {
namespace {
std::string_view article(ast::DeclKind k) {
  switch (k) {
    case ast::DeclKind::Dataset: return "a dataset";
    case ast::DeclKind::Pipeline: return "a pipeline";
    case ast::DeclKind::Block: return "a block";
    case ast::DeclKind::Network: return "a network";
    case ast::DeclKind::Train: return "a train";
  }
  return "a declaration";
}
}  // namespace

void Analyzer::collectDecls() {
  decls.reserve(spec.decls.size());
  for (const ast::Decl& d : spec.decls) {
    auto [it, fresh] = decls.emplace(d.name.name, &d);
    if (!fresh)
      diags.report(Code::E0104, d.name.span, d.name.name)
          .primary("defined again here")
          .label(it->second->name.span, "first defined here");
  }
}

std::vector<std::string> Analyzer::declNames(ast::DeclKind k) const {
  std::vector<std::string> out;
  for (const ast::Decl& d : spec.decls)
    if (d.kind == k) out.push_back(d.name.name);
  return out;
}

const ast::Decl* Analyzer::lookupDecl(const ast::Ident& id, ast::DeclKind want, std::string_view what) {
  auto it = decls.find(id.name);
  if (it == decls.end()) {
    auto& d = diags.report(Code::E0101, id.span, what, id.name);
    if (auto near = closest(id.name, declNames(want))) d.help(fmt::format("did you mean `{}`?", *near)).fixit(id.span, *near);
    return nullptr;
  }
  if (it->second->kind != want) {
    diags.report(Code::E0114, id.span, id.name, article(it->second->kind), article(want))
        .label(it->second->name.span, "declared here");
    return nullptr;
  }
  return it->second;
}

}  // namespace dls::sema
