#include "driver/Command.h"

#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <unistd.h>

namespace dls {

bool isTerminal(int fd) {
  const char* noColor = std::getenv("NO_COLOR");
  return ::isatty(fd) && !(noColor && *noColor);
}

int usageError(const std::string& message, std::string_view usage) {
  bool color = isTerminal(2);
  fmt::print(stderr, "{}error[E0903]{}: {}\n", color ? "\033[1;31m" : "", color ? "\033[0m" : "", message);
  if (!usage.empty()) fmt::print(stderr, "\nusage: {}\n", usage);
  return kExitUsage;
}

// E0902: a code given on the command line (explain, --deny/--warn/--allow) that is not in the table.
int unknownCodeError(const std::string& code, std::string_view usage) {
  bool color = isTerminal(2);
  fmt::print(stderr, "{}error[E0902]{}: no diagnostic code `{}` (see `dlspec explain --list`)\n", color ? "\033[1;31m" : "",
             color ? "\033[0m" : "", code);
  if (!usage.empty()) fmt::print(stderr, "\nusage: {}\n", usage);
  return kExitUsage;
}

bool parseCommon(const std::vector<std::string>& argv, CommonOptions& opt, Args& rest) {
  opt.color = isTerminal(1);
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    auto value = [&](std::string_view flag, std::string& out) -> int {
      // --flag=value or --flag value
      if (a.rfind(std::string(flag) + "=", 0) == 0) {
        out = a.substr(flag.size() + 1);
        return 1;
      }
      if (a == flag) {
        if (i + 1 >= argv.size()) {
          usageError(fmt::format("`{}` needs a value", flag), "");
          return -1;
        }
        out = argv[++i];
        return 1;
      }
      return 0;
    };
    std::string v;
    int r;
    if ((r = value("--format", v))) {
      if (r < 0) return false;
      if (v == "text") opt.format = DiagFormat::Text;
      else if (v == "json") opt.format = DiagFormat::Json;
      else if (v == "sarif") opt.format = DiagFormat::Sarif;
      else {
        usageError(fmt::format("unknown format `{}` (expected text, json or sarif)", v), "");
        return false;
      }
    } else if ((r = value("--color", v))) {
      if (r < 0) return false;
      if (v == "always") opt.color = true;
      else if (v == "never") opt.color = false;
      else if (v == "auto") opt.color = isTerminal(1);
      else {
        usageError(fmt::format("unknown color mode `{}` (expected auto, always or never)", v), "");
        return false;
      }
    } else if ((r = value("--deny", v)) || (r = value("--warn", v)) || (r = value("--allow", v))) {
      if (r < 0) return false;
      Level l = a.rfind("--deny", 0) == 0 ? Level::Deny : a.rfind("--warn", 0) == 0 ? Level::Warn : Level::Allow;
      opt.levels.push_back({v, l});
    } else if (a.size() > 1 && a[0] == '-') {
      rest.flags.push_back(a);
    } else {
      rest.positional.push_back(a);
    }
  }
  return true;
}

bool applyLevels(const CommonOptions& opt, DiagnosticEngine& diags) {
  for (auto& [code, level] : opt.levels) {
    const CodeInfo* info = findCode(code);
    if (!info) {
      unknownCodeError(code, "");
      return false;
    }
    diags.setLevel(info->code, level);
  }
  return true;
    if (!info && findRuntimeCode(code)) {
      usageError(fmt::format("`{}` is reported by the training executable at run time; the levels of `dlspec` "
                             "commands do not apply to it (see `dlspec explain {}`)", code, code), "");
      return false;
    }
}

bool rejectUnknown(const Args& a, std::string_view usage) {
  if (a.flags.empty()) return true;
  usageError(fmt::format("unknown option `{}`", a.flags.front()), usage);
  return false;
}

void printDiagnostics(const Compilation& c, const CommonOptions& opt) {
  auto diags = c.diags.finish();
  RenderOptions ro;
  ro.color = opt.color;
  std::string out = render(opt.format, c.sources, diags, ro);
  if (opt.format == DiagFormat::Text) {
    std::fputs(out.c_str(), stderr);
    std::fputs(summaryLine(diags, opt.color).c_str(), stderr);
  } else {
    std::fputs(out.c_str(), stdout);
  }
}

}  // namespace dls
