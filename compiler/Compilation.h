// Compilation: the whole flow for one spec file, in order, in one place:
//   spec text → parse tree → AST (syntax/) → typed program (sema/) → checker diagnostics (checker/)
//   → autodiff and step plan (plan/) → LLVM object (codegen/) → linked executable calling the runtime.
// Each stage stops the flow when an earlier one reported errors.
#pragma once
#include <memory>
#include <string>

#include "support/DiagnosticEngine.h"
#include "syntax/Ast.h"

namespace dls {
namespace sema {
struct Program;
}

class Compilation {
public:
  Compilation();
  ~Compilation();

  SourceManager sources;
  DiagnosticEngine diags{sources};
  FileId file = Span::kNoFile;
  std::unique_ptr<ast::Spec> spec;
  std::unique_ptr<sema::Program> program;

  // Reads the file (E0901 when it cannot be read).
  bool load(const std::string& path);
  // Uses `text` as the contents of `path` (tests, stdin).
  void loadText(const std::string& path, std::string text);
  // Parses; false on syntax errors.
  bool parse();
  // Names, types, shapes, devices and kinds; false when errors were reported.
  bool analyze();
  // Lowers every train block to a step plan and discards it: reports what the backends cannot run
  // (E10xx) at check time. Call after the checker; does nothing when errors were reported.
  void validateLowering();
};

}  // namespace dls
