// E0801: the static memory estimate (weights, gradients, optimizer state, activations × batch,
// workspace; with `check --data`, the loaded data on the cpu) exceeds the device's memory (`memory = 16 * GiB`,
// else cpu: this machine's RAM, cuda: 80 GiB). The loaded data (data/Footprint.h) is host memory: it counts
// towards a cpu training's memory; on cuda the executable checks it against the host's (R0505).
// W0802: it needs more than 90% of it.
// W0807: `memory =` on the cpu declares more than this machine's RAM: the estimate is then checked against
// an amount that is not there, which would switch E0801 off without a word.
// The parameters are sema's (sema::Param), the activations the per-sample sizes of the network's typed
// values, and the optimizer's state buffers per parameter the runtime's own rule, dls_optimizer_state_slots.
// Under `precision = bf16` the bf16 copies of the ops with bf16 products come on top (sema::bf16Copies, the rule
// the runtime reserves them by: OpSchema.h bf16CopyBytes); every other buffer stays f32. Gradient accumulation
// adds its f64 sums of the gradients (host memory: counted on the cpu).
#include <unistd.h>

#include <algorithm>

#include "checker/Flow.h"
#include "checker/data/Footprint.h"
#include "dlspec/runtime.h"
#include "sema/OpTable.h"
#include "sema/Summary.h"

