// Checker: runs the taxonomy rules over a typed program and, with --data, over the declared data.
#pragma once
#include "compiler/Compilation.h"

namespace dls {

struct CheckOptions {
  bool data = false;  // read the declared data sets (dlspec check --data)
};

void runChecker(Compilation& c, const CheckOptions& opt);

// Checks a parsed spec: type-checks it, runs the taxonomy rules and validates the lowering; the one sequence
// behind `dlspec check`, the spec tests and the fuzzers. The rules read the typed program, which keeps what
// sema could type after a type error (nodes with poisoned values past it), so they run after type errors too
// (rustc and clang keep going after one); a syntax error stops before them, and the lowering needs a
// program without errors. Returns whether the program type-checked.
bool checkSpec(Compilation& c, const CheckOptions& opt);

}  // namespace dls
