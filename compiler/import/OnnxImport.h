// OnnxImport: translates an ONNX model (protobuf, Debian's libonnx schema) into a dlspec spec and the
// initialisers its layers start from. Every ONNX node maps to an op of dlspec's op table (sema/OpTable.h),
// looked up by name; a node, attribute or graph feature without a dlspec equivalent is a diagnostic (E1111,
// E1112, E1113) naming the node and its op type, located at the node's line of the graph listing that the
// import registers as the model's source text (line 1 the graph, line k + 2 node k).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sema/Program.h"
#include "support/DiagnosticEngine.h"

namespace dls::import {

struct OnnxTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major, in dlspec's (torch.nn's) layout for the parameter
};

// The initialisers of one generated op call, by the role each plays in dlspec's parameters.
struct OnnxLayerWeights {
  uint32_t callOffset = 0;  // byte offset of the op's call in the generated spec
  std::string node, opType; // the ONNX node it translates
  Span at;                  // the node's line of the graph listing
  std::string instance;     // for a call inside a block: the block instance (`NAME_k`, as sema names it), else empty
  std::map<sema::ParamRole, OnnxTensor> params;
  // Parameters told apart by name rather than role (attention: in_proj_weight, out_proj.weight, …): the name after
  // the layer's (`LAYER.NAME`); looked up before `params`.
  std::map<std::string, OnnxTensor> named = {};
};

struct OnnxImport {
  std::string spec;                       // the generated .dls text
  std::vector<OnnxLayerWeights> weights;  // one entry per generated op with parameters
  int64_t nodes = 0;                      // ONNX nodes translated
};

// Reads, checks (ONNX's checker), infers shapes (ONNX's shape inference) and translates `path`. Returns
// nullopt when errors were reported (the spec would not be faithful).
std::optional<OnnxImport> importOnnx(const std::string& path, SourceManager& sources, DiagnosticEngine& diags);

}  // namespace dls::import
