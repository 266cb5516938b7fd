// Compilation: the one flow for one spec file, as free functions, one per stage, in order:
//   parse (syntax/: text → AST) → analyze (sema/: AST → typed program) → check (checker/: taxonomy rules)
//   → lower (plan/: autodiff, step plan, memory plan) → emit (codegen/: LLVM module, object) → link.
// Each stage reads the result of the one before, which it does not change, and reports into the
// compilation's diagnostics; a stage after an error returns nothing (the rules are the exception: they run
// after type errors, not after syntax errors). The commands only choose where to stop: `fmt` after parse,
// `graph` and `summary` after analyze, `check` after check (and validateLowering), `build` and `run` after link.
// emit and link are emit/Emit.h's `emit`, in a library of its own that links this one and the code generator
// (a dlspec built without LLVM has none). Each stage is a library that links only the stages before it
// (compiler/CMakeLists.txt); this one links them all but codegen.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "checker/Checker.h"
#include "plan/Lower.h"
#include "sema/Program.h"
#include "support/DiagnosticEngine.h"
#include "syntax/Ast.h"

namespace dls {

// The state of one compilation: the sources, the diagnostics, and each stage's result once it ran.
class Compilation {
public:
  Compilation();
  ~Compilation();

  SourceManager sources;
  DiagnosticEngine diags{sources};
  FileId file = Span::kNoFile;
  std::unique_ptr<const ast::Spec> spec;         // parse's result, not changed after
  std::unique_ptr<const sema::Program> program;  // analyze's result, not changed after

  // Reads the file (E0901 when it cannot be read).
  bool load(const std::string& path);
  // Uses `text` as the contents of `path` (tests, stdin).
  void loadText(const std::string& path, std::string text);
  // The stages below, on this compilation.
  bool parse();
  bool analyze();
};

// parse: the loaded text → `c.spec`; false on syntax errors.
bool parse(Compilation& c);
// analyze: names, types, shapes, devices and kinds → `c.program` (parses first when needed); false when errors
// were reported. The program keeps what sema could type after a type error (poisoned values past it).
bool analyze(Compilation& c);
// check: analyze, then the taxonomy rules over the typed program; the rules run after type errors too (rustc
// and clang keep going after one), not after a syntax error. Returns whether the program type-checked.
bool check(Compilation& c, const CheckOptions& opt);
// Lowers every train block to a step plan and discards it: reports what the backends cannot run (E10xx)
// at check time. Does nothing when errors were reported.
void validateLowering(Compilation& c);
// The sequence behind `dlspec check`, the spec tests and the fuzzers: check, then validateLowering when the
// program type-checked. Returns whether it type-checked.
bool checkSpec(Compilation& c, const CheckOptions& opt);
// lower: the train block `train` (the only one when empty) of a program without errors → step plan and memory
// plan; `device` overrides its placement. Reports into `diags` (the compilation's when null); nullopt on
// errors.
std::optional<plan::LowerResult> lower(Compilation& c, const std::string& train,
                                       std::optional<sema::Device> device = std::nullopt,
                                       DiagnosticEngine* diags = nullptr);

}  // namespace dls
