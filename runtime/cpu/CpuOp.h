// CpuOp.h: the CPU backend's per-op state. Every op, forward or gradient, is a fixed list of steps
// built once at creation: a oneDNN primitive with its bound arguments (memory objects whose handles
// point into the arena or persistent tensors) or a hand-written loop. Running an op runs its steps.
#ifndef DLSPEC_RUNTIME_CPU_CPUOP_H
#define DLSPEC_RUNTIME_CPU_CPUOP_H
#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include <dlspec/runtime.h>

#include "../core/Backend.h"

namespace dls::cpu {

struct OpState;

// Channels-last activations. Convolution, pooling and eltwise ops leave their 4-D outputs (and gradient
// ops their 4-D d(input)s) in the arena in NHWC order instead of NCHW (same size), so a conv -> pool ->
// conv chain runs without reorders. Ops are created in execution order (forward ops, then gradient ops),
// so at creation time `nhwc` says what the LAST writer of an arena address left there: an entry means
// "channels-last data of shape dims (logical NCHW)". Every other op ("plain" ops: dense, losses, the
// hand-written loops...) gets a reorder of such inputs into a private NCHW buffer and its outputs clear
// the entries they overwrite. DLS_CPU_PLAIN_LAYOUT=1 turns this off (all arena tensors stay NCHW).
struct Nhwc {
  size_t bytes = 0;
  dnnl::memory::dims dims;  // N, C, H, W
  OpState* producer = nullptr;
};

struct Ctx {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  int threads = 1;
  std::map<const char*, Nhwc> nhwc;
};

struct Step {
  std::optional<dnnl::primitive> prim;
  std::unordered_map<int, dnnl::memory> args;
  std::function<void(const dls_step_ctx&)> fn;
};

// 64-byte aligned float buffer owned by an op (probabilities, masks, statistics, accumulation temps).
struct Buf {
  float* p = nullptr;
  size_t n = 0;
  Buf() = default;
  explicit Buf(size_t count);
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf();
};

struct OpState {
  int opcode = -1;
  std::vector<Step> train;          // forward in training mode (or the gradient op's steps)
  std::vector<Step> eval;           // forward in eval mode; empty: same as train
  // Kept for the gradient op:
  std::shared_ptr<void> fwd_pd;     // the forward primitive_desc (hint for backward pds), type per op
  dnnl::memory workspace;           // maxpool workspace
  dnnl::memory mean, var;           // batch-norm batch statistics of the last training forward
  std::vector<std::unique_ptr<Buf>> bufs;
  // Plain ops reading channels-last inputs: the op desc with those inputs replaced by NCHW copies (kept
  // for the gradient op, which reads the same copies).
  std::vector<dls_tensor_desc> subst;
  dls_op_desc subst_desc{};
  bool has_subst = false;
  std::vector<std::unique_ptr<Buf>> sbufs;  // the copies (kept apart from bufs: gradient ops index bufs)
  // Eltwise: dims of the channels-last layout its forward output was left in (empty: NCHW).
  dnnl::memory::dims out_cl;
  Buf* buf(size_t count) {
    bufs.push_back(std::make_unique<Buf>(count));
    return bufs.back().get();
  }
};

void run_steps(Ctx& c, std::vector<Step>& steps, const dls_step_ctx& s);

// Op construction (CpuOps.cpp, CpuLosses.cpp).
void build_forward(Ctx& c, const dls_op_desc& op, OpState& st);
void build_backward(Ctx& c, const dls_grad_op_desc& g, OpState& fwd, OpState& st);
// The same without the channels-last bookkeeping (CpuOps.cpp).
void build_forward_plain(Ctx& c, const dls_op_desc& op, OpState& st);
void build_backward_plain(Ctx& c, const dls_grad_op_desc& g, OpState& fwd, OpState& st);
// RNN, GRU, LSTM forward and backward through time (CpuRecurrent.cpp).
void recurrent_fwd(Ctx& c, const dls_op_desc& op, OpState& st);
void recurrent_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& fwd, OpState& st);
// Multi-head attention and the positional embedding (CpuAttention.cpp).
void attention_fwd(Ctx& c, const dls_op_desc& op, OpState& st);
void attention_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& fwd, OpState& st);
void positional_fwd(Ctx& c, const dls_op_desc& op, OpState& st);
void positional_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& fwd, OpState& st);
// The loops of CpuMoreOps.cpp: activations without a oneDNN algorithm (loop_act_kind: its elt::Kind, or -1),
// and the ops of more_fwd / more_bwd (false: not one of them).
int loop_act_kind(int opcode);
void act_loop(int kind, const float* x, float* y, int64_t n, float a, float b);
void act_grad_loop(int kind, const float* x, const float* dy, float* dx, int64_t n, float a, float b, bool acc);
bool more_fwd(const dls_op_desc& op, OpState& st);
bool more_bwd(const dls_grad_op_desc& g, OpState& fwd, OpState& st);
bool build_loss_forward(const dls_op_desc& op, OpState& st);
bool build_loss_backward(const dls_grad_op_desc& g, OpState& fwd, OpState& st);
// Host <-> arena copy of a whole channels-last tensor, transposed so the host sees NCHW (CpuOps.cpp).
bool copy_with_layout(Ctx& c, void* dst, const void* src, size_t bytes, bool to_host);
// Optimizer update (CpuOptimizer.cpp).
void update(const dls_update_desc& u);
// Gradient clipping (Backend.h, clip) over host memory: stats as documented there.
void clip(int32_t kind, double threshold, float* const* grads, const int64_t* numels, int32_t n, double* stats);

inline float* fptr(const dls_tensor_desc& t) { return static_cast<float*>(t.data); }

}  // namespace dls::cpu
#endif
