// Finite-difference checks of every op's backward on small shapes (float, relative tolerance).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "TestUtil.h"
#include "core/Rng.h"
#include "train/Trainer.h"

using namespace dls;

namespace {

struct GradCheck {
  std::unique_ptr<dls_rt> rt = make_runtime(1);
  std::vector<int> ts;            // op tensors
  std::vector<int> grads;         // per op tensor: gradient tensor to check (-1: none)
  std::vector<bool> param;        // per op tensor: is a trainable parameter
  Rng rng{123};
  int N;
  explicit GradCheck(int batch = 2) : N(batch) {
    dls_rt_train_config(rt.get(), 1, batch, 7);
    dls_rt_arena(rt.get(), 0);
  }
  int tensor(std::vector<int64_t> d, int dtype = DLS_F32) {
    int rank = int(d.size());
    d.resize(4, 1);
    return dls_rt_tensor(rt.get(), dtype, rank, d[0], d[1], d[2], d[3], -1);
  }
  void fill(int id, double lo, double hi) {
    auto& t = rt->tensors[size_t(id)];
    std::vector<float> v(size_t(t.d.numel));
    for (auto& x : v) x = float(lo + (hi - lo) * rng.uniform());
    write_tensor(rt.get(), id, v.data(), t.bytes);
  }
  int input(std::vector<int64_t> d, double lo = -1, double hi = 1) {
    int id = tensor(d), g = tensor(d);
    fill(id, lo, hi);
    ts.push_back(id), grads.push_back(g), param.push_back(false);
    return id;
  }
  int weight(std::vector<int64_t> d, double lo = -1, double hi = 1) {
    int id = tensor(d), g = tensor(d);
    std::string name = "p";  // (not "p" + to_string: GCC 12 -Wrestrict false positive)
    name += std::to_string(rt->params.size());
    dls_rt_param(rt.get(), id, g, name.c_str(), DLS_INIT_UNIFORM, lo, hi, 1, 1, 1, 1);
    ts.push_back(id), grads.push_back(g), param.push_back(true);
    return id;
  }
  int plain(std::vector<int64_t> d, int dtype = DLS_F32) {
    int id = tensor(d, dtype);
    ts.push_back(id), grads.push_back(-1), param.push_back(false);
    return id;
  }
  void none() { ts.push_back(-1), grads.push_back(-1), param.push_back(false); }
  void labels(int id, int classes) {
    auto& t = rt->tensors[size_t(id)];
    std::vector<int32_t> v(size_t(t.d.numel));
    for (auto& x : v) x = int32_t(rng.below(uint64_t(classes)));
    write_tensor(rt.get(), id, v.data(), t.bytes);
  }

  // Creates op + gradient op, then compares analytic with central differences of S = sum(y * r) (or the
  // loss itself for loss ops) for a sample of elements of every checked tensor.
  void run(int opcode, std::vector<double> attrs, int out_index, bool loss, double rtol = 3e-2, uint32_t acc_mask = 0) {
    dls_rt* r = rt.get();
    int op = dls_rt_op(r, opcode, ts.data(), int(ts.size()), attrs.data(), int(attrs.size()), 1, 1);
    raise_pending(r);
    int y = ts[size_t(out_index)];
    int dout = -1;
    if (!loss) {
      dout = tensor({rt->tensors[size_t(y)].d.numel});
      fill(dout, -1, 1);
    }
    std::vector<int> dins;
    for (size_t i = 0; i < ts.size(); ++i) dins.push_back(param[i] ? -1 : grads[i]);
    int g = dls_rt_grad_op(r, op, dout, dins.data(), int(dins.size()), int(acc_mask));
    raise_pending(r);
    rt->step = {1, N, 7, 3, 0};
    // Pre-fill accumulated gradients with a known value.
    for (size_t i = 0; i < ts.size(); ++i)
      if (grads[i] >= 0 && ((acc_mask >> i) & 1u)) {
        std::vector<float> ones(size_t(rt->tensors[size_t(grads[i])].d.numel), 1.f);
        write_tensor(r, grads[i], ones.data(), ones.size() * 4);
      }
    auto S = [&]() -> double {
      dls_rt_fwd(r, op);
      raise_pending(r);
      std::vector<float> yv = read_tensor(r, y);
      if (loss) return yv[0];
      std::vector<float> rv = read_tensor(r, dout);
      double s = 0;
      for (size_t i = 0; i < yv.size(); ++i) s += double(yv[i]) * rv[i];
      return s;
    };
    S();
    dls_rt_bwd(r, g);
    raise_pending(r);
    for (size_t i = 0; i < ts.size(); ++i) {
      if (grads[i] < 0) continue;
      std::vector<float> an = read_tensor(r, grads[i]);
      if ((acc_mask >> i) & 1u)
        for (auto& v : an) v -= 1.f;
      std::vector<float> x = read_tensor(r, ts[i]);
      const size_t n = x.size(), samples = std::min<size_t>(n, 24);
      double maxabs = 0;
      for (float v : an) maxabs = std::max(maxabs, double(std::fabs(v)));
      for (size_t k = 0; k < samples; ++k) {
        size_t j = samples == n ? k : size_t(rng.below(n));
        const float keep = x[j], eps = 2e-3f * std::max(1.f, std::fabs(keep));
        x[j] = keep + eps;
        write_tensor(r, ts[i], x.data(), n * 4);
        double sp = S();
        x[j] = keep - eps;
        write_tensor(r, ts[i], x.data(), n * 4);
        double sm = S();
        x[j] = keep;
        write_tensor(r, ts[i], x.data(), n * 4);
        double num = (sp - sm) / (2.0 * double(eps));
        double tol = rtol * std::max({std::fabs(num), double(std::fabs(an[j])), 0.05 * maxabs}) + 1e-4;
        INFO(opcode_name(opcode) << " tensor " << i << " element " << j << ": analytic " << an[j] << " numeric " << num);
        CHECK(std::fabs(num - double(an[j])) <= tol);
      }
    }
  }
};

}  // namespace

TEST_CASE("dense backward", "[grad]") {
  GradCheck c(3);
  c.input({3, 5}), c.weight({4, 5}), c.weight({4}), c.plain({3, 4});
  c.run(DLS_OP_DENSE, {}, 3, false);
}

TEST_CASE("dense backward without bias, accumulating d(input)", "[grad]") {
  GradCheck c(3);
  c.input({3, 2, 2, 2}), c.weight({4, 8}), c.none(), c.plain({3, 4});
  c.run(DLS_OP_DENSE, {}, 3, false, 3e-2, 1u);
}

TEST_CASE("conv2d backward (stride, padding, dilation)", "[grad]") {
  GradCheck c(2);
  c.input({2, 3, 7, 6}), c.weight({4, 3, 3, 3}), c.weight({4}), c.plain({2, 4, 4, 3});
  c.run(DLS_OP_CONV2D, {2, 2, 1, 1, 1, 0, 1, 1, 1}, 3, false);
}

TEST_CASE("conv2d backward (groups, dilation 2)", "[grad]") {
  GradCheck c(2);
  c.input({2, 4, 7, 7}), c.weight({6, 2, 3, 3}), c.weight({6}), c.plain({2, 6, 3, 3});
  c.run(DLS_OP_CONV2D, {1, 1, 0, 0, 0, 0, 2, 2, 2}, 3, false);
}

TEST_CASE("conv1d backward (stride, padding, dilation, groups)", "[grad]") {
  // ops.def CONV1D: x[N,C,L], w[F,C/groups,K], b[F], y[N,F,L']; attrs stride, pad_left, pad_right, dilation, groups.
  GradCheck c(2);
  c.input({2, 4, 9}), c.weight({6, 2, 3}), c.weight({6}), c.plain({2, 6, 3});
  c.run(DLS_OP_CONV1D, {2, 1, 0, 2, 2}, 3, false);
}

