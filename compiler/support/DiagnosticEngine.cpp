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
  const LintGroup group = lintGroup(d.code);
  // The lint level: errors always, other findings when their group is within it.
  bool shown = d.severity == Severity::Error || group <= lintLevel_;
  for (const LevelEntry& l : levels_) {
    if (l.group) {
      // A group's --warn/--allow does not touch errors; its --deny makes its warnings errors.
      if (l.lintGroup != group || (d.severity == Severity::Error && l.level != Level::Deny)) continue;
    } else if (l.code != d.code) {
      continue;
    }
    if (l.level == Level::Allow) {
      shown = false;
      continue;
    }
    shown = true;
    sev = l.level == Level::Deny ? Severity::Error : Severity::Warning;
  }
  if (!shown) return std::nullopt;
  // Internal errors and syntax errors cannot be silenced by a spec.
  if (d.span.valid() && d.code != Code::I0001)
    for (const Suppression& s : suppressions_)
      if (s.code == d.code && s.scope.file == d.span.file && s.scope.begin <= d.span.begin &&
          d.span.end <= s.scope.end)
        return std::nullopt;
  return sev;
}

namespace {

bool within(Span inner, Span outer) {
  return inner.valid() && outer.valid() && inner.file == outer.file && outer.begin <= inner.begin && inner.end <= outer.end;
}

}  // namespace

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
  rank(out);
  return out;
}

// The innermost flow scope holding a diagnostic's primary span, or -1.
int DiagnosticEngine::scopeOf(const Diagnostic& d) const {
  int best = -1;
  for (size_t i = 0; i < flow_.size(); ++i)
    if (within(d.span, flow_[i].scope) &&
        (best < 0 || flow_[i].scope.end - flow_[i].scope.begin < flow_[static_cast<size_t>(best)].scope.end -
                                                                   flow_[static_cast<size_t>(best)].scope.begin))
      best = static_cast<int>(i);
  return best;
}

void DiagnosticEngine::rank(std::vector<Diagnostic>& out) const {
  // Sort keys: the lint group (correctness first); then span-less findings (a file that cannot be read)
  // before located ones; then the position of the finding's scope along the data flow (data, pipelines,
  // model, training), a finding outside every scope after them; then the file and the source order.
  struct Key {
    int group;
    bool located;
    uint32_t position;
    FileId file;
    uint32_t begin;
    int scope;
  };
  std::vector<Key> keys(out.size());
  std::vector<size_t> order(out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const Diagnostic& d = out[i];
    int s = d.span.valid() ? scopeOf(d) : -1;
    keys[i] = {static_cast<int>(lintGroup(d.code)), d.span.valid(),
               s >= 0 ? flow_[static_cast<size_t>(s)].position : UINT32_MAX, d.span.file, d.span.begin, s};
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Key &x = keys[a], &y = keys[b];
    if (x.group != y.group) return x.group < y.group;
    if (x.located != y.located) return !x.located;
    if (x.position != y.position) return x.position < y.position;
    if (x.file != y.file) return x.file < y.file;
    return x.begin < y.begin;
  });
  std::vector<Diagnostic> ranked;
  std::vector<Key> rankedKeys;
  ranked.reserve(out.size());
  for (size_t i : order) {
    ranked.push_back(std::move(out[i]));
    rankedKeys.push_back(keys[i]);
  }
  // Which scopes flow into which (transitively).
  const size_t n = flow_.size();
  std::vector<std::vector<bool>> feeds(n, std::vector<bool>(n, false));
  for (size_t i = 0; i < n; ++i) {
    std::vector<uint32_t> stack(flow_[i].upstream.begin(), flow_[i].upstream.end());
    while (!stack.empty()) {
      uint32_t u = stack.back();
      stack.pop_back();
      if (u >= n || feeds[i][u] || u == i) continue;
      feeds[i][u] = true;
      for (uint32_t v : flow_[u].upstream) stack.push_back(v);
    }
  }
  // A correctness or suspicious warning downstream of an earlier error may be its consequence: it is marked
  // secondary to the first such error. Errors stay primary (each stops the spec on its own, and an error that
  // is a consequence of another is sema's to avoid: it poisons what it cannot type). Style and pedantic
  // findings are about the spec's form and are never caused by another finding. The candidate causes are the
  // errors of the correctness group; the first of them in each scope (in rank order, which within a scope is
  // source order) is the one a later warning is marked secondary to, so the work is linear in the findings.
  auto isRoot = [&](size_t j) {
    return rankedKeys[j].scope >= 0 && ranked[j].severity == Severity::Error &&
           rankedKeys[j].group == static_cast<int>(LintGroup::Correctness);
  };
  std::vector<int> firstRootIn(n, -1);
  for (size_t j = 0; j < ranked.size(); ++j)
    if (isRoot(j) && firstRootIn[static_cast<size_t>(rankedKeys[j].scope)] < 0)
      firstRootIn[static_cast<size_t>(rankedKeys[j].scope)] = static_cast<int>(j);
  for (size_t i = 0; i < ranked.size(); ++i) {
    const Key& k = rankedKeys[i];
    if (k.scope < 0 || ranked[i].severity == Severity::Error || k.group > static_cast<int>(LintGroup::Suspicious)) continue;
    const size_t s = static_cast<size_t>(k.scope);
    int cause = -1;
    for (size_t u = 0; u < n; ++u) {
      const int j = firstRootIn[u];
      const bool upstream = u == s ? flow_[s].ordered && j >= 0 && rankedKeys[static_cast<size_t>(j)].begin < k.begin
                                   : feeds[s][u];
      if (upstream && j >= 0 && static_cast<size_t>(j) < i && (cause < 0 || j < cause)) cause = j;
    }
    if (cause < 0) continue;
    ranked[i].secondaryTo = cause;
    LineCol lc = sm_.lineCol(ranked[static_cast<size_t>(cause)].span);
    ranked[i].notes.push_back(fmt::format("secondary: downstream of {} at {}:{} in the data flow, which may cause it; fix that first",
                                          codeInfo(ranked[static_cast<size_t>(cause)].code).id, lc.line, lc.col));
  }
  out = std::move(ranked);
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
