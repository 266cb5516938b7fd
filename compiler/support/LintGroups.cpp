#include "support/LintGroups.h"

#include <array>

namespace dls {

namespace {

struct Row {
  bool given = false;
  LintGroup group = LintGroup::Correctness;
};

const std::array<Row, static_cast<size_t>(Code::Count_)>& rows() {
  static const auto table = [] {
    std::array<Row, static_cast<size_t>(Code::Count_)> t{};
#define LINT_GROUP(code, grp) t[static_cast<size_t>(Code::code)] = Row{true, LintGroup::grp};
#include "support/diagnostics/LintGroups.def"
#undef LINT_GROUP
    return t;
  }();
  return table;
}

}  // namespace

std::string_view lintGroupName(LintGroup g) {
  switch (g) {
    case LintGroup::Correctness: return "correctness";
    case LintGroup::Suspicious: return "suspicious";
    case LintGroup::Style: return "style";
    case LintGroup::Pedantic: return "pedantic";
  }
  return "correctness";
}

std::optional<LintGroup> findLintGroup(std::string_view name) {
  for (LintGroup g : {LintGroup::Correctness, LintGroup::Suspicious, LintGroup::Style, LintGroup::Pedantic})
    if (lintGroupName(g) == name) return g;
  return std::nullopt;
}

LintGroup lintGroup(Code c) {
  if (c >= Code::Count_) return LintGroup::Correctness;
  const Row& r = rows()[static_cast<size_t>(c)];
  if (r.given) return r.group;
  return codeInfo(c).severity == Severity::Error ? LintGroup::Correctness : LintGroup::Suspicious;
}

bool hasLintGroupRow(Code c) { return c < Code::Count_ && rows()[static_cast<size_t>(c)].given; }

}  // namespace dls
