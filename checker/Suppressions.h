// Suppressions: `allow(CODE, reason: "…")` before a declaration or an item silences CODE inside it.
// An unknown code is an error (E0690, with did-you-mean); an allow without a reason is a warning (W0691).
#pragma once
#include "support/DiagnosticEngine.h"
#include "syntax/Ast.h"

namespace dls::checker {

void applySuppressions(const ast::Spec& spec, DiagnosticEngine& diags);

}  // namespace dls::checker
