// TestPlans: the StepPlans used by the codegen tests (see TestPlans.h).
#include "TestPlans.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

namespace dls::codegen::test {
namespace {

using plan::Arg;
using plan::Call;
using plan::F64Array;
using plan::I32Array;
using plan::NullPtr;
using plan::RtArg;

// Builds setup/train/eval lists with ids in call order and a bump-allocated arena (64-byte aligned).
struct PlanBuilder {
  plan::StepPlan plan;
  int32_t tensors = 0, ops = 0, gradOps = 0;
  int64_t arena = 0;
  size_t arenaCallAt = 0;

  void setup(std::string callee, std::initializer_list<Arg> args) {
    Call call{std::move(callee), {Arg(RtArg{})}};
    call.args.insert(call.args.end(), args.begin(), args.end());
    plan.setup.push_back(std::move(call));
  }
  void markArena() { arenaCallAt = plan.setup.size(); }
  int32_t tensor(std::vector<int64_t> dims, bool persistent, int32_t dtype = 0) {
    int64_t numel = 1;
    for (int64_t d : dims) numel *= d;
    int64_t offset = -1;
    if (!persistent) {
      offset = arena;
      arena += (numel * 4 + 63) / 64 * 64;
    }
    int32_t rank = static_cast<int32_t>(dims.size());
    dims.resize(4, 1);
    setup("dls_rt_tensor", {dtype, rank, dims[0], dims[1], dims[2], dims[3], offset});
    return tensors++;
  }
  // A trainable parameter and its gradient.
  int32_t param(std::vector<int64_t> dims, const std::string& name, int32_t init, int64_t fanIn, int64_t fanOut,
                int32_t& grad) {
    int32_t value = tensor(dims, true);
    grad = tensor(dims, true);
    setup("dls_rt_param", {value, grad, name, init, 0.0, 0.0, fanIn, fanOut, int32_t{1}, int32_t{1}});
    return value;
  }
  int32_t op(int32_t opcode, std::vector<int32_t> ts, std::vector<double> attrs = {}) {
    auto n = static_cast<int32_t>(ts.size());
    auto na = static_cast<int32_t>(attrs.size());
    setup("dls_rt_op", {opcode, I32Array{std::move(ts)}, n, F64Array{std::move(attrs)}, na, int32_t{1}, int32_t{1}});
    int32_t id = ops++;
    plan.train.push_back(Call{"dls_rt_fwd", {RtArg{}, id}});
    plan.eval.push_back(Call{"dls_rt_fwd", {RtArg{}, id}});
    return id;
  }
  int32_t gradOp(int32_t fwd, int32_t dout, std::vector<int32_t> dins) {
    auto n = static_cast<int32_t>(dins.size());
    setup("dls_rt_grad_op", {fwd, dout, I32Array{std::move(dins)}, n, int32_t{0}});
    return gradOps++;
  }
  plan::StepPlan finish(const std::vector<int32_t>& backwardOrder) {
    for (int32_t g : backwardOrder) plan.train.push_back(Call{"dls_rt_bwd", {RtArg{}, g}});
    plan.train.push_back(Call{"dls_rt_update", {RtArg{}}});
    plan.arenaBytes = arena;
    plan.setup.insert(plan.setup.begin() + static_cast<std::ptrdiff_t>(arenaCallAt),
                      Call{"dls_rt_arena", {RtArg{}, arena}});
    return std::move(plan);
  }
};

enum : int32_t { kF32 = 0, kI32 = 1 };
enum : int32_t { kDense = 0, kConv = 1, kMaxPool = 2, kRelu = 8, kCopy = 20, kCrossEntropy = 32 };
enum : int32_t { kInitZeros = 0, kInitHe = 4 };

}  // namespace

plan::StepPlan tinyMlpPlan(const std::string& xPath, const std::string& yPath, int64_t epochs,
                           const std::string& checkpointDir) {
  const int64_t n = 16, in = 8, hidden = 16, classes = 2;
  PlanBuilder b;
  b.plan.programName = "tiny_mlp";
  b.setup("dls_rt_program", {std::string("tiny_mlp"), std::string("tiny_mlp.dls"), uint64_t{0x5eedULL}});
  b.setup("dls_rt_placement", {int32_t{0}, int32_t{0}, int32_t{1}});
  b.setup("dls_rt_train_config", {epochs, n, int64_t{1}});
  if (checkpointDir.empty()) b.setup("dls_rt_checkpoint", {NullPtr{}, int64_t{0}, int64_t{0}});
  else b.setup("dls_rt_checkpoint", {checkpointDir, int64_t{1}, int64_t{2}});
  b.setup("dls_rt_validate", {int64_t{1}, int32_t{3}});
  b.setup("dls_rt_optimizer", {int32_t{0}, 0.1, 0.9, 0.9, 0.999, 1e-8, 0.0, int32_t{0}});
  for (int32_t split : {0, 2}) {
    b.setup("dls_rt_dataset", {split, int32_t{2}, xPath, yPath, int32_t{-1}, int32_t{1}, in, int64_t{1}, int64_t{1},
                               int64_t{1}, classes});
  }
  b.setup("dls_rt_pipe", {int32_t{0}, int32_t{3}, 0.0, 0.0, 0.0, 0.0});
  b.markArena();
  int32_t x = b.tensor({n, in}, false);
  int32_t labels = b.tensor({n}, false, kI32);
  int32_t gw1, gb1, gw2, gb2;
  int32_t w1 = b.param({hidden, in}, "fc1.weight", kInitHe, in, hidden, gw1);
  int32_t b1 = b.param({hidden}, "fc1.bias", kInitZeros, in, hidden, gb1);
  int32_t w2 = b.param({classes, hidden}, "fc2.weight", kInitHe, hidden, classes, gw2);
  int32_t b2 = b.param({classes}, "fc2.bias", kInitZeros, hidden, classes, gb2);
  int32_t h = b.tensor({n, hidden}, false), r = b.tensor({n, hidden}, false);
  int32_t logits = b.tensor({n, classes}, false), loss = b.tensor({1}, false);
  int32_t dlogits = b.tensor({n, classes}, false), dr = b.tensor({n, hidden}, false), dh = b.tensor({n, hidden}, false);
  int32_t fc1 = b.op(kDense, {x, w1, b1, h});
  int32_t relu = b.op(kRelu, {h, r});
  int32_t fc2 = b.op(kDense, {r, w2, b2, logits});
  int32_t ce = b.op(kCrossEntropy, {logits, labels, loss}, {0.0});
  int32_t gce = b.gradOp(ce, -1, {dlogits, -1});
  int32_t gfc2 = b.gradOp(fc2, dlogits, {dr});
  int32_t grelu = b.gradOp(relu, dr, {dh});
  int32_t gfc1 = b.gradOp(fc1, dh, {});
  b.setup("dls_rt_io", {x, labels, logits, loss});
  return b.finish({gce, gfc2, grelu, gfc1});
}

plan::StepPlan lenetSizedPlan() {
  const int64_t n = 64;
  PlanBuilder b;
  b.plan.programName = "lenet";
  b.setup("dls_rt_program", {std::string("lenet"), std::string("examples/lenet.dls"), uint64_t{0xfeedface12345678ULL}});
  b.setup("dls_rt_placement", {int32_t{0}, int32_t{0}, int32_t{1}});
  b.setup("dls_rt_train_config", {int64_t{10}, n, int64_t{42}});
  b.setup("dls_rt_checkpoint", {std::string("checkpoints"), int64_t{1}, int64_t{3}});
  b.setup("dls_rt_validate", {int64_t{1}, int32_t{3}});
  b.setup("dls_rt_optimizer", {int32_t{1}, 1e-3, 0.0, 0.9, 0.999, 1e-8, 5e-4, int32_t{0}});
  b.setup("dls_rt_schedule", {int32_t{3}, 0.0, 1e-5, 0.0, 0.0});
  for (int32_t split : {0, 2})
    b.setup("dls_rt_dataset", {split, int32_t{0}, std::string("train-images-idx3-ubyte.gz"),
                               std::string("train-labels-idx1-ubyte.gz"), int32_t{-1}, int32_t{3}, int64_t{1},
                               int64_t{28}, int64_t{28}, int64_t{1}, int64_t{10}});
  b.setup("dls_rt_split", {0.1});
  b.setup("dls_rt_pipe", {int32_t{0}, int32_t{0}, 0.0, 0.0, 0.0, 0.0});
  b.setup("dls_rt_pipe", {int32_t{0}, int32_t{2}, 0.2860, 0.3530, 0.0, 0.0});
  b.setup("dls_rt_pipe", {int32_t{0}, int32_t{3}, 0.0, 0.0, 0.0, 0.0});
  b.markArena();
  int32_t x = b.tensor({n, 1, 28, 28}, false);
  int32_t labels = b.tensor({n}, false, kI32);
  struct Layer {
    int32_t op, out, dout;
  };
  std::vector<std::pair<int32_t, std::vector<int32_t>>> grads;  // fwd op, dins
  std::vector<Layer> layers;
  int32_t cur = x;
  auto addConv = [&](int64_t c, int64_t k, int64_t hw, const std::string& name) {
    int32_t gw, gb;
    int32_t w = b.param({k, c, 5, 5}, name + ".weight", kInitHe, c * 25, k * 25, gw);
    int32_t bias = b.param({k}, name + ".bias", kInitZeros, c * 25, k * 25, gb);
    int32_t y = b.tensor({n, k, hw, hw}, false);
    int32_t op = b.op(kConv, {cur, w, bias, y}, {1, 1, 2, 2, 2, 2, 1, 1, 1});
    layers.push_back({op, y, b.tensor({n, k, hw, hw}, false)});
    cur = y;
  };
  auto addUnary = [&](int32_t opcode, std::vector<int64_t> dims, std::vector<double> attrs) {
    int32_t y = b.tensor(dims, false);
    std::vector<int32_t> ts{cur, y};
    if (opcode == kMaxPool) ts.push_back(-1);  // runtime-owned workspace
    int32_t op = b.op(opcode, ts, attrs);
    layers.push_back({op, y, b.tensor(dims, false)});
    cur = y;
  };
  auto addDense = [&](int64_t in, int64_t out, const std::string& name) {
    int32_t gw, gb;
    int32_t w = b.param({out, in}, name + ".weight", kInitHe, in, out, gw);
    int32_t bias = b.param({out}, name + ".bias", kInitZeros, in, out, gb);
    int32_t y = b.tensor({n, out}, false);
    int32_t op = b.op(kDense, {cur, w, bias, y});
    layers.push_back({op, y, b.tensor({n, out}, false)});
    cur = y;
  };
  addConv(1, 6, 28, "conv1");
  addUnary(kRelu, {n, 6, 28, 28}, {});
  addUnary(kMaxPool, {n, 6, 14, 14}, {2, 2, 2, 2, 0, 0, 0, 0});
  addConv(6, 16, 14, "conv2");
  addUnary(kRelu, {n, 16, 14, 14}, {});
  addUnary(kMaxPool, {n, 16, 7, 7}, {2, 2, 2, 2, 0, 0, 0, 0});
  addUnary(kCopy, {n, 16 * 7 * 7}, {});
  addDense(16 * 7 * 7, 120, "fc1");
  addUnary(kRelu, {n, 120}, {});
  addDense(120, 84, "fc2");
  addUnary(kRelu, {n, 84}, {});
  addDense(84, 10, "fc3");
  int32_t loss = b.tensor({1}, false);
  int32_t ce = b.op(kCrossEntropy, {cur, labels, loss}, {0.1});
  std::vector<int32_t> order;
  order.push_back(b.gradOp(ce, -1, {layers.back().dout, -1}));
  for (size_t i = layers.size(); i-- > 0;) {
    std::vector<int32_t> dins;
    if (i > 0) dins.push_back(layers[i - 1].dout);
    order.push_back(b.gradOp(layers[i].op, layers[i].dout, dins));
  }
  b.setup("dls_rt_io", {x, labels, cur, loss});
  return b.finish(order);
}

bool writeTwoClassNpy(const std::string& xPath, const std::string& yPath, int n) {
  auto header = [](const std::string& descr, const std::string& shape) {
    std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    size_t total = 10 + dict.size() + 1;
    dict.append((64 - total % 64) % 64, ' ');
    dict += '\n';
    std::string h("\x93NUMPY\x01\x00", 8);
    h += static_cast<char>(dict.size() & 0xff);
    h += static_cast<char>(dict.size() >> 8);
    return h + dict;
  };
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> xs;
  std::vector<int32_t> ys;
  for (int i = 0; i < n; ++i) {
    int32_t label = i % 2;
    for (int f = 0; f < 8; ++f) xs.push_back(normal(rng) + (f < 4 ? (label ? 0.5f : -0.5f) : 0.0f));
    ys.push_back(label);
  }
  std::ofstream x(xPath, std::ios::binary), y(yPath, std::ios::binary);
  std::string hx = header("<f4", "(" + std::to_string(n) + ", 8)"), hy = header("<i4", "(" + std::to_string(n) + ",)");
  x.write(hx.data(), static_cast<std::streamsize>(hx.size()));
  x.write(reinterpret_cast<const char*>(xs.data()), static_cast<std::streamsize>(xs.size() * sizeof(float)));
  y.write(hy.data(), static_cast<std::streamsize>(hy.size()));
  y.write(reinterpret_cast<const char*>(ys.data()), static_cast<std::streamsize>(ys.size() * sizeof(int32_t)));
  return static_cast<bool>(x) && static_cast<bool>(y);
}

}  // namespace dls::codegen::test
