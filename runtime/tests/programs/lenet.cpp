// lenet.cpp: Caffe's MNIST LeNet (anchors.md "lenet"): conv 20@5x5, maxpool 2, conv 50@5x5, maxpool 2,
// dense 500, ReLU, dense 10; cross-entropy, SGD momentum 0.9; written as the calls a compiled spec makes.
#include "Programs.h"

namespace {
struct Ids {
  int x, y, w1, b1, w2, b2, w3, b3, w4, b4, c1, p1, c2, p2, f3, r3, logits, loss;
  int gw1, gb1, gw2, gb2, gw3, gb3, gw4, gb4, glogits, gr3, gf3, gp2, gc2, gp1, gc1;
  int op_c1, op_p1, op_c2, op_p2, op_f3, op_r3, op_f4, op_ce;
  int g_ce, g_f4, g_r3, g_f3, g_p2, g_c2, g_p1, g_c1;
} I;
int64_t arena_at = 0;
int A(int64_t bytes) {
  int64_t at = arena_at;
  arena_at += (bytes + 63) / 64 * 64;
  return (int)at;
}
}  // namespace

ProgramConfig& lenet_config() {
  static ProgramConfig c = [] {
    ProgramConfig d;
    d.lr = 0.03, d.epochs = 8, d.lr_decay_cosine = 1;  // Fashion-MNIST: SGD 0.03, momentum 0.9, cosine over 8 epochs
    return d;
  }();
  return c;
}

