// dlspec fmt: keeps every comment and is idempotent, on every spec in the repository that parses and
// every valid test spec (the ones without expectations).
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
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

namespace {

std::optional<std::string> formatWidth(const std::string& text, size_t width) {
  SourceManager sm;
  DiagnosticEngine diags(sm);
  FileId f = sm.add("w.dls", text);
  auto spec = parseSpec(sm, f, diags);
  if (!spec || diags.hasErrors()) return std::nullopt;
  return formatSpec(*spec, FormatOptions{width});
}

// A line that no layout can shorten: a comment, or one holding a string literal that alone is too long.
bool unbreakable(const std::string& line, size_t width) {
  if (line.find("//") != std::string::npos || line.find("/*") != std::string::npos) return true;
  size_t q = line.find('"');
  return q != std::string::npos && line.size() - q > width / 3;
}

size_t columnsOf(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

TEST_CASE("fmt keeps lines within the width, idempotent and with the same meaning, on every valid spec", "[fmt]") {
  for (size_t width : {60, 80, 100}) {
    for (const fs::path& p : specsToFormat()) {
      INFO(p.string() << " at width " << width);
      std::string text = slurp(p);
      auto once = formatWidth(text, width);
      REQUIRE(once);
      std::istringstream lines(*once);
      for (std::string line; std::getline(lines, line);) {
        INFO(line);
        if (!unbreakable(line, width)) CHECK(columnsOf(line) <= width);
      }
      auto twice = formatWidth(*once, width);
      REQUIRE(twice);
      CHECK(*twice == *once);
      // Laid out on one line each, the spec and its formatted text are the same program.
      CHECK(formatWidth(*once, 100000) == formatWidth(text, 100000));
      CHECK(commentsOf(*once) == commentsOf(text));
    }
  }
}

TEST_CASE("fmt breaks long calls and pipes and lines up columns", "[fmt]") {
  std::string text = R"(dlspec 1

dataset d {
  train = idx("/a/very/long/path/to/the/training/images-idx3-ubyte.gz", "/a/very/long/path/to/the/training/labels-idx1-ubyte.gz")
  sample image: u8[28, 28]  // the picture
  label kind: class<10>     // its class
}

pipeline p from d.train {
  image = image |> to_f32 |> scale(1/255) |> normalize(mean: 0.286, std: 0.353) |> reshape([1, 28, 28]) |> to_f32
  batch(64)
}

train t {
  model = N on cpu  // where
  data = p   // what
  loss = cross_entropy(model.out, kind)
}
)";
  auto out = formatWidth(text, 100);
  REQUIRE(out);
  INFO(*out);
  // The arguments of a call that does not fit line up after its `(`.
  CHECK(out->find("  train = idx(\"/a/very/long/path/to/the/training/images-idx3-ubyte.gz\",\n"
                  "              \"/a/very/long/path/to/the/training/labels-idx1-ubyte.gz\")\n") != std::string::npos);
  // Fields in columns: roles, then names; trailing comments of consecutive lines in one column.
  CHECK(out->find("  sample image: u8[28, 28]  // the picture\n"
                  "  label  kind:  class<10>   // its class\n") != std::string::npos);
  // A pipe chain breaks before `|>`, the continuation under the first `|>`.
  CHECK(out->find("  image = image |> to_f32 |> scale(1/255) |> normalize(mean: 0.286, std: 0.353)\n"
                  "                |> reshape([1, 28, 28]) |> to_f32\n") != std::string::npos);
  CHECK(out->find("  model = N on cpu  // where\n"
                  "  data  = p         // what\n") != std::string::npos);
  // The narrower the width, the more lines; the program stays the same.
  auto narrow = formatWidth(text, 60);
  REQUIRE(narrow);
  CHECK(std::count(narrow->begin(), narrow->end(), '\n') > std::count(out->begin(), out->end(), '\n'));
  CHECK(formatWidth(*narrow, 100000) == formatWidth(text, 100000));
}
