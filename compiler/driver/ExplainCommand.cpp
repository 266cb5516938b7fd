// dlspec explain CODE|OP : the long explanation of a diagnostic code, the compiler's or the runtime's
// (docs/diagnostics/CODE.md, embedded), or an op's reference (as `dlspec ops OP`).
#include <cstdio>
#include <fmt/format.h>

#include "driver/Command.h"

namespace dls {

const std::vector<std::pair<std::string_view, std::string_view>>& embeddedDocs();
int unknownCodeError(const std::string& code, std::string_view usage, bool orOp);  // Command.cpp

static const std::string_view kUsage = commandUsage("explain");

int cmdExplain(const std::vector<std::string>& argv) {
  if (argv.size() == 1 && argv[0] == "--list") {
    for (const CodeInfo& info : allCodes())
      fmt::print("{}  {:<7}  {:<11}  {}{}\n", info.id, severityName(info.severity), lintGroupName(lintGroup(info.code)), info.name,
                 info.taxonomy.empty() ? "" : fmt::format("  [{}]", info.taxonomy));
    // The runtime's codes, printed by the training executable (runtime/core/RuntimeDiagnostics.def).
    for (const CodeInfo& info : runtimeCodes())
      fmt::print("{}  {:<7}  {}  [run time]\n", info.id, severityName(info.severity), info.name);
    return kExitOk;
  }
  if (argv.size() != 1 || (!argv[0].empty() && argv[0][0] == '-'))
    return usageError(argv.empty() ? "no code given" : "expected exactly one code", kUsage);
  const CodeInfo* info = findAnyCode(argv[0]);
  if (!info) {
    // An op's name: its reference (as `dlspec ops NAME`).
    std::string ref = opReferenceText(argv[0]);
    if (!ref.empty()) {
      std::fwrite(ref.data(), 1, ref.size(), stdout);
      return kExitOk;
    }
    return unknownCodeError(argv[0], kUsage, true);
  }
  for (auto& [code, text] : embeddedDocs())
    if (code == info->id) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      return kExitOk;
    }
  fmt::print("{} ({}): {}\n\nLint group: `{}`.\n\nThis code has no long explanation yet.\n", info->id, info->name, info->message,
             info->code == Code::Count_ ? std::string_view("run time") : lintGroupName(lintGroup(info->code)));
  return kExitErrors;
}

}  // namespace dls
