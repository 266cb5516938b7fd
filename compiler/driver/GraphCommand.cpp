// dlspec graph FILE [-o out.dot|.svg|.png|.pdf]: each network as a Graphviz graph, one node per layer with the
// arguments the spec gave, one nested cluster per block instance, shapes on the edges. SVG, PNG and PDF go
// through Graphviz's `dot` (fork/exec, no shell).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <spawn.h>
#include <sys/stat.h>
#include <variant>
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

// An attribute's value as the spec writes it.
std::string attrText(const sema::AttrValue& v) {
  struct Print {
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return fmt::format("{:g}", d); }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(const std::vector<int64_t>& l) const { return fmt::format("[{}]", fmt::join(l, ", ")); }
    std::string operator()(const std::vector<double>& l) const { return fmt::format("[{:g}]", fmt::join(l, ", ")); }
    std::string operator()(const std::vector<std::string>& l) const { return fmt::format("[{}]", fmt::join(l, ", ")); }
  };
  return std::visit(Print{}, v);
}

// A node's label: layer name, the arguments the spec gave (kernel, stride, units …), trainable parameters.
std::string nodeLabel(const sema::Network& n, const sema::Node& nd) {
  std::string label = nd.layer;
  std::vector<std::string> given;
  for (const auto& [name, a] : nd.attrs)
    if (!a.isDefault) given.push_back(fmt::format("{}: {}", name, attrText(a.value)));
  // Keep the op's declared order where it has one.
  std::vector<std::string> ordered;
  for (const sema::AttrSpec& spec : nd.op->attrs)
    for (const std::string& g : given)
      if (g.rfind(std::string(spec.name) + ": ", 0) == 0) ordered.push_back(g);
  if (ordered.size() != given.size()) ordered = given;
  if (!ordered.empty()) label += "\n" + fmt::format("{}", fmt::join(ordered, ", "));
  int64_t params = 0;
  for (int pid : nd.params)
    if (n.params[pid].trainable) params += n.params[pid].shape.elements().value_or(0);
  if (params) label += fmt::format("\n{} params", params);
  return label;
}

std::string toDot(const sema::Program& p) {
  std::string o = "digraph dlspec {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n";
  int clusterId = 0;
  for (size_t k = 0; k < p.networks.size(); ++k) {
    const sema::Network& n = *p.networks[k];
    std::string pre = fmt::format("n{}_", k);
    o += fmt::format("  subgraph cluster_{} {{\n    label={};\n    style=dashed;\n", clusterId++, esc("network " + n.name));
    // Several inputs: the sample field each takes (by the first train block that trains the network).
    const sema::TrainConfig* bound = nullptr;
    for (const auto& t : p.trains)
      if (!bound && t->network == &n && t->data && t->data->dataset && t->inputFields.size() == n.inputs.size() && n.inputs.size() > 1)
        bound = t.get();
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const int id = n.inputs[i];
      const sema::Value& v = n.values[id];
      std::string field;
      if (bound) {
        const sema::Dataset& ds = *bound->data->dataset;
        const int f = bound->inputFields[i];
        field = "\n<- " + ds.name + "." + (f == 0 ? ds.sampleName : ds.moreSamples[size_t(f - 1)].name);
      }
      o += fmt::format("    {}v{} [label={}, shape=ellipse, fillcolor=\"#ffffff\"];\n", pre, id, esc(v.name + "\n" + v.type.brief() + field));
    }
    // Nodes in nested clusters, one per block instance: a node's block path is a path in that tree. Nodes of
    // one instance are contiguous in source order, so the open clusters are a stack.
    std::vector<std::string> open;
    for (const sema::Node& nd : n.nodes) {
      size_t common = 0;
      while (common < open.size() && common < nd.blockPath.size() && open[common] == nd.blockPath[common]) ++common;
      while (open.size() > common) {
        open.pop_back();
        o += std::string(4 + 2 * open.size(), ' ') + "}\n";
      }
      while (open.size() < nd.blockPath.size()) {
        const std::string& b = nd.blockPath[open.size()];
        std::string ind(4 + 2 * open.size(), ' ');
        o += fmt::format("{}subgraph cluster_{} {{\n{}  label={};\n{}  style=dotted;\n", ind, clusterId++, ind, esc(b), ind);
        open.push_back(b);
      }
      o += fmt::format("{}{}op{} [label={}{}];\n", std::string(4 + 2 * open.size(), ' '), pre, nd.id, esc(nodeLabel(n, nd)),
                       nd.op->category == sema::OpCategory::Activation ? ", fillcolor=\"#f6f1e7\"" : "");
    }
    while (!open.empty()) {
      open.pop_back();
      o += std::string(4 + 2 * open.size(), ' ') + "}\n";
    }
    auto src = [&](int valueId) {
      const sema::Value& v = n.values[valueId];
      return v.producer >= 0 ? fmt::format("{}op{}", pre, v.producer) : fmt::format("{}v{}", pre, valueId);
    };
    for (const sema::Node& nd : n.nodes)
      for (int in : nd.inputs)
        o += fmt::format("    {} -> {}op{} [label={}];\n", src(in), pre, nd.id, esc(n.values[in].type.brief()));
    for (const auto& out : n.outputs) {  // several outputs: one node each, under its name
      if (out.value < 0) continue;
      o += fmt::format("    {}out_{} [label={}, shape=ellipse, fillcolor=\"#ffffff\"];\n", pre, out.name, esc(out.name));
      o += fmt::format("    {} -> {}out_{} [label={}];\n", src(out.value), pre, out.name, esc(n.values[out.value].type.brief()));
    }
    if (n.output >= 0 && n.outputs.empty()) {
      o += fmt::format("    {}out [label={}, shape=ellipse, fillcolor=\"#ffffff\"];\n", pre, esc("out"));
      o += fmt::format("    {} -> {}out [label={}];\n", src(n.output), pre, esc(n.values[n.output].type.brief()));
    }
    o += "  }\n";
  }
  return o + "}\n";
}

