// Parser: spec text → AST. The only file that touches ANTLR; the grammar is grammar/DLSpec.g4.
// Lexical problems, unbalanced brackets and syntax errors become diagnostics in dlspec's own words;
// several are reported in one run. Returns nullptr when the text has syntax errors.
#pragma once
#include <memory>

#include "support/DiagnosticEngine.h"
#include "syntax/Ast.h"

namespace dls {

std::unique_ptr<ast::Spec> parseSpec(const SourceManager& sm, FileId file, DiagnosticEngine& diags);

// The language's keywords, for did-you-mean suggestions.
const std::vector<std::string>& keywords();

}  // namespace dls
