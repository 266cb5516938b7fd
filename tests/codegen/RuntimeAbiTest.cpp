// RuntimeAbiTest: every prototype in runtime.h matches codegen's RuntimeAbi table, and vice versa.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "codegen/RuntimeAbi.h"

namespace {

struct Prototype {
  std::string result;
  std::vector<std::string> params;
};

std::string collapse(std::string s) {
  s = std::regex_replace(s, std::regex(R"(\s+)"), " ");
  s = std::regex_replace(s, std::regex(R"(\s*\*)"), "*");
  s = std::regex_replace(s, std::regex(R"(^ | $)"), "");
  return s;
}

// The dls_rt_* prototypes of a C header, with parameter names dropped and spacing normalised.
std::map<std::string, Prototype> parsePrototypes(std::string text) {
  text = std::regex_replace(text, std::regex(R"(/\*[\s\S]*?\*/)"), " ");
  text = std::regex_replace(text, std::regex(R"(//[^\n]*)"), " ");
  text = std::regex_replace(text, std::regex(R"(#[^\n]*)"), " ");
  std::map<std::string, Prototype> out;
  static const std::regex decl(R"(^\s*([A-Za-z_][\w\s\*]*?)\s*\b(dls_rt_\w+)\s*\(([^()]*)\)\s*$)");
  std::stringstream statements(text);
  for (std::string statement; std::getline(statements, statement, ';');) {
    // Drop what precedes the statement in the same chunk (closing braces, `extern "C" {`).
    if (auto brace = statement.find_last_of("{}"); brace != std::string::npos) statement = statement.substr(brace + 1);
    std::smatch m;
    if (!std::regex_match(statement, m, decl)) continue;
    Prototype p;
    p.result = collapse(m[1]);
    std::stringstream params(m[3].str());
    for (std::string param; std::getline(params, param, ',');) {
      param = collapse(param);
      // Drop the parameter name: a trailing identifier after a space or a '*'.
      param = std::regex_replace(param, std::regex(R"(([ \*])[A-Za-z_]\w*$)"), "$1");
      param = collapse(param);
      if (param != "void") p.params.push_back(param);
    }
    out[m[2]] = p;
  }
  return out;
}

}  // namespace

TEST_CASE("runtime.h prototypes match the codegen runtime table", "[abi]") {
  std::ifstream in(DLSPEC_RUNTIME_HEADER);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  std::map<std::string, Prototype> header = parsePrototypes(ss.str());
  REQUIRE(header.size() >= 10);

  for (const auto& [name, proto] : header) {
    INFO("runtime.h declares " << name);
    const dls::codegen::RuntimeFunction* f = dls::codegen::findRuntimeFunction(name);
    REQUIRE(f != nullptr);
    CHECK(proto.result == dls::codegen::cSpelling(f->result));
    std::vector<std::string> table;
    for (auto t : f->params) table.emplace_back(dls::codegen::cSpelling(t));
    CHECK(proto.params == table);
  }
  for (const auto& f : dls::codegen::runtimeFunctions()) {
    INFO("the codegen table has " << f.name);
    CHECK(header.count(std::string(f.name)) == 1);
  }
}

TEST_CASE("the prototype parser sees through names and spacing and comments", "[abi]") {
  auto protos = parsePrototypes(
      "/* void dls_rt_ignored(int); */\nenum e { A = 1 };\nint32_t  dls_rt_x(dls_rt *rt, const  char* s,\n"
      "  const int32_t *v, int64_t d0); // trailing\nvoid dls_rt_y(dls_rt* rt);");
  REQUIRE(protos.size() == 2);
  CHECK(protos["dls_rt_x"].result == "int32_t");
  CHECK(protos["dls_rt_x"].params == std::vector<std::string>{"dls_rt*", "const char*", "const int32_t*", "int64_t"});
  CHECK(protos["dls_rt_y"].params == std::vector<std::string>{"dls_rt*"});
}