TEST_CASE("maxpool backward", "[grad]") {
  GradCheck c(2);
  c.input({2, 3, 6, 6}), c.plain({2, 3, 3, 3}), c.none();
  c.run(DLS_OP_MAXPOOL, {2, 2, 2, 2, 0, 0, 0, 0}, 1, false);
}

TEST_CASE("maxpool backward with a dilated window and padding", "[grad]") {
  // kernel 3, stride 2, pad 1, dilation 2: the window spans 5; (7 + 2 - 5) / 2 + 1 = 3 outputs per axis.
  GradCheck c(2);
  c.input({2, 3, 7, 7}), c.plain({2, 3, 3, 3}), c.none();
  c.run(DLS_OP_MAXPOOL, {3, 3, 2, 2, 1, 1, 1, 1, 2, 2}, 1, false);
}

TEST_CASE("avgpool backward with padding", "[grad]") {
  GradCheck c(2);
  c.input({2, 2, 5, 5}), c.plain({2, 2, 3, 3}), c.none();
  c.run(DLS_OP_AVGPOOL, {3, 3, 2, 2, 1, 1, 1, 1}, 1, false);
}

TEST_CASE("global avgpool backward", "[grad]") {
  GradCheck c(2);
  c.input({2, 3, 4, 4}), c.plain({2, 3});
  c.run(DLS_OP_GLOBAL_AVGPOOL, {}, 1, false);
}

TEST_CASE("batch norm backward (training mode) and running statistics", "[grad]") {
  GradCheck c(4);
  c.input({4, 3, 2, 2}), c.weight({3}, 0.5, 1.5), c.weight({3});
  int rm = c.plain({3}), rv = c.plain({3});
  std::vector<float> ones(3, 1.f);
  write_tensor(c.rt.get(), rv, ones.data(), 12);
  c.plain({4, 3, 2, 2});
  c.run(DLS_OP_BATCH_NORM, {1e-5, 0.1}, 5, false);
  std::vector<float> m = read_tensor(c.rt.get(), rm);
  CHECK(std::fabs(m[0]) > 0);  // running mean moved
}

TEST_CASE("layer norm backward", "[grad]") {
  GradCheck c(3);
  c.input({3, 6}), c.weight({6}, 0.5, 1.5), c.weight({6}), c.plain({3, 6});
  c.run(DLS_OP_LAYER_NORM, {1e-5}, 3, false);
}

TEST_CASE("dropout backward (mask fixed by seed and step)", "[grad]") {
  GradCheck c(2);
  c.input({2, 50}), c.plain({2, 50});
  c.run(DLS_OP_DROPOUT, {0.3}, 1, false);
}

TEST_CASE("activation backward", "[grad]") {
  for (int opc : {DLS_OP_RELU, DLS_OP_LEAKY_RELU, DLS_OP_GELU, DLS_OP_TANH, DLS_OP_SIGMOID}) {
    GradCheck c(2);
    c.input({2, 10}), c.plain({2, 10});
    c.run(opc, opc == DLS_OP_LEAKY_RELU ? std::vector<double>{0.1} : std::vector<double>{}, 1, false);
  }
}

TEST_CASE("softmax and log-softmax backward", "[grad]") {
  for (int opc : {DLS_OP_SOFTMAX, DLS_OP_LOG_SOFTMAX}) {
    GradCheck c(3);
    c.input({3, 5}), c.plain({3, 5});
    c.run(opc, {}, 1, false);
  }
}

TEST_CASE("add, copy, concat, transpose, upsample backward", "[grad]") {
  {
    GradCheck c(2);
    c.input({2, 3}), c.input({2, 3}), c.plain({2, 3});
    c.run(DLS_OP_ADD, {}, 2, false, 3e-2, 2u);
  }
  {
    GradCheck c(2);
    c.input({2, 3, 2}), c.plain({2, 6});
    c.run(DLS_OP_COPY, {}, 1, false);
  }
  {
    GradCheck c(2);
    c.input({2, 2, 3}), c.input({2, 3, 3}), c.plain({2, 5, 3});
    c.run(DLS_OP_CONCAT, {1}, 2, false);
  }
  {
    GradCheck c(2);
    c.input({2, 3, 4}), c.plain({4, 2, 3});
    c.run(DLS_OP_TRANSPOSE, {2, 0, 1}, 1, false);
  }
  {
    GradCheck c(2);
    c.input({2, 1, 2, 3}), c.plain({2, 1, 4, 6});
    c.run(DLS_OP_UPSAMPLE, {2}, 1, false);
  }
}

TEST_CASE("ramp backward", "[grad]") {
  GradCheck c(2);
  c.input({2, 3, 4, 5}), c.plain({2, 3, 4, 5});
  c.run(DLS_OP_RAMP, {}, 1, false);
}

TEST_CASE("reorg backward: darknet's order (strides 2 and 3), extra zeros, accumulating d(input)", "[grad]") {
  {
    GradCheck c(2);
    c.input({2, 8, 4, 6}), c.plain({2, 32, 2, 3});
    c.run(DLS_OP_REORG, {2, 0}, 1, false);
  }
  {
    GradCheck c(2);
    c.input({2, 9, 3, 6}), c.plain({2, 81, 1, 2});
    c.run(DLS_OP_REORG, {3, 0}, 1, false, 3e-2, 1u);
  }
  {
    GradCheck c(2);
    c.input({2, 3, 2, 2}), c.plain({2, 17});
    c.run(DLS_OP_REORG, {2, 5}, 1, false, 3e-2, 1u);
  }
}

TEST_CASE("local backward (stride 2, padding 1, bias)", "[grad]") {
  // OH = (5 + 2 - 3) / 2 + 1 = 3, OW = (6 + 2 - 3) / 2 + 1 = 3: 9 positions of 4 filters over 3 x 3 x 3.
  GradCheck c(2);
  c.input({2, 3, 5, 6}), c.weight({9 * 4, 3, 3, 3}), c.weight({4, 3, 3}), c.plain({2, 4, 3, 3});
  c.run(DLS_OP_LOCAL, {2, 2, 1, 1, 1, 1}, 3, false);
}

TEST_CASE("local backward (asymmetric padding, no bias, accumulating d(input))", "[grad]") {
  // OH = (4 + 1 + 0 - 2) / 1 + 1 = 4, OW = (5 + 0 + 2 - 3) / 2 + 1 = 3.
  GradCheck c(3);
  c.input({3, 2, 4, 5}), c.weight({12 * 2, 2, 2, 3}), c.none(), c.plain({3, 2, 4, 3});
  c.run(DLS_OP_LOCAL, {1, 2, 1, 0, 0, 2}, 3, false, 3e-2, 1u);
}

TEST_CASE("embedding backward", "[grad]") {
  GradCheck c(4);
  int idx = c.plain({4}, DLS_I32);
  std::vector<int32_t> v = {1, 3, 1, 0};
  write_tensor(c.rt.get(), idx, v.data(), 16);
  c.weight({5, 3}), c.plain({4, 3});
  c.run(DLS_OP_EMBEDDING, {}, 2, false);
}

TEST_CASE("loss backward: cross-entropy (with label smoothing), NLL", "[grad]") {
  for (double smooth : {0.0, 0.1}) {
    GradCheck c(4);
    c.input({4, 5}, -2, 2);
    int y = c.plain({4}, DLS_I32);
    c.labels(y, 5);
    c.plain({1});
    c.run(DLS_OP_CROSS_ENTROPY, {smooth}, 2, true);
  }
  GradCheck c(4);
  c.input({4, 5}, -3, -0.1);
  int y = c.plain({4}, DLS_I32);
  c.labels(y, 5);
  c.plain({1});
  c.run(DLS_OP_NLL, {}, 2, true);
}

TEST_CASE("loss backward: MSE, L1, BCE, BCE with logits", "[grad]") {
  for (int opc : {DLS_OP_MSE, DLS_OP_L1, DLS_OP_BCE_WITH_LOGITS, DLS_OP_BCE}) {
    GradCheck c(3);
    if (opc == DLS_OP_BCE) c.input({3, 4}, 0.1, 0.9); else c.input({3, 4});
    int t = c.plain({3, 4});
    c.fill(t, 0, 1);
    c.plain({1});
    c.run(opc, {}, 2, true);
  }
}

