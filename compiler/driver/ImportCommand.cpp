// dlspec import darknet FILE.cfg [-o FILE.dls] [--layers-json FILE]
// dlspec import onnx MODEL.onnx [-o FILE.dls] [--weights DIR]
// Translates another framework's network file into a spec. --layers-json writes the shape walk by the source
// framework's own rules. An ONNX model's initialisers become DIR/<parameter>.npy, one file per parameter of
// the generated spec (named as sema names them), which the built program starts from with `--weights DIR`.
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>

#include "driver/Command.h"
#include "driver/Rewrite.h"
#include "import/DarknetImport.h"
#include "import/OnnxImport.h"
#include "sema/OpTable.h"

namespace dls {

static const std::string_view kUsage = commandUsage("import");

// Whole or not at all: a temporary beside the target, synced and renamed over it (an interrupted import
// leaves no half-written spec or weight file).
static bool writeFile(const std::string& path, const std::string& text) {
  std::string error;
  return writeFileAtomically(path, text, error);
}

// The imported spec to `output`, or to stdout when none is given; false after E0903 when it cannot be written.
static bool writeSpec(const std::string& output, const std::string& spec, Compilation& c) {
  if (output.empty()) {
    std::fputs(spec.c_str(), stdout);
    return true;
  }
  if (writeFile(output, spec)) return true;
  c.diags.report(Code::E0903, Span{}, fmt::format("cannot write `{}`", output));
  return false;
}

// A little-endian f32 .npy file (format 1.0).
static bool writeNpy(const std::string& path, const std::vector<int64_t>& shape, const std::vector<float>& v) {
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) dims += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += char(h.size() & 0xff);
  out += char(h.size() >> 8);
  out += h;
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
  return writeFile(path, out);
}

// Writes each parameter of the generated spec's network from the ONNX initialisers of the op call that made
// it: the spec is analysed, so the file names and shapes are sema's. Returns false after E1114.
static bool writeOnnxWeights(const import::OnnxImport& im, const std::string& specPath, const std::string& dir,
                             Compilation& c, const CommonOptions& opt) {
  Compilation g;
  g.loadText(specPath, im.spec);
  if (!analyze(g) || !g.program || g.program->networks.empty()) {
    printDiagnostics(g, opt);  // located in the generated spec, which is written for the user to read
    for (const auto& w : im.weights)
      c.diags.report(Code::E1114, w.at, w.node, w.opType, "the generated spec does not type-check (`dlspec check` on it says why)");
    return false;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    const std::string why = fmt::format("cannot create the directory `{}`: {}", dir, ec ? ec.message() : "a file of that name exists");
    if (im.weights.empty()) c.diags.report(Code::E0903, Span{}, why);
    for (const auto& w : im.weights) c.diags.report(Code::E1114, w.at, w.node, w.opType, why);
    return false;
  }
  const sema::Network& net = *g.program->networks.front();
  std::vector<bool> written(im.weights.size(), false);
  bool ok = true;
  for (const sema::Node& node : net.nodes) {
    if (node.params.empty()) continue;
    const import::OnnxLayerWeights* w = nullptr;
    for (size_t i = 0; i < im.weights.size(); ++i)
      if (im.weights[i].callOffset == node.span.begin &&
          im.weights[i].instance == (node.blockPath.empty() ? std::string() : node.blockPath.back()))
        w = &im.weights[i], written[i] = true;
    if (!w) {
      c.diags.report(Code::E1114, Span{}, node.layer, node.op ? std::string(node.op->name) : "?",
                     "no ONNX node gives this layer's parameters");
      ok = false;
      continue;
    }
    for (int pid : node.params) {
      const sema::Param& p = net.params[size_t(pid)];
      auto it = w->params.find(p.role);
      bool found = it != w->params.end();
      if (!w->named.empty()) {  // by the name after the layer's
        const std::string suffix = p.name.size() > node.layer.size() ? p.name.substr(node.layer.size() + 1) : p.name;
        auto nt = w->named.find(suffix);
        found = nt != w->named.end();
        if (found && (!p.shape.elements() || int64_t(nt->second.values.size()) != *p.shape.elements())) {
          c.diags.report(Code::E1114, w->at, w->node, w->opType,
                         fmt::format("`{}` is {} in dlspec, the initialiser has {} values", p.name, p.shape.str(),
                                     nt->second.values.size()));
          ok = false;
          continue;
        }
        if (found) {
          std::vector<int64_t> shape;
          for (const auto& d : p.shape.dims) shape.push_back(d.value);
          if (!writeNpy(dir + "/" + p.name + ".npy", shape, nt->second.values)) {
            c.diags.report(Code::E1114, w->at, w->node, w->opType, fmt::format("cannot write `{}/{}.npy`", dir, p.name));
            ok = false;
          }
          continue;
        }
      }
      const auto numel = p.shape.elements();
      if (!found || !numel || int64_t(it->second.values.size()) != *numel) {
        c.diags.report(Code::E1114, w->at, w->node, w->opType,
                       !found ? fmt::format("no initialiser gives `{}`", p.name)
                                             : fmt::format("`{}` is {} in dlspec, the initialiser has {} values", p.name,
                                                           p.shape.str(), it->second.values.size()));
        ok = false;
        continue;
      }
      std::vector<int64_t> shape;
      for (const auto& d : p.shape.dims) shape.push_back(d.value);
      if (!writeNpy(dir + "/" + p.name + ".npy", shape, it->second.values)) {
        c.diags.report(Code::E1114, w->at, w->node, w->opType, fmt::format("cannot write `{}/{}.npy`", dir, p.name));
        ok = false;
      }
    }
  }
  for (size_t i = 0; i < written.size(); ++i)
    if (!written[i]) {
      c.diags.report(Code::E1114, im.weights[i].at, im.weights[i].node, im.weights[i].opType,
                     "no layer of the generated spec takes its initialisers");
      ok = false;
    }
  return ok;
}

