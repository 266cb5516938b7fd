// Backend.h: the device backend interface of the dlspec runtime.
//
// A backend is ONE plain struct of function pointers (as in Halide's runtime): the CPU backend
// (runtime/cpu, oneDNN) and the CUDA backend (runtime/cuda, cuDNN/cuBLAS) each fill one table. The core
// (runtime/core) owns everything host-side: the tensor/op/param tables, decoding shapes and attributes
// into the typed descriptors below, the memory plan (arena offsets), initialisers (generated on the host
// and copied in), learning-rate schedules, data loading, checkpoints and guards. A backend only creates
// and runs kernels over device memory.
//
// Rules every backend follows
//  - All pointers handed to a backend (dls_tensor_desc::data, optimizer buffers) are DEVICE pointers
//    obtained from that backend's alloc(). The core never dereferences them; it moves data with
//    copy_to_device / copy_to_host.
//  - Tensor data pointers are fixed for the life of the program (the arena is allocated once, before any
//    tensor is declared), so create_op may bind them into pre-built kernels/descriptors.
//  - create_op / create_grad_op run once per op, at setup, for the static shapes; fwd / bwd run every step
//    and must not allocate.
//  - Every function that can fail returns 0 on success and non-zero on failure after writing a one-line
//    human-readable reason into err (errlen bytes, NUL-terminated). The core turns it into an R05xx
//    diagnostic. Backends never throw across this interface, never exit, never print.
//  - Execution may be asynchronous; synchronize() waits for all queued work. copy_to_host is synchronous.
//
// Stability: fields are only ever appended; the version number below changes when they are.
#ifndef DLSPEC_RUNTIME_CORE_BACKEND_H
#define DLSPEC_RUNTIME_CORE_BACKEND_H
#include <stddef.h>
#include <stdint.h>

#define DLS_BACKEND_VERSION 6

