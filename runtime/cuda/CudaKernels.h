// CudaKernels.h: launchers of the CUDA backend's own kernels (CudaKernels.cu), for what neither cuDNN nor
// cuBLAS does. All run on the given stream, allocate nothing and never synchronise, so a whole training
// step can be captured into a CUDA graph. Per-step values that change between replays (learning rate,
// update count, step, seed, valid rows) are read from device memory (DevScalars), never from arguments.
#ifndef DLSPEC_RUNTIME_CUDA_CUDAKERNELS_H
#define DLSPEC_RUNTIME_CUDA_CUDAKERNELS_H
#include <cuda_runtime_api.h>

#include <cstdint>

namespace dls::cuda {

struct DevScalars {
  float lr;
  int32_t skip;        // 1: this step's loss was not finite, the update kernels do nothing
  int64_t t;           // optimizer update count (1-based)
  int64_t step;        // global step (dropout)
  uint64_t seed;       // program seed (dropout)
  int64_t valid_rows;  // real rows of the batch (losses)
};

// Writes the scalars (stream-ordered: a graph replayed after it sees the new values).
void set_scalars(cudaStream_t s, DevScalars* d, DevScalars v);

enum Act { ACT_RELU = 0, ACT_LEAKY = 1, ACT_GELU = 2, ACT_TANH = 3, ACT_SIGMOID = 4, ACT_RAMP = 5 /* reads y */ };
void act_fwd(cudaStream_t s, int act, float alpha, const float* x, float* y, int64_t n);
// dx (=|+=) dy * f'(x, y)
void act_bwd(cudaStream_t s, int act, float alpha, const float* x, const float* y, const float* dy, float* dx,
             int64_t n, bool acc);

void dropout_fwd(cudaStream_t s, const DevScalars* sc, uint64_t op, float p, const float* x, float* y, float* mask,
                 int64_t n);
// y = a (*) b, with acc: y += ...; kinds: 0 y = a + b, 1 y = a * b, 2 y = a (copy), 3 y = a * scale
void binary(cudaStream_t s, int kind, const float* a, const float* b, float* y, int64_t n, bool acc, float scale = 1.f);

// Row reductions: y[r] = mean of x[r, 0..C) (global average pooling); dx[r, c] (=|+=) dy[r] / C.
void row_mean(cudaStream_t s, const float* x, float* y, int64_t R, int64_t C);
void row_mean_bwd(cudaStream_t s, const float* dy, float* dx, int64_t R, int64_t C, bool acc);
// db[m] = sum_n dy[n, m] (dense bias gradient).
void col_sum(cudaStream_t s, const float* dy, float* db, int64_t N, int64_t M);

void layer_norm_fwd(cudaStream_t s, const float* x, const float* g, const float* b, float* y, float* stats, int64_t R,
                    int64_t C, float eps);
void layer_norm_bwd(cudaStream_t s, const float* x, const float* g, const float* stats, const float* dy, float* dx,
                    bool acc, float* dg, float* db, int64_t R, int64_t C);

// Losses: mean over the valid rows (DevScalars::valid_rows samples of `per` rows each: a sequence's steps).
// opcode as dls_opcode; prob: CE softmax kept.
// cross entropy, nll: rows labelled `ignore` are skipped; the forward writes how many rows it counted to
// *counted (one float; may be NULL), which the backward reads (NULL: every valid row).
// weights: cross_entropy's and nll's class weights (C floats; nullptr for the other losses); a0, a1: the
// element-wise losses' attributes (core/LossMath.h).
void loss_fwd(cudaStream_t s, const DevScalars* sc, int opcode, const float* x, const void* labels, float* prob,
              float* loss, int64_t R, int64_t C, int64_t per, float smoothing, int64_t ignore, float* counted,
              const float* weights, double a0, double a1);
void loss_bwd(cudaStream_t s, const DevScalars* sc, int opcode, const float* x, const void* labels, const float* prob,
              float* dx, bool acc, int64_t R, int64_t C, int64_t per, float smoothing, int64_t ignore,
              const float* counted, const float* weights, double a0, double a1);

// cosine_embedding (ops.def COSINE_EMBEDDING): x1, x2 [R, D], targets t[R] of 1 or -1, the mean over the valid rows;
// the backward writes d(x1) and d(x2) (either may be null).
void cosine_fwd(cudaStream_t s, const DevScalars* sc, const float* x1, const float* x2, const float* t, float* loss,
                int64_t R, int64_t D, int64_t per, double margin);
void cosine_bwd(cudaStream_t s, const DevScalars* sc, const float* x1, const float* x2, const float* t, float* d1, bool acc1,
                float* d2, bool acc2, int64_t R, int64_t D, int64_t per, double margin);

// 4-D permutation y = transpose(x, perm) (gather); backward: dx (=|+=) scatter of dy.
void transpose4(cudaStream_t s, const float* x, float* y, const int64_t* xdims, const int* perm, bool inverse,
                bool acc);
void upsample_fwd(cudaStream_t s, const float* x, float* y, int64_t NC, int64_t H, int64_t W, int64_t f);
void upsample_bwd(cudaStream_t s, const float* dy, float* dx, int64_t NC, int64_t H, int64_t W, int64_t f, bool acc);
// Darknet's reorg order (runtime.h DLS_OP_REORG, extra = 0) over N samples of C x H x W (x's dims), stride s:
// y = perm(x); backward dx (=|+=) perm^-1(dy).
void reorg_fwd(cudaStream_t s, const float* x, float* y, int64_t N, int64_t C, int64_t H, int64_t W, int64_t stride);
void reorg_bwd(cudaStream_t s, const float* dy, float* dx, int64_t N, int64_t C, int64_t H, int64_t W, int64_t stride,
               bool acc);
// Locally connected layer (runtime.h DLS_OP_LOCAL): x[N,C,H,W], w[OH*OW, F, C, R, S], b[F, OH, OW] (may be null),
// y[N, F, OH, OW]. Direct loops, one thread per output (forward), per weight (d(w)), per input (d(x)).
struct LocalDims {
  int64_t n, c, h, w, f, r, s, oh, ow, sh, sw, pt, pl;
};
void local_fwd(cudaStream_t s, const float* x, const float* w, const float* b, float* y, const LocalDims& d);
void local_bwd_data(cudaStream_t s, const float* dy, const float* w, float* dx, const LocalDims& d, bool acc);
// dw (overwritten; may be null) and db (overwritten; may be null).
void local_bwd_params(cudaStream_t s, const float* x, const float* dy, float* dw, float* db, const LocalDims& d);
// Embedding gather; out-of-range indices write zeros and set *flag to 1 + the first bad row.
void embedding_fwd(cudaStream_t s, const int32_t* idx, const float* table, float* y, int64_t R, int64_t D, int64_t V,
                   int* flag);
void embedding_bwd(cudaStream_t s, const int32_t* idx, const float* dy, float* dtable, int64_t R, int64_t D, int64_t V);
// Attention weights (DLS_OP_MULTI_HEAD_ATTENTION, DLS_OP_CROSS_ATTENTION), rows of T scaled scores in place (one
// per query step of Tq): P = softmax over the row (row r is query step r % Tq; causal: entries j > r % Tq are 0); drop: mask = dropout's scale-or-zero factors
// (seed, step, op, element index, as dropout_fwd) and pd = P * mask. Backward, dP in place:
// d(s) = P * (dP * mask - sum_j dP * mask * P) * scale (mask may be null).
void attn_softmax(cudaStream_t s, const DevScalars* sc, uint64_t op, float p, bool drop, bool causal, float* P,
                  float* mask, float* pd, int64_t rows, int64_t Tq, int64_t T);
void attn_softmax_bwd(cudaStream_t s, const float* P, const float* mask, float* dP, int64_t rows, int64_t T, float scale);
// y[r, c] = x[r, c] + b[c] (x may be y).
void add_rows(cudaStream_t s, const float* x, const float* b, float* y, int64_t R, int64_t C);
// Strided block copy (concat): dst[o * dst_stride + i] (=|+=) src[o * src_stride + i], i < len.
void copy2d(cudaStream_t s, const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t outer,
            int64_t len, bool acc);

// One fused multi-tensor optimizer update (PyTorch's formulas). Tensors of one launch share hyperparameters.
struct UpdateTensor {
  float* p;
  const float* g;
  float* s0;
  float* s1;
  int64_t n;
  float wd;
  float* s2 = nullptr;  // Adam/AdamW with amsgrad: max_exp_avg_sq
};
constexpr int kMaxUpdateTensors = 48;
constexpr int64_t kUpdateChunk = 4096;
struct UpdateHyper {
  int kind;  // dls_optimizer
  float momentum, eps;
  double beta1, beta2;  // double: the bias corrections use pow(beta, t) as the CPU backend does
  int nesterov;
  // NAdam: device [t, mu_product(t)], the product of its momentum coefficients mu_1 .. mu_t (torch.optim.NAdam's
  // mu_product), advanced on the device each step (recomputed when t is not the next one: a resume).
  double* nadam = nullptr;
  // LAMB: device scratch of 2 * kMaxUpdateTensors doubles, the squared norms of each tensor's weights and update.
  double* lamb = nullptr;
};
// loss (may be null): when it is not finite the update is skipped on the device (no host round trip).
void multi_update(cudaStream_t s, const DevScalars* sc, const UpdateHyper& h, const UpdateTensor* ts, int n,
                  const float* loss);
// Gradient clipping over n gradients as one group (Backend.h, clip; kind: dls_clip): stats is the core's device
// buffer of kDlsClipStats doubles, [3] and [4] this launcher's scratch.
void clip_grads(cudaStream_t s, int kind, float threshold, float* const* grads, const int64_t* numels, int n,
                const float* loss, double* stats);

}  // namespace dls::cuda
#endif
