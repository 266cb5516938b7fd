// Command: one `dlspec` subcommand. Each lives in its own file and is listed in main.cpp's table.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "Compilation.h"
#include "support/DiagnosticRenderer.h"
#include "support/RuntimeCodes.h"

namespace dls {

enum ExitCode { kExitOk = 0, kExitErrors = 1, kExitUsage = 2 };

// Options shared by the commands that read a spec.
struct CommonOptions {
  DiagFormat format = DiagFormat::Text;
  bool color = false;
  std::vector<std::pair<std::string, Level>> levels;  // --deny/--warn/--allow CODE or GROUP, in order
  std::optional<LintGroup> lintLevel;                  // --lint-level GROUP (pedantic, all); none: the default
  std::string helpUriBase;                             // --help-uri-base=URL (sarif); empty: the default
};

struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> flags;  // remaining --flags, for the command to read
};

// Parses the common flags out of argv; unknown flags are left in `rest.flags` for the command.
// Returns false and prints a usage diagnostic on a malformed common flag.
bool parseCommon(const std::vector<std::string>& argv, CommonOptions& opt, Args& rest);
// Applies --lint-level and --deny/--warn/--allow (a code or a lint group) to the engine; false (after printing)
// when a code or group does not exist.
bool applyLevels(const CommonOptions& opt, DiagnosticEngine& diags);
// Prints the diagnostics collected so far in the chosen format, and the summary line in text mode. In
// json and sarif each call prints one whole document for this one file.
void printDiagnostics(const Compilation& c, const CommonOptions& opt);
// The renderer's options for these command-line options: colour, SARIF's helpUri base and the rules'
// descriptions from the embedded explanations.
RenderOptions renderOptions(const CommonOptions& opt);
// The parts of docs/diagnostics/CODE.md (embedded in the binary) that SARIF rules show.
Explanation explanationOf(std::string_view code);
// A usage error: prints `error[E0903]: message` (and the command's usage) to stderr; returns kExitUsage.
int usageError(const std::string& message, std::string_view usage);
// Reports flags left unparsed as errors; returns false if there were any.
bool rejectUnknown(const Args& a, std::string_view usage);
bool isTerminal(int fd);

using CommandFn = int (*)(const std::vector<std::string>& argv);

// The usage line of a command, from the command table in main.cpp (empty for an unknown name).
std::string_view commandUsage(std::string_view name);
// `dlspec COMMAND --help`: summary, usage and options; returns kExitOk.
int printCommandHelp(std::string_view name);
// The reference of the ops named `name` (one per category it is in, e.g. `reshape`), as `dlspec ops NAME`
// prints it; empty when there is no such op.
std::string opReferenceText(std::string_view name);

int cmdCheck(const std::vector<std::string>& argv);
int cmdFmt(const std::vector<std::string>& argv);
int cmdFix(const std::vector<std::string>& argv);
int cmdInit(const std::vector<std::string>& argv);
int cmdExplain(const std::vector<std::string>& argv);
int cmdSummary(const std::vector<std::string>& argv);
int cmdGraph(const std::vector<std::string>& argv);
int cmdBuild(const std::vector<std::string>& argv);
int cmdRun(const std::vector<std::string>& argv);
int cmdImport(const std::vector<std::string>& argv);
int cmdExport(const std::vector<std::string>& argv);
int cmdMutate(const std::vector<std::string>& argv);
int cmdOps(const std::vector<std::string>& argv);
int cmdLsp(const std::vector<std::string>& argv);

}  // namespace dls
