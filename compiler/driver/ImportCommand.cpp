// dlspec import darknet FILE.cfg [-o FILE.dls] [--layers-json FILE]: translates another framework's
// network file into a spec. --layers-json writes the shape walk by the source framework's own rules.
#include <cstdio>
#include <fmt/format.h>
#include <fstream>

#include "driver/Command.h"
#include "import/DarknetImport.h"

namespace dls {

static const std::string_view kUsage = commandUsage("import");

static bool writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  return out && (out << text) && out.flush();
}

int cmdImport(const std::vector<std::string>& argv) {
  CommonOptions opt;
  Args args;
  std::vector<std::string> rest;
  std::string output, layersJson;
  // -o and --layers-json take a value: pull them out before the common parser sees them.
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    std::string* into = a == "-o" || a == "--output" ? &output : a == "--layers-json" ? &layersJson : nullptr;
    if (into) {
      if (i + 1 >= argv.size()) return usageError(fmt::format("`{}` needs a file name", a), kUsage);
      *into = argv[++i];
    } else if (a.rfind("--layers-json=", 0) == 0) {
      layersJson = a.substr(14);
    } else if (a.rfind("--output=", 0) == 0) {
      output = a.substr(9);
    } else {
      rest.push_back(a);
    }
  }
  if (!parseCommon(rest, opt, args)) return kExitUsage;
  if (!rejectUnknown(args, kUsage)) return kExitUsage;
  if (args.positional.size() != 2) return usageError("expected a format and one file", kUsage);
  if (args.positional[0] != "darknet")
    return usageError(fmt::format("unknown format `{}`: `darknet` is the one importer", args.positional[0]), kUsage);
  Compilation c;
  if (!applyLevels(opt, c.diags)) return kExitUsage;
  auto result = import::importDarknet(args.positional[1], c.sources, c.diags);
  int rc = result && !c.diags.hasErrors() ? kExitOk : kExitErrors;
  if (result) {
    if (!layersJson.empty() && !writeFile(layersJson, result->layersJson())) {
      c.diags.report(Code::E0903, Span{}, fmt::format("cannot write `{}`", layersJson));
      rc = kExitErrors;
    }
    if (output.empty()) {
      std::fputs(result->spec.c_str(), stdout);
    } else if (!writeFile(output, result->spec)) {
      c.diags.report(Code::E0903, Span{}, fmt::format("cannot write `{}`", output));
      rc = kExitErrors;
    }
  }
  printDiagnostics(c, opt);
  return rc;
}

}  // namespace dls
