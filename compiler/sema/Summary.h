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
};

NetworkSummary summarize(const Program& p, const Network& n);
std::string summaryText(const std::vector<NetworkSummary>& s);
std::string summaryJson(const std::vector<NetworkSummary>& s);

}  // namespace dls::sema
