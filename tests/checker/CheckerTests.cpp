// Tests of the taxonomy checker: the IDX and CSV readers, and docs/taxonomy.md (every diagnostic code it
// names is in the table, every spec file it names exists).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <tuple>

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

// A .npy file: version `major`, header dict `dict` (padded as NumPy pads it), then `data`.
std::string npy(const std::string& dict, const std::string& data, int major = 1) {
  size_t pre = major == 1 ? 10 : 12;
  std::string h = dict;
  while ((pre + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += '\0';
  for (size_t k = 0; k < pre - 8; ++k) s += static_cast<char>((h.size() >> (8 * k)) & 0xff);
  return s + h + data;
}

template <class T>
std::string bytesOf(std::initializer_list<T> v) {
  std::string s;
  for (T x : v) s.append(reinterpret_cast<const char*>(&x), sizeof x);
  return s;
}

}  // namespace

TEST_CASE("NPY: v1 and v2 headers, every element type, samples and labels") {
  std::string x = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", bytesOf<float>({1, 2, 3, 4, 5, 6}));
  std::string y = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", bytesOf<int64_t>({0, 2, 1}), 2);
  DataTable t;
  std::string err;
  REQUIRE(readNpy(tempFile("x.npy", x).string(), tempFile("y.npy", y).string(), t, err));
  CHECK(t.rows == 3);
  CHECK(t.sampleDims == std::vector<int64_t>{2});
  CHECK(t.rowBytes == 8);
  CHECK(t.sampleKind == 'f');
  CHECK(t.labels == std::vector<int64_t>{0, 2, 1});
  NpyArray a;
  for (auto [descr, data, want] : std::vector<std::tuple<std::string, std::string, double>>{
           {"|u1", std::string("\x07\x09", 2), 9}, {"<i4", bytesOf<int32_t>({-3, -4}), -4},
           {"<f8", bytesOf<double>({0.5, 1.5}), 1.5}, {"<i8", bytesOf<int64_t>({5, 6}), 6}}) {
    INFO(descr);
    REQUIRE(readNpyArray(tempFile("t.npy", npy("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (2,), }", data)).string(), a, err));
    CHECK(a.shape == std::vector<int64_t>{2});
    CHECK(a.at(1) == want);
  }
}

TEST_CASE("NPY: malformed headers are errors with the byte offset") {
  NpyArray a;
  auto bad = [&](const std::string& bytes) {
    std::string err;
    CHECK_FALSE(readNpyArray(tempFile("bad.npy", bytes).string(), a, err));
    return err;
  };
  CHECK(bad("not numpy at all") == "byte 0: not an .npy file (no \\x93NUMPY magic)");
  CHECK(bad(std::string("\x93NUMPY\x04\x00\x10\x00", 10)).rfind("byte 6: format version 4.0", 0) == 0);
  CHECK(bad(std::string("\x93NUMPY\x01\x00\xff\x00{", 11)).rfind("byte 10: the header is 255 bytes", 0) == 0);
  std::string fortran = bad(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", bytesOf<float>({1})));
  CHECK(fortran.find("Fortran order") != std::string::npos);
  CHECK(fortran.rfind("byte 44:", 0) == 0);  // 10 bytes of preamble + the value's offset in the dict
  CHECK(bad(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", bytesOf<float>({1}))).find("'>f4'") != std::string::npos);
  CHECK(bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (x,), }", "")).rfind("byte 61:", 0) == 0);
  CHECK(bad(npy("{'descr': '<f4', 'fortran_order': False, }", "")).find("no 'shape'") != std::string::npos);
  CHECK(bad(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", bytesOf<float>({1, 2}))).find("truncated") != std::string::npos);
  // Samples and labels that disagree on the count.
  DataTable t;
  std::string err;
  CHECK_FALSE(readNpy(tempFile("x2.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1), }", "ab")).string(),
                      tempFile("y2.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", "abc")).string(), t, err));
  CHECK(err.find("2 samples") != std::string::npos);
}

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
