// dlspec export SPEC.dls (--checkpoint CKPT | --weights DIR) [-o MODEL.onnx] [--safetensors FILE] [--npz FILE] [--network NAME]
//                        [--opset 13..17] [--batch N]
// The network of a spec with the weights a training run left (a checkpoint file, or a run directory's newest)
// or a directory of per-parameter .npy files, as an ONNX model in inference form (import/OnnxExport.h) and/or
// the raw weights as safetensors and/or .npz (numpy.load). Each file is replaced atomically (driver/Rewrite.h): written beside the
// target, synced, renamed over it.
#include <cstdlib>
#include <fmt/format.h>

#include "driver/Command.h"
#include "driver/Rewrite.h"
#include "import/OnnxExport.h"

namespace dls {

static const std::string_view kUsage = commandUsage("export");

int cmdExport(const std::vector<std::string>& argv) {
  CommonOptions opt;
  Args args;
  std::vector<std::string> rest;
  std::string output, checkpoint, weights, safetensors, npzPath, network, opsetText, batchText;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    std::string* into = a == "-o" || a == "--output" ? &output
                        : a == "--checkpoint"        ? &checkpoint
                        : a == "--weights"           ? &weights
                        : a == "--safetensors"       ? &safetensors
                        : a == "--npz"               ? &npzPath
                        : a == "--network"           ? &network
                        : a == "--opset"             ? &opsetText
                        : a == "--batch"             ? &batchText
                                                     : nullptr;
    if (into) {
      if (i + 1 >= argv.size()) return usageError(fmt::format("`{}` needs a value", a), kUsage);
      *into = argv[++i];
    } else {
      rest.push_back(a);
    }
  }
  if (!parseCommon(rest, opt, args)) return kExitUsage;
  if (!rejectUnknown(args, kUsage)) return kExitUsage;
  if (args.positional.size() != 1) return usageError("expected one spec file", kUsage);
  if (checkpoint.empty() == weights.empty())
    return usageError("give the weights with `--checkpoint FILE|DIR` (a training run's) or `--weights DIR` (.npy files), one of them", kUsage);
  if (output.empty() && safetensors.empty() && npzPath.empty())
    return usageError("nothing to write: give `-o MODEL.onnx`, `--safetensors FILE` and/or `--npz FILE`", kUsage);
  int64_t opset = import::kExportOpset;
  if (!opsetText.empty()) {
    char* end = nullptr;
    opset = std::strtoll(opsetText.c_str(), &end, 10);
    if (*end || opset < import::kExportOpsetMin || opset > import::kExportOpsetMax)
      return usageError(fmt::format("`--opset {}`: the export writes opsets {} to {}", opsetText, import::kExportOpsetMin,
                                    import::kExportOpsetMax), kUsage);
  }
  int64_t batch = 0;
  if (!batchText.empty()) {
    char* end = nullptr;
    batch = std::strtoll(batchText.c_str(), &end, 10);
    if (*end || batch < 1 || batch > (1 << 24)) return usageError(fmt::format("`--batch {}`: a batch size from 1 on", batchText), kUsage);
  }
  Compilation c;
  if (!applyLevels(opt, c.diags)) return kExitUsage;
  if (!c.load(args.positional[0]) || !parse(c) || !analyze(c) || !c.program) {
    printDiagnostics(c, opt);
    return kExitErrors;
  }
  const sema::Network* net = nullptr;
  if (!network.empty()) {
    net = c.program->findNetwork(network);
    if (!net) return usageError(fmt::format("the spec has no network `{}`", network), kUsage);
  } else if (c.program->networks.size() == 1) {
    net = c.program->networks.front().get();
  } else {
    return usageError(c.program->networks.empty() ? "the spec has no network" : "the spec has several networks; choose one with --network NAME",
                      kUsage);
  }
  import::Weights w;
  bool ok = checkpoint.empty() ? import::readWeightsDir(weights, *net, w, c.diags) : import::readCheckpoint(checkpoint, *net, w, c.diags);
  std::optional<std::string> model;
  if (ok && !output.empty()) {
    model = import::exportOnnx(*net, w, c.program->specPath, opset, batch, c.diags);
    ok = model.has_value();
  }
  std::optional<std::string> npzBytes;
  std::string error;
  if (ok && !npzPath.empty()) {
    npzBytes = import::npz(*net, w, error);
    if (!npzBytes) {
      c.diags.report(Code::E1119, Span{}, npzPath, error);
      ok = false;
    }
  }
  // Nothing is written unless everything asked for can be.
  if (ok && model && !writeFileAtomically(output, *model, error)) {
    c.diags.report(Code::E1119, Span{}, output, error);
    ok = false;
  }
  if (ok && !safetensors.empty() && !writeFileAtomically(safetensors, import::safetensors(*net, w), error)) {
    c.diags.report(Code::E1119, Span{}, safetensors, error);
    ok = false;
  }
  if (ok && npzBytes && !writeFileAtomically(npzPath, *npzBytes, error)) {
    c.diags.report(Code::E1119, Span{}, npzPath, error);
    ok = false;
  }
  printDiagnostics(c, opt);
  return ok && !c.diags.hasErrors() ? kExitOk : kExitErrors;
}

}  // namespace dls
