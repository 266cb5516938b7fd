// DiagnosticEngine: collects diagnostics during one run and applies the user's severity choices:
// --deny/--warn/--allow on the command line and allow(CODE, reason: "...") in the spec.
#pragma once
#include <deque>
#include <fmt/format.h>
#include <optional>
#include <string>
#include <vector>

#include "support/Diagnostic.h"

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

  // Command-line level for a code (last one given wins).
  void setLevel(Code code, Level level) { levels_.push_back({code, level}); }
  // allow(CODE, reason: …) attached to the declaration or item covering `scope`.
  void suppress(Span scope, Code code) { suppressions_.push_back({scope, code}); }

  // Diagnostics after levels and suppressions, in source order. Allowed ones are dropped.
  std::vector<Diagnostic> finish() const;
  // True when finish() would contain an error.
  bool hasErrors() const;
  size_t rawCount() const { return diags_.size(); }
  // Number of raw errors, before levels: lets a stage stop when an earlier stage failed.
  size_t rawErrorCount() const;
  const SourceManager& sources() const { return sm_; }

private:
  std::optional<Severity> effective(const Diagnostic& d) const;
  struct LevelEntry { Code code; Level level; };
  struct Suppression { Span scope; Code code; };
  const SourceManager& sm_;
  std::deque<Diagnostic> diags_;
  size_t rawErrors_ = 0;  // diagnostics in diags_ reported as errors (severity never changes after add)
  std::vector<LevelEntry> levels_;
  std::vector<Suppression> suppressions_;
};

}  // namespace dls