TEST_CASE("l1: mean |x - t| over the valid rows, gradient sign(x - t) and 0 at equality, as torch", "[grad]") {
  GradCheck c(2);
  int x = c.input({2, 3});
  int t = c.plain({2, 3});
  int l = c.plain({1});
  dls_rt* r = c.rt.get();
  const float xv[6] = {0.5f, -1.f, 2.f, 1.f, 1.f, 1.f}, tv[6] = {0.f, -1.f, 3.f, 9.f, 9.f, 9.f};
  write_tensor(r, x, xv, sizeof xv);
  write_tensor(r, t, tv, sizeof tv);
  int op = dls_rt_op(r, DLS_OP_L1, c.ts.data(), 3, nullptr, 0, 1, 1);
  int dins[2] = {c.grads[0], -1};
  int g = dls_rt_grad_op(r, op, -1, dins, 2, 0);
  raise_pending(r);
  r->step = {1, 2, 7, 0, 0};
  dls_rt_fwd(r, op);
  dls_rt_bwd(r, g);
  raise_pending(r);
  CHECK(read_tensor(r, l)[0] == Approx((0.5 + 0 + 1 + 8 * 3) / 6.0));
  std::vector<float> dx = read_tensor(r, c.grads[0]);
  CHECK(dx[0] == Approx(1 / 6.0));
  CHECK(dx[1] == 0.f);  // x == t
  CHECK(dx[2] == Approx(-1 / 6.0));
  // One valid row: the second row (|1 - 9| each) counts for nothing and gets no gradient.
  r->step.valid_rows = 1;
  dls_rt_fwd(r, op);
  dls_rt_bwd(r, g);
  raise_pending(r);
  CHECK(read_tensor(r, l)[0] == Approx(1.5 / 3.0));
  dx = read_tensor(r, c.grads[0]);
  CHECK(dx[0] == Approx(1 / 3.0));
  CHECK(dx[3] == 0.f);
}

TEST_CASE("losses average over valid rows only", "[grad]") {
  GradCheck c(4);
  int x = c.input({4, 3});
  int y = c.plain({4}, DLS_I32);
  c.labels(y, 3);
  int l = c.plain({1});
  dls_rt* r = c.rt.get();
  int op = dls_rt_op(r, DLS_OP_CROSS_ENTROPY, c.ts.data(), 3, nullptr, 0, 1, 1);
  raise_pending(r);
  r->step = {0, 4, 7, 0, 0};
  dls_rt_fwd(r, op);
  float full = read_tensor(r, l)[0];
  // Garbage in rows 2..3 must not matter when only 2 rows are valid.
  std::vector<float> xv = read_tensor(r, x);
  r->step.valid_rows = 2;
  dls_rt_fwd(r, op);
  float two = read_tensor(r, l)[0];
  for (int i = 6; i < 12; ++i) xv[size_t(i)] = 1e6f;
  write_tensor(r, x, xv.data(), 48);
  dls_rt_fwd(r, op);
  CHECK(read_tensor(r, l)[0] == Approx(two));
  CHECK(std::isfinite(full));
}

// Recurrent layers on T = 3, N = 2, F = 4, U = 5: every attribute combination the op table allows.
namespace {
void recurrent_case(int opcode, std::vector<double> attrs, bool bias) {
  const int64_t N = 2, T = 3, F = 4, U = 5, G = opcode == DLS_OP_RNN ? 1 : opcode == DLS_OP_GRU ? 3 : 4;
  const bool last = attrs.back() != 0;
  INFO(opcode_name(opcode) << " attrs " << attrs.size() << " last " << last << " bias " << bias);
  GradCheck c{int(N)};
  c.input({N, T, F});
  c.none();  // no mask
  c.weight({G * U, F}, -0.6, 0.6), c.weight({G * U, U}, -0.6, 0.6);
  if (bias) {
    c.weight({G * U}, -0.4, 0.4), c.weight({G * U}, -0.4, 0.4);
  } else {
    c.none(), c.none();
  }
  if (last) {
    c.plain({N, U});
  } else {
    c.plain({N, T, U});
  }
  c.run(opcode, attrs, 6, false);
}
}  // namespace

TEST_CASE("rnn backward through time: tanh relu leaky_relu x sequence/last x bias or not", "[grad]") {
  for (double act : {0.0, 1.0, 2.0})
    for (double last : {0.0, 1.0})
      for (bool bias : {true, false}) recurrent_case(DLS_OP_RNN, {act, 0.1, last}, bias);
}

TEST_CASE("gru backward through time: reset_after true/false x sequence/last x bias or not", "[grad]") {
  for (double after : {1.0, 0.0})
    for (double last : {0.0, 1.0})
      for (bool bias : {true, false}) recurrent_case(DLS_OP_GRU, {after, last}, bias);
}

TEST_CASE("lstm backward through time: sequence/last x bias or not and an accumulated d(input)", "[grad]") {
  for (double last : {0.0, 1.0})
    for (bool bias : {true, false}) recurrent_case(DLS_OP_LSTM, {last}, bias);
  // d(x) added into a gradient that already holds a value.
  GradCheck c(2);
  c.input({2, 3, 4}), c.none(), c.weight({20, 4}, -0.6, 0.6), c.weight({20, 5}, -0.6, 0.6), c.none(), c.none(),
      c.plain({2, 3, 5});
  c.run(DLS_OP_LSTM, {0}, 6, false, 3e-2, 1u);
}

// Several layers and two directions (ops.def: the cells' parameters in torch.nn's order, the last layer's
// directions side by side): attrs are the op's own (RNN activation, alpha; GRU reset_after) then output,
// layers, bidirectional.
namespace {
void stacked_case(int opcode, std::vector<double> attrs, bool last, int64_t layers, bool bidi, bool bias,
                  uint32_t acc = 0, bool masked = false) {
  const int64_t N = 3, T = 4, F = 4, U = 3, G = opcode == DLS_OP_RNN ? 1 : opcode == DLS_OP_GRU ? 3 : 4;
  const int64_t D = bidi ? 2 : 1;
  INFO(opcode_name(opcode) << " last " << last << " layers " << layers << " bidirectional " << bidi << " bias " << bias
                           << " masked " << masked);
  attrs.push_back(last ? 1 : 0), attrs.push_back(double(layers)), attrs.push_back(bidi ? 1 : 0);
  attrs.push_back(2);  // mask_token
  GradCheck c{int(N)};
  c.input({N, T, F});
  if (masked) {
    // Tokens 0..2, 2 the padding: padded steps at the end, at the start and between real ones.
    int tok = c.plain({N, T}, DLS_I32);
    const int32_t v[12] = {1, 0, 2, 2, 2, 1, 0, 1, 0, 2, 1, 2};
    write_tensor(c.rt.get(), tok, v, sizeof v);
  } else {
    c.none();
  }
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t d = 0; d < D; ++d) {
      c.weight({G * U, l == 0 ? F : D * U}, -0.6, 0.6), c.weight({G * U, U}, -0.6, 0.6);
      if (bias) c.weight({G * U}, -0.4, 0.4), c.weight({G * U}, -0.4, 0.4);
    }
  if (last) {
    c.plain({N, D * U});
  } else {
    c.plain({N, T, D * U});
  }
  c.run(opcode, attrs, int(c.ts.size()) - 1, false, 3e-2, acc);
}
}  // namespace

