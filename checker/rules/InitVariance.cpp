// M0102: initialisers mismatched to the activations, judged by a static estimate of how the activations'
// second moment grows or shrinks through the network at initialisation (He et al. 2015), along the data
// flow: each matrix product multiplies it by fan_in · E[w²] of its initialiser, each non-linearity by its
// gain (OpInfo::gain: ReLU 1/2, sigmoid 1/16), a normalisation resets it to 1, as does a recurrent layer
// (its gates bound the state); a join (add, concat) takes its largest operand's. Fan-in and fan-out are sema's
// (groups, dilation and recurrent inputs included).
// Depth decides whether it matters: the rule judges the signal where it enters the output layer, after the
// hidden weight layers, and only when there are at least kMinHiddenLayers of them. The output layer's own
// scale only sets the size of the first logits (a small output layer is common practice and trains), and a
// network with one hidden layer trains from a small initialiser (Keras 1's uniform(-0.05, 0.05) and the
// TensorFlow tutorials' normal(0.1) on two-layer MLPs): the collapse He et al. describe compounds with depth.
#include <algorithm>
#include <fmt/format.h>

#include "checker/Flow.h"
#include "sema/OpTable.h"

namespace dls::checker {

namespace {

constexpr int kMinHiddenLayers = 2;

// E[w²] of an explicit initialiser, or nullopt when it is not judged (the defaults are matched to the
// activation by the compiler; a constant is M0101's).
std::optional<double> secondMoment(const sema::InitSpec& s, int64_t fanIn, int64_t fanOut) {
  if (fanIn <= 0) return std::nullopt;
  double fi = static_cast<double>(fanIn), fo = static_cast<double>(fanOut > 0 ? fanOut : fanIn);
  switch (s.kind) {
    case sema::InitKind::He: return 2.0 / fi;
    case sema::InitKind::Glorot: return 2.0 / (fi + fo);
    case sema::InitKind::Normal: return s.a * s.a + s.b * s.b;              // normal(mean, std)
    case sema::InitKind::Uniform: return (s.a * s.a + s.a * s.b + s.b * s.b) / 3.0;  // uniform(a, b)
    default: return std::nullopt;
  }
}

// The gain of the first non-linearity that reads a layer's output, before another weight layer or a
// normalisation; 1 when there is none.
double gainAfter(const sema::Network& net, const std::vector<std::vector<int>>& users, int value) {
  for (int steps = 0; steps < 1000; ++steps) {
    const auto& readers = users[static_cast<size_t>(value)];
    if (readers.empty()) return 1;
    const sema::Node& r = net.nodes[static_cast<size_t>(readers.front())];
    if (r.op->nonLinear && !r.op->recurrent) return r.op->gain;
    if (r.op->hasWeights || r.op->normalization) return 1;
    value = r.output;
  }
  return 1;
}

}  // namespace

void checkInitVariance(const RuleContext& c) {
  for (const auto& net : c.program.networks) {
    std::vector<std::vector<int>> users = consumers(*net);
    std::vector<double> q(net->values.size(), 1.0);
    int weightLayers = 0;
    bool judged = false;
    double lastIn = 1;  // the second moment entering the last weight layer (the output layer)
    Span at = net->nameSpan;
    bool atInit = false;
    for (const sema::Node& n : net->nodes) {
      double in = n.inputs.empty() ? 1 : 0;
      for (int v : n.inputs) in = std::max(in, q[static_cast<size_t>(v)]);  // a join: its largest operand
      double out = in;
      const sema::Attr* init = givenAttr(n.attrs, "init");
      if (init && !atInit) at = init->span, atInit = true;
      if (n.op->normalization || n.op->recurrent) {
        out = 1;
      } else if (n.op->matmul) {
        ++weightLayers;
        lastIn = in;
        const sema::Param* w = nullptr;
        for (int p : n.params)
          if (net->params[static_cast<size_t>(p)].role == sema::ParamRole::Weight) { w = &net->params[static_cast<size_t>(p)]; break; }
        const std::string* text = init ? std::get_if<std::string>(&init->value) : nullptr;
        auto spec = text ? sema::parseInit(*text) : std::nullopt;
        std::optional<double> m = spec && w ? secondMoment(*spec, w->fanIn, w->fanOut) : std::nullopt;
        if (m) {
          judged = true;
          out = in * static_cast<double>(w->fanIn) * *m;
        } else {
          out = in / gainAfter(*net, users, n.output);  // a default initialiser: matched to the activation
        }
      } else if (n.op->nonLinear && !n.op->outputOnly) {
        out = in * n.op->gain;
      }
      q[static_cast<size_t>(n.output)] = std::clamp(out, 1e-300, 1e300);
    }
    double ratio = net->output >= 0 ? q[static_cast<size_t>(net->output)] : 1;
    const int hidden = weightLayers - 1;
    if (!judged || hidden < kMinHiddenLayers || (lastIn >= 1e-3 && lastIn <= 1e3)) continue;
    c.diags.report(Code::M0102, at, fmt::format("{:.2g}", ratio), weightLayers)
        .primary(lastIn < 1 ? "the signal vanishes with depth" : "the signal explodes with depth")
        .label(net->nameSpan, "in this network")
        .note(fmt::format("its {} hidden weight layers {} it by about {:.2g} times before the output layer", hidden,
                          lastIn < 1 ? "shrink" : "grow", lastIn < 1 ? 1 / lastIn : lastIn))
        .help("use `init: he` for layers followed by ReLU and `init: glorot` for tanh/sigmoid, or add batch_norm");
  }
}

}  // namespace dls::checker
