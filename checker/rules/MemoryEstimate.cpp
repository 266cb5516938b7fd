// E0801: the static memory estimate (weights, gradients, optimizer state, activations × batch,
// workspace) exceeds the device's memory (`memory = 16 * GiB`, else cpu: this machine's RAM, cuda: 80 GiB).
// W0802: it needs more than 90% of it.
#include <unistd.h>

#include "checker/NetShapes.h"
#include "checker/RuleSupport.h"

namespace dls::checker {

double deviceMemory(const RuleContext& c, const TrainView& t, std::string& device) {
  const ast::Clause* on = onClause(t.item("model"));
  device = on && !on->devices.empty() ? std::string(c.sources.text(on->devices[0].span)) : "cpu";
  if (const ast::Item* m = t.item("memory"))
    if (auto b = bytesOf(m->value.get())) return static_cast<double>(*b);
  if (device.rfind("cuda", 0) == 0) return 80.0 * (1ull << 30);
  long pages = ::sysconf(_SC_PHYS_PAGES), size = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? static_cast<double>(pages) * static_cast<double>(size) : 0;
}

void checkMemoryEstimate(const RuleContext& c) {
  for (const TrainView& t : c.view.trains) {
    const NetView* n = modelOf(c, t);
    const PipeView* p = pipelineOf(c, t, "data");
    if (!n || !p) continue;
    NetFacts f = analyzeNet(*n);
    auto batch = batchOf(*p);
    if (!f.params || !f.activationElems || !batch || *batch <= 0) continue;
    const double bytes = 4;  // training runs in f32 (`precision = f16|bf16` is refused by sema, E0305)
    double state = 0;  // optimizer slots per parameter
    if (const ast::Item* o = t.item("optimizer"))
      if (auto u = asOp(o->value.get())) {
        // As the runtime keeps them (OptimizerConfig::state_slots): momentum buffers only with momentum.
        double momentum = evalNumber(u->arg("momentum")).value_or(0);
        if (u->op == "adam" || u->op == "adamw" || u->op == "nadam") state = 2;
        else if (u->op == "rmsprop") state = momentum > 0 ? 2 : 1;
        else if (u->op == "adagrad" || momentum != 0) state = 1;
      }
    double P = static_cast<double>(*f.params), A = static_cast<double>(*f.activationElems) * static_cast<double>(*batch);
    double total = P * 4 * (2 + state) + A * bytes * 2 + static_cast<double>(f.maxLayerElems.value_or(0)) * static_cast<double>(*batch) * bytes;
    std::string device;
    double mem = deviceMemory(c, t, device);
    if (mem <= 0) continue;
    Span at = t.item("model")->span;
    if (total > mem) {
      c.diags.report(Code::E0801, at, humanBytes(total), device, humanBytes(mem))
          .primary("does not fit")
          .note("weights " + humanBytes(P * 4) + ", gradients " + humanBytes(P * 4) + ", optimizer state " +
                humanBytes(P * 4 * state) + ", activations " + humanBytes(A * bytes * 2))
          .help("lower the batch size or shrink the largest layers");
    } else if (total > 0.9 * mem) {
      c.diags.report(Code::W0802, at, humanBytes(total), humanBytes(mem), device, "the data pipeline and framework need room too")
          .primary("little headroom")
          .help("lower the batch size so that training stays under 90% of the device's memory");
    }
  }
}

}  // namespace dls::checker
