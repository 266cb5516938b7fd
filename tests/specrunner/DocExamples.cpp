// The examples in docs/diagnostics/CODE.md: the failing one must produce CODE, the fixed one must not
// produce anything as severe. ```dls blocks are checked in-process; ```console blocks (for command-line
// codes) run each `$ dlspec ...` line with the real binary from the repository root.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <sys/wait.h>

#include "Runner.h"
#include "support/LintGroups.h"
#include "support/RuntimeCodes.h"

namespace fs = std::filesystem;

namespace dls::specrunner {
namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Block {
  std::string lang;
  std::string body;
  bool found = false;
};

// The first fenced block after the heading `## NAME`.
Block blockAfter(const std::string& md, const std::string& heading) {
  Block b;
  size_t h = md.find("\n## " + heading);
  if (h == std::string::npos) return b;
  size_t nextHeading = md.find("\n## ", h + 4);
  size_t open = md.find("\n```", h);
  if (open == std::string::npos || (nextHeading != std::string::npos && open > nextHeading)) return b;
  size_t langEnd = md.find('\n', open + 4);
  size_t close = md.find("\n```", langEnd);
  if (langEnd == std::string::npos || close == std::string::npos) return b;
  b.lang = md.substr(open + 4, langEnd - open - 4);
  b.body = md.substr(langEnd + 1, close - langEnd);
  b.found = true;
  return b;
}

struct Run {
  int rc = -1;
  std::string output;
};

Run shell(const std::string& cmd) {
  Run r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int st = ::pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Runs every `$ dlspec ...` line of a console block; returns the combined output and the worst status.
Run runConsole(const std::string& body, const std::string& root, const std::string& bin, std::string& problem) {
  Run all;
  all.rc = 0;
  std::istringstream in(body);
  std::string line;
  size_t commands = 0;
  while (std::getline(in, line)) {
    if (line.rfind("$ dlspec", 0) != 0) continue;
    ++commands;
    Run r = shell(fmt::format("cd '{}' && '{}'{}", root, bin, line.substr(8)));
    all.output += r.output;
    all.rc = std::max(all.rc, r.rc);
  }
  if (!commands) problem = "the console block has no `$ dlspec ...` line";
  if (bin.empty()) problem = "no --dlspec binary given for a console example";
  return all;
}

// A message template as a pattern: each `{…}` placeholder matches any non-empty text.
std::regex templatePattern(std::string_view tpl) {
  std::string re;
  for (size_t i = 0; i < tpl.size(); ++i) {
    char c = tpl[i];
    if (c == '{') {
      size_t close = tpl.find('}', i);
      if (close != std::string_view::npos) {
        re += ".+";
        i = close;
        continue;
      }
    }
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) re += '\\';
    re += c;
  }
  return std::regex(re);
}

// A runtime code's explanation (the training executable prints it, so there is no spec to check): the
// heading, an `## Example` of the executable's output whose first line is the code's message as the
// runtime formats it, and a `## What to do` list (the help the runtime's one-line message lacks).
std::string checkRuntimeDoc(const std::string& md, const CodeInfo& info, const std::string& fail) {
  std::string report;
  if (md.rfind(fmt::format("# {}: ", info.id), 0) != 0) report += fmt::format("  the first line must be `# {}: short name`\n", info.id);
  Block ex = blockAfter(md, "Example");
  if (!ex.found || ex.lang != "text") {
    report += "  needs a ```text block under `## Example` with the executable's output\n";
  } else {
    // The code's own line, `error[R0205]: …`; a note-only code (R0107) is shown as the `= note: …` line
    // it adds to another diagnostic.
    std::string head = fmt::format("{}[{}]: ", severityName(info.severity), info.id);
    std::regex pattern = templatePattern(info.message);
    std::istringstream lines(ex.body);
    std::string line;
    bool shown = false, matches = false;
    while (std::getline(lines, line)) {
      std::string msg;
      if (line.rfind(head, 0) == 0) msg = line.substr(head.size());
      else if (info.severity == Severity::Note && line.rfind("  = note: ", 0) == 0) msg = line.substr(10);
      else continue;
      shown = true;
      matches |= std::regex_match(msg, pattern);
    }
    if (!shown)
      report += fmt::format("  the example must show the code's line, `{}…`\n", head);
    else if (!matches)
      report += fmt::format("  the example's message is not of the form `{}` (RuntimeDiagnostics.def)\n", info.message);
  }
  size_t todo = md.find("\n## What to do\n");
  if (todo == std::string::npos || md.find("\n- ", todo) == std::string::npos)
    report += "  needs a `## What to do` section with at least one `- ` item\n";
  return report.empty() ? std::string() : fail + report;
}

}  // namespace

