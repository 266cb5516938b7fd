// analyze: AST → typed program. Resolves names and blocks, infers every value's dtype, shape (with
// symbolic dimensions), device and semantic kind, and reports what cannot hold.
#pragma once
#include <memory>

#include "support/DiagnosticEngine.h"
#include "syntax/Ast.h"

namespace dls::sema {

struct Program;
std::unique_ptr<Program> analyze(const ast::Spec& spec, const SourceManager& sm, DiagnosticEngine& diags);

}  // namespace dls::sema
