// SourceManager, Suggest and the three diagnostic renderers.
#include <catch2/catch.hpp>
#include <regex>

#include "support/DiagnosticEngine.h"
#include "support/DiagnosticRenderer.h"
#include "support/SourceManager.h"
#include "support/Suggest.h"
#include "support/Taxonomy.h"
#include "sema/OpTable.h"
#include <nlohmann/json.hpp>

using namespace dls;

TEST_CASE("SourceManager: line and column in code points, CRLF, last line without newline", "[support]") {
  SourceManager sm;
  FileId f = sm.add("a.dls", "ab\r\nçé x\nlast");
  CHECK(sm.lineCount(f) == 3);
  CHECK(sm.lineCol(f, 0).line == 1);
  CHECK(sm.lineCol(f, 1).col == 2);
  CHECK(sm.lineText(f, 1) == "ab");  // the \r is not part of the line
  // "çé x": ç and é are two bytes each; x is byte 4+5=9 of the file, column 4.
  LineCol x = sm.lineCol(f, 4 + 5);
  CHECK(x.line == 2);
  CHECK(x.col == 4);
  CHECK(sm.offsetOf(f, 2, 4) == 9);
  CHECK(sm.lineText(f, 3) == "last");
  CHECK(sm.lineCol(f, static_cast<uint32_t>(sm.text(f).size())).line == 3);
  CHECK(sm.lineCol(f, static_cast<uint32_t>(sm.text(f).size())).col == 5);
  CHECK(sm.lineText(f, 4).empty());
}

TEST_CASE("SourceManager: load refuses missing files and directories", "[support]") {
  SourceManager sm;
  std::string err;
  CHECK_FALSE(sm.load("/nonexistent/x.dls", err));
  CHECK_FALSE(err.empty());
  CHECK_FALSE(sm.load("/tmp", err));
  CHECK(err == "is a directory");
}

TEST_CASE("Suggest: edit distance and closest candidate", "[support]") {
  CHECK(editDistance("network", "network", 3) == 0);
  CHECK(editDistance("netwrok", "network", 3) == 1);  // a transposition counts once
  CHECK(editDistance("kitten", "sitting", 5) == 3);
  CHECK(editDistance("a", "abcdefgh", 2) == 3);        // gives up above the limit
  std::vector<std::string> kw = {"dataset", "pipeline", "network", "train", "block"};
  CHECK(closest("dataste", kw) == std::optional<std::string>("dataset"));
  CHECK(closest("traing", kw) == std::optional<std::string>("train"));
  CHECK_FALSE(closest("banana", kw));
  CHECK_FALSE(closest(std::string(100, 'a'), kw));
}

namespace {
struct Fixture {
  SourceManager sm;
  DiagnosticEngine diags{sm};
  FileId f;
  explicit Fixture(std::string text) {
    f = sm.add("spec.dls", std::move(text));
    diags.setLintLevel(LintGroup::Pedantic);  // every finding, whatever its lint group
  }
  Span at(std::string_view needle) {
    auto pos = static_cast<uint32_t>(sm.text(f).find(needle));
    return {f, pos, pos + static_cast<uint32_t>(needle.size())};
  }
};
}  // namespace

TEST_CASE("text renderer: caret under the right columns, secondary labels", "[render]") {
  Fixture fx("dlspec 1\ntrain t {\n  loss = mse(model.out, kind)\n  epochs = 10\n}\n");
  fx.diags.report(Code::E0013, fx.at("mse"), "`x`", "here", "`y`").primary("this one").label(fx.at("epochs"), "and that");
  std::string out = renderText(fx.sm, fx.diags.finish(), RenderOptions{});
  INFO(out);
  CHECK(out.find("error[E0013]: expected `x` here, found `y`") == 0);
  CHECK(out.find("--> spec.dls:3:10") != std::string::npos);
  CHECK(out.find("3 |   loss = mse(model.out, kind)\n  |          ^^^ this one\n") != std::string::npos);
  CHECK(out.find("4 |   epochs = 10\n  |   ------ and that\n") != std::string::npos);
  CHECK(out.find("\033[") == std::string::npos);  // no colour unless asked
  RenderOptions colour;
  colour.color = true;
  CHECK(renderText(fx.sm, fx.diags.finish(), colour).find("\033[1;31m") != std::string::npos);
}

