// DiagnosticEngine: collects diagnostics during one run and applies the user's severity choices:
// --deny/--warn/--allow (a code or a lint group) and --lint-level on the command line, and
// allow(CODE, reason: "...") in the spec. finish() ranks what remains: the likely root cause first.
#pragma once
#include <deque>
#include <fmt/format.h>
#include <optional>
#include <string>
#include <vector>

#include "support/Diagnostic.h"
#include "support/LintGroups.h"

namespace dls {

enum class Level : uint8_t { Allow, Warn, Deny };

class DiagnosticEngine {
public:
  explicit DiagnosticEngine(const SourceManager& sm) : sm_(sm) {}

  // Reports `code` at `span`, formatting the table's message template with `args`.
  template <class... Args>
  Diagnostic& report(Code code, Span span, const Args&... args) {
    const CodeInfo& info = codeInfo(code);
    std::string msg;
    try {
      msg = fmt::vformat(info.message, fmt::make_format_args(args...));
    } catch (const fmt::format_error&) {
      msg = std::string(info.message);
    }
    return add(code, span, std::move(msg));
  }
  Diagnostic& add(Code code, Span span, std::string message);

  // Command-line level for a code or a whole lint group (the last one that applies to a code wins). A group's
  // --warn/--allow leaves errors as they are: only a code's own level changes an error.
  void setLevel(Code code, Level level) { levels_.push_back({code, level, false, {}}); }
  void setGroupLevel(LintGroup group, Level level) { levels_.push_back({Code::Count_, level, true, group}); }
  // The groups printed without a level of their own: those up to `upTo` (default: correctness and
  // suspicious; Pedantic prints everything). Errors are printed whatever their group.
  void setLintLevel(LintGroup upTo) { lintLevel_ = upTo; }
  LintGroup lintLevel() const { return lintLevel_; }

  // The data flow of the typed program, for ranking: a region of the spec (a declaration or one item of
  // it), its position along the flow (datasets and pipelines before networks before train blocks), and the
  // regions whose values flow into it (indices into the same list). `ordered`: the region's own source
  // order is its data flow (a network's layers, a pipeline's steps).
  struct FlowScope {
    Span scope;
    uint32_t position = 0;
    std::vector<uint32_t> upstream = {};
    bool ordered = false;
  };
  void setFlow(std::vector<FlowScope> scopes) { flow_ = std::move(scopes); }
  // allow(CODE, reason: …) attached to the declaration or item covering `scope`.
  void suppress(Span scope, Code code) { suppressions_.push_back({scope, code}); }

  // Diagnostics after levels, lint level and suppressions; allowed ones are dropped. Ranked: by lint group
  // (correctness first), then by position in the data flow (the earliest producer first), then by source
  // order. A finding downstream of an earlier error is marked secondary (Diagnostic::secondaryTo and a note).
  std::vector<Diagnostic> finish() const;
  // True when finish() would contain an error.
  bool hasErrors() const;
  size_t rawCount() const { return diags_.size(); }
  // Number of raw errors, before levels: lets a stage stop when an earlier stage failed.
  size_t rawErrorCount() const;
  const SourceManager& sources() const { return sm_; }

private:
  std::optional<Severity> effective(const Diagnostic& d) const;
  int scopeOf(const Diagnostic& d) const;
  void rank(std::vector<Diagnostic>& out) const;
  struct LevelEntry { Code code; Level level; bool group; LintGroup lintGroup; };
  struct Suppression { Span scope; Code code; };
  const SourceManager& sm_;
  std::deque<Diagnostic> diags_;
  size_t rawErrors_ = 0;  // diagnostics in diags_ reported as errors (severity never changes after add)
  std::vector<LevelEntry> levels_;
  std::vector<Suppression> suppressions_;
  LintGroup lintLevel_ = LintGroup::Suspicious;
  std::vector<FlowScope> flow_;
};

}  // namespace dls