#ifdef __cplusplus
extern "C" {
#endif

// One tensor as a backend sees it: dtype (enum dls_dtype), rank <= 4, row-major dims (unused dims are 1),
// element count and the device pointer of its storage.
typedef struct dls_tensor_desc {
  int32_t id;
  int32_t dtype;
  int32_t rank;
  int64_t dims[4];
  int64_t numel;
  void* data;
} dls_tensor_desc;

// Decoded geometry of a 2-D window op (conv, pooling, local). Filled by the core from the op's attrs and the
// tensor shapes; backends never parse attrs of these ops themselves.
typedef struct dls_window2d {
  int64_t n, c, h, w;        // input
  int64_t k, oh, ow;         // output channels (conv: filters; pooling: = c) and output size
  int64_t kh, kw;            // window
  int64_t sh, sw;            // strides
  int64_t pt, pl, pb, pr;    // padding top, left, bottom, right
  int64_t dh, dw;            // dilation (1 = none)
  int64_t groups;            // conv only
} dls_window2d;

// A forward op. tensors[] are in the order documented per opcode in runtime.h; a missing optional tensor
// (e.g. no bias) has data == NULL and id == -1. attrs are the raw attributes; typed fields are decoded.
typedef struct dls_op_desc {
  int32_t id;
  int32_t opcode;             // enum dls_opcode
  int32_t ntensors;
  const dls_tensor_desc* tensors;
  int32_t nattrs;
  const double* attrs;
  dls_window2d win;           // CONV2D, MAXPOOL, AVGPOOL, LOCAL (k: filters; dilation 1, groups 1)
  int64_t rows, cols;         // DENSE: N, K (x flattened to [N, K]); losses/softmax: N, C; REORG: N, C*H*W
  int32_t line, col;          // spec location (for backend error messages)
  // ---- version 5 -------------------------------------------------------------------------------------
  // The precision of the op's products (enum dls_dtype): DLS_F32, or DLS_BF16 under `precision = bf16` for the
  // ops of ops.def's DLS_OP_BF16 rows (bf16 inputs to the products, f32 accumulation, f32 tensors in and out).
  // A backend without such kernels fails create_op.
  int32_t precision;
} dls_op_desc;

// The gradient op of a forward op. dins[i] receives d(input i) (data == NULL: not needed);
// bit i of accumulate_mask: add into dins[i]. dparams[i] receives the gradient of the op's i-th
// parameter input (for DENSE/CONV2D: weight, bias; BATCH_NORM/LAYER_NORM: gamma, beta; EMBEDDING:
// table; RNN/GRU/LSTM: w_ih, w_hh, b_ih, b_hh) and is always overwritten; unused entries have id -1. dout is d(output) (data == NULL for losses: the seed is 1/valid_rows).
typedef struct dls_grad_op_desc {
  int32_t id;
  const dls_op_desc* fwd;
  void* fwd_state;            // what create_op returned for the forward op
  dls_tensor_desc dout;
  int32_t nins;
  const dls_tensor_desc* dins;
  uint32_t accumulate_mask;
  dls_tensor_desc dparams[4];  // version 2: 4 entries (was 2)
  // version 5: dparam_of[i] is the gradient of the forward op's tensor i when that tensor is a trainable
  // parameter, else id -1 (fwd->ntensors entries; always overwritten, as dparams). Ops with more than four
  // parameters (recurrent layers with several layers or directions) read their gradients here.
  const dls_tensor_desc* dparam_of;
} dls_grad_op_desc;

// Per-step context shared by fwd and bwd.
typedef struct dls_step_ctx {
  int32_t training;           // 1: training mode (dropout on, batch norm batch statistics), 0: eval mode
  int64_t valid_rows;         // rows of the batch that are real samples (losses average over these)
  uint64_t seed;              // program seed
  int64_t step;               // global step (dropout masks are a pure function of seed, step, op, index)
  // Data parallelism over MPI ranks: this rank's index. Its batch tensors hold rows [shard * B, (shard + 1) * B)
  // of the global batch, so element i of a batch tensor of n elements is element i + shard * n of the global
  // batch's (dropout masks index by that, as one process with the global batch does). 0 without ranks.
  int64_t shard;
} dls_step_ctx;

// One optimizer update of one parameter tensor (PyTorch's formulas; see runtime.h dls_rt_optimizer).
// state0/state1 are zero-initialised device buffers of `numel` floats owned by the core (SGD: momentum
// buffer in state0; Adam/AdamW/NAdam/LAMB: exp_avg, exp_avg_sq (amsgrad: max_exp_avg_sq in state2); RMSprop:
// square_avg, momentum buffer; Adadelta: square_avg, acc_delta; Adagrad: sum, which the update at t = 1 takes as
// initial_accumulator_value (momentum), as torch.optim.Adagrad initialises it).
typedef struct dls_update_desc {
  int32_t kind;               // enum dls_optimizer
  float* param;
  const float* grad;
  float* state0;
  float* state1;
  int64_t numel;
  double lr, momentum, beta1, beta2, eps, weight_decay;
  int32_t nesterov;           // dls_rt_optimizer's flag: SGD's nesterov, Adam/AdamW's amsgrad
  int64_t t;                  // 1-based update count (Adam bias correction)
  float* state2;              // version 6: Adam/AdamW with amsgrad: max_exp_avg_sq (else NULL)
} dls_update_desc;

typedef struct dls_backend {
  int32_t version;            // DLS_BACKEND_VERSION
  const char* name;           // "cpu" (oneDNN), "cuda"
  // Context: device index and host thread count (CPU). Returns NULL on failure (err filled).
  void* (*init)(int32_t device, int32_t threads, char* err, size_t errlen);
  void (*shutdown)(void* ctx);
  // Memory. alloc returns zero-filled, 64-byte aligned device memory or NULL.
  void* (*alloc)(void* ctx, size_t bytes);
  void (*free)(void* ctx, void* p);
  int (*copy_to_device)(void* ctx, void* dst, const void* host_src, size_t bytes, char* err, size_t errlen);
  int (*copy_to_host)(void* ctx, void* host_dst, const void* src, size_t bytes, char* err, size_t errlen);
  int (*zero)(void* ctx, void* p, size_t bytes, char* err, size_t errlen);
  // Ops: create once, run every step. *state receives the backend's per-op state (may be NULL).
  int (*create_op)(void* ctx, const dls_op_desc* op, void** state, char* err, size_t errlen);
  int (*create_grad_op)(void* ctx, const dls_grad_op_desc* gop, void** state, char* err, size_t errlen);
  void (*destroy_op)(void* ctx, void* state);
  int (*fwd)(void* ctx, const dls_op_desc* op, void* state, const dls_step_ctx* step, char* err, size_t errlen);
  int (*bwd)(void* ctx, const dls_grad_op_desc* gop, void* state, const dls_step_ctx* step, char* err,
             size_t errlen);
  // Optimizer: one update of one parameter.
  int (*update)(void* ctx, const dls_update_desc* u, char* err, size_t errlen);
  // Waits for all queued work.
  int (*synchronize)(void* ctx, char* err, size_t errlen);

  // ---- version 3 -------------------------------------------------------------------------------------
  // Every parameter's update in one call: us[i] share kind and hyper-parameters except weight_decay; lr and t
  // are us[0]'s. loss is the step's loss (a device f32 scalar) or NULL: when it is not finite no parameter
  // changes, decided where the loss is (on a GPU, without a host round trip). NULL: the core calls update()
  // per parameter after reading the loss itself.
  int (*update_all)(void* ctx, const dls_update_desc* us, int32_t n, const float* loss, char* err, size_t errlen);
  // Whole-step graphs (NULL where a backend has none). Between begin_capture and end_capture the core issues
  // one training step (zero, fwd, bwd, update_all) exactly as it would run it, and nothing runs. replay()
  // runs the captured step with this step's scalars (step, seed, valid rows; lr and t of the update). A
  // backend keeps what its kernels read per step in device memory that replay() writes, and the core keeps
  // every tensor, op and workspace as it was at capture (they are fixed after setup).
  int (*begin_capture)(void* ctx, char* err, size_t errlen);
  int (*end_capture)(void* ctx, char* err, size_t errlen);
  int (*replay)(void* ctx, const dls_step_ctx* step, double lr, int64_t t, char* err, size_t errlen);

  // ---- version 4 -------------------------------------------------------------------------------------
  // Gradient clipping (enum dls_clip) of the n gradients grads[i] (numels[i] floats each), as one group:
  // DLS_CLIP_NORM scales them all by min(1, threshold / (total_norm + 1e-6)), total_norm the L2 norm over all
  // of them; DLS_CLIP_VALUE clamps every element to [-threshold, threshold]. stats: a device buffer of
  // kDlsClipStats doubles that the step adds to: [0] += 1 when it clipped, [1] += its measure (the total norm,
  // or the largest |element| before clamping), [2] += 1; [3..] are the backend's scratch. When loss (a device
  // f32 scalar, may be NULL) is not finite neither the gradients nor stats change. Runs on the step's stream,
  // without a host round trip (it is part of a captured step). NULL: the backend cannot clip.
  int (*clip)(void* ctx, int32_t kind, double threshold, float* const* grads, const int64_t* numels, int32_t n,
              const float* loss, double* stats, char* err, size_t errlen);
} dls_backend;

#define kDlsClipStats 8

// Writes a one-line reason into a backend's err buffer (errlen bytes, always NUL-terminated).
static inline void dls_put_error(char* err, size_t errlen, const char* what) {
  if (!err || !errlen) return;
  size_t i = 0;
  for (; what && what[i] && i + 1 < errlen; ++i) err[i] = what[i];
  err[i] = 0;
}

// Splits a tensor around `axis` into outer x (size along axis) x inner elements (concat and its gradient).
static inline void dls_around_axis(const dls_tensor_desc* t, int axis, int64_t* outer, int64_t* inner) {
  *outer = *inner = 1;
  for (int k = 0; k < axis; ++k) *outer *= t->dims[k];
  for (int k = axis + 1; k < 4; ++k) *inner *= t->dims[k];
}

// The backends compiled into this library (NULL when not built).
const dls_backend* dls_cpu_backend(void);
const dls_backend* dls_cuda_backend(void);

#ifdef __cplusplus
}
#endif
#endif