extern "C" void lenet_setup(dls_rt* rt) {
  const ProgramConfig& c = lenet_config();
  const int64_t B = c.batch > 0 ? c.batch : 64, f = 4;
  dls_rt_program(rt, "lenet", "lenet.dls", 0x6c656e6574ull);
  dls_rt_placement(rt, DLS_DEVICE_CPU, 0, 1);
  dls_rt_train_config(rt, c.epochs, B, c.seed);
  if (!c.checkpoint_dir.empty()) dls_rt_checkpoint(rt, c.checkpoint_dir.c_str(), 1, c.keep);
  dls_rt_validate(rt, 1, DLS_METRIC_LOSS | DLS_METRIC_ACCURACY);
  dls_rt_optimizer(rt, DLS_OPT_SGD, c.lr, c.momentum, 0.9, 0.999, 1e-8, 0, 0);
  if (c.lr_decay_cosine > 0) dls_rt_schedule(rt, DLS_SCHED_COSINE, 0, 0, 0, 0);
  if (c.data) {
    dls_rt_dataset(rt, DLS_SPLIT_TRAIN, DLS_DATA_IDX, c.train_images.c_str(), c.train_labels.c_str(), 0, 3, 1, 28, 28, 0, 10);
    dls_rt_dataset(rt, DLS_SPLIT_TEST, DLS_DATA_IDX, c.test_images.c_str(), c.test_labels.c_str(), 0, 3, 1, 28, 28, 0, 10);
    for (int s : {DLS_SPLIT_TRAIN, DLS_SPLIT_TEST}) {
      dls_rt_pipe(rt, s, DLS_PIPE_TO_F32, 0, 0, 0, 0);
      dls_rt_pipe(rt, s, DLS_PIPE_SCALE, 1.0 / 255, 0, 0, 0);
      dls_rt_pipe(rt, s, DLS_PIPE_NORMALIZE, 0.286, 0.353, 0, 0);
    }
    if (c.shuffle) dls_rt_pipe(rt, DLS_SPLIT_TRAIN, DLS_PIPE_SHUFFLE, 0, 0, 0, 0);
  }
  arena_at = 0;
  dls_rt_arena(rt, (B * 784 + B + 2 * (B * 20 * 24 * 24 + B * 20 * 12 * 12 + B * 50 * 8 * 8 + B * 800 + 2 * B * 500 + B * 10)) * f + 64 * 40);
  I.x = dls_rt_tensor(rt, DLS_F32, 4, B, 1, 28, 28, A(B * 784 * f));
  I.y = dls_rt_tensor(rt, DLS_I32, 1, B, 1, 1, 1, A(B * 4));
  auto P = [&](int r, int64_t a, int64_t b, int64_t c2, int64_t d) { return dls_rt_tensor(rt, DLS_F32, r, a, b, c2, d, -1); };
  I.w1 = P(4, 20, 1, 5, 5), I.b1 = P(1, 20, 1, 1, 1), I.w2 = P(4, 50, 20, 5, 5), I.b2 = P(1, 50, 1, 1, 1);
  I.w3 = P(2, 500, 800, 1, 1), I.b3 = P(1, 500, 1, 1, 1), I.w4 = P(2, 10, 500, 1, 1), I.b4 = P(1, 10, 1, 1, 1);
  I.gw1 = P(4, 20, 1, 5, 5), I.gb1 = P(1, 20, 1, 1, 1), I.gw2 = P(4, 50, 20, 5, 5), I.gb2 = P(1, 50, 1, 1, 1);
  I.gw3 = P(2, 500, 800, 1, 1), I.gb3 = P(1, 500, 1, 1, 1), I.gw4 = P(2, 10, 500, 1, 1), I.gb4 = P(1, 10, 1, 1, 1);
  auto T = [&](int r, int64_t a, int64_t b, int64_t c2, int64_t d) {
    return dls_rt_tensor(rt, DLS_F32, r, a, b, c2, d, A(a * b * c2 * d * f));
  };
  I.c1 = T(4, B, 20, 24, 24), I.p1 = T(4, B, 20, 12, 12), I.c2 = T(4, B, 50, 8, 8), I.p2 = T(4, B, 50, 4, 4);
  I.f3 = T(2, B, 500, 1, 1), I.r3 = T(2, B, 500, 1, 1), I.logits = T(2, B, 10, 1, 1), I.loss = T(1, 1, 1, 1, 1);
  I.glogits = T(2, B, 10, 1, 1), I.gr3 = T(2, B, 500, 1, 1), I.gf3 = T(2, B, 500, 1, 1), I.gp2 = T(4, B, 50, 4, 4);
  I.gc2 = T(4, B, 50, 8, 8), I.gp1 = T(4, B, 20, 12, 12), I.gc1 = T(4, B, 20, 24, 24);
  dls_rt_param(rt, I.w1, I.gw1, "conv1.weight", DLS_INIT_TORCH_DEFAULT, 0, 0, 25, 500, 1, 1);
  dls_rt_param(rt, I.b1, I.gb1, "conv1.bias", DLS_INIT_TORCH_DEFAULT, 0, 0, 25, 500, 1, 0);
  dls_rt_param(rt, I.w2, I.gw2, "conv2.weight", DLS_INIT_TORCH_DEFAULT, 0, 0, 500, 1250, 1, 1);
  dls_rt_param(rt, I.b2, I.gb2, "conv2.bias", DLS_INIT_TORCH_DEFAULT, 0, 0, 500, 1250, 1, 0);
  dls_rt_param(rt, I.w3, I.gw3, "fc3.weight", DLS_INIT_TORCH_DEFAULT, 0, 0, 800, 500, 1, 1);
  dls_rt_param(rt, I.b3, I.gb3, "fc3.bias", DLS_INIT_TORCH_DEFAULT, 0, 0, 800, 500, 1, 0);
  dls_rt_param(rt, I.w4, I.gw4, "fc4.weight", DLS_INIT_TORCH_DEFAULT, 0, 0, 500, 10, 1, 1);
  dls_rt_param(rt, I.b4, I.gb4, "fc4.bias", DLS_INIT_TORCH_DEFAULT, 0, 0, 500, 10, 1, 0);
  const double conv[] = {1, 1, 0, 0, 0, 0, 1, 1, 1}, pool[] = {2, 2, 2, 2, 0, 0, 0, 0};
  { int t[] = {I.x, I.w1, I.b1, I.c1}; I.op_c1 = dls_rt_op(rt, DLS_OP_CONV2D, t, 4, conv, 9, 3, 3); }
  { int t[] = {I.c1, I.p1, -1}; I.op_p1 = dls_rt_op(rt, DLS_OP_MAXPOOL, t, 3, pool, 8, 4, 3); }
  { int t[] = {I.p1, I.w2, I.b2, I.c2}; I.op_c2 = dls_rt_op(rt, DLS_OP_CONV2D, t, 4, conv, 9, 5, 3); }
  { int t[] = {I.c2, I.p2, -1}; I.op_p2 = dls_rt_op(rt, DLS_OP_MAXPOOL, t, 3, pool, 8, 6, 3); }
  { int t[] = {I.p2, I.w3, I.b3, I.f3}; I.op_f3 = dls_rt_op(rt, DLS_OP_DENSE, t, 4, nullptr, 0, 8, 3); }
  { int t[] = {I.f3, I.r3}; I.op_r3 = dls_rt_op(rt, DLS_OP_RELU, t, 2, nullptr, 0, 9, 3); }
  { int t[] = {I.r3, I.w4, I.b4, I.logits}; I.op_f4 = dls_rt_op(rt, DLS_OP_DENSE, t, 4, nullptr, 0, 10, 3); }
  { int t[] = {I.logits, I.y, I.loss}; double ls = 0; I.op_ce = dls_rt_op(rt, DLS_OP_CROSS_ENTROPY, t, 3, &ls, 1, 12, 9); }
  { int d[] = {I.glogits, -1}; I.g_ce = dls_rt_grad_op(rt, I.op_ce, -1, d, 2, 0); }
  { int d[] = {I.gr3, -1, -1}; I.g_f4 = dls_rt_grad_op(rt, I.op_f4, I.glogits, d, 3, 0); }
  { int d[] = {I.gf3}; I.g_r3 = dls_rt_grad_op(rt, I.op_r3, I.gr3, d, 1, 0); }
  { int d[] = {I.gp2, -1, -1}; I.g_f3 = dls_rt_grad_op(rt, I.op_f3, I.gf3, d, 3, 0); }
  { int d[] = {I.gc2}; I.g_p2 = dls_rt_grad_op(rt, I.op_p2, I.gp2, d, 1, 0); }
  { int d[] = {I.gp1, -1, -1}; I.g_c2 = dls_rt_grad_op(rt, I.op_c2, I.gc2, d, 3, 0); }
  { int d[] = {I.gc1}; I.g_p1 = dls_rt_grad_op(rt, I.op_p1, I.gp1, d, 1, 0); }
  { int d[] = {-1, -1, -1}; I.g_c1 = dls_rt_grad_op(rt, I.op_c1, I.gc1, d, 3, 0); }
  dls_rt_io(rt, I.x, I.y, I.logits, I.loss);
}

static void lenet_forward(dls_rt* rt) {
  for (int op : {I.op_c1, I.op_p1, I.op_c2, I.op_p2, I.op_f3, I.op_r3, I.op_f4, I.op_ce}) dls_rt_fwd(rt, op);
}
extern "C" void lenet_train_step(dls_rt* rt) {
  lenet_forward(rt);
  for (int g : {I.g_ce, I.g_f4, I.g_r3, I.g_f3, I.g_p2, I.g_c2, I.g_p1, I.g_c1}) dls_rt_bwd(rt, g);
  dls_rt_update(rt);
}
extern "C" void lenet_eval_step(dls_rt* rt) { lenet_forward(rt); }
