// dlspec fmt: keeps every comment and is idempotent, on every spec in the repository that parses and
// every valid test spec (the ones without expectations).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/DiagnosticEngine.h"
#include "syntax/Formatter.h"
#include "syntax/Parser.h"

using namespace dls;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The comments of a spec, in order, found by a scanner that knows about strings.
std::vector<std::string> commentsOf(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') {
      for (++i; i < s.size() && s[i] != '"' && s[i] != '\n'; ++i)
        if (s[i] == '\\') ++i;
    } else if (s.compare(i, 2, "//") == 0) {
      size_t e = s.find('\n', i);
      if (e == std::string::npos) e = s.size();
      std::string c = s.substr(i, e - i);
      while (!c.empty() && (c.back() == ' ' || c.back() == '\r')) c.pop_back();
      out.push_back(c);
      i = e;
    } else if (s.compare(i, 2, "/*") == 0) {
      size_t e = s.find("*/", i + 2);
      e = e == std::string::npos ? s.size() : e + 2;
      out.push_back(s.substr(i, e - i));
      i = e - 1;
    }
  }
  return out;
}

// Formats `text`; empty optional when it does not parse.
std::optional<std::string> format(const std::string& path, const std::string& text) {
  SourceManager sm;
  DiagnosticEngine diags(sm);
  FileId f = sm.add(path, text);
  auto spec = parseSpec(sm, f, diags);
  if (!spec || diags.hasErrors()) return std::nullopt;
  return formatSpec(*spec);
}

std::vector<fs::path> specsToFormat() {
  std::vector<fs::path> out;
  for (const char* dir : {"specs", "tests/specs"}) {
    fs::path d = fs::path(DLSPEC_SOURCE_DIR) / dir;
    if (!fs::exists(d)) continue;
    for (auto& e : fs::recursive_directory_iterator(d))
      if (e.path().extension() == ".dls" && slurp(e.path()).find("expect-") == std::string::npos)
        out.push_back(e.path());
  }
  return out;
}

}  // namespace

TEST_CASE("fmt keeps every comment and is idempotent on every valid spec", "[fmt]") {
  auto files = specsToFormat();
  REQUIRE(files.size() >= 2);
  for (const fs::path& p : files) {
    INFO(p.string());
    std::string text = slurp(p);
    auto once = format(p.string(), text);
    REQUIRE(once);
    CHECK(commentsOf(*once) == commentsOf(text));
    auto twice = format(p.string(), *once);
    REQUIRE(twice);
    CHECK(*twice == *once);
  }
}

TEST_CASE("fmt keeps comments in every position", "[fmt]") {
  std::string text = R"(// leading
dlspec 1  // after the header

/* block
   comment */
// before a dataset
dataset d {  // after the brace
  // before a field
  sample image: u8[28, 28]  // after a field
  label kind: class<10>
  // at the end of the body
}  // after the closing brace

network N(x: f32[N, 4]) -> real[N, 4] {
  h = x |> dense(4)  // trailing
  return h
}
// at the end of the file
)";
  auto once = format("c.dls", text);
  REQUIRE(once);
  INFO(*once);
  CHECK(commentsOf(*once) == commentsOf(text));
  auto twice = format("c.dls", *once);
  REQUIRE(twice);
  CHECK(*twice == *once);
}
