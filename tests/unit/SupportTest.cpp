// SourceManager, Suggest and the three diagnostic renderers.
#include <catch2/catch.hpp>
#include <regex>

#include "support/DiagnosticEngine.h"
#include "support/DiagnosticRenderer.h"
#include "support/SourceManager.h"
#include "support/Suggest.h"
#include "sema/OpTable.h"
#include "JsonCheck.h"

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
  explicit Fixture(std::string text) { f = sm.add("spec.dls", std::move(text)); }
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

TEST_CASE("JSON output: one valid object per diagnostic", "[render]") {
  Fixture fx("dlspec 1\nnetwork \"q\\\" {\n");
  fx.diags.report(Code::E0004, fx.at("\"q"), "`\"`").help("a \"quoted\" help\nwith a newline");
  fx.diags.report(Code::E0018, Span{}, 50);
  std::string out = renderJson(fx.sm, fx.diags.finish());
  size_t lines = 0;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    std::string obj = out.substr(pos, nl - pos);
    INFO(obj);
    json::Value v;
    REQUIRE(json::parse(obj, v));
    CHECK(v.isObject());
    CHECK(v["code"].isString());
    CHECK(v["severity"].str == "error");
    pos = nl + 1;
    ++lines;
  }
  CHECK(lines == 2);
}

TEST_CASE("SARIF output: valid 2.1.0 shape", "[render]") {
  Fixture fx("dlspec 1\ntrain t {\n  epochs 10\n}\n");
  fx.diags.report(Code::E0013, fx.at("10"), "`=`", "in the train block", "number `10`").fixit(fx.at("10"), "= 10");
  fx.diags.report(Code::W0016, Span{fx.f, 0, 0});
  RenderOptions ro;
  json::Value v;
  REQUIRE(json::parse(renderSarif(fx.sm, fx.diags.finish(), ro), v));
  CHECK(v["version"].str == "2.1.0");
  REQUIRE(v["runs"].isArray());
  REQUIRE(v["runs"].items.size() == 1);
  json::Value& run = v["runs"].items[0];
  CHECK(run["tool"]["driver"]["name"].str == "dlspec");
  REQUIRE(run["results"].items.size() == 2);
  for (json::Value& r : run["results"].items) {
    CHECK(std::regex_match(r["ruleId"].str, std::regex("[EWI][0-9]{4}")));
    CHECK((r["level"].str == "error" || r["level"].str == "warning" || r["level"].str == "note"));
    CHECK(r["message"]["text"].isString());
    REQUIRE(r["locations"].items.size() == 1);
    json::Value& pl = r["locations"].items[0]["physicalLocation"];
    CHECK(pl["artifactLocation"]["uri"].str == "spec.dls");
    CHECK(pl["region"]["startLine"].isNumber());
    CHECK(pl["region"]["startLine"].num >= 1);
  }
  // Every result's ruleId is declared in the driver's rules.
  std::vector<std::string> ids;
  for (json::Value& rule : run["tool"]["driver"]["rules"].items) ids.push_back(rule["id"].str);
  for (json::Value& r : run["results"].items)
    CHECK(std::find(ids.begin(), ids.end(), r["ruleId"].str) != ids.end());
}

TEST_CASE("Op table: every op has its doc string (docs/ops.md and `dlspec ops` print it)", "[support]") {
  for (const sema::OpInfo& op : sema::opTable()) {
    INFO(sema::categoryName(op.category) << " " << op.name);
    CHECK_FALSE(op.doc.empty());
  }
}