TEST_CASE("recurrent layers with several layers and two directions: every cell, sequence/last, bias or not",
          "[grad]") {
  for (bool last : {false, true})
    for (bool bias : {true, false}) {
      stacked_case(DLS_OP_LSTM, {}, last, 2, true, bias);
      stacked_case(DLS_OP_GRU, {1}, last, 1, true, bias);
      stacked_case(DLS_OP_GRU, {0}, last, 2, false, bias);
      stacked_case(DLS_OP_RNN, {0, 0.1}, last, 3, true, bias);
    }
  stacked_case(DLS_OP_RNN, {2, 0.1}, false, 2, true, true);
  stacked_case(DLS_OP_LSTM, {}, false, 2, true, true, 1u);  // d(x) added into what it holds
}

TEST_CASE("recurrent layers over a padded sequence: padding steps keep the state, output 0, pass gradients",
          "[grad]") {
  for (bool last : {false, true}) {
    stacked_case(DLS_OP_LSTM, {}, last, 2, true, true, 0, true);
    stacked_case(DLS_OP_GRU, {1}, last, 1, true, true, 0, true);
    stacked_case(DLS_OP_GRU, {0}, last, 1, false, false, 0, true);
    stacked_case(DLS_OP_RNN, {0, 0.1}, last, 2, false, true, 0, true);
  }
  // The padded steps' outputs are 0 and a padded tail leaves the last output at the last real step's state.
  GradCheck c(1);
  int x = c.input({1, 3, 2});
  int tok = c.plain({1, 3}, DLS_I32);
  const int32_t v[3] = {5, 5, 0};
  write_tensor(c.rt.get(), tok, v, sizeof v);
  c.weight({4, 2}), c.weight({4, 4});
  int y = c.plain({1, 3, 4});
  dls_rt* r = c.rt.get();
  int op = dls_rt_op(r, DLS_OP_RNN, c.ts.data(), int(c.ts.size()), std::vector<double>{0, 0.01, 0, 1, 0, 0}.data(), 6, 1, 1);
  raise_pending(r);
  r->step = {0, 1, 7, 0, 0};
  dls_rt_fwd(r, op);
  raise_pending(r);
  std::vector<float> full = read_tensor(r, y);
  for (int j = 0; j < 4; ++j) CHECK(full[size_t(8 + j)] == 0.f);
  CHECK(std::fabs(full[4]) + std::fabs(full[5]) + std::fabs(full[6]) + std::fabs(full[7]) > 0);
  (void)x;
}

TEST_CASE("dense and cross-entropy over a sequence [N T C] with per-step labels and valid rows", "[grad]") {
  {
    GradCheck c(2);
    c.input({2, 3, 4}), c.weight({5, 4}), c.weight({5}), c.plain({2, 3, 5});
    c.run(DLS_OP_DENSE, {}, 3, false);
  }
  GradCheck c(2);
  c.input({2, 3, 4}, -2, 2);
  int y = c.plain({2, 3}, DLS_I32);
  c.labels(y, 4);
  int l = c.plain({1});
  c.run(DLS_OP_CROSS_ENTROPY, {0.0}, 2, true);
  // One valid sample of two: the mean over its 3 steps only.
  dls_rt* r = c.rt.get();
  int op = dls_rt_op(r, DLS_OP_CROSS_ENTROPY, c.ts.data(), 3, nullptr, 0, 1, 1);
  raise_pending(r);
  std::vector<float> x = read_tensor(r, c.ts[0]);
  std::vector<int32_t> lab(6);
  to_host(r, lab.data(), r->tensors[size_t(y)].d.data, 24);
  double want = 0;
  for (int s = 0; s < 3; ++s) {
    const float* row = x.data() + s * 4;
    double m = *std::max_element(row, row + 4), z = 0;
    for (int k = 0; k < 4; ++k) z += std::exp(double(row[k]) - m);
    want += m + std::log(z) - row[lab[size_t(s)]];
  }
  r->step = {0, 1, 7, 0, 0};
  dls_rt_fwd(r, op);
  raise_pending(r);
  CHECK(read_tensor(r, l)[0] == Approx(want / 3).epsilon(1e-5));
}

TEST_CASE("recurrent op descriptions that do not fit are R0504 errors", "[grad]") {
  auto rt = make_runtime(1);
  dls_rt* r = rt.get();
  dls_rt_train_config(r, 1, 2, 7);
  dls_rt_arena(r, 0);
  auto t = [&](int rank, int64_t a, int64_t b = 1, int64_t c = 1) { return dls_rt_tensor(r, DLS_F32, rank, a, b, c, 1, -1); };
  int x = t(3, 2, 3, 4), wi = t(2, 15, 4), wh = t(2, 15, 5), b = t(1, 15), y = t(3, 2, 3, 5), y2 = t(2, 2, 5);
  auto attempt = [&](int opcode, std::vector<int> ts, std::vector<double> as) {
    int id = dls_rt_op(r, opcode, ts.data(), int(ts.size()), as.data(), int(as.size()), 4, 2);
    std::string msg;
    try {
      raise_pending(r);
    } catch (const Fault& f) {
      msg = f.message;
    }
    return std::make_pair(id, msg);
  };
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, b, b, y}, {1, 0}).second.empty());
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, b, b, y2}, {1, 1}).second.empty());
  auto e = attempt(DLS_OP_LSTM, {x, -1, wi, wh, b, b, y}, {0});  // G = 4 needs 20 rows
  CHECK(e.first == -1);
  CHECK(e.second.find("w_hh") != std::string::npos);
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, b, -1, y}, {1, 0}).second.find("both") != std::string::npos);
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, b, b, y2}, {1, 0}).second.find("should be [2, 3, 5]") != std::string::npos);
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, b, b, y}, {2, 0}).second.find("reset_after") != std::string::npos);
  // ops.def: a left-out trailing attribute takes its default (output: sequence); one too many is an error.
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, b, b, y}, {1}).second.empty());
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, b, b, y}, {1, 0, 1, 0, 0, 0}).second.find("expects 5 attributes, got 6") != std::string::npos);
  CHECK(attempt(DLS_OP_RNN, {x, -1, wi, wh, b, b}, {0, 0, 0}).second.find("expects 2 or 4 parameter tensors") != std::string::npos);
  CHECK(attempt(DLS_OP_RNN, {x}, {0, 0, 0}).second.find("expects at least 3 tensors") != std::string::npos);
  // The mask: i32 tokens [N, T].
  int tok = dls_rt_tensor(r, DLS_I32, 2, 2, 3, 1, 1, -1), ftok = t(2, 2, 3), tok2 = dls_rt_tensor(r, DLS_I32, 2, 2, 4, 1, 1, -1);
  CHECK(attempt(DLS_OP_GRU, {x, tok, wi, wh, b, b, y}, {1, 0}).second.empty());
  CHECK(attempt(DLS_OP_GRU, {x, ftok, wi, wh, b, b, y}, {1, 0}).second.find("mask tokens [2, 3] should be i32 [2, 3]") !=
        std::string::npos);
  CHECK(attempt(DLS_OP_GRU, {x, tok2, wi, wh, b, b, y}, {1, 0}).second.find("mask tokens") != std::string::npos);
  // layers: 2 needs the second layer's weights; bidirectional doubles the output's features.
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, b, b, y}, {1, 0, 2, 0}).second.find("w_hh [15] of layer 1") != std::string::npos);
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, y}, {1, 0, 2, 0}).second.find("expects 4 or 8 parameter tensors") != std::string::npos);
  int wi1 = t(2, 15, 5);
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, wi1, wh, y}, {1, 0, 2, 0}).second.empty());
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, wi, wh, y}, {1, 0, 2, 0}).second.find("w_ih [15, 4] of layer 1 should be [15, 5]") !=
        std::string::npos);
  int y10 = t(3, 2, 3, 10);
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, wi, wh, y10}, {1, 0, 1, 1}).second.empty());
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, wi, wh, y}, {1, 0, 1, 1}).second.find("should be [2, 3, 10]") != std::string::npos);
  CHECK(attempt(DLS_OP_GRU, {x, -1, wi, wh, -1, -1, wi, wh, -1, -1, y10}, {1, 0, 1, 1}).second.find("only for one layer") !=
        std::string::npos);
  CHECK(attempt(DLS_OP_GRU, {t(2, 2, 12), -1, wi, wh, b, b, y}, {1, 0}).second.find("not a sequence") != std::string::npos);
}

