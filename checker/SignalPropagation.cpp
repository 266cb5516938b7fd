#include "checker/SignalPropagation.h"

#include "checker/RuleSupport.h"

namespace dls::checker {

std::optional<double> initVariance(const std::string& init, int64_t fanIn, int64_t fanOut, std::optional<double> a) {
  if (fanIn <= 0) return std::nullopt;
  double fi = static_cast<double>(fanIn), fo = static_cast<double>(fanOut > 0 ? fanOut : fanIn);
  if (init == "he" || init == "kaiming") return 2.0 / fi;
  if (init == "glorot" || init == "xavier") return 2.0 / (fi + fo);
  if (init == "lecun") return 1.0 / fi;
  if (init == "normal") return a ? *a * *a : 1.0;
  if (init == "uniform") return a ? *a * *a / 3.0 : 1.0 / 3.0;
  return std::nullopt;
}

double activationGain(const std::string& op) {
  if (op == "relu" || op == "relu6") return 0.5;
  if (op == "leaky_relu") return 0.5 * (1 + 0.01 * 0.01);
  if (op == "sigmoid") return 1.0 / 16.0;
  if (op == "gelu" || op == "silu" || op == "swish" || op == "mish") return 0.5;
  return 1.0;  // tanh, elu, selu, softplus: about linear near zero
}

VarianceEstimate estimateVariance(const NetView& net, const NetFacts& facts) {
  VarianceEstimate v;
  double q = 1;
  for (size_t i = 0; i < net.layers.size() && i < facts.layers.size(); ++i) {
    const OpUse& u = net.layers[i];
    const LayerFacts& L = facts.layers[i];
    switch (L.cls) {
      case LayerClass::Weight: {
        if (u.op == "embedding") break;
        ++v.weightLayers;
        // The activation that follows decides what a matched initialiser is.
        std::string next;
        for (size_t j = i + 1; j < net.layers.size(); ++j) {
          LayerClass c = classify(net.layers[j].op);
          if (c == LayerClass::Activation) { next = net.layers[j].op; break; }
          if (c == LayerClass::Weight || c == LayerClass::Norm) break;
        }
        std::string init = nameArg(u, "init");
        const ast::Expr* ie = stripParens(u.arg("init"));
        std::optional<double> a;
        if (ie && ie->kind == ast::ExprKind::Call) {
          for (auto& arg : ie->args)
            if (!arg.name || arg.name->name == "std" || arg.name->name == "bound") a = evalNumber(arg.value.get());
        }
        std::optional<double> var = L.fanIn > 0 ? initVariance(init, L.fanIn, L.fanOut, a) : std::nullopt;
        if (var) {
          v.judged = true;
          q *= static_cast<double>(L.fanIn) * *var;
        } else {
          // Unjudged (default) initialiser: the compiler matches it to the activation (gain 1 overall).
          q *= 1.0 / activationGain(next.empty() ? "tanh" : next);
        }
        break;
      }
      case LayerClass::Activation:
        if (u.op != "softmax" && u.op != "log_softmax") q *= activationGain(u.op);
        break;
      case LayerClass::Norm: q = 1; break;
      default: break;
    }
    if (q < 1e-300) q = 1e-300;
    if (q > 1e300) q = 1e300;
  }
  v.ratio = q;
  return v;
}

}  // namespace dls::checker
