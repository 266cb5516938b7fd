// mlp.cpp: 784-512-256-10 ReLU MLP, cross-entropy, SGD momentum 0.9 (anchors.md "mlp"), written as the
// calls a compiled spec makes.
#include "Programs.h"

namespace {
struct Ids {
  int x, y, w1, b1, w2, b2, w3, b3, h1, r1, d1, h2, r2, d2, logits, loss;
  int gw1, gb1, gw2, gb2, gw3, gb3, glogits, gd2, gr2, gh2, gd1, gr1, gh1;
  int op_fc1, op_relu1, op_drop1, op_fc2, op_relu2, op_drop2, op_fc3, op_ce;
  int g_ce, g_fc3, g_drop2, g_relu2, g_fc2, g_drop1, g_relu1, g_fc1;
} I;
int64_t arena_at = 0;
int A(int64_t bytes) {  // bump allocation in the arena (a real memory plan reuses space)
  int64_t at = arena_at;
  arena_at += (bytes + 63) / 64 * 64;
  return (int)at;
}
}  // namespace

ProgramConfig& mlp_config() {
  static ProgramConfig c;
  return c;
}

extern "C" void mlp_setup(dls_rt* rt) {
  const ProgramConfig& c = mlp_config();
  const int64_t B = c.batch > 0 ? c.batch : 128;
  dls_rt_program(rt, "mlp", "mlp.dls", 0x6d6c7030001ull);
  dls_rt_placement(rt, DLS_DEVICE_CPU, 0, 1);
  dls_rt_train_config(rt, c.epochs, B, c.seed);
  if (!c.checkpoint_dir.empty()) dls_rt_checkpoint(rt, c.checkpoint_dir.c_str(), 1, c.keep);
  dls_rt_validate(rt, 1, DLS_METRIC_LOSS | DLS_METRIC_ACCURACY);
  dls_rt_optimizer(rt, c.optimizer, c.lr, c.momentum, 0.9, 0.999, 1e-8, 0, c.optimizer_flag);
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
  const int64_t f = 4;
  // Arena: activations and their gradients.
  int64_t sizes = 0;
  (void)sizes;
  dls_rt_arena(rt, (B * 784 + B + 2 * (B * 512 * 3 + B * 256 * 3 + B * 10)) * f + 64 * 32);
  I.x = dls_rt_tensor(rt, DLS_F32, 4, B, 1, 28, 28, A(B * 784 * f));
  I.y = dls_rt_tensor(rt, DLS_I32, 1, B, 1, 1, 1, A(B * 4));
  I.w1 = dls_rt_tensor(rt, DLS_F32, 2, 512, 784, 1, 1, -1);
  I.b1 = dls_rt_tensor(rt, DLS_F32, 1, 512, 1, 1, 1, -1);
  I.w2 = dls_rt_tensor(rt, DLS_F32, 2, 256, 512, 1, 1, -1);
  I.b2 = dls_rt_tensor(rt, DLS_F32, 1, 256, 1, 1, 1, -1);
  I.w3 = dls_rt_tensor(rt, DLS_F32, 2, 10, 256, 1, 1, -1);
  I.b3 = dls_rt_tensor(rt, DLS_F32, 1, 10, 1, 1, 1, -1);
  I.gw1 = dls_rt_tensor(rt, DLS_F32, 2, 512, 784, 1, 1, -1);
  I.gb1 = dls_rt_tensor(rt, DLS_F32, 1, 512, 1, 1, 1, -1);
  I.gw2 = dls_rt_tensor(rt, DLS_F32, 2, 256, 512, 1, 1, -1);
  I.gb2 = dls_rt_tensor(rt, DLS_F32, 1, 256, 1, 1, 1, -1);
  I.gw3 = dls_rt_tensor(rt, DLS_F32, 2, 10, 256, 1, 1, -1);
  I.gb3 = dls_rt_tensor(rt, DLS_F32, 1, 10, 1, 1, 1, -1);
  I.h1 = dls_rt_tensor(rt, DLS_F32, 2, B, 512, 1, 1, A(B * 512 * f));
  I.r1 = dls_rt_tensor(rt, DLS_F32, 2, B, 512, 1, 1, A(B * 512 * f));
  I.d1 = dls_rt_tensor(rt, DLS_F32, 2, B, 512, 1, 1, A(B * 512 * f));
  I.h2 = dls_rt_tensor(rt, DLS_F32, 2, B, 256, 1, 1, A(B * 256 * f));
  I.r2 = dls_rt_tensor(rt, DLS_F32, 2, B, 256, 1, 1, A(B * 256 * f));
  I.d2 = dls_rt_tensor(rt, DLS_F32, 2, B, 256, 1, 1, A(B * 256 * f));
  I.logits = dls_rt_tensor(rt, DLS_F32, 2, B, 10, 1, 1, A(B * 10 * f));
  I.loss = dls_rt_tensor(rt, DLS_F32, 1, 1, 1, 1, 1, A(4));
  I.glogits = dls_rt_tensor(rt, DLS_F32, 2, B, 10, 1, 1, A(B * 10 * f));
  I.gd2 = dls_rt_tensor(rt, DLS_F32, 2, B, 256, 1, 1, A(B * 256 * f));
  I.gr2 = dls_rt_tensor(rt, DLS_F32, 2, B, 256, 1, 1, A(B * 256 * f));
  I.gh2 = dls_rt_tensor(rt, DLS_F32, 2, B, 256, 1, 1, A(B * 256 * f));
  I.gd1 = dls_rt_tensor(rt, DLS_F32, 2, B, 512, 1, 1, A(B * 512 * f));
  I.gr1 = dls_rt_tensor(rt, DLS_F32, 2, B, 512, 1, 1, A(B * 512 * f));
  I.gh1 = dls_rt_tensor(rt, DLS_F32, 2, B, 512, 1, 1, A(B * 512 * f));
  // Data parallelism over ranks or the replicas of a device list: the tensors whose first dimension is the batch.
  for (int t : {I.x, I.y, I.h1, I.r1, I.d1, I.h2, I.r2, I.d2, I.logits, I.glogits, I.gd2, I.gr2, I.gh2, I.gd1, I.gr1, I.gh1})
    dls_rt_batch_axes(rt, t, 1);
  dls_rt_param(rt, I.w1, I.gw1, "fc1.weight", DLS_INIT_TORCH_DEFAULT, 0, 0, 784, 512, 1, 1);
  dls_rt_param(rt, I.b1, I.gb1, "fc1.bias", DLS_INIT_TORCH_DEFAULT, 0, 0, 784, 512, 1, 0);
  dls_rt_param(rt, I.w2, I.gw2, "fc2.weight", DLS_INIT_TORCH_DEFAULT, 0, 0, 512, 256, 1, 1);
  dls_rt_param(rt, I.b2, I.gb2, "fc2.bias", DLS_INIT_TORCH_DEFAULT, 0, 0, 512, 256, 1, 0);
  dls_rt_param(rt, I.w3, I.gw3, "fc3.weight", DLS_INIT_TORCH_DEFAULT, 0, 0, 256, 10, 1, 1);
  dls_rt_param(rt, I.b3, I.gb3, "fc3.bias", DLS_INIT_TORCH_DEFAULT, 0, 0, 256, 10, 1, 0);
  const double p = 0.2;
  const bool drop = c.dropout;
  { int t[] = {I.x, I.w1, I.b1, I.h1}; I.op_fc1 = dls_rt_op(rt, DLS_OP_DENSE, t, 4, nullptr, 0, 3, 3); }
  { int t[] = {I.h1, I.r1}; I.op_relu1 = dls_rt_op(rt, DLS_OP_RELU, t, 2, nullptr, 0, 4, 3); }
  if (drop) { int t[] = {I.r1, I.d1}; I.op_drop1 = dls_rt_op(rt, DLS_OP_DROPOUT, t, 2, &p, 1, 5, 3); }
  int in2 = drop ? I.d1 : I.r1;
  { int t[] = {in2, I.w2, I.b2, I.h2}; I.op_fc2 = dls_rt_op(rt, DLS_OP_DENSE, t, 4, nullptr, 0, 6, 3); }
  { int t[] = {I.h2, I.r2}; I.op_relu2 = dls_rt_op(rt, DLS_OP_RELU, t, 2, nullptr, 0, 7, 3); }
  if (drop) { int t[] = {I.r2, I.d2}; I.op_drop2 = dls_rt_op(rt, DLS_OP_DROPOUT, t, 2, &p, 1, 8, 3); }
  int in3 = drop ? I.d2 : I.r2;
  { int t[] = {in3, I.w3, I.b3, I.logits}; I.op_fc3 = dls_rt_op(rt, DLS_OP_DENSE, t, 4, nullptr, 0, 9, 3); }
  { int t[] = {I.logits, I.y, I.loss}; double ls = 0; I.op_ce = dls_rt_op(rt, DLS_OP_CROSS_ENTROPY, t, 3, &ls, 1, 11, 9); }
  { int d[] = {I.glogits, -1}; I.g_ce = dls_rt_grad_op(rt, I.op_ce, -1, d, 2, 0); }
  { int d[] = {drop ? I.gd2 : I.gr2, -1, -1}; I.g_fc3 = dls_rt_grad_op(rt, I.op_fc3, I.glogits, d, 3, 0); }
  if (drop) { int d[] = {I.gr2}; I.g_drop2 = dls_rt_grad_op(rt, I.op_drop2, I.gd2, d, 1, 0); }
  { int d[] = {I.gh2}; I.g_relu2 = dls_rt_grad_op(rt, I.op_relu2, I.gr2, d, 1, 0); }
  { int d[] = {drop ? I.gd1 : I.gr1, -1, -1}; I.g_fc2 = dls_rt_grad_op(rt, I.op_fc2, I.gh2, d, 3, 0); }
  if (drop) { int d[] = {I.gr1}; I.g_drop1 = dls_rt_grad_op(rt, I.op_drop1, I.gd1, d, 1, 0); }
  { int d[] = {I.gh1}; I.g_relu1 = dls_rt_grad_op(rt, I.op_relu1, I.gr1, d, 1, 0); }
  { int d[] = {-1, -1, -1}; I.g_fc1 = dls_rt_grad_op(rt, I.op_fc1, I.gh1, d, 3, 0); }
  dls_rt_io(rt, I.x, I.y, I.logits, I.loss);
}

