// Checker: runs the taxonomy rules over a typed program and, with --data, over the declared data. A stage
// of its own: it reads the syntax tree and the typed program and knows nothing of lowering or codegen
// (Compilation.h runs it in the flow: parse → analyze → check → lower → emit → link).
#pragma once
#include "sema/Program.h"
#include "support/DiagnosticEngine.h"
#include "syntax/Ast.h"

namespace dls {

struct CheckOptions {
  bool data = false;  // read the declared data sets (dlspec check --data)
};

// Applies the spec's `allow` suppressions and runs every rule (the data rules with `opt.data`).
void runChecker(const ast::Spec& spec, const sema::Program& program, const SourceManager& sources,
                DiagnosticEngine& diags, const CheckOptions& opt);

}  // namespace dls