TEST_CASE("multi_head_attention backward: heads, causal, dropout, without biases, an accumulated d(input)", "[grad]") {
  // ops.def MULTI_HEAD_ATTENTION: x [N, T, D], w_in [3D, D], w_out [D, D], b_in [3D], b_out [D], y; heads, causal,
  // dropout.
  for (double causal : {0.0, 1.0}) {
    GradCheck c(2);
    c.input({2, 5, 6}), c.weight({18, 6}, -0.5, 0.5), c.weight({6, 6}, -0.5, 0.5), c.weight({18}), c.weight({6}),
        c.plain({2, 5, 6});
    c.run(DLS_OP_MULTI_HEAD_ATTENTION, {3, causal, 0}, 5, false);
  }
  {  // dropout: the mask is the same function of (seed, step, op) in every forward of the check
    GradCheck c(2);
    c.input({2, 4, 4}), c.weight({12, 4}, -0.5, 0.5), c.weight({4, 4}, -0.5, 0.5), c.weight({12}), c.weight({4}),
        c.plain({2, 4, 4});
    c.run(DLS_OP_MULTI_HEAD_ATTENTION, {2, 1, 0.3}, 5, false);
  }
  GradCheck c(3);
  c.input({3, 4, 4}), c.weight({12, 4}, -0.5, 0.5), c.weight({4, 4}, -0.5, 0.5), c.none(), c.none(), c.plain({3, 4, 4});
  c.run(DLS_OP_MULTI_HEAD_ATTENTION, {1, 1, 0}, 5, false, 3e-2, 1u);
}

TEST_CASE("positional_embedding backward: d(input) and the table's rows, unused rows zero", "[grad]") {
  GradCheck c(3);
  c.input({3, 4, 5}), c.weight({6, 5}), c.plain({3, 4, 5});
  c.run(DLS_OP_POSITIONAL_EMBEDDING, {}, 2, false, 3e-2, 1u);
}

TEST_CASE("core/EltMath.h activations backward (oneDNN's and the loops')", "[grad]") {
  // The piecewise ones (kinks at -3, 0, 3, 6) on ranges between their kinks: central differences across a
  // kink measure neither side's slope.
  struct Range {
    double lo, hi;
  };
  for (int opcode : {DLS_OP_ELU, DLS_OP_SELU, DLS_OP_SILU, DLS_OP_MISH, DLS_OP_SOFTPLUS, DLS_OP_HARDSWISH,
                     DLS_OP_HARDSIGMOID, DLS_OP_RELU6}) {
    const bool piecewise = opcode == DLS_OP_HARDSWISH || opcode == DLS_OP_HARDSIGMOID || opcode == DLS_OP_RELU6;
    const std::vector<Range> ranges = piecewise ? std::vector<Range>{{-5.8, -3.2}, {-2.9, -0.1}, {0.1, 2.9}, {3.2, 5.8}, {6.2, 8}}
                                                : std::vector<Range>{{-4, 4}};
    for (const Range& r : ranges) {
      GradCheck c(2);
      c.input({2, 3, 4, 5}, r.lo, r.hi), c.plain({2, 3, 4, 5});
      const std::vector<double> attrs = opcode == DLS_OP_ELU ? std::vector<double>{0.7}
                                        : opcode == DLS_OP_SOFTPLUS ? std::vector<double>{2.0, 20.0}
                                                                    : std::vector<double>{};
      c.run(opcode, attrs, 1, false);
    }
  }
}

TEST_CASE("prelu and glu backward, accumulating d(input)", "[grad]") {
  {
    GradCheck c(2);
    c.input({2, 3, 4, 5}), c.weight({3}, 0.1, 0.4), c.plain({2, 3, 4, 5});
    c.run(DLS_OP_PRELU, {}, 2, false, 3e-2, 1u);
  }
  {
    GradCheck c(2);
    c.input({4, 6}), c.weight({1}, 0.1, 0.4), c.plain({4, 6});
    c.run(DLS_OP_PRELU, {}, 2, false);
  }
  {
    GradCheck c(2);
    c.input({2, 4, 3}), c.plain({2, 2, 3});
    c.run(DLS_OP_GLU, {1}, 1, false, 3e-2, 1u);
  }
}

TEST_CASE("mul, sub, div backward: sums over the broadcast axes", "[grad]") {
  for (int opcode : {DLS_OP_MUL, DLS_OP_SUB, DLS_OP_DIV}) {
    {
      GradCheck c(2);
      c.input({2, 3, 4, 5}), c.input({2, 3, 1, 1}, 0.5, 1.5), c.plain({2, 3, 4, 5});
      c.run(opcode, {}, 2, false, 3e-2, 2u);
    }
    {
      GradCheck c(2);
      c.input({2, 1, 5}), c.input({2, 4, 1}, 0.5, 1.5), c.plain({2, 4, 5});
      c.run(opcode, {}, 2, false);
    }
  }
}

TEST_CASE("mean, sum, max over axes, global_maxpool and adaptive_avgpool backward", "[grad]") {
  {
    GradCheck c(2);
    c.input({2, 3, 4, 5}), c.plain({2, 3});
    c.run(DLS_OP_REDUCE_MEAN, {0, 0, 0, 1, 1}, 1, false);
  }
  {
    GradCheck c(2);
    c.input({2, 3, 4, 5}), c.plain({2, 1, 4, 1});
    c.run(DLS_OP_REDUCE_SUM, {1, 0, 1, 0, 1}, 1, false, 3e-2, 1u);
  }
  {
    GradCheck c(2);
    c.input({2, 3, 4, 5}), c.plain({2, 4});
    c.run(DLS_OP_REDUCE_MAX, {0, 0, 1, 0, 1}, 1, false);
  }
  {
    GradCheck c(2);
    c.input({2, 3, 4, 5}), c.plain({2, 3});
    c.run(DLS_OP_GLOBAL_MAXPOOL, {}, 1, false);
  }
  {
    GradCheck c(2);
    c.input({2, 3, 7, 5}), c.plain({2, 3, 3, 2});
    c.run(DLS_OP_ADAPTIVE_AVGPOOL, {}, 1, false);
  }
}

TEST_CASE("maxpool1d and avgpool1d backward (the pooling kernels over the [N, C, 1, L] view)", "[grad]") {
  {
    GradCheck c(2);
    c.input({2, 3, 11}), c.plain({2, 3, 5}), c.none();
    c.run(DLS_OP_MAXPOOL1D, {3, 2, 1, 1, 2}, 1, false);
  }
  {
    GradCheck c(2);
    c.input({2, 3, 9}), c.plain({2, 3, 4}), c.none();
    c.run(DLS_OP_AVGPOOL1D, {3, 2, 1, 0}, 1, false);
  }
}

TEST_CASE("group_norm and instance_norm backward (with and without weight and bias)", "[grad]") {
  {
    GradCheck c(2);
    c.input({2, 4, 3, 5}), c.weight({4}, 0.5, 1.5), c.weight({4}), c.plain({2, 4, 3, 5});
    c.run(DLS_OP_GROUP_NORM, {2, 1e-5}, 3, false, 3e-2, 1u);
  }
  {
    GradCheck c(2);
    c.input({2, 3, 7}), c.none(), c.none(), c.plain({2, 3, 7});
    c.run(DLS_OP_INSTANCE_NORM, {1e-5}, 3, false);
  }
}