static void mlp_forward(dls_rt* rt) {
  const bool drop = mlp_config().dropout;
  dls_rt_fwd(rt, I.op_fc1);
  dls_rt_fwd(rt, I.op_relu1);
  if (drop) dls_rt_fwd(rt, I.op_drop1);
  dls_rt_fwd(rt, I.op_fc2);
  dls_rt_fwd(rt, I.op_relu2);
  if (drop) dls_rt_fwd(rt, I.op_drop2);
  dls_rt_fwd(rt, I.op_fc3);
  dls_rt_fwd(rt, I.op_ce);
}

extern "C" void mlp_train_step(dls_rt* rt) {
  const bool drop = mlp_config().dropout;
  mlp_forward(rt);
  dls_rt_bwd(rt, I.g_ce);
  dls_rt_bwd(rt, I.g_fc3);
  if (drop) dls_rt_bwd(rt, I.g_drop2);
  dls_rt_bwd(rt, I.g_relu2);
  dls_rt_bwd(rt, I.g_fc2);
  if (drop) dls_rt_bwd(rt, I.g_drop1);
  dls_rt_bwd(rt, I.g_relu1);
  dls_rt_bwd(rt, I.g_fc1);
  dls_rt_update(rt);
}

extern "C" void mlp_eval_step(dls_rt* rt) { mlp_forward(rt); }
