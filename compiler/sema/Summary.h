// Summary: per-layer figures of a typed network (output shape, parameters, forward FLOPs and activation
// memory per sample) and their totals; read by `dlspec summary` and the tests.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "sema/Program.h"

namespace dls::sema {

struct LayerRow {
  std::string blockPath;   // "conv_bn_relu_1/" or ""
  std::string layer;       // conv2d_1
  std::string op;          // conv2d
  std::string outShape;    // [N, 20, 24, 24]
  int64_t params = 0;      // trainable elements
  std::optional<int64_t> flops;        // forward, per sample
  std::optional<int64_t> activationBytes;  // output, per sample
  int node = -1;
  std::string value;       // the spec's name for the output (h, l12), or "" for an intermediate
};

// What `precision = bf16` adds to a network's memory on the CPU (OpSchema.h bf16CopyBytes): the bf16 copies of the
// inputs, weights and d(output) of its ops with bf16 products (OpInfo::bf16). Activations, gradients, master
// weights and optimizer state stay f32 and are counted as in f32. nullopt per-sample: a size is unknown.
struct Bf16Copies {
  int ops = 0;                          // ops with bf16 products
  std::optional<int64_t> perSample = 0; // input and d(output) copies, per sample (training)
  int64_t weights = 0;                  // the weights' copies
};
Bf16Copies bf16Copies(const Network& n);

struct NetworkSummary {
  std::string network;
  std::vector<LayerRow> rows;
  int64_t params = 0;            // trainable
  int64_t buffers = 0;           // non-trainable state (running statistics)
  std::optional<int64_t> flops;  // forward, per sample
  std::optional<int64_t> macFlops;  // dense, conv, local and recurrent products (2 x multiply-adds), per sample
  std::optional<int64_t> activationBytes;  // all layer outputs, per sample
  std::optional<int64_t> batch;  // from the train config that uses the network
  std::string train;
  std::string precision = "f32"; // that train config's `precision`
  Bf16Copies bf16;               // under precision bf16: its copies (OpInfo::bf16 ops)
  // A network with several outputs: each output's name and type; a loss of weighted terms (several, a weight other
  // than 1, or the sample field as a target): each term. Both empty otherwise.
  std::vector<std::pair<std::string, std::string>> outputs;
  struct Term {
    std::string loss, output, target;
    double weight = 1;
    std::string output2 = {};  // a loss of two outputs (cosine_embedding): the second
  };
  std::vector<Term> lossTerms;
  // A network with several inputs, or a data set with several sample fields: each input's name, type and the
  // sample field that feeds it (DATASET.FIELD; empty when unbound). Empty otherwise.
  struct Input {
    std::string name, type, field;
  };
  std::vector<Input> inputs = {};
};

NetworkSummary summarize(const Program& p, const Network& n);
std::string summaryText(const std::vector<NetworkSummary>& s);
std::string summaryJson(const std::vector<NetworkSummary>& s);

}  // namespace dls::sema
