// Rule: one taxonomy rule. Each lives in its own file under rules/ and is listed in RuleList.cpp.
// Its code's severity, message and taxonomy path come from the one table, Diagnostics.def.
#pragma once
#include <span>
#include <string>

#include "checker/Checker.h"
#include "checker/SpecView.h"
#include "support/DiagnosticEngine.h"

namespace dls::sema {
struct Program;
}

namespace dls::checker {

// What every rule reads.
struct RuleContext {
  const ast::Spec& spec;
  const sema::Program* program;   // may be empty while sema fills it in
  const SpecView& view;
  const CheckOptions& options;
  DiagnosticEngine& diags;
  const SourceManager& sources;
  std::string specDir;            // directory of the spec file, for relative paths
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
