// Diagnostic: one message with a code, a primary span, labelled secondary spans, notes, help and
// fix-its. Codes and their default severity, name, message template and taxonomy path come from the
// one table, Diagnostics.def.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "support/SourceManager.h"

namespace dls {

enum class Severity : uint8_t { Note, Warning, Error };

enum class Code : uint16_t {
#define DIAG(code, sev, name, msg, tax) code,
#include "support/Diagnostics.def"
#undef DIAG
  Count_
};

struct CodeInfo {
  Code code;
  std::string_view id;        // "E0412"
  Severity severity;          // default severity
  std::string_view name;      // short snake_case name
  std::string_view message;   // fmt template
  std::string_view taxonomy;  // "5 Training > 5.2 Loss function > …" (support/Taxonomy.h) or empty
};

const CodeInfo& codeInfo(Code c);
// Looks a code up by its id ("E0412", case-insensitive). Returns nullptr when there is none.
const CodeInfo* findCode(std::string_view id);
const std::vector<CodeInfo>& allCodes();
std::string_view severityName(Severity s);

struct Label {
  Span span;
  std::string message;
};

// How sure a fix-it is (rustc's Applicability). `dlspec fix` applies MachineApplicable ones (the fix is what
// the user meant: a renamed op, `gpu` for `cuda`), the others (a closest-name guess, a change of meaning) only
// with --unsafe-fixes.
enum class Applicability : uint8_t { MachineApplicable, MaybeIncorrect };
std::string_view applicabilityName(Applicability a);  // "machine-applicable", "maybe-incorrect"

struct FixIt {
  Span span;            // replaced range (empty range = insertion)
  std::string replacement;
  Applicability applicability = Applicability::MaybeIncorrect;
};

struct Diagnostic {
  Code code{};
  Severity severity = Severity::Error;
  std::string message;
  Span span;                     // primary location; may be invalid (a file-less error)
  std::string primaryLabel;      // text under the primary caret
  std::vector<Label> labels;     // secondary, labelled spans
  std::vector<std::string> notes;
  std::vector<std::string> helps;
  std::vector<FixIt> fixits;
  std::string file;              // for span-less diagnostics about a file (data files, checkpoints)
  // Set by DiagnosticEngine::finish(): the index, in its result, of the earlier finding this one is likely a
  // consequence of (its root cause, upstream in the data flow); -1 for a primary finding.
  int secondaryTo = -1;

  Diagnostic& label(Span s, std::string msg) { labels.push_back({s, std::move(msg)}); return *this; }
  Diagnostic& primary(std::string msg) { primaryLabel = std::move(msg); return *this; }
  Diagnostic& note(std::string msg) { notes.push_back(std::move(msg)); return *this; }
  Diagnostic& help(std::string msg) { helps.push_back(std::move(msg)); return *this; }
  Diagnostic& fixit(Span s, std::string repl, Applicability a = Applicability::MaybeIncorrect) {
    fixits.push_back({s, std::move(repl), a});
    return *this;
  }
};

}  // namespace dls
