// OnnxExport: a spec's network with its trained weights as an ONNX model (Debian's libonnx: the protobuf
// schema, the checker and shape inference), in inference form: batch_norm as BatchNormalization with the
// running statistics, dropout removed. Each node of the typed network (sema::Program) maps to ONNX operators
// by its op; an op or setting without an exact ONNX form is E1115 at the layer's call, never an
// approximation. The weights come from a checkpoint (.dlsc, docs/checkpoint-format.md) or a directory of
// per-parameter .npy files (`--weights DIR`, as the built program reads them).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sema/Program.h"
#include "support/DiagnosticEngine.h"

namespace dls::import {

struct WeightTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major
};
using Weights = std::map<std::string, WeightTensor>;  // by parameter name (`conv2d_1.weight`)

// The opsets an export may declare: the graph is the same from 13 (Squeeze, ReduceSum and Split take their
// axes as inputs) to 17 (libonnx 1.12's newest); HardSwish needs 14, the default.
constexpr int64_t kExportOpsetMin = 13, kExportOpsetMax = 17, kExportOpset = 14;

// Reads the values of `net`'s parameters from a checkpoint file, or from the newest `ckpt-*.dlsc` of a run
// directory; false after E1116 (unreadable, damaged, another network's layout).
bool readCheckpoint(const std::string& path, const sema::Network& net, Weights& out, DiagnosticEngine& diags);
// Reads DIR/<param>.npy for each of `net`'s parameters; false after E1116 (no such directory) or E1117.
bool readWeightsDir(const std::string& dir, const sema::Network& net, Weights& out, DiagnosticEngine& diags);

// The ONNX model (serialised ModelProto) of `net` with `weights`, checked by ONNX's checker and shape
// inference, whose inferred output shape must be sema's; nullopt after diagnostics. `batch` > 0 fixes the
// batch axis of the graph's input and output to that size (0: the symbol, N, as a dim_param).
std::optional<std::string> exportOnnx(const sema::Network& net, const Weights& weights, const std::string& specPath,
                                      int64_t opset, int64_t batch, DiagnosticEngine& diags);

// The template of the ONNX model that a built program carries (its `export` command, runtime/train/Export.cpp):
// the model of `net` as exportOnnx makes it (symbolic batch, the default opset), checked, with every initialiser
// made of parameters' values holding instead, in its doc_string, kTemplatePrefix and its parts: `;`-separated
// `PARAM,OFFSET,ROWS,COLS,t|n`, each the values [OFFSET, OFFSET + ROWS * COLS) of the parameter PARAM as a
// [ROWS, COLS] matrix, transposed (t) or not (n), the initialiser their concatenation. nullopt with `why` (the
// export's diagnostic) for a network without an ONNX form.
inline constexpr const char* kTemplatePrefix = "dlspec-parts:";
std::optional<std::string> onnxTemplate(const sema::Network& net, const std::string& specPath, const SourceManager& sm,
                                        std::string& why);

// The weights alone, each parameter (running statistics included) by its name with its shape, in the order
// of `net`'s parameters: a safetensors file (little-endian f32), or an .npz file (a zip archive of one
// little-endian f32 `.npy` per parameter, stored uncompressed, as numpy.savez writes it). `npz` returns
// nullopt with `why` for an archive past zip's 4 GiB.
std::string safetensors(const sema::Network& net, const Weights& weights);
std::optional<std::string> npz(const sema::Network& net, const Weights& weights, std::string& why);

}  // namespace dls::import