TEST_CASE("loss backward: huber, smooth_l1, kl_div, focal, hinge, poisson", "[grad]") {
  struct Case {
    int opcode;
    std::vector<double> attrs;
    double xlo, xhi, tlo, thi;
  };
  const std::vector<Case> cases = {
      {DLS_OP_HUBER, {0.5}, -1, 1, 0, 1},       {DLS_OP_HUBER, {1.0}, -2, 2, -1, 1},
      {DLS_OP_SMOOTH_L1, {0.5}, -1, 1, 0, 1},   {DLS_OP_SMOOTH_L1, {0.0}, -1, 1, 0, 1},
      {DLS_OP_KL_DIV, {}, -3, -0.1, 0.01, 1},    {DLS_OP_FOCAL, {2.0, 0.25}, -2, 2, 0, 1},
      {DLS_OP_FOCAL, {0.0, -1.0}, -2, 2, 0, 1}, {DLS_OP_FOCAL, {1.5, 0.6}, -3, 3, 0, 1},
      {DLS_OP_HINGE, {}, -0.9, 0.9, 0, 1},       {DLS_OP_POISSON, {}, -1, 1, 0, 3},
  };
  for (const Case& k : cases) {
    GradCheck c(3);
    c.input({3, 4}, k.xlo, k.xhi);
    int t = c.plain({3, 4});
    c.fill(t, k.tlo, k.thi);
    if (k.opcode == DLS_OP_HINGE || (k.opcode == DLS_OP_FOCAL && k.attrs[0] == 2.0)) {
      // 0/1 targets
      std::vector<float> v = read_tensor(c.rt.get(), t);
      for (auto& x : v) x = x < 0.5f ? 0.f : 1.f;
      write_tensor(c.rt.get(), t, v.data(), v.size() * 4);
    }
    c.plain({1});
    c.run(k.opcode, k.attrs, 2, true);
  }
}

TEST_CASE("loss backward: cross_entropy and nll with class weights (and label smoothing)", "[grad]") {
  const std::vector<double> w = {0.5, 2.0, 1.0, 0.25, 3.0};
  for (double smooth : {0.0, 0.2}) {
    GradCheck c(4);
    c.input({4, 5}, -2, 2);
    int y = c.plain({4}, DLS_I32);
    c.labels(y, 5);
    c.plain({1});
    std::vector<double> attrs = {smooth, -100};
    attrs.insert(attrs.end(), w.begin(), w.end());
    c.run(DLS_OP_CROSS_ENTROPY, attrs, 2, true);
  }
  GradCheck c(4);
  c.input({4, 5}, -3, -0.1);
  int y = c.plain({4}, DLS_I32);
  c.labels(y, 5);
  c.plain({1});
  std::vector<double> attrs = {-100};
  attrs.insert(attrs.end(), w.begin(), w.end());
  c.run(DLS_OP_NLL, attrs, 2, true);
}

TEST_CASE("weighted nll is torch's weighted mean; kl_div divides by the rows; huber and hinge at their boundaries", "[grad]") {
  {
    GradCheck c(3);
    int x = c.input({3, 2});
    int y = c.plain({3}, DLS_I32);
    int l = c.plain({1});
    dls_rt* r = c.rt.get();
    const float xv[6] = {-1.f, -2.f, -3.f, -4.f, -5.f, -6.f};
    const int32_t yv[3] = {0, 1, 1};
    write_tensor(r, x, xv, sizeof xv);
    write_tensor(r, y, yv, sizeof yv);
    const double attrs[3] = {-100, 2.0, 0.5};  // ignore_index, w0, w1
    int op = dls_rt_op(r, DLS_OP_NLL, c.ts.data(), 3, attrs, 3, 1, 1);
    raise_pending(r);
    r->step = {0, 3, 7, 0, 0};
    dls_rt_fwd(r, op);
    raise_pending(r);
    // (2 * 1 + 0.5 * 4 + 0.5 * 6) / (2 + 0.5 + 0.5)
    CHECK(read_tensor(r, l)[0] == Approx(7.0 / 3.0));
  }
  {
    GradCheck c(2);
    int x = c.input({2, 2});
    int t = c.plain({2, 2});
    int l = c.plain({1});
    dls_rt* r = c.rt.get();
    const float xv[4] = {std::log(0.25f), std::log(0.75f), std::log(0.5f), std::log(0.5f)};
    const float tv[4] = {0.5f, 0.5f, 0.f, 1.f};
    write_tensor(r, x, xv, sizeof xv);
    write_tensor(r, t, tv, sizeof tv);
    int op = dls_rt_op(r, DLS_OP_KL_DIV, c.ts.data(), 3, nullptr, 0, 1, 1);
    raise_pending(r);
    r->step = {0, 2, 7, 0, 0};
    dls_rt_fwd(r, op);
    raise_pending(r);
    const double row0 = 0.5 * (std::log(0.5) - std::log(0.25)) + 0.5 * (std::log(0.5) - std::log(0.75));
    const double row1 = 0 + 1.0 * (0 - std::log(0.5));  // 0 log 0 = 0
    CHECK(read_tensor(r, l)[0] == Approx((row0 + row1) / 2.0));
  }
  {
    GradCheck c(1);
    int x = c.input({1, 4});
    int t = c.plain({1, 4});
    int l = c.plain({1});
    dls_rt* r = c.rt.get();
    const float xv[4] = {0.f, 2.f, -3.f, 0.25f}, tv[4] = {1.f, 0.f, 0.f, 0.f};
    write_tensor(r, x, xv, sizeof xv);
    write_tensor(r, t, tv, sizeof tv);
    const double delta = 1.0;
    int op = dls_rt_op(r, DLS_OP_HUBER, c.ts.data(), 3, &delta, 1, 1, 1);
    int dins[2] = {c.grads[0], -1};
    int g = dls_rt_grad_op(r, op, -1, dins, 2, 0);
    raise_pending(r);
    r->step = {1, 1, 7, 0, 0};
    dls_rt_fwd(r, op);
    dls_rt_bwd(r, g);
    raise_pending(r);
    // |d| = 1 (at delta: quadratic), 2, 3 (linear), 0.25
    CHECK(read_tensor(r, l)[0] == Approx((0.5 + 1.5 + 2.5 + 0.03125) / 4.0));
    std::vector<float> dx = read_tensor(r, c.grads[0]);
    CHECK(dx[0] == Approx(-0.25));
    CHECK(dx[1] == Approx(0.25));
    CHECK(dx[2] == Approx(-0.25));
    CHECK(dx[3] == Approx(0.0625));
  }
  {
    GradCheck c(1);
    int x = c.input({1, 4});
    int t = c.plain({1, 4});
    int l = c.plain({1});
    dls_rt* r = c.rt.get();
    const float xv[4] = {1.f, 2.f, -0.5f, 0.5f}, tv[4] = {1.f, 1.f, 0.f, 0.f};  // y = +1, +1, -1, -1
    write_tensor(r, x, xv, sizeof xv);
    write_tensor(r, t, tv, sizeof tv);
    int op = dls_rt_op(r, DLS_OP_HINGE, c.ts.data(), 3, nullptr, 0, 1, 1);
    int dins[2] = {c.grads[0], -1};
    int g = dls_rt_grad_op(r, op, -1, dins, 2, 0);
    raise_pending(r);
    r->step = {1, 1, 7, 0, 0};
    dls_rt_fwd(r, op);
    dls_rt_bwd(r, g);
    raise_pending(r);
    CHECK(read_tensor(r, l)[0] == Approx((0 + 0 + 0.5 + 1.5) / 4.0));
    std::vector<float> dx = read_tensor(r, c.grads[0]);
    CHECK(dx[0] == Approx(-0.25));  // on the boundary: torch's clamp passes the gradient
    CHECK(dx[1] == 0.f);
    CHECK(dx[2] == Approx(0.25));
    CHECK(dx[3] == Approx(0.25));
  }
}

TEST_CASE("cross_entropy with a class weight count other than the classes is an R0504 fault", "[grad]") {
  GradCheck c(2);
  c.input({2, 3});
  int y = c.plain({2}, DLS_I32);
  c.labels(y, 3);
  c.plain({1});
  dls_rt* r = c.rt.get();
  const double attrs[4] = {0, -100, 1, 2};  // two weights for three classes
  dls_rt_op(r, DLS_OP_CROSS_ENTROPY, c.ts.data(), 3, attrs, 4, 1, 1);
  REQUIRE(r->error);
  CHECK(r->error->code == Diag::R0504);
}

