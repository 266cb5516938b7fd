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
int unknownCodeError(const std::string& code, std::string_view usage, bool orOp) {
  bool color = isTerminal(2);
  fmt::print(stderr, "{}error[E0902]{}: no diagnostic code{} `{}` (see `dlspec explain --list`{})\n", color ? "\033[1;31m" : "",
             color ? "\033[0m" : "", orOp ? " or op" : "", code, orOp ? " and `dlspec ops`" : "");
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
    } else if ((r = value("--help-uri-base", v))) {
      if (r < 0) return false;
      if (v.find("://") == std::string::npos) {
        usageError(fmt::format("`--help-uri-base` needs an absolute URL such as https://host/docs/diagnostics/, not `{}`", v), "");
        return false;
      }
      opt.helpUriBase = v;
    } else if ((r = value("--color", v))) {
      if (r < 0) return false;
      if (v == "always") opt.color = true;
      else if (v == "never") opt.color = false;
      else if (v == "auto") opt.color = isTerminal(1);
      else {
        usageError(fmt::format("unknown color mode `{}` (expected auto, always or never)", v), "");
        return false;
      }
    } else if ((r = value("--lint-level", v))) {
      if (r < 0) return false;
      auto g = v == "all" ? std::optional<LintGroup>(LintGroup::Pedantic) : findLintGroup(v);
      if (!g) {
        usageError(fmt::format("unknown lint level `{}` (expected correctness, suspicious, style, pedantic or all)", v), "");
        return false;
      }
      opt.lintLevel = g;
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
  if (opt.lintLevel) diags.setLintLevel(*opt.lintLevel);
  for (auto& [code, level] : opt.levels) {
    if (auto group = code == "all" ? std::optional<LintGroup>() : findLintGroup(code)) {
      diags.setGroupLevel(*group, level);
      continue;
    }
    if (code == "all") {
      for (LintGroup g : {LintGroup::Correctness, LintGroup::Suspicious, LintGroup::Style, LintGroup::Pedantic})
        diags.setGroupLevel(g, level);
      continue;
    }
    const CodeInfo* info = findCode(code);
    if (!info && findRuntimeCode(code)) {
      usageError(fmt::format("`{}` is reported by the training executable at run time; the levels of `dlspec` "
                             "commands do not apply to it (see `dlspec explain {}`)", code, code), "");
      return false;
    }
    if (!info) {
      unknownCodeError(code, "", false);
      return false;
    }
    diags.setLevel(info->code, level);
  }
  return true;
}

bool rejectUnknown(const Args& a, std::string_view usage) {
  if (a.flags.empty()) return true;
  usageError(fmt::format("unknown option `{}`", a.flags.front()), usage);
  return false;
}

const std::vector<std::pair<std::string_view, std::string_view>>& embeddedDocs();  // EmbeddedDocs.cpp

Explanation explanationOf(std::string_view code) {
  Explanation ex;
  for (auto& [id, text] : embeddedDocs()) {
    if (id != code) continue;
    std::string_view md = text;
    size_t eol = md.find('\n');
    std::string_view heading = md.substr(0, eol);
    size_t colon = heading.find(": ");
    if (colon != std::string_view::npos) ex.title = std::string(heading.substr(colon + 2));
    // The first paragraph after the heading.
    size_t start = md.find_first_not_of('\n', eol);
    if (start != std::string_view::npos && md[start] != '#' && md[start] != '`') {
      size_t end = md.find("\n\n", start);
      ex.summary = std::string(md.substr(start, end == std::string_view::npos ? end : end - start));
      for (char& c : ex.summary)
        if (c == '\n') c = ' ';
    }
    size_t todo = md.find("\n## What to do\n");
    if (todo != std::string_view::npos) {
      size_t from = todo + 16, to = md.find("\n## ", from);
      std::string_view body = md.substr(from, to == std::string_view::npos ? to : to - from);
      while (!body.empty() && (body.front() == '\n')) body.remove_prefix(1);
      while (!body.empty() && (body.back() == '\n')) body.remove_suffix(1);
      ex.help = std::string(body);
    }
    break;
  }
  return ex;
}

RenderOptions renderOptions(const CommonOptions& opt) {
  RenderOptions ro;
  ro.color = opt.color;
  if (!opt.helpUriBase.empty()) ro.helpUriBase = opt.helpUriBase;
  ro.explanation = explanationOf;
  return ro;
}

void printDiagnostics(const Compilation& c, const CommonOptions& opt) {
  auto diags = c.diags.finish();
  RenderOptions ro = renderOptions(opt);
  // The file's path: the spec's, or for a spec that could not be read, the one its diagnostics name.
  std::string path = c.sources.fileCount() ? c.sources.path(0) : std::string();
  for (const Diagnostic& d : diags)
    if (path.empty() && !d.file.empty()) path = d.file;
  std::vector<FileDiagnostics> files(1);
  files[0].path = path;
  files[0].sources = &c.sources;
  files[0].diags = diags;
  std::string out = opt.format == DiagFormat::Json    ? renderJson(files, ro)
                    : opt.format == DiagFormat::Sarif ? renderSarif(files, ro)
                                                      : renderText(c.sources, diags, ro);
  if (opt.format == DiagFormat::Text) {
    std::fputs(out.c_str(), stderr);
    std::fputs(summaryLine(diags, opt.color).c_str(), stderr);
  } else {
    std::fputs(out.c_str(), stdout);
  }
}

}  // namespace dls
