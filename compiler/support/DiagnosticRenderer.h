// DiagnosticRenderer: prints diagnostics as text (like rustc/clang), one JSON document
// (schemas/diagnostics.schema.json) or one SARIF 2.1.0 log; docs/machine-output.md describes both.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "support/Diagnostic.h"

namespace dls {

enum class DiagFormat { Text, Json, Sarif };

// The JSON format's version and schema id (schemas/diagnostics.schema.json); the version changes when a
// field is removed or changes meaning, not when one is added.
inline constexpr int kJsonFormatVersion = 1;

// Where SARIF's helpUri points: BASE + CODE + ".md". The default is this source tree's docs/diagnostics/
// as a file: URI; --help-uri-base=URL or the environment variable DLSPEC_HELP_URI_BASE overrides it (for
// example with the web address of docs/diagnostics/ in the repository that published the build).
inline constexpr std::string_view kHelpUriBaseEnv = "DLSPEC_HELP_URI_BASE";
std::string defaultHelpUriBase();

// A code's explanation (docs/diagnostics/CODE.md), as SARIF rules show it.
struct Explanation {
  std::string title;    // the heading after "CODE: "
  std::string summary;  // its first paragraph
  std::string help;     // its "What to do" section, when it has one
};

struct RenderOptions {
  bool color = false;
  std::string toolVersion = "0.1.0";
  std::string helpUriBase = defaultHelpUriBase();  // ends with '/'
  std::string srcRoot = ".";                        // %SRCROOT%: paths are made relative to it (absolute)
  std::function<Explanation(std::string_view code)> explanation;  // empty: rules describe codes by name
};

// One file's diagnostics, for the machine formats, which print one document for all the files of a run.
struct FileDiagnostics {
  std::string path;  // as given on the command line
  const SourceManager* sources = nullptr;
  std::vector<Diagnostic> diags;
};

std::string renderText(const SourceManager& sm, const std::vector<Diagnostic>& diags, const RenderOptions& opt);
std::string renderJson(const std::vector<FileDiagnostics>& files, const RenderOptions& opt);
std::string renderSarif(const std::vector<FileDiagnostics>& files, const RenderOptions& opt);
// One file (the SourceManager's first): the same documents with one entry in `files` / one artifact.
std::string renderJson(const SourceManager& sm, const std::vector<Diagnostic>& diags);
std::string renderSarif(const SourceManager& sm, const std::vector<Diagnostic>& diags, const RenderOptions& opt);
std::string render(DiagFormat f, const SourceManager& sm, const std::vector<Diagnostic>& diags, const RenderOptions& opt);
// "2 errors, 1 warning emitted" style summary line, or empty when there is nothing.
std::string summaryLine(const std::vector<Diagnostic>& diags, bool color);

}  // namespace dls
