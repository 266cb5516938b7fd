#include "checker/Suppressions.h"

#include "support/Suggest.h"

namespace dls::checker {
namespace {

void apply(const std::vector<ast::Attribute>& attrs, Span scope, DiagnosticEngine& diags) {
  for (const ast::Attribute& a : attrs) {
    const ast::Expr* codeExpr = nullptr;
    Span codeSpan = a.span;
    bool reason = false;
    for (const ast::Arg& arg : a.args) {
      if (arg.name && arg.name->name == "reason") {
        reason = arg.value && arg.value->kind == ast::ExprKind::String && !arg.value->text.empty();
      } else if (!arg.name && !codeExpr) {
        codeExpr = arg.value.get();
        codeSpan = arg.span;
      }
    }
    std::string id;
    if (codeExpr && codeExpr->kind == ast::ExprKind::Name) id = codeExpr->dotted();
    else if (codeExpr && codeExpr->kind == ast::ExprKind::String) id = codeExpr->text;
    const CodeInfo* info = id.empty() ? nullptr : findCode(id);
    if (!info) {
      std::vector<std::string> ids;
      for (const CodeInfo& c : allCodes()) ids.emplace_back(c.id);
      auto& d = diags.report(Code::E0690, codeSpan, id.empty() ? std::string("(none)") : id);
      d.primary("not a diagnostic code");
      if (auto near = id.empty() ? std::nullopt : closest(id, ids)) d.help("did you mean `" + *near + "`?");
      else d.help("write the code as `dlspec explain --list` prints it, e.g. `allow(W0709, reason: \"…\")`");
      continue;
    }
    diags.suppress(scope, info->code);
    if (!reason)
      diags.report(Code::W0691, a.span, info->id)
          .primary("no reason given")
          .help("say why the finding does not apply: `allow(" + std::string(info->id) + ", reason: \"…\")`");
  }
}

}  // namespace

void applySuppressions(const ast::Spec& spec, DiagnosticEngine& diags) {
  for (const ast::Decl& d : spec.decls) {
    apply(d.attrs, d.span, diags);
    for (const ast::Item& it : d.items) apply(it.attrs, it.span, diags);
  }
}

}  // namespace dls::checker