namespace dls::checker {

namespace {
double machineRam() {
  long pages = ::sysconf(_SC_PHYS_PAGES), size = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<double>(pages) * static_cast<double>(size) : 0;
}

bool onCuda(const sema::TrainConfig& t) {
  return !t.devices.empty() && t.devices.front().kind == sema::Device::Kind::Cuda;
}

double deviceMemory(const sema::TrainConfig& t) {
  if (t.memoryLimit) return static_cast<double>(*t.memoryLimit);
  if (onCuda(t)) return 80.0 * (1ull << 30);
  return machineRam();
}

// What attention (OpInfo::attention) keeps per sample beyond its output, as the runtime allocates it
// (runtime/cpu/CpuAttention.cpp, cuda/CudaBackend.cpp): the attention weights [heads, T, T] (two more with
// dropout: its mask and the weights after it), q|k|v [T, 3 dim] and the heads' outputs [T, dim]; the estimate
// counts a gradient beside every activation, theirs included. The weights grow with the square of the sequence
// length (cross_attention: [heads, T, S] over the memory's S steps).
std::optional<double> attentionScratch(const sema::Network& n, const sema::Node& nd) {
  if (!nd.op->attention || nd.inputs.empty()) return 0.0;
  const sema::Shape& s = n.values[static_cast<size_t>(nd.inputs[0])].type.shape;
  if (s.unknownRank || s.rank() != 3 || !s.dims[1].isConst()) return std::nullopt;
  const double T = static_cast<double>(s.dims[1].value), D = static_cast<double>(nd.intAttr("dim"));
  const double H = static_cast<double>(nd.intAttr("heads", 1));
  const double dropout = nd.attr("dropout") ? nd.floatAttr("dropout") : 0.0;
  if (nd.inputs.size() > 1) {
    // cross_attention: weights [heads, T, S] over the memory's S steps, q [T, dim], k|v [S, 2 dim], o [T, dim].
    const sema::Shape& m = n.values[static_cast<size_t>(nd.inputs[1])].type.shape;
    if (m.unknownRank || m.rank() != 3 || !m.dims[1].isConst()) return std::nullopt;
    const double S = static_cast<double>(m.dims[1].value);
    return H * T * S * (dropout > 0 ? 3 : 1) + 2 * T * D + 2 * S * D;
  }
  return H * T * T * (dropout > 0 ? 3 : 1) + 4 * T * D;
}

// Per sample: the network's inputs and every node's output (and attention's own buffers), and the largest of
// them; nullopt when a size is unknown.
bool activations(const sema::Network& n, double& total, double& largest) {
  total = largest = 0;
  std::vector<int> values = n.inputs;
  for (const sema::Node& nd : n.nodes) {
    values.push_back(nd.output);
    auto extra = attentionScratch(n, nd);
    if (!extra) return false;
    total += *extra;
  }
  for (int v : values) {
    auto e = sampleElements(n.values[static_cast<size_t>(v)]);
    if (!e) return false;
    total += static_cast<double>(*e);
    largest = std::max(largest, static_cast<double>(*e));
  }
  return true;
}
}  // namespace

void checkMemoryEstimate(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    if (t->memoryLimit && !onCuda(*t))
      if (double ram = machineRam(); ram > 0 && static_cast<double>(*t->memoryLimit) > ram) {
        auto s = t->settings.find("memory");
        Span at = s != t->settings.end() ? s->second.valueSpan : t->model.span;
        c.diags.report(Code::W0807, at, humanBytes(static_cast<double>(*t->memoryLimit)), humanBytes(ram))
            .primary("more than this machine has")
            .note("E0801 compares the training's estimate with the declared amount; on this machine the run "
                  "would stop with R0505 before it needs that much")
            .help("declare the memory the training machine has, or remove `memory =` to use this machine's");
      }
    const sema::Network* n = t->network;
    const sema::Pipeline* p = t->data;
    if (!n || !p || !p->batch || *p->batch <= 0) continue;
    auto params = trainableParams(*n);
    double perSample = 0, largest = 0;
    if (!params || !activations(*n, perSample, largest)) continue;
    const double bytes = 4;  // activations and gradients are f32 in every precision the backends run
    // `precision = bf16` (the CPU): the bf16 copies its ops with bf16 products keep beside the f32 tensors.
    double lowp = 0;
    if (t->precision == "bf16") {
      const sema::Bf16Copies b = sema::bf16Copies(*n);
      if (!b.perSample) continue;
      lowp = static_cast<double>(b.weights) + static_cast<double>(*b.perSample) * static_cast<double>(*p->batch);
    }
    double state = 0;  // optimizer slots per parameter, as the runtime allocates them
    if (t->optimizer)
      if (const sema::OpInfo* op = sema::findOp(t->optimizer->name, {sema::OpCategory::Optimizer}); op && op->opcode >= 0) {
        auto m = t->optimizer->args.find("momentum");
        const double* momentum = m == t->optimizer->args.end() ? nullptr : std::get_if<double>(&m->second.value);
        auto a = t->optimizer->args.find("amsgrad");
        const bool* amsgrad = a == t->optimizer->args.end() ? nullptr : std::get_if<bool>(&a->second.value);
        state = dls_optimizer_state_slots(op->opcode, momentum ? *momentum : 0, amsgrad && *amsgrad ? 1 : 0);
      }
    double batch = static_cast<double>(*p->batch);
    double P = static_cast<double>(*params), A = perSample * batch;
    // `accumulate = K steps` (K > 1): the runtime sums each parameter's gradient over the group in f64 host
    // buffers (dls_rt_update), host memory that is the device's on the cpu.
    const double accum = t->accumulate > 1 && !onCuda(*t) ? P * 8 : 0;
    double total = P * 4 * (2 + state) + A * bytes * 2 + largest * batch * bytes + lowp + accum;
    const std::string device = t->devices.empty() ? "cpu" : t->devices.front().str();
    double mem = deviceMemory(*t);
    if (mem <= 0) continue;
    // The data the executable loads, counted from the files (only when they are read: `check --data`), as it holds
    // it by default: a split whose decoded samples exceed half of the memory is read per batch (its labels, index
    // and batches prepared ahead: SplitFootprint::streamedBytes, which `dlspec summary --data` shows too).
    double loaded = 0;
    std::string loadedText;
    std::vector<std::string> streamed;
    if (c.options.data && !onCuda(*t)) {
      auto splits = data::loadedData(*t);
      for (const auto& f : splits) {
        loaded += static_cast<double>(f.heldBytes(mem, *p->batch));
        if (f.streamedBy(mem))
          streamed.push_back(fmt::format("split `{}` is read per batch: its {} of decoded samples exceed the executable's "
                                         "--data-memory budget (by default half of the memory, {}), so it holds {} of it "
                                         "(labels, index, batches prepared ahead)",
                                         f.split, humanBytes(static_cast<double>(f.decodedBytes())), humanBytes(mem / 2),
                                         humanBytes(static_cast<double>(f.streamedBytes(*p->batch)))));
      }
      if (!splits.empty()) loadedText = ", loaded data " + humanBytes(loaded) + " (" + data::describe(splits, mem, *p->batch) + ")";
      total += loaded;
    }
    Span at = t->model.span;
    if (total > mem) {
      auto& d = c.diags.report(Code::E0801, at, humanBytes(total), device, humanBytes(mem));
      d.primary("does not fit")
          .note("weights " + humanBytes(P * 4) + ", gradients " + humanBytes(P * 4) + ", optimizer state " +
                humanBytes(P * 4 * state) + ", activations " + humanBytes(A * bytes * 2) +
                (lowp > 0 ? ", bf16 copies " + humanBytes(lowp) : std::string()) +
                (accum > 0 ? ", accumulated gradients " + humanBytes(accum) : std::string()) + loadedText);
      for (const std::string& s : streamed) d.note(s);
      if (!c.options.data && !onCuda(*t))
        d.note("the loaded data is not counted here: `dlspec check --data` reads the files and counts it");
      d.help(loaded > total / 2 ? "the loaded data is most of it: train on a machine with more memory or on less data"
                                : "lower the batch size or shrink the largest layers");
    } else if (total > 0.9 * mem) {
      c.diags.report(Code::W0802, at, humanBytes(total), humanBytes(mem), device, "the data pipeline and framework need room too")
          .primary("little headroom")
          .help("lower the batch size so that training stays under 90% of the device's memory");
    }
  }
}

}  // namespace dls::checker