TEST_CASE("text renderer: long lines are windowed around the caret", "[render]") {
  std::string line = "  x = " + std::string(5000, 'a') + " BAD " + std::string(5000, 'b');
  Fixture fx("dlspec 1\n" + line + "\n");
  fx.diags.report(Code::E0004, fx.at("BAD"), "`BAD`");
  std::string out = renderText(fx.sm, fx.diags.finish(), RenderOptions{});
  INFO(out);
  CHECK(out.size() < 1000);
  // The caret is under BAD in the shown window.
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex("2 \\| (.*)\n  \\| ( *)\\^\\^\\^")));
  std::string shown = m[1];
  size_t caret = m[2].length();
  // Columns count code points: the leading ellipsis is three bytes but one column.
  std::string prefix = shown.substr(0, shown.find("BAD"));
  size_t cols = 0;
  for (unsigned char c : prefix) cols += (c & 0xC0) != 0x80;
  CHECK(caret == cols);
}

TEST_CASE("JSON output: one document with every diagnostic", "[render]") {
  Fixture fx("dlspec 1\nnetwork \"q\\\" {\n");
  fx.diags.report(Code::E0004, fx.at("\"q"), "`\"`").help("a \"quoted\" help\nwith a newline");
  fx.diags.report(Code::E0018, Span{}, 50);
  std::string out = renderJson(fx.sm, fx.diags.finish());
  INFO(out);
  nlohmann::json v = nlohmann::json::parse(out);  // throws on anything but one JSON document
  CHECK(v["version"] == kJsonFormatVersion);
  REQUIRE(v["diagnostics"].size() == 2);
  REQUIRE(v["files"].size() == 1);
  CHECK(v["files"][0]["path"] == "spec.dls");
  CHECK(v["files"][0]["diagnostics"] == v["diagnostics"]);
  for (auto& d : v["diagnostics"]) {
    CHECK(d["code"].is_string());
    CHECK(d["severity"] == "error");
  }
  bool quoted = false;
  for (auto& d : v["diagnostics"])
    if (d["code"] == "E0004") quoted = d["help"][0] == "a \"quoted\" help\nwith a newline";
  CHECK(quoted);
  CHECK(v["summary"]["errors"] == 2);
  // Clean: still one document, with empty lists.
  SourceManager sm;
  sm.add("clean.dls", "dlspec 1\n");
  nlohmann::json clean = nlohmann::json::parse(renderJson(sm, {}));
  CHECK(clean["diagnostics"].empty());
  CHECK(clean["files"][0]["path"] == "clean.dls");
  // Invalid UTF-8 in a message still gives valid JSON.
  Fixture bad("dlspec 1\n");
  bad.diags.add(Code::E0018, Span{}, "bad bytes \xff\xfe");
  CHECK_NOTHROW(nlohmann::json::parse(renderJson(bad.sm, bad.diags.finish())));
}

