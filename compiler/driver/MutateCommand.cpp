// dlspec mutate FILE -o DIR: DeepCrime-style mutants of a spec (checker/mutate/), written as DIR/<op>_<n>.dls
// with DIR/manifest.json saying, for each, the operator, where it edited, and whether the taxonomy calls the
// mutant faulty (bench/mutate/run.sh measures how many of those `dlspec check` flags).
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "checker/mutate/Mutate.h"
#include "driver/Command.h"
#include "support/Json.h"

namespace dls {

namespace {
const std::string_view kUsage = commandUsage("mutate");
}

int cmdMutate(const std::vector<std::string>& argv) {
  std::string in, out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "-o" || argv[i] == "--output") {
      if (i + 1 >= argv.size()) return usageError("`-o` needs a directory", kUsage);
      out = argv[++i];
    } else if (argv[i].rfind("-", 0) == 0) {
      return usageError(fmt::format("unknown option `{}`", argv[i]), kUsage);
    } else if (in.empty()) {
      in = argv[i];
    } else {
      return usageError("expected one spec file", kUsage);
    }
  }
  if (in.empty() || out.empty()) return usageError("expected a spec file and `-o DIR`", kUsage);
  std::ifstream f(in, std::ios::binary);
  if (!f) return usageError(fmt::format("cannot read `{}`", in), kUsage);
  std::stringstream ss;
  ss << f.rdbuf();
  // The mutants must check like the original: only specs that parse and type-check are mutated.
  Compilation c;
  if (!(c.load(in) && parse(c) && analyze(c))) {
    printDiagnostics(c, CommonOptions{});
    return kExitErrors;
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return usageError(fmt::format("cannot create `{}`: {}", out, ec.message()), kUsage);
  std::vector<checker::Mutant> mutants = checker::mutateSpec(ss.str());
  std::string specDir = std::filesystem::path(in).parent_path().string();
  for (checker::Mutant& m : checker::mutateData(ss.str(), specDir.empty() ? "." : specDir, out)) mutants.push_back(std::move(m));
  std::string manifest = fmt::format("{{\n  \"spec\": {},\n  \"mutants\": [", jsonQuote(in));
  for (size_t i = 0; i < mutants.size(); ++i) {
    const checker::Mutant& m = mutants[i];
    std::string name = fmt::format("{}_{}.dls", m.op, m.index);
    std::ofstream o(std::filesystem::path(out) / name, std::ios::binary);
    o << m.text;
    if (!o) return usageError(fmt::format("cannot write `{}/{}`", out, name), kUsage);
    for (auto& [file, bytes] : m.files) {
      std::ofstream df(std::filesystem::path(out) / file, std::ios::binary);
      df << bytes;
      if (!df) return usageError(fmt::format("cannot write `{}/{}`", out, file), kUsage);
    }
    manifest += fmt::format(
        "{}\n    {{\"file\": {}, \"operator\": {}, \"location\": {{\"line\": {}, \"column\": {}}}, \"fault\": {}, "
        "\"taxonomy\": {}, \"detected_by\": {}}}",
        i ? "," : "", jsonQuote(name), jsonQuote(m.op), m.line, m.col, m.fault ? "true" : "false", jsonQuote(m.leaf),
        jsonQuote(m.detectedBy));
  }
  manifest += "\n  ]\n}\n";
  std::ofstream mf(std::filesystem::path(out) / "manifest.json", std::ios::binary);
  mf << manifest;
  if (!mf) return usageError(fmt::format("cannot write `{}/manifest.json`", out), kUsage);
  fmt::print("{} mutants of {} in {}\n", mutants.size(), in, out);
  return kExitOk;
}

}  // namespace dls