static int importOnnxCommand(const std::string& path, const std::string& output, std::string weights,
                             const CommonOptions& opt) {
  Compilation c;
  if (!applyLevels(opt, c.diags)) return kExitUsage;
  auto result = import::importOnnx(path, c.sources, c.diags);
  int rc = result && !c.diags.hasErrors() ? kExitOk : kExitErrors;
  if (result) {
    if (weights.empty() && !output.empty()) {
      weights = output;
      if (weights.size() > 4 && weights.compare(weights.size() - 4, 4, ".dls") == 0) weights.resize(weights.size() - 4);
      weights += ".weights";
    }
    if (!weights.empty() && !writeOnnxWeights(*result, output.empty() ? "<stdout>.dls" : output, weights, c, opt))
      rc = kExitErrors;
    if (!writeSpec(output, result->spec, c)) rc = kExitErrors;
  }
  printDiagnostics(c, opt);
  return rc;
}

int cmdImport(const std::vector<std::string>& argv) {
  CommonOptions opt;
  Args args;
  std::vector<std::string> rest;
  std::string output, layersJson, weights;
  // -o and --layers-json take a value: pull them out before the common parser sees them.
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    std::string* into = a == "-o" || a == "--output" ? &output
                        : a == "--layers-json"        ? &layersJson
                        : a == "--weights"            ? &weights
                                                      : nullptr;
    if (into) {
      if (i + 1 >= argv.size()) return usageError(fmt::format("`{}` needs a file name", a), kUsage);
      *into = argv[++i];
    } else if (a.rfind("--layers-json=", 0) == 0) {
      layersJson = a.substr(14);
    } else if (a.rfind("--output=", 0) == 0) {
      output = a.substr(9);
    } else {
      rest.push_back(a);
    }
  }
  if (!parseCommon(rest, opt, args)) return kExitUsage;
  if (!rejectUnknown(args, kUsage)) return kExitUsage;
  if (args.positional.size() != 2) return usageError("expected a format and one file", kUsage);
  if (args.positional[0] == "onnx") {
    if (!layersJson.empty()) return usageError("`--layers-json` is Darknet's shape walk", kUsage);
    return importOnnxCommand(args.positional[1], output, weights, opt);
  }
  if (args.positional[0] != "darknet")
    return usageError(fmt::format("unknown format `{}`: `darknet` and `onnx` are the importers", args.positional[0]), kUsage);
  if (!weights.empty()) return usageError("`--weights` is for ONNX models (a Darknet cfg holds no weights)", kUsage);
  Compilation c;
  if (!applyLevels(opt, c.diags)) return kExitUsage;
  auto result = import::importDarknet(args.positional[1], c.sources, c.diags);
  int rc = result && !c.diags.hasErrors() ? kExitOk : kExitErrors;
  if (result) {
    if (!layersJson.empty() && !writeFile(layersJson, result->layersJson())) {
      c.diags.report(Code::E0903, Span{}, fmt::format("cannot write `{}`", layersJson));
      rc = kExitErrors;
    }
    if (!writeSpec(output, result->spec, c)) rc = kExitErrors;
  }
  printDiagnostics(c, opt);
  return rc;
}

}  // namespace dls
