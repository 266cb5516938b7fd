// Lint groups, as clippy has: every compiler diagnostic code belongs to one group, which says how sure the
// finding is to be the fault and decides whether the default profile prints it.
//   correctness  errors and near-certain faults
//   suspicious   likely faults that are sometimes intended
//   style        the spec is correct but could be written better
//   pedantic     true but often intended (no validation set, no shuffle in a tiny pipeline)
// The table is support/diagnostics/LintGroups.def, beside the codes' own tables. A code without a row gets
// the default: an error is correctness, anything else suspicious; a test requires every warning and every
// model (M) and data (D) code to have its row.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include "support/Diagnostic.h"

namespace dls {

enum class LintGroup : uint8_t { Correctness, Suspicious, Style, Pedantic };

std::string_view lintGroupName(LintGroup g);  // "correctness", …
// "correctness", "suspicious", "style", "pedantic"; nullopt for anything else.
std::optional<LintGroup> findLintGroup(std::string_view name);
// The code's group: its row in LintGroups.def, else the default.
LintGroup lintGroup(Code c);
// Whether LintGroups.def has a row for the code.
bool hasLintGroupRow(Code c);

}  // namespace dls