TEST_CASE("SARIF output: valid 2.1.0 shape", "[render]") {
  Fixture fx("dlspec 1\ntrain t {\n  epochs 10\n}\n");
  fx.diags.report(Code::E0013, fx.at("10"), "`=`", "in the train block", "number `10`").fixit(fx.at("10"), "= 10");
  fx.diags.report(Code::W0016, Span{fx.f, 0, 0});
  RenderOptions ro;
  ro.helpUriBase = "https://example.org/diagnostics/";
  nlohmann::json v = nlohmann::json::parse(renderSarif(fx.sm, fx.diags.finish(), ro));
  CHECK(v["version"] == "2.1.0");
  REQUIRE(v["runs"].size() == 1);
  auto& run = v["runs"][0];
  CHECK(run["tool"]["driver"]["name"] == "dlspec");
  CHECK(run["originalUriBaseIds"]["%SRCROOT%"]["uri"].get<std::string>().rfind("file:///", 0) == 0);
  REQUIRE(run["results"].size() == 2);
  for (auto& r : run["results"]) {
    CHECK(std::regex_match(r["ruleId"].get<std::string>(), std::regex("[A-Z][0-9]{4}")));
    CHECK((r["level"] == "error" || r["level"] == "warning" || r["level"] == "note"));
    CHECK(r["message"]["text"].is_string());
    REQUIRE(r["locations"].size() == 1);
    auto& pl = r["locations"][0]["physicalLocation"];
    CHECK(pl["artifactLocation"]["uri"] == "spec.dls");
    CHECK(pl["artifactLocation"]["uriBaseId"] == "%SRCROOT%");
    CHECK(pl["region"]["startLine"].get<int>() >= 1);
  }
  bool fixed = false;
  for (auto& r : run["results"])
    if (r["ruleId"] == "E0013")
      fixed = r["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"] == "= 10";
  CHECK(fixed);
  // Every result's ruleId is declared in the driver's rules, with an absolute helpUri and no placeholder.
  std::vector<std::string> ids;
  for (auto& rule : run["tool"]["driver"]["rules"]) {
    ids.push_back(rule["id"]);
    CHECK(rule["helpUri"] == "https://example.org/diagnostics/" + rule["id"].get<std::string>() + ".md");
    CHECK(rule["shortDescription"]["text"].get<std::string>().find("…") == std::string::npos);
  }
  for (auto& r : run["results"]) CHECK(std::find(ids.begin(), ids.end(), r["ruleId"]) != ids.end());
}

TEST_CASE("Taxonomy: every code's path is written the one way, with the taxonomy's numbers and names", "[support]") {
  size_t withPath = 0;
  for (const CodeInfo& c : allCodes()) {
    if (c.taxonomy.empty()) continue;
    ++withPath;
    INFO(c.id << ": " << c.taxonomy);
    CHECK(checkTaxonomyPath(c.taxonomy).empty());
  }
  CHECK(withPath > 40);
  CHECK(checkTaxonomyPath("5 Training > 5.2 Loss function > wrong loss function calculation").empty());
  CHECK_FALSE(checkTaxonomyPath("Training > Loss function > wrong loss function calculation").empty());
  CHECK_FALSE(checkTaxonomyPath("5 Training > 1.1 Model type & properties > x").empty());
  CHECK_FALSE(checkTaxonomyPath("1 Model > 1.1 Model type & properties").empty());  // no leaf
  CHECK_FALSE(checkTaxonomyPath("4 Tensors & inputs > wrong tensor shape").empty());  // category 4 numbers leaves
  CHECK(checkTaxonomyPath("4 Tensors & inputs > 4.1 wrong tensor shape").empty());
}

TEST_CASE("Suggest: the nearest names when none is close", "[support]") {
  std::vector<std::string> ops = {"dense", "conv2d", "maxpool", "avgpool", "relu", "dropout"};
  CHECK(suggestionText("dense2", ops) == "did you mean `dense`?");
  std::string far = suggestionText("transformer", ops);
  CHECK(far.rfind("nothing is close; the nearest are `", 0) == 0);
  CHECK(nearest("transformer", ops, 3).size() == 3);
  CHECK(suggestionText("x", {}).empty());
}

TEST_CASE("Op table: every op has its doc string (docs/ops.md and `dlspec ops` print it)", "[support]") {
  for (const sema::OpInfo& op : sema::opTable()) {
    INFO(sema::categoryName(op.category) << " " << op.name);
    CHECK_FALSE(op.doc.empty());
  }
}
