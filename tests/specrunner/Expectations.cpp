#include <fmt/format.h>
#include <map>
#include <memory>
#include <regex>

#include "Runner.h"
#include "Compilation.h"
#include "support/DiagnosticRenderer.h"

namespace dls::specrunner {

std::vector<Expectation> parseExpectations(const std::string& text, bool fileLevelAllowed,
                                           std::vector<std::string>& problems) {
  static const std::regex re(R"(expect-(error|warning|note)\[([A-Z][0-9]{4})\](@(file|[+-][0-9]+))?(:([0-9]+))?)");
  static const std::regex loose(R"(expect-[a-z]+)");
  std::vector<Expectation> out;
  uint32_t lineNo = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    ++lineNo;
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    size_t comment = line.find("//");
    if (comment == std::string::npos || line.find("expect-", comment) == std::string::npos) continue;
    std::string rest = line.substr(comment);
    size_t found = 0;
    for (auto it = std::sregex_iterator(rest.begin(), rest.end(), re); it != std::sregex_iterator(); ++it) {
      const std::smatch& m = *it;
      ++found;
      Expectation e;
      e.severity = m[1] == "error" ? Severity::Error : m[1] == "warning" ? Severity::Warning : Severity::Note;
      e.code = m[2];
      e.writtenOn = lineNo;
      if (m[4].matched && m[4] == "file") {
        if (!fileLevelAllowed)
          problems.push_back(fmt::format("line {}: `@file` expectations are only allowed in *.fail.dls files", lineNo));
      } else if (m[4].matched) {
        long rel = std::stol(m[4].str());
        if (static_cast<long>(lineNo) + rel < 1) problems.push_back(fmt::format("line {}: `@{}` points before the file", lineNo, m[4].str()));
        e.line = static_cast<uint32_t>(static_cast<long>(lineNo) + rel);
      } else {
        e.line = lineNo;
      }
      if (m[6].matched) e.column = static_cast<uint32_t>(std::stoul(m[6].str()));
      if (!findCode(e.code)) problems.push_back(fmt::format("line {}: `{}` is not a diagnostic code", lineNo, e.code));
      else if (!e.line && m[6].matched) problems.push_back(fmt::format("line {}: `@file` cannot have a column", lineNo));
      out.push_back(std::move(e));
    }
    size_t words = 0;
    for (auto it = std::sregex_iterator(rest.begin(), rest.end(), loose); it != std::sregex_iterator(); ++it) ++words;
    if (words != found)
      problems.push_back(fmt::format("line {}: malformed expectation (write `// expect-error[E0013]`, "
                                     "optionally `@+1`, `@-2` or `@file`, then `:COLUMN`)", lineNo));
  }
  return out;
}

namespace {
struct Holder {
  Compilation c;
};
}  // namespace

CheckResult checkText(const std::string& path, std::string text, bool data) {
  auto h = std::make_shared<Holder>();
  Compilation& c = h->c;
  c.loadText(path, std::move(text));
  // Every finding, whatever its lint group: the expectations name pedantic and style codes too.
  c.diags.setLintLevel(LintGroup::Pedantic);
  CheckOptions opt;
  opt.data = data;
  if (c.parse()) checkSpec(c, opt);
  CheckResult r;
  r.diags = c.diags.finish();
  r.sources = &c.sources;
  RenderOptions ro;
  r.rendered = renderText(c.sources, r.diags, ro);
  // Every case also goes through the other renderers: none may crash or print an unbounded line.
  std::string json = renderJson(c.sources, r.diags);
  std::string sarif = renderSarif(c.sources, r.diags, ro);
  ro.color = true;
  std::string coloured = renderText(c.sources, r.diags, ro);
  size_t bound = 8192 * (r.diags.size() + 1);
  if (r.rendered.size() > bound || coloured.size() > 2 * bound)
    r.renderProblem = fmt::format("the text rendering is {} bytes long for {} diagnostics: long lines are not windowed",
                                  r.rendered.size(), r.diags.size());
  if (json.size() > 4 * bound || sarif.size() > 8 * bound)
    r.renderProblem = "the JSON or SARIF rendering is unreasonably large";
  r.keepAlive = h;
  return r;
}

static std::string describe(const Diagnostic& d, const SourceManager& sm) {
  std::string where = "(no location)";
  if (d.span.valid()) {
    LineCol lc = sm.lineCol(d.span);
    where = fmt::format("{}:{}", lc.line, lc.col);
  }
  std::string msg = d.message.size() > 120 ? d.message.substr(0, 120) + "…" : d.message;
  return fmt::format("{}[{}] at {}: {}", severityName(d.severity), codeInfo(d.code).id, where, msg);
}

static std::string describe(const Expectation& e) {
  std::string where = e.line ? fmt::format("line {}", *e.line) : "file level";
  if (e.column) where += fmt::format(", column {}", *e.column);
  return fmt::format("{}[{}] at {} (written on line {})", severityName(e.severity), e.code, where, e.writtenOn);
}

std::string compare(const std::string& path, const CheckResult& r, std::vector<Expectation>& exps) {
  std::vector<std::string> extra, wrongColumn;
  const SourceManager& sm = *r.sources;
  std::vector<bool> used(r.diags.size(), false);
  // Two passes: exact (line and, when given, column) first, then file-level expectations.
  for (int pass = 0; pass < 2; ++pass)
    for (Expectation& e : exps) {
      if (e.matched || (pass == 0) != e.line.has_value()) continue;
      for (size_t i = 0; i < r.diags.size(); ++i) {
        const Diagnostic& d = r.diags[i];
        if (used[i] || codeInfo(d.code).id != e.code || d.severity != e.severity) continue;
        if (e.line) {
          if (!d.span.valid()) continue;
          LineCol lc = sm.lineCol(d.span);
          if (lc.line != *e.line) continue;
          if (e.column && lc.col != *e.column) {
            wrongColumn.push_back(fmt::format("{}: expected column {}, found {}", describe(e), *e.column, lc.col));
            continue;
          }
        }
        used[i] = e.matched = true;
        break;
      }
    }
  std::string report;
  for (const Expectation& e : exps)
    if (!e.matched) report += "  missing:    " + describe(e) + "\n";
  for (size_t i = 0; i < r.diags.size(); ++i)
    if (!used[i]) report += "  unexpected: " + describe(r.diags[i], sm) + "\n";
  if (!report.empty())
    for (const std::string& w : wrongColumn) report += "  column:     " + w + "\n";
  if (!r.renderProblem.empty()) report += "  rendering:  " + r.renderProblem + "\n";
  if (report.empty()) return {};
  std::string shown = r.rendered.size() > 6000 ? r.rendered.substr(0, 6000) + "\n[…]\n" : r.rendered;
  return fmt::format("FAIL {}\n{}\n  what dlspec reported:\n{}\n", path, report,
                     shown.empty() ? std::string("    (nothing)\n") : shown);
}

}  // namespace dls::specrunner
