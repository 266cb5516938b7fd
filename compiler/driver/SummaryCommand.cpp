// dlspec summary [--data] FILE [--format=text|json]: per layer output shape, parameters, FLOPs, activation
// memory, and each training's memory plan (with --data, the loaded data too: checker/data/Footprint.h).
#include <cstdio>

#include <fmt/format.h>

#include "checker/data/Footprint.h"
#include "dlspec/runtime.h"
#include "driver/Command.h"
#include "support/Json.h"
#include "sema/OpTable.h"
#include "sema/Program.h"
#include "sema/Summary.h"

namespace dls {

static const std::string_view kUsage = commandUsage("summary");

int cmdSummary(const std::vector<std::string>& argv) {
  CommonOptions opt;
  Args args;
  if (!parseCommon(argv, opt, args)) return kExitUsage;
  bool withData = false;
  std::vector<std::string> unknown;
  for (const std::string& f : args.flags) {
    if (f == "--data") withData = true;
    else unknown.push_back(f);
  }
  args.flags = unknown;
  if (!rejectUnknown(args, kUsage)) return kExitUsage;
  if (args.positional.size() != 1) return usageError("expected one spec file", kUsage);
  if (opt.format == DiagFormat::Sarif) return usageError("summary prints text or json", kUsage);
  Compilation c;
  if (!applyLevels(opt, c.diags)) return kExitUsage;
  bool ok = c.load(args.positional[0]) && parse(c) && analyze(c);
  if (!ok || !c.program) {
    // With errors in the spec the layers sema could type are still listed (a layer after a shape error
    // keeps the shape sema's error recovery gives it, see sema/NetworkTyper.cpp; a poisoned one is left
    // out); the diagnostics go to stderr and the exit status says the spec has errors.
    if (c.program) {
      std::vector<sema::NetworkSummary> all;
      for (auto& n : c.program->networks) all.push_back(sema::summarize(*c.program, *n));
      std::string out = opt.format == DiagFormat::Json ? sema::summaryJson(all) : sema::summaryText(all);
      std::fputs(out.c_str(), stdout);
    }
    CommonOptions diagOpt = opt;
    diagOpt.format = DiagFormat::Text;
    printDiagnostics(c, diagOpt);
    return kExitErrors;
  }
  std::vector<sema::NetworkSummary> all;
  for (auto& n : c.program->networks) all.push_back(sema::summarize(*c.program, *n));
  std::string out = opt.format == DiagFormat::Json ? sema::summaryJson(all) : sema::summaryText(all);
  // The training step's static memory plan, per train block: the arena (activations and their
  // gradients, with buffers sharing memory when their lifetimes do not overlap) and the persistent
  // state (parameters, gradients, optimizer state).
  std::string steps;
  for (const auto& t : c.program->trains) {
    if (!t->network || !t->optimizer || !t->loss) continue;
    DiagnosticEngine quiet(c.sources);
    auto lowered = lower(c, t->name, std::nullopt, &quiet);
    if (!lowered) continue;
    int64_t paramBytes = 0, trainable = 0;
    for (const sema::Param& p : t->network->params) {
      int64_t n = p.shape.elements().value_or(0);
      paramBytes += 4 * n;
      if (p.trainable) trainable += 4 * n;
    }
    const std::string& o = t->optimizer->name;
    // As the runtime keeps them: the optimizer's opcode is its dls_optimizer kind (sema/OpTable.cpp).
    double momentum = 0;
    if (auto it = t->optimizer->args.find("momentum"); it != t->optimizer->args.end()) {
      if (auto* d = std::get_if<double>(&it->second.value)) momentum = *d;
      else if (auto* i = std::get_if<int64_t>(&it->second.value)) momentum = double(*i);
    }
    const sema::OpInfo* op = sema::findOp(o, {sema::OpCategory::Optimizer});
    int32_t amsgrad = 0;
    if (auto it = t->optimizer->args.find("amsgrad"); it != t->optimizer->args.end())
      if (auto* b = std::get_if<bool>(&it->second.value)) amsgrad = *b ? 1 : 0;
    int stateBuffers = dls_optimizer_state_slots(op ? op->opcode : DLS_OPT_SGD, momentum, amsgrad);
    int64_t persistent = paramBytes + trainable /* gradients */ + stateBuffers * trainable;
    const plan::MemoryPlan& m = lowered->memory;
    // A device list: every device holds a replica (the arena as planned, its batch tensors using batch / devices rows
    // of their slots, and the persistent state).
    const int64_t devices = int64_t(t->devices.size()), batch = t->data && t->data->batch ? *t->data->batch : 0;
    const int64_t deviceBatch = devices > 0 ? batch / devices : batch;
    // The data the executable holds in host memory while it trains: samples × per-sample bytes as loaded,
    // per split; counted only with --data (the files are read).
    std::vector<checker::data::SplitFootprint> splits;
    if (withData) splits = checker::data::loadedData(*t);
    int64_t loaded = 0;
    for (const auto& f : splits) loaded += f.bytes();
    const int64_t aheadBatch = batch > 0 ? batch : 1;  // a streamed split's batches prepared ahead
    // `precision = bf16`: the bf16 copies its ops keep beside the arena (sema::bf16Copies, as the runtime reserves them).
    int64_t lowp = 0;
    if (t->precision == "bf16" && t->network && t->data && t->data->batch) {
      const sema::Bf16Copies b = sema::bf16Copies(*t->network);
      lowp = b.weights + b.perSample.value_or(0) * *t->data->batch;
    }
    if (opt.format == DiagFormat::Json) {
      std::string data;
      for (const auto& f : splits)
        data += fmt::format("{}{{\"split\":{},\"samples\":{},\"bytes_per_sample\":{},\"bytes\":{}{}{}}}", data.empty() ? "" : ",",
                            jsonQuote(f.split), f.samples, f.bytesPerSample, f.bytes(),
                            f.streamedBytes(aheadBatch) > 0 ? fmt::format(",\"streamed_bytes\":{}", f.streamedBytes(aheadBatch)) : std::string(),
                            f.error.empty() ? std::string() : ",\"error\":" + jsonQuote(f.error));
      steps += fmt::format("{}{{\"train\":{},\"arena_bytes\":{},\"arena_without_reuse_bytes\":{},\"buffers\":{},"
                           "\"persistent_bytes\":{},{}{}\"total_bytes\":{}}}",
                           steps.empty() ? "" : ",", jsonQuote(t->name), m.peak, m.withoutReuse, m.buffers.size(), persistent,
                           lowp ? fmt::format("\"bf16_copies_bytes\":{},", lowp) : "",
                           withData ? fmt::format("\"loaded_data_bytes\":{},\"loaded_data\":[{}],", loaded, data) : "",
                           m.peak + persistent + lowp + loaded);
      if (devices > 1 || t->deviceList)  // each device's share: the arena and the persistent state, on every device
        steps.insert(steps.size() - 1, fmt::format(",\"devices\":{},\"device_batch\":{},\"per_device_bytes\":{}", devices,
                                                   deviceBatch, m.peak + persistent));
    } else {
      std::string data;
      for (const auto& f : splits)
        data += f.samples < 0 ? fmt::format("  loaded data, {}: not counted ({})\n", f.split, f.error)
                              : fmt::format("  loaded data, {}: {} samples × {} bytes: {:.2f} MiB{}\n", f.split, f.samples,
                                            f.bytesPerSample, double(f.bytes()) / 1048576.0,
                                            f.streamedBytes(aheadBatch) > 0
                                                ? fmt::format(" (read per batch, above the executable's --data-memory: "
                                                              "{:.2f} MiB)", double(f.streamedBytes(aheadBatch)) / 1048576.0)
                                                : std::string());
      if (!withData) data = "  loaded data: not counted (`dlspec summary --data` reads the files)\n";
      steps += fmt::format("\ntraining step `{}` (memory plan):\n"
                           "  arena: {:.2f} MiB peak for {} buffers ({:.2f} MiB without reuse)\n"
                           "  parameters, gradients and {} state: {:.2f} MiB\n"
                           "{}{}"
                           "  total: {:.2f} MiB\n",
                           t->name, m.peak / 1048576.0, m.buffers.size(), m.withoutReuse / 1048576.0, o,
                           persistent / 1048576.0,
                           lowp ? fmt::format("  bf16 copies (precision bf16: inputs, weights, d(output) of the bf16 ops): {:.2f} MiB\n",
                                              lowp / 1048576.0)
                                : std::string(),
                           data, double(m.peak + persistent + lowp + loaded) / 1048576.0);
      if (devices > 1 || t->deviceList)
        steps += fmt::format("  per device: {} devices, one replica each with {} rows of every batch of {}: the arena and the "
                             "parameters, gradients and {} state on each, {:.2f} MiB per device\n",
                             devices, deviceBatch, batch, o, double(m.peak + persistent) / 1048576.0);
    }
  }
  if (opt.format == DiagFormat::Json) {
    size_t close = out.rfind('}');
    if (close != std::string::npos) out.insert(close, ",\"train_steps\":[" + steps + "]");
  } else {
    out += steps;
  }
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

}  // namespace dls
