// CpuOp.h: the CPU backend's per-op state. Every op, forward or gradient, is a fixed list of steps
// built once at creation: a oneDNN primitive with its bound arguments (memory objects whose handles
// point into the arena or persistent tensors) or a hand-written loop. Running an op runs its steps.
#ifndef DLSPEC_RUNTIME_CPU_CPUOP_H
#define DLSPEC_RUNTIME_CPU_CPUOP_H
#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include <dlspec/runtime.h>

#include "../core/Backend.h"

namespace dls::cpu {

struct Ctx {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  int threads = 1;
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
  Buf* buf(size_t count) {
    bufs.push_back(std::make_unique<Buf>(count));
    return bufs.back().get();
  }
};

void run_steps(Ctx& c, std::vector<Step>& steps, const dls_step_ctx& s);

// Op construction (CpuOps.cpp, CpuLosses.cpp).
void build_forward(Ctx& c, const dls_op_desc& op, OpState& st);
void build_backward(Ctx& c, const dls_grad_op_desc& g, OpState& fwd, OpState& st);
bool build_loss_forward(const dls_op_desc& op, OpState& st);
bool build_loss_backward(const dls_grad_op_desc& g, OpState& fwd, OpState& st);
// Optimizer update (CpuOptimizer.cpp).
void update(const dls_update_desc& u);

inline float* fptr(const dls_tensor_desc& t) { return static_cast<float*>(t.data); }

}  // namespace dls::cpu
#endif
