// The spec-file runner's parts: expectations written inline in a spec, checking a spec in-process, and
// the examples in docs/diagnostics/*.md.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "support/Diagnostic.h"
#include "support/SourceManager.h"

namespace dls::specrunner {

// One `// expect-error[E0013]@+1:14` comment.
struct Expectation {
  Severity severity = Severity::Error;
  std::string code;                 // "E0013"
  std::optional<uint32_t> line;     // nullopt for @file
  std::optional<uint32_t> column;   // 1-based, in code points
  uint32_t writtenOn = 0;           // line of the comment itself
  bool matched = false;
};

// Reads every expectation in `text`; malformed ones are described in `problems`.
std::vector<Expectation> parseExpectations(const std::string& text, bool fileLevelAllowed,
                                           std::vector<std::string>& problems);

// The outcome of checking one spec text through Compilation and the checker, the way `dlspec check` does.
struct CheckResult {
  SourceManager* sources = nullptr;  // owned by the result's compilation
  std::vector<Diagnostic> diags;
  std::string rendered;              // the text rendering, for reports
  std::string renderProblem;         // non-empty when a renderer misbehaved
  std::shared_ptr<void> keepAlive;
};
// `data`: also run the data checks (`dlspec check --data`); `path` must then locate the spec on disk, since
// data paths are relative to it. A spec asks for this with a `// dlspec-check: --data` line.
CheckResult checkText(const std::string& path, std::string text, bool data = false);

// Compares diagnostics with expectations; returns a report, empty when they agree.
std::string compare(const std::string& path, const CheckResult& r, std::vector<Expectation>& exps);

// Doc checks. Each returns a report, empty on success.
std::string checkDoc(const std::string& root, const std::string& relPath, const std::string& dlspecBin);
std::string checkDocCoverage(const std::string& root);

}  // namespace dls::specrunner