TEST_CASE("conv_transpose2d backward (groups, stride, pad, output_pad, dilation; with and without bias)", "[grad]") {
  {
    // x[2,4,3,3], w[4,6/2,3,3], groups 2, stride 2, pad 1, output_pad 1: OH = 2*2 - 2 + 2 + 1 + 1 = 6
    GradCheck c(2);
    c.input({2, 4, 3, 3}), c.weight({4, 3, 3, 3}), c.weight({6}), c.plain({2, 6, 6, 6});
    c.run(DLS_OP_CONV_TRANSPOSE2D, {2, 2, 1, 1, 1, 1, 1, 1, 2}, 3, false, 3e-2, 1u);
  }
  {
    // stride [1, 2], pad [0, 1], output_pad [0, 1], dilation [2, 1]: OH = 3 + 2 + 1 = 6, OW = 8 - 2 + 2 + 1 + 1 = 10
    GradCheck c(2);
    c.input({2, 3, 4, 5}), c.weight({3, 2, 2, 3}), c.none(), c.plain({2, 2, 6, 10});
    c.run(DLS_OP_CONV_TRANSPOSE2D, {1, 2, 0, 1, 0, 1, 2, 1, 1}, 3, false);
  }
}

TEST_CASE("slice, pad and repeat backward", "[grad]") {
  {
    GradCheck c(2);
    c.input({2, 5, 4}), c.plain({2, 2, 4});
    c.run(DLS_OP_SLICE, {1, 1, 5, 2}, 1, false, 3e-2, 1u);
  }
  {
    GradCheck c(2);  // reflect on the last two axes
    c.input({2, 3, 4, 5}), c.plain({2, 3, 8, 8});
    c.run(DLS_OP_PAD, {1, 0, 2, 1, 1, 3, 0, 0}, 1, false);
  }
  {
    GradCheck c(2);  // replicate, rank 3
    c.input({2, 3, 4}), c.plain({2, 4, 9});
    c.run(DLS_OP_PAD, {2, 0, 3, 2, 1, 0, 0, 0}, 1, false, 3e-2, 1u);
  }
  {
    GradCheck c(2);  // constant 0.5 on the last and the third-last axes
    c.input({2, 3, 4, 5}), c.plain({2, 6, 4, 7});
    c.run(DLS_OP_PAD, {0, 0.5, 1, 1, 0, 0, 1, 2}, 1, false);
  }
  {
    GradCheck c(2);
    c.input({2, 3, 2}), c.plain({2, 6, 6});
    c.run(DLS_OP_REPEAT, {1, 2, 3}, 1, false);
  }
}

TEST_CASE("cross_attention backward: queries and memory of different lengths, heads, causal, dropout, no bias", "[grad]") {
  // ops.def CROSS_ATTENTION: x [N, T, D], memory [N, S, D], w_in [3D, D], w_out [D, D], b_in [3D], b_out [D], y
  // [N, T, D]; heads, causal, dropout. d(x), d(memory) and every parameter's gradient by central differences.
  for (double causal : {0.0, 1.0}) {
    GradCheck c(2);
    c.input({2, 5, 6}), c.input({2, 3, 6}), c.weight({18, 6}, -0.5, 0.5), c.weight({6, 6}, -0.5, 0.5), c.weight({18}),
        c.weight({6}), c.plain({2, 5, 6});
    c.run(DLS_OP_CROSS_ATTENTION, {3, causal, 0}, 6, false);
  }
  {  // a longer memory than the queries (causal: query i sees memory steps 0..i), and dropout on the weights
    GradCheck c(2);
    c.input({2, 3, 4}), c.input({2, 6, 4}), c.weight({12, 4}, -0.5, 0.5), c.weight({4, 4}, -0.5, 0.5), c.weight({12}),
        c.weight({4}), c.plain({2, 3, 4});
    c.run(DLS_OP_CROSS_ATTENTION, {2, 1, 0.3}, 6, false);
  }
  // Without biases, both d(inputs) accumulated into (bits 0 and 1).
  GradCheck c(3);
  c.input({3, 4, 4}), c.input({3, 2, 4}), c.weight({12, 4}, -0.5, 0.5), c.weight({4, 4}, -0.5, 0.5), c.none(), c.none(),
      c.plain({3, 4, 4});
  c.run(DLS_OP_CROSS_ATTENTION, {1, 0, 0}, 6, false, 3e-2, 3u);
}

TEST_CASE("cross_attention descriptions that do not fit are R0504 errors", "[grad]") {
  auto rt = make_runtime(1);
  dls_rt* r = rt.get();
  dls_rt_train_config(r, 1, 2, 7);
  dls_rt_arena(r, 0);
  auto t = [&](std::vector<int64_t> d) {
    const int rank = int(d.size());
    d.resize(4, 1);
    return dls_rt_tensor(r, DLS_F32, rank, d[0], d[1], d[2], d[3], -1);
  };
  auto attempt = [&](std::vector<int> ts, std::vector<double> as) {
    dls_rt_op(r, DLS_OP_CROSS_ATTENTION, ts.data(), int(ts.size()), as.data(), int(as.size()), 4, 2);
    std::string msg;
    try {
      raise_pending(r);
    } catch (const Fault& f) {
      msg = f.message;
    }
    return msg;
  };
  const int x = t({2, 5, 4}), m = t({2, 3, 4}), wi = t({12, 4}), wo = t({4, 4}), bi = t({12}), bo = t({4}), y = t({2, 5, 4});
  CHECK(attempt({x, m, wi, wo, bi, bo, y}, {2, 0, 0}).empty());
  CHECK(attempt({x, m, wi, wo, -1, -1, y}, {2, 1, 0.1}).empty());
  CHECK(attempt({x, t({3, 3, 4}), wi, wo, bi, bo, y}, {2, 0, 0}).find("memory [3, 3, 4] should be [2, S, K]") != std::string::npos);
  // A memory of width 6 takes torch's separate q_proj_weight [4, 4], k_proj_weight and v_proj_weight [4, 6].
  CHECK(attempt({x, t({2, 3, 6}), wi, wo, bi, bo, y}, {2, 0, 0}).find("q_proj_weight [12, 4] should be [4, 4]") != std::string::npos);
  CHECK(attempt({x, m, wi, wo, bi, bo, y}, {3, 0, 0}).find("heads 3 do not divide the width 4") != std::string::npos);
  CHECK(attempt({x, m, t({4, 4}), wo, bi, bo, y}, {2, 0, 0}).find("in_proj_weight") != std::string::npos);
  CHECK(attempt({x, m, wi, wo, bi, -1, y}, {2, 0, 0}).find("both") != std::string::npos);
  CHECK(attempt({x, m, wi, wo, bi, bo, t({2, 3, 4})}, {2, 0, 0}).find("output") != std::string::npos);
  CHECK(attempt({x, m, wi, wo, bi, bo, y}, {2, 0, 1}).find("dropout") != std::string::npos);
}

