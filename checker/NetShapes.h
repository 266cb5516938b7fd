// NetShapes: a static walk of a network's layer sequence that tracks the per-sample shape, counts
// parameters, and records each weight layer's fan-in and fan-out. Shapes it cannot follow become unknown
// and everything after them is unknown too (no diagnostic: sema reports shape faults).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "checker/SpecView.h"

namespace dls::checker {

enum class LayerClass { Weight, Activation, Norm, Pool, Shape, Dropout, Other };
LayerClass classify(const std::string& op);
bool isNonLinear(const std::string& op);

struct LayerFacts {
  LayerClass cls = LayerClass::Other;
  std::optional<int64_t> params;      // trainable parameters
  std::optional<int64_t> outElems;    // per-sample output elements
  std::vector<std::optional<int64_t>> outShape;
  bool shapeKnown = false;
  int64_t fanIn = 0, fanOut = 0;      // weight layers with known shape
  bool bias = true;
};

struct NetFacts {
  std::vector<LayerFacts> layers;     // parallel to NetView::layers
  std::optional<int64_t> params;      // total, when every count is known
  std::optional<int64_t> activationElems;  // per sample: input + every layer's output
  std::optional<int64_t> maxLayerElems;
};

NetFacts analyzeNet(const NetView& net);

}  // namespace dls::checker
