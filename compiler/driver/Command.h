// Command: one `dlspec` subcommand. Each lives in its own file and is listed in main.cpp's table.
#pragma once
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
  std::vector<std::pair<std::string, Level>> levels;  // --deny/--warn/--allow CODE
};

struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> flags;  // remaining --flags, for the command to read
};

// Parses the common flags out of argv; unknown flags are left in `rest.flags` for the command.
// Returns false and prints a usage diagnostic on a malformed common flag.
bool parseCommon(const std::vector<std::string>& argv, CommonOptions& opt, Args& rest);
// Applies --deny/--warn/--allow to the engine; false (after printing) when a code does not exist.
bool applyLevels(const CommonOptions& opt, DiagnosticEngine& diags);
// Prints the diagnostics collected so far in the chosen format, and the summary line in text mode.
void printDiagnostics(const Compilation& c, const CommonOptions& opt);
// A usage error: prints `error[E0903]: message` (and the command's usage) to stderr; returns kExitUsage.
int usageError(const std::string& message, std::string_view usage);
// Reports flags left unparsed as errors; returns false if there were any.
bool rejectUnknown(const Args& a, std::string_view usage);
bool isTerminal(int fd);

using CommandFn = int (*)(const std::vector<std::string>& argv);

int cmdCheck(const std::vector<std::string>& argv);
int cmdFmt(const std::vector<std::string>& argv);
int cmdExplain(const std::vector<std::string>& argv);
int cmdSummary(const std::vector<std::string>& argv);
int cmdGraph(const std::vector<std::string>& argv);
int cmdBuild(const std::vector<std::string>& argv);
int cmdRun(const std::vector<std::string>& argv);
int cmdImport(const std::vector<std::string>& argv);
int cmdMutate(const std::vector<std::string>& argv);

}  // namespace dls
