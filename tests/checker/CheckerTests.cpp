// Tests of the taxonomy checker: the IDX and CSV readers, and docs/taxonomy.md (every diagnostic code it
// names is in the table, every spec file it names exists).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "checker/data/DataTable.h"
#include "support/Diagnostic.h"

namespace fs = std::filesystem;
using namespace dls::checker::data;

namespace {

fs::path tempFile(const std::string& name, const std::string& bytes) {
  fs::path p = fs::temp_directory_path() / ("dlspec_checker_tests_" + name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

std::string idxHeader(uint8_t rank, std::initializer_list<uint32_t> dims) {
  std::string s = {0, 0, 0x08, static_cast<char>(rank)};
  for (uint32_t d : dims)
    for (int k = 3; k >= 0; --k) s += static_cast<char>((d >> (8 * k)) & 0xff);
  return s;
}

}  // namespace

TEST_CASE("IDX: images and labels are read with their dims") {
  std::string images = idxHeader(3, {3, 2, 2}) + std::string("\x01\x02\x03\x04" "\x05\x06\x07\x08" "\x09\x0a\x0b\x0c", 12);
  std::string labels = idxHeader(1, {3}) + std::string("\x00\x01\x02", 3);
  DataTable t;
  std::string err;
  REQUIRE(readIdx(tempFile("i.idx", images).string(), tempFile("l.idx", labels).string(), t, err));
  CHECK(err.empty());
  CHECK(t.rows == 3);
  CHECK(t.rowBytes == 4);
  CHECK(t.sampleDims == std::vector<int64_t>{2, 2});
  CHECK(t.labels == std::vector<int64_t>{0, 1, 2});
  CHECK(t.raw[4] == 5);
}

TEST_CASE("IDX: a truncated file and a count mismatch are errors, not crashes") {
  DataTable t;
  std::string err;
  std::string labels = idxHeader(1, {3}) + std::string("\x00\x01\x02", 3);
  CHECK_FALSE(readIdx(tempFile("short.idx", idxHeader(3, {3, 2, 2}) + "\x01\x02").string(),
                      tempFile("l2.idx", labels).string(), t, err));
  CHECK_FALSE(err.empty());
  err.clear();
  std::string twoLabels = idxHeader(1, {2}) + std::string("\x00\x01", 2);
  std::string images = idxHeader(3, {3, 1, 1}) + std::string("\x01\x02\x03", 3);
  CHECK_FALSE(readIdx(tempFile("i3.idx", images).string(), tempFile("l3.idx", twoLabels).string(), t, err));
  CHECK_FALSE(err.empty());
  err.clear();
  CHECK_FALSE(readIdx("/nonexistent/file.idx", "/nonexistent/labels.idx", t, err));
  CHECK_FALSE(err.empty());
}

TEST_CASE("CSV: features, the label column and line numbers") {
  DataTable t;
  std::string err;
  REQUIRE(readCsv(tempFile("a.csv", "x,y,label\n1,2.5,0\n3,4,1\n").string(), "label", t, err));
  CHECK(t.csv);
  CHECK(t.rows == 2);
  CHECK(t.columns == std::vector<std::string>{"x", "y"});
  CHECK(t.values == std::vector<double>{1, 2.5, 3, 4});
  CHECK(t.labels == std::vector<int64_t>{0, 1});
  CHECK(t.lineOf == std::vector<int64_t>{2, 3});
}

TEST_CASE("CSV: a missing label column is an error") {
  DataTable t;
  std::string err;
  CHECK_FALSE(readCsv(tempFile("b.csv", "x,y\n1,2\n").string(), "label", t, err));
  CHECK_FALSE(err.empty());
}

TEST_CASE("docs/taxonomy.md names only existing codes and spec files") {
  fs::path root = DLSPEC_ROOT;
  std::ifstream in(root / "docs/taxonomy.md");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string md = ss.str();
  std::regex code(R"(\b([EWMDI][0-9]{4})\b)"), spec(R"((specs/[A-Za-z0-9_./-]+\.dls))"), rule(R"((checker/rules/[A-Za-z]+\.cpp))");
  size_t codes = 0, specs = 0;
  for (auto it = std::sregex_iterator(md.begin(), md.end(), code); it != std::sregex_iterator(); ++it, ++codes) {
    INFO("code " << (*it)[1]);
    CHECK(dls::findCode((*it)[1].str()) != nullptr);
  }
  for (auto it = std::sregex_iterator(md.begin(), md.end(), spec); it != std::sregex_iterator(); ++it, ++specs) {
    INFO("spec " << (*it)[1]);
    CHECK(fs::exists(root / (*it)[1].str()));
  }
  for (auto it = std::sregex_iterator(md.begin(), md.end(), rule); it != std::sregex_iterator(); ++it) {
    INFO("rule " << (*it)[1]);
    CHECK(fs::exists(root / (*it)[1].str()));
  }
  // Runtime guards' codes live in the runtime's own table.
  std::ifstream rin(root / "runtime/core/RuntimeDiagnostics.def");
  REQUIRE(rin);
  std::stringstream rs;
  rs << rin.rdbuf();
  std::regex rcode(R"(\b(R[0-9]{4})\b)");
  for (auto it = std::sregex_iterator(md.begin(), md.end(), rcode); it != std::sregex_iterator(); ++it) {
    INFO("runtime code " << (*it)[1]);
    CHECK(rs.str().find("(" + (*it)[1].str() + ",") != std::string::npos);
  }
  CHECK(codes > 30);
  CHECK(specs > 10);
}