TEST_CASE("cross_attention backward over a memory of another width (torch's kdim = vdim)", "[grad]") {
  // ops.def CROSS_ATTENTION with memory [N, S, K], K != D: q_proj_weight [D, D], k_proj_weight [D, K], v_proj_weight
  // [D, K], out_proj.weight [D, D], in_proj_bias [3D], out_proj.bias [D]; d(x), d(memory) and every parameter's
  // gradient by central differences.
  for (double causal : {0.0, 1.0}) {
    GradCheck c(2);
    c.input({2, 4, 6}), c.input({2, 3, 5}), c.weight({6, 6}, -0.5, 0.5), c.weight({6, 5}, -0.5, 0.5),
        c.weight({6, 5}, -0.5, 0.5), c.weight({6, 6}, -0.5, 0.5), c.weight({18}), c.weight({6}), c.plain({2, 4, 6});
    c.run(DLS_OP_CROSS_ATTENTION, {3, causal, 0}, 8, false);
  }
  {  // a narrower memory, dropout on the weights
    GradCheck c(2);
    c.input({2, 3, 4}), c.input({2, 5, 2}), c.weight({4, 4}, -0.5, 0.5), c.weight({4, 2}, -0.5, 0.5),
        c.weight({4, 2}, -0.5, 0.5), c.weight({4, 4}, -0.5, 0.5), c.weight({12}), c.weight({4}), c.plain({2, 3, 4});
    c.run(DLS_OP_CROSS_ATTENTION, {2, 1, 0.3}, 8, false);
  }
  // Without biases (left out), d(x) and d(memory) accumulated into (bits 0 and 1).
  GradCheck c(3);
  c.input({3, 2, 4}), c.input({3, 4, 7}), c.weight({4, 4}, -0.5, 0.5), c.weight({4, 7}, -0.5, 0.5),
      c.weight({4, 7}, -0.5, 0.5), c.weight({4, 4}, -0.5, 0.5), c.plain({3, 2, 4});
  c.run(DLS_OP_CROSS_ATTENTION, {1, 0, 0}, 6, false, 3e-2, 3u);
}

TEST_CASE("cross_attention over a memory of another width: descriptions that do not fit are R0504 errors", "[grad]") {
  auto rt = make_runtime(1);
  dls_rt* r = rt.get();
  dls_rt_train_config(r, 1, 2, 7);
  dls_rt_arena(r, 0);
  auto t = [&](std::vector<int64_t> d) {
    const int rank = int(d.size());
    d.resize(4, 1);
    return dls_rt_tensor(r, DLS_F32, rank, d[0], d[1], d[2], d[3], -1);
  };
  auto attempt = [&](std::vector<int> ts, std::vector<double> as) {
    dls_rt_op(r, DLS_OP_CROSS_ATTENTION, ts.data(), int(ts.size()), as.data(), int(as.size()), 4, 2);
    std::string msg;
    try {
      raise_pending(r);
    } catch (const Fault& f) {
      msg = f.message;
    }
    return msg;
  };
  const int x = t({2, 5, 4}), m = t({2, 3, 6}), wq = t({4, 4}), wk = t({4, 6}), wv = t({4, 6}), wo = t({4, 4}),
            bi = t({12}), bo = t({4}), y = t({2, 5, 4});
  CHECK(attempt({x, m, wq, wk, wv, wo, bi, bo, y}, {2, 0, 0}).empty());
  CHECK(attempt({x, m, wq, wk, wv, wo, -1, -1, y}, {2, 1, 0}).empty());
  CHECK(attempt({x, m, wq, wk, wv, wo, y}, {2, 1, 0}).empty());
  CHECK(attempt({x, m, wq, wk, wo, y}, {2, 0, 0}).find("3 parameters given") != std::string::npos);
  CHECK(attempt({x, m, wq, t({4, 4}), wv, wo, bi, bo, y}, {2, 0, 0}).find("k_proj_weight [4, 4] should be [4, 6]") !=
        std::string::npos);
  CHECK(attempt({x, m, wq, wk, t({6, 4}), wo, bi, bo, y}, {2, 0, 0}).find("v_proj_weight") != std::string::npos);
  CHECK(attempt({x, m, wq, wk, wv, t({4, 6}), bi, bo, y}, {2, 0, 0}).find("out_proj.weight") != std::string::npos);
  CHECK(attempt({x, m, wq, wk, wv, wo, t({4}), bo, y}, {2, 0, 0}).find("in_proj_bias") != std::string::npos);
  CHECK(attempt({x, m, wq, wk, wv, wo, bi, -1, y}, {2, 0, 0}).find("both") != std::string::npos);
  CHECK(attempt({x, m, wq, wk, wv, wo, bi, bo, t({2, 5, 6})}, {2, 0, 0}).find("output") != std::string::npos);
}

TEST_CASE("loss backward: cosine_embedding to both inputs, with and without accumulation", "[grad]") {
  for (double margin : {0.2, -0.3, 0.0}) {
    for (uint32_t acc : {0u, 3u}) {
      GradCheck c(6);
      c.input({6, 5}, -1, 1);
      c.input({6, 5}, -1, 1);
      int t = c.plain({6, 1});
      const float tv[6] = {1.f, -1.f, -1.f, 1.f, -1.f, -1.f};
      write_tensor(c.rt.get(), t, tv, sizeof tv);
      c.plain({1});
      c.run(DLS_OP_COSINE_EMBEDDING, {margin}, 3, true, 3e-2, acc);
    }
  }
}

TEST_CASE("cosine_embedding is torch's CosineEmbeddingLoss: 1 - cos for 1, max(0, cos - margin) for -1", "[grad]") {
  GradCheck c(4);
  int a = c.input({4, 2});
  int b = c.input({4, 2});
  int t = c.plain({4});
  int l = c.plain({1});
  dls_rt* r = c.rt.get();
  // cos 0 (target 1), cos 1 (target -1), cos -1 (target -1), cos 1 (target 1)
  const float av[8] = {1.f, 0.f, 1.f, 1.f, 3.f, 4.f, 1.f, 2.f}, bv[8] = {0.f, 1.f, 1.f, 1.f, -3.f, -4.f, 2.f, 4.f};
  const float tv[4] = {1.f, -1.f, -1.f, 1.f};
  write_tensor(r, a, av, sizeof av);
  write_tensor(r, b, bv, sizeof bv);
  write_tensor(r, t, tv, sizeof tv);
  const double margin = 0.2;
  int op = dls_rt_op(r, DLS_OP_COSINE_EMBEDDING, c.ts.data(), 4, &margin, 1, 1, 1);
  int dins[3] = {c.grads[0], c.grads[1], -1};
  int g = dls_rt_grad_op(r, op, -1, dins, 3, 0);
  raise_pending(r);
  r->step = {1, 4, 7, 0, 0};
  dls_rt_fwd(r, op);
  dls_rt_bwd(r, g);
  raise_pending(r);
  CHECK(read_tensor(r, l)[0] == Approx((1.0 + 0.8 + 0.0 + 0.0) / 4.0).margin(1e-6));
  std::vector<float> da = read_tensor(r, c.grads[0]), db = read_tensor(r, c.grads[1]);
  // row 0: d(1 - cos)/da = -(b / (|a||b|) - cos a / |a|^2) / 4 = -(0, 1) / 4
  CHECK(da[0] == Approx(0.0).margin(1e-6));
  CHECK(da[1] == Approx(-0.25));
  CHECK(db[0] == Approx(-0.25));
  CHECK(db[1] == Approx(0.0).margin(1e-6));
  // row 2: cos - margin < 0 passes no gradient
  CHECK(da[4] == 0.f);
  CHECK(db[5] == 0.f);
  // only the valid rows count: the last batch's padding adds nothing, and the mean is over the 2 valid rows
  r->step = {0, 2, 7, 0, 0};
  dls_rt_fwd(r, op);
  raise_pending(r);
  CHECK(read_tensor(r, l)[0] == Approx((1.0 + 0.8) / 2.0).margin(1e-6));
}

TEST_CASE("cosine_embedding refuses inputs of different shapes and targets of another count (R0504)", "[grad]") {
  auto attempt = [](std::vector<int64_t> b, std::vector<int64_t> t) {
    GradCheck c(3);
    c.input({3, 4});
    c.input(b);
    c.plain(t);
    c.plain({1});
    dls_rt* r = c.rt.get();
    const double margin = 0;
    dls_rt_op(r, DLS_OP_COSINE_EMBEDDING, c.ts.data(), 4, &margin, 1, 1, 1);
    return r->error ? r->error->code : Diag::R0001;
  };
  CHECK(attempt({3, 5}, {3}) == Diag::R0504);
  CHECK(attempt({3, 4}, {3, 4}) == Diag::R0504);
  CHECK(attempt({3, 4}, {3, 1}) == Diag::R0001);  // accepted: no error
}
