#include "support/DiagnosticEngine.h"

#include <algorithm>
#include <unordered_set>

namespace dls {

Diagnostic& DiagnosticEngine::add(Code code, Span span, std::string message) {
  Diagnostic d;
  d.code = code;
  d.severity = codeInfo(code).severity;
  d.message = std::move(message);
  d.span = span;
  if (d.severity == Severity::Error) ++rawErrors_;
  diags_.push_back(std::move(d));
  return diags_.back();
}

std::optional<Severity> DiagnosticEngine::effective(const Diagnostic& d) const {
  Severity sev = d.severity;
  for (const LevelEntry& l : levels_) {
    if (l.code != d.code) continue;
    if (l.level == Level::Allow) return std::nullopt;
    sev = l.level == Level::Deny ? Severity::Error : Severity::Warning;
  }
  // Internal errors and syntax errors cannot be silenced by a spec.
  if (d.span.valid() && d.code != Code::I0001)
    for (const Suppression& s : suppressions_)
      if (s.code == d.code && s.scope.file == d.span.file && s.scope.begin <= d.span.begin &&
          d.span.end <= s.scope.end)
        return std::nullopt;
  return sev;
}

std::vector<Diagnostic> DiagnosticEngine::finish() const {
  std::vector<Diagnostic> out;
  // The same code with the same message at the same place is shown once (as rustc does): a block used by
  // 2^16 instances has one error in its body, not 65,536 copies of it.
  std::unordered_set<std::string> seen;
  for (const Diagnostic& d : diags_) {
    auto sev = effective(d);
    if (!sev) continue;
    if (d.span.valid() &&
        !seen.insert(fmt::format("{}:{}:{}:{}:{}\x1f{}", int(d.code), d.span.file, d.span.begin, d.span.end, d.message,
                                 d.primaryLabel)).second)
      continue;
    Diagnostic copy = d;
    copy.severity = *sev;
    out.push_back(std::move(copy));
  }
  std::stable_sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.span.valid() != b.span.valid()) return !a.span.valid();
    if (a.span.file != b.span.file) return a.span.file < b.span.file;
    return a.span.begin < b.span.begin;
  });
  return out;
}

bool DiagnosticEngine::hasErrors() const {
  for (const Diagnostic& d : diags_) {
    auto sev = effective(d);
    if (sev && *sev == Severity::Error) return true;
  }
  return false;
}

// Counted in add(): stages call this after every item, and counting the list each time was quadratic
// (32,768 errors from one block body under a fan-out took 13 s in fuzz_check).
size_t DiagnosticEngine::rawErrorCount() const { return rawErrors_; }

}  // namespace dls
