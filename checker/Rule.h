// Rule: one taxonomy rule, a pass over the typed program (sema::Program) the way a late lint pass reads
// typed HIR: networks as nodes of the op table with resolved attributes and typed values, pipelines as
// typed steps, train blocks as resolved settings. Rules of a category read the op table's columns
// (OpInfo::matmul, nonLinear, normalization …), never op names, so each covers every op of the category.
// Only the rules about syntax (W0605 shadowing; `allow` in Suppressions.cpp) read the syntax tree.
// Each rule lives in its own file under rules/ and is listed in RuleList.cpp; its code's severity, message
// and taxonomy path come from the one table, Diagnostics.def.
#pragma once
#include <span>
#include <string>

#include "checker/Checker.h"
#include "sema/Program.h"
#include "support/DiagnosticEngine.h"

namespace dls::checker {

// What every rule reads. After type errors the program holds what sema could type: values it could not
// are poisoned (unknown shape and kind), and rules skip what they cannot judge.
struct RuleContext {
  const ast::Spec& spec;          // for the rules about syntax only
  const sema::Program& program;
  const CheckOptions& options;
  DiagnosticEngine& diags;
  const SourceManager& sources;
};

using RuleFn = void (*)(const RuleContext&);

struct Rule {
  Code code;                // the main code (a rule may report related codes, listed in its file)
  std::string_view summary; // one line
  RuleFn check;
  bool needsData = false;   // runs only with `dlspec check --data`
};

std::span<const Rule> allRules();

}  // namespace dls::checker