// Runs `dot -T<format> -o out in`; returns "" or an error message.
std::string runDot(const std::string& format, const std::string& in, const std::string& out) {
  std::vector<std::string> a = {"dot", "-T" + format, "-o", out, in};
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

// A new, empty temporary file beside `path` (O_EXCL: never an existing file or link); "" on failure.
std::string tempBeside(const std::string& path) {
  std::string t = path + ".dlspec-XXXXXX";
  std::vector<char> name(t.begin(), t.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) return "";
  ::close(fd);
  return name.data();
}

// The Graphviz output format an output file name asks for ("dot" for DOT itself), or "" for none we write.
std::string formatOf(const std::string& out) {
  for (const char* ext : {"dot", "gv", "svg", "png", "pdf"}) {
    std::string e = std::string(".") + ext;
    if (out.size() > e.size() && out.compare(out.size() - e.size(), e.size(), e) == 0) return ext == std::string("gv") ? "dot" : ext;
  }
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
  std::string format = out.empty() || out == "-" ? "dot" : formatOf(out);
  if (format.empty())
    return usageError(fmt::format("`{}`: the output must end in .dot, .gv, .svg, .png or .pdf", out), kUsage);
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
  // DOT to a temporary beside the output; rendered (when asked) to a second one; renamed over `out` at the end,
  // so that a failure leaves no half-written file and the old one, if any, as it was.
  std::string dotPath = tempBeside(out);
  if (dotPath.empty()) return usageError(fmt::format("cannot write beside `{}`: {}", out, std::strerror(errno)), "");
  {
    std::ofstream f(dotPath, std::ios::binary | std::ios::trunc);
    f << dot;
    f.flush();
    if (!f) {
      std::remove(dotPath.c_str());
      return usageError(fmt::format("cannot write `{}`", out), kUsage);
    }
  }
  std::string result = dotPath;
  if (format != "dot") {
    result = tempBeside(out);
    std::string err = result.empty() ? std::string(std::strerror(errno)) : runDot(format, dotPath, result);
    std::remove(dotPath.c_str());
    if (!err.empty()) {
      if (!result.empty()) std::remove(result.c_str());
      return usageError(fmt::format("cannot write `{}`: {}", out, err), "");
    }
  }
  ::chmod(result.c_str(), 0644);
  if (std::rename(result.c_str(), out.c_str()) != 0) {
    std::remove(result.c_str());
    return usageError(fmt::format("cannot write `{}`: {}", out, std::strerror(errno)), "");
  }
  return kExitOk;
}

}  // namespace dls
