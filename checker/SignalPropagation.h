// SignalPropagation: a static estimate of how the activations' second moment grows or shrinks through a
// network at initialisation (He et al. 2015): each weight layer multiplies it by fan_in · Var(w), each
// activation by its gain (ReLU 1/2, tanh ≈ 1, sigmoid ≈ 1/16), a normalisation layer resets it to 1.
#pragma once
#include <optional>
#include <string>

#include "checker/NetShapes.h"

namespace dls::checker {

// Var(w) for a named initialiser, or nullopt when the initialiser is not judged (defaults are matched to
// the activation by the compiler). `a` is the std (normal) or bound (uniform) when given.
std::optional<double> initVariance(const std::string& init, int64_t fanIn, int64_t fanOut, std::optional<double> a);
double activationGain(const std::string& op);

struct VarianceEstimate {
  double ratio = 1;        // output second moment / input second moment
  int weightLayers = 0;
  bool judged = false;     // at least one explicit initialiser took part
};

VarianceEstimate estimateVariance(const NetView& net, const NetFacts& facts);

}  // namespace dls::checker