std::string checkDoc(const std::string& root, const std::string& relPath, const std::string& bin) {
  std::string md = slurp(fs::path(root) / relPath);
  std::string code = fs::path(relPath).stem().string();
  std::string fail = "FAIL " + relPath + "\n";
  const CodeInfo* info = findCode(code);
  if (!info && findRuntimeCode(code)) return checkRuntimeDoc(md, *findRuntimeCode(code), fail);
  if (!info)
    return fail + fmt::format("  `{}` is not a code in compiler/support/Diagnostics.def or runtime/core/RuntimeDiagnostics.def\n", code);
  if (md.rfind("# " + code + ": ", 0) != 0)
    return fail + fmt::format("  the first line must be `# {}: short name`\n", code);
  // The code's lint group, as LintGroups.def gives it, with the reason for it.
  const std::string groupLine = fmt::format("\nLint group: `{}`. ", lintGroupName(lintGroup(info->code)));
  if (md.find(groupLine) == std::string::npos)
    return fail + fmt::format("  needs the line `Lint group: `{}`. REASON` (the group of compiler/support/diagnostics/LintGroups.def)\n",
                              lintGroupName(lintGroup(info->code)));
  Block bad = blockAfter(md, "Failing example"), good = blockAfter(md, "Fixed example");
  if (!bad.found || !good.found)
    return fail + "  needs a fenced block under `## Failing example` and one under `## Fixed example`\n";
  // An internal error cannot be provoked on purpose: its examples are shown, not run.
  if (code == "I0001" && bad.lang == "text") return {};
  std::string report;
  auto check = [&](const Block& b, bool failing) {
    std::string which = failing ? "failing" : "fixed";
    if (b.lang == "dls") {
      CheckResult r = checkText(fmt::format("{}.{}.dls", code, which), b.body);
      bool hasCode = false, tooSevere = false;
      for (const Diagnostic& d : r.diags) {
        if (codeInfo(d.code).id == code) hasCode = true;
        if (d.severity >= info->severity || d.severity == Severity::Error) tooSevere = true;
      }
      if (failing && !hasCode)
        report += fmt::format("  the failing example does not produce {}; dlspec reported:\n{}\n", code,
                              r.rendered.empty() ? "    (nothing)\n" : r.rendered);
      if (!failing && tooSevere)
        report += fmt::format("  the fixed example still reports something as severe as {}:\n{}\n", code, r.rendered);
    } else if (b.lang == "console") {
      std::string problem;
      Run r = runConsole(b.body, root, bin, problem);
      if (!problem.empty()) report += "  " + which + " example: " + problem + "\n";
      else if (failing && r.output.find("[" + code + "]") == std::string::npos)
        report += fmt::format("  the failing commands do not report {}; they printed:\n{}\n", code, r.output);
      else if (!failing && (r.rc != 0 || r.output.find("error[") != std::string::npos))
        report += fmt::format("  the fixed commands exit with {}; they printed:\n{}\n", r.rc, r.output);
    } else {
      report += fmt::format("  the {} example's block must be ```dls (or ```console for command-line codes), not ```{}\n",
                            which, b.lang);
    }
  };
  check(bad, true);
  check(good, false);
  return report.empty() ? std::string() : fail + report;
}

std::string checkDocCoverage(const std::string& root) {
  // Which section (stage) declares each code: the file under compiler/support/diagnostics/ it is in.
  std::map<std::string, std::string> sectionOf;
  static const std::regex diag(R"(^\s*(?:DLS_RT_)?DIAG\(\s*([A-Z][0-9]{4})\s*,)");
  std::vector<fs::path> defs;
  for (auto& e : fs::directory_iterator(fs::path(root) / "compiler/support/diagnostics"))
    if (e.path().extension() == ".def") defs.push_back(e.path());
  if (fs::exists(fs::path(root) / "runtime/core/RuntimeDiagnostics.def"))
    defs.push_back(fs::path(root) / "runtime/core/RuntimeDiagnostics.def");
  for (const fs::path& p : defs) {
    std::istringstream in(slurp(p));
    std::string line;
    std::smatch m;
    while (std::getline(in, line))
      if (std::regex_search(line, m, diag)) sectionOf[m[1]] = p.stem().string();
  }
  for (const std::vector<CodeInfo>* table : {&allCodes(), &runtimeCodes()})
    for (const CodeInfo& c : *table)
      if (!sectionOf.count(std::string(c.id))) sectionOf[std::string(c.id)] = "Diagnostics";

  std::set<std::string> docs;
  for (auto& e : fs::directory_iterator(fs::path(root) / "docs/diagnostics"))
    if (e.path().extension() == ".md") docs.insert(e.path().stem().string());

  // Every code of both tables (compiler/support/diagnostics/*.def, runtime/core/RuntimeDiagnostics.def).
  std::map<std::string, std::vector<std::string>> missing;
  for (auto& [code, section] : sectionOf)
    if (!docs.count(code)) missing[section].push_back(code);
  std::string report;
  for (auto& [section, codes] : missing) {
    std::string list;
    for (auto& c : codes) list += " " + c;
    report += fmt::format("  {} ({} missing):{}\n", section, codes.size(), list);
  }
  for (const std::string& d : docs)
    if (!sectionOf.count(d)) report += fmt::format("  docs/diagnostics/{}.md explains a code that is not in the table\n", d);
  if (report.empty()) return {};
  return "FAIL every code needs docs/diagnostics/CODE.md (a failing and a fixed example; for R codes an example and what to do):\n" + report;
}

}  // namespace dls::specrunner
