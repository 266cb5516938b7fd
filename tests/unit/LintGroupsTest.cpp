// Lint groups (support/LintGroups.h): the table, the command line's --lint-level/--deny/--warn/--allow on
// groups, and the ranking of findings in DiagnosticEngine::finish().
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "RunDlspec.h"
#include "support/DiagnosticEngine.h"
#include "support/LintGroups.h"

using namespace dls;

namespace {

using dls_test::Result;

bool has(const Result& r, const std::string& s) { return r.out.find(s) != std::string::npos; }

}  // namespace

TEST_CASE("lint groups: every warning, model and data code has a group", "[lint]") {
  for (const CodeInfo& c : allCodes()) {
    INFO(c.id);
    const bool needsRow = c.severity != Severity::Error || c.id[0] == 'M' || c.id[0] == 'D';
    if (needsRow) CHECK(hasLintGroupRow(c.code));
    // A code without a row: errors are correctness.
    if (!hasLintGroupRow(c.code)) CHECK(lintGroup(c.code) == LintGroup::Correctness);
  }
  CHECK(findLintGroup("pedantic") == LintGroup::Pedantic);
  CHECK(!findLintGroup("bogus"));
}

TEST_CASE("lint groups: docs/taxonomy.md lists every code of the table with its group", "[lint]") {
  std::ifstream in(std::string(DLSPEC_SOURCE_DIR) + "/docs/taxonomy.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string md = ss.str();
  for (const CodeInfo& c : allCodes()) {
    if (!hasLintGroupRow(c.code)) continue;
    INFO(c.id);
    CHECK(md.find(fmt::format("| {} | {} |", c.id, lintGroupName(lintGroup(c.code)))) != std::string::npos);
  }
}

TEST_CASE("lint groups: the default profile hides pedantic findings; --lint-level, --deny, --warn, --allow", "[lint][cli]") {
  const std::string pedantic = "specs/faults/training/missing_validation.dls";  // W0709 only: pedantic
  const std::string suspicious = "specs/faults/training/lr_implausible.dls";    // W0702 only: suspicious
  Result dflt = dls_test::dlspec("check " + pedantic);
  CHECK(dflt.rc == 0);
  CHECK(!has(dflt, "W0709"));
  Result all = dls_test::dlspec("check --lint-level pedantic " + pedantic);
  CHECK(all.rc == 0);
  CHECK(has(all, "warning[W0709]"));
  CHECK(has(dls_test::dlspec("check --lint-level=all " + pedantic), "warning[W0709]"));
  // A group or a code turned on by its own level, whatever the lint level.
  CHECK(has(dls_test::dlspec("check --warn pedantic " + pedantic), "warning[W0709]"));
  CHECK(has(dls_test::dlspec("check --warn W0709 " + pedantic), "warning[W0709]"));
  Result denied = dls_test::dlspec("check --deny pedantic " + pedantic);
  CHECK(denied.rc == 1);
  CHECK(has(denied, "error[W0709]"));
  Result allowed = dls_test::dlspec("check --lint-level pedantic --allow W0709 " + pedantic);
  CHECK(allowed.rc == 0);
  CHECK(!has(allowed, "W0709"));
  // Suspicious findings are printed by default; --deny suspicious makes them errors (exit 1).
  Result s = dls_test::dlspec("check " + suspicious);
  CHECK(s.rc == 0);
  CHECK(has(s, "warning[W0702]"));
  Result sd = dls_test::dlspec("check --deny suspicious " + suspicious);
  CHECK(sd.rc == 1);
  CHECK(has(sd, "error[W0702]"));
  CHECK(!has(dls_test::dlspec("check --allow suspicious " + suspicious), "W0702"));
  CHECK(!has(dls_test::dlspec("check --allow W0702 " + suspicious), "W0702"));
  CHECK(!has(dls_test::dlspec("check --lint-level correctness " + suspicious), "W0702"));
  // The last level that applies wins: a code's own after its group's.
  CHECK(has(dls_test::dlspec("check --allow suspicious --warn W0702 " + suspicious), "warning[W0702]"));
  CHECK(!has(dls_test::dlspec("check --warn W0702 --allow suspicious " + suspicious), "W0702"));
  // Errors are printed whatever the lint level, and a group's --allow leaves them as they are.
  Result e = dls_test::dlspec("check --lint-level correctness --allow correctness tests/specs/syntax/missing_assign.dls");
  CHECK(e.rc == 1);
  CHECK(has(e, "error[E0013]"));
  CHECK(dls_test::dlspec("check --lint-level bogus " + pedantic).rc == 2);
  // The group in explain, in JSON and in SARIF (a property of the rule).
  CHECK(has(dls_test::dlspec("explain W0709"), "Lint group: `pedantic`."));
  CHECK(has(dls_test::dlspec("explain --list"), "W0709  warning  pedantic"));
  auto j = nlohmann::json::parse(dls_test::dlspec("check --format=json --lint-level pedantic " + pedantic).out);
  REQUIRE(j["diagnostics"].size() == 1);
  CHECK(j["diagnostics"][0]["group"] == "pedantic");
  auto sarif = nlohmann::json::parse(dls_test::dlspec("check --format=sarif " + suspicious).out);
  CHECK(sarif["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["group"] == "suspicious");
}

TEST_CASE("ranking: group, then data flow, then source order; downstream findings are secondary", "[lint]") {
  SourceManager sm;
  std::string text(80, ' ');
  for (size_t i = 10; i < text.size(); i += 10) text[i] = '\n';
  FileId f = sm.add("t.dls", text);
  DiagnosticEngine e(sm);
  e.setLintLevel(LintGroup::Pedantic);
  // A data set [0, 10), a network [10, 40) (its source order is its data flow), a train block [40, 70) fed
  // by both, with a settings item [60, 70) fed by nothing.
  e.setFlow({{Span{f, 0, 10}, 0, {}, false},
             {Span{f, 10, 40}, 3, {}, true},
             {Span{f, 40, 70}, 4, {0, 1}, false},
             {Span{f, 60, 70}, 4, {}, false}});
  e.report(Code::W0709, Span{f, 41, 42}, "t");                                       // pedantic
  e.report(Code::W0702, Span{f, 61, 62}, "5", "unusually high", "sgd", "why");       // suspicious, a setting
  e.report(Code::W0712, Span{f, 45, 46}, "x", "[0, 255]");                           // suspicious, in the train block
  e.report(Code::M0104, Span{f, 30, 31}, "dense", "dense");                          // suspicious, after the error
  e.report(Code::M0104, Span{f, 12, 13}, "dense", "dense");                          // suspicious, before it
  e.report(Code::E0208, Span{f, 20, 21}, "dense", 4, "features", 8);                 // error in the network
  e.report(Code::E0101, Span{f, 2, 3}, "name", "x");                                 // error in the data set
  std::vector<Diagnostic> out = e.finish();
  REQUIRE(out.size() == 7);
  std::vector<std::string> order;
  for (const Diagnostic& d : out) order.push_back(fmt::format("{}@{}", codeInfo(d.code).id, d.span.begin));
  CHECK(order == std::vector<std::string>{"E0101@2", "E0208@20", "M0104@12", "M0104@30", "W0712@45", "W0702@61", "W0709@41"});
  CHECK(out[0].secondaryTo == -1);
  CHECK(out[1].secondaryTo == -1);  // the network does not read the data set's declaration
  CHECK(out[2].secondaryTo == -1);  // before the error in the network's flow
  CHECK(out[3].secondaryTo == 1);   // after it
  REQUIRE(!out[3].notes.empty());
  LineCol at = sm.lineCol(out[1].span);
  CHECK(out[3].notes.back() == fmt::format("secondary: downstream of E0208 at {}:{} in the data flow, which may cause it; fix that first", at.line, at.col));
  CHECK(out[4].secondaryTo == 0);   // the train block reads the data set and the network: the first error
  CHECK(out[5].secondaryTo == -1);  // a setting reads neither
  CHECK(out[6].secondaryTo == -1);  // pedantic: never secondary
}

TEST_CASE("ranking: text, JSON and SARIF print the network's error first and the train block's warning as secondary", "[lint][cli]") {
  const std::string spec = "tests/specs/ranking/secondary_metric.dls";  // the train block is written before the network
  auto j = nlohmann::json::parse(dls_test::dlspec("check --format=json " + spec).out);
  const auto& d = j["diagnostics"];
  REQUIRE(d.size() == 3);
  CHECK(d[0]["code"] == "E0202");
  CHECK(d[1]["code"] == "E0405");
  CHECK(d[2]["code"] == "W0719");
  CHECK(!d[0].contains("secondary_to"));
  CHECK(!d[1].contains("secondary_to"));  // errors are never secondary
  CHECK(d[2]["secondary_to"] == 0);
  const int line = d[0]["span"]["line"], col = d[0]["span"]["column"];
  const std::string note = fmt::format("secondary: downstream of E0202 at {}:{} in the data flow, which may cause it; fix that first", line, col);
  CHECK(d[2]["notes"].back() == note);
  auto sarif = nlohmann::json::parse(dls_test::dlspec("check --format=sarif " + spec).out);
  const auto& r = sarif["runs"][0]["results"];
  REQUIRE(r.size() == 3);
  CHECK(r[0]["ruleId"] == "E0202");
  CHECK(r[2]["properties"]["secondaryTo"]["ruleId"] == "E0202");
  CHECK(r[2]["properties"]["secondaryTo"]["resultIndex"] == 0);
  Result text = dls_test::dlspec("check " + spec);
  CHECK(text.rc == 1);
  const size_t e0202 = text.out.find("error[E0202]"), e0405 = text.out.find("error[E0405]"), w0719 = text.out.find("warning[W0719]");
  CHECK(e0202 < e0405);
  CHECK(e0405 < w0719);
  CHECK(has(text, "= note: " + note));
}
