// dlspec graph FILE [-o out.dot|out.svg]: each network as a Graphviz graph, one node per layer (block
// instances as clusters), shapes on the edges. SVG goes through `dot -Tsvg` (fork/exec, no shell).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/Command.h"
#include "sema/OpTable.h"
#include "sema/Program.h"
#include "support/Json.h"

extern char** environ;

namespace dls {
namespace {

const std::string_view kUsage = commandUsage("graph");

std::string esc(std::string_view s) {
  std::string q = jsonQuote(s);  // JSON escaping is valid inside DOT's double-quoted strings
  return q;
}

std::string toDot(const sema::Program& p) {
  std::string o = "digraph dlspec {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n";
  for (size_t k = 0; k < p.networks.size(); ++k) {
    const sema::Network& n = *p.networks[k];
    std::string pre = fmt::format("n{}_", k);
    o += fmt::format("  subgraph cluster_{} {{\n    label={};\n    style=dashed;\n", k, esc("network " + n.name));
    for (int id : n.inputs) {
      const sema::Value& v = n.values[id];
      o += fmt::format("    {}v{} [label={}, shape=ellipse, fillcolor=\"#ffffff\"];\n", pre, id, esc(v.name + "\n" + v.type.brief()));
    }
    // Nodes, grouped by their innermost block instance.
    std::string currentBlock;
    for (const sema::Node& nd : n.nodes) {
      std::string block;
      for (auto& b : nd.blockPath) block += b + "/";
      if (block != currentBlock) {
        if (!currentBlock.empty()) o += "    }\n";
        if (!block.empty())
          o += fmt::format("    subgraph cluster_{}b{} {{\n      label={};\n      style=dotted;\n", k, nd.id, esc(block));
        currentBlock = block;
      }
      int64_t params = 0;
      for (int pid : nd.params)
        if (n.params[pid].trainable) params += n.params[pid].shape.elements().value_or(0);
      std::string label = nd.layer;
      if (params) label += fmt::format("\n{} params", params);
      o += fmt::format("    {}op{} [label={}{}];\n", pre, nd.id, esc(label),
                       nd.op->category == sema::OpCategory::Activation ? ", fillcolor=\"#f6f1e7\"" : "");
    }
    if (!currentBlock.empty()) o += "    }\n";
    auto src = [&](int valueId) {
      const sema::Value& v = n.values[valueId];
      return v.producer >= 0 ? fmt::format("{}op{}", pre, v.producer) : fmt::format("{}v{}", pre, valueId);
    };
    for (const sema::Node& nd : n.nodes)
      for (int in : nd.inputs)
        o += fmt::format("    {} -> {}op{} [label={}];\n", src(in), pre, nd.id, esc(n.values[in].type.brief()));
    if (n.output >= 0) {
      o += fmt::format("    {}out [label={}, shape=ellipse, fillcolor=\"#ffffff\"];\n", pre, esc("out"));
      o += fmt::format("    {} -> {}out [label={}];\n", src(n.output), pre, esc(n.values[n.output].type.brief()));
    }
    o += "  }\n";
  }
  return o + "}\n";
}

// Runs `dot -Tsvg -o out in`; returns "" or an error message.
std::string runDot(const std::string& in, const std::string& out) {
  std::vector<std::string> a = {"dot", "-Tsvg", "-o", out, in};
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, "dot", nullptr, nullptr, argv.data(), environ);
  if (rc != 0)
    return rc == ENOENT ? "Graphviz `dot` is not installed (install the `graphviz` package), or write DOT with `-o FILE.dot`"
                        : fmt::format("cannot run `dot`: {}", std::strerror(rc));
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return fmt::format("waiting for `dot`: {}", std::strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    return "Graphviz `dot` is not installed (install the `graphviz` package), or write DOT with `-o FILE.dot`";
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "`dot` failed to render the graph";
  return "";
}

}  // namespace

int cmdGraph(const std::vector<std::string>& argvIn) {
  std::vector<std::string> argv;
  std::string out;
  for (size_t i = 0; i < argvIn.size(); ++i) {
    if (argvIn[i] == "-o" || argvIn[i] == "--output") {
      if (i + 1 >= argvIn.size()) return usageError("`-o` needs a file name", kUsage);
      out = argvIn[++i];
    } else if (argvIn[i].rfind("--output=", 0) == 0) {
      out = argvIn[i].substr(9);
    } else {
      argv.push_back(argvIn[i]);
    }
  }
  CommonOptions opt;
  Args args;
  if (!parseCommon(argv, opt, args)) return kExitUsage;
  if (!rejectUnknown(args, kUsage)) return kExitUsage;
  if (args.positional.size() != 1) return usageError("expected one spec file", kUsage);
  bool svg = out.size() > 4 && out.substr(out.size() - 4) == ".svg";
  if (!out.empty() && !svg && !(out.size() > 4 && out.substr(out.size() - 4) == ".dot") && out != "-")
    return usageError(fmt::format("`{}`: the output must end in .dot or .svg", out), kUsage);
  Compilation c;
  if (!applyLevels(opt, c.diags)) return kExitUsage;
  bool ok = c.load(args.positional[0]) && parse(c) && analyze(c);
  if (!ok || !c.program) {
    printDiagnostics(c, opt);
    return kExitErrors;
  }
  std::string dot = toDot(*c.program);
  if (out.empty() || out == "-") {
    std::fputs(dot.c_str(), stdout);
    return kExitOk;
  }
  std::string dotPath = svg ? out + ".dot.tmp" : out;
  {
    std::ofstream f(dotPath, std::ios::binary);
    f << dot;
    if (!f) return usageError(fmt::format("cannot write `{}`", dotPath), kUsage);
  }
  if (svg) {
    std::string err = runDot(dotPath, out);
    std::remove(dotPath.c_str());
    if (!err.empty()) return usageError(fmt::format("cannot write `{}`: {}", out, err), "");
  }
  return kExitOk;
}

}  // namespace dls
