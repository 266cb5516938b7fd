// CudaBackend.cpp: the CUDA backend table (Backend.h) over cuDNN 9 (convolution, pooling, batch norm,
// softmax; RNN, GRU and LSTM in CudaRecurrent.cpp), cuBLASLt/cuBLAS (dense, row-major mapped onto
// column-major GEMMs as in CudaPlan) and the backend's own kernels (CudaKernels.cu). Everything is decided at create_op for the static shapes
// (descriptors, convolution algorithms measured once with cudnnFind*, workspace sized then); fwd/bwd only
// enqueue work on one stream: no allocation, no host synchronisation, so a whole step can be captured as a
// CUDA graph (CudaExt.h). Numerics follow the CPU backend: fp32 without TF32 unless DLS_CUDA_TF32=1.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // cuDNN 9 marks the legacy descriptor API deprecated
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <dlspec/runtime.h>

#include "../core/AttentionOperands.h"
#include "CudaExt.h"
#include "CudaKernels.h"
#include "CudaMore.h"
#include "CudaPlan.h"
#include "CudaRecurrent.h"
#include "../core/IndexMap.h"

namespace dls::cuda {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

#define CK(call)                                                                                   \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) throw Error(std::string(#call ": ") + cudaGetErrorString(e_));          \
  } while (0)
#define DNN(call)                                                                                  \
  do {                                                                                             \
    cudnnStatus_t e_ = (call);                                                                     \
    if (e_ != CUDNN_STATUS_SUCCESS) throw Error(std::string(#call ": ") + cudnnGetErrorString(e_)); \
  } while (0)
#define BLAS(call)                                                                                 \
  do {                                                                                             \
    cublasStatus_t e_ = (call);                                                                    \
    if (e_ != CUBLAS_STATUS_SUCCESS)                                                               \
      throw Error(std::string(#call ": ") + cublasGetStatusString(e_));                            \
  } while (0)

constexpr size_t kBlasWorkspace = size_t(32) << 20;
constexpr size_t kConvWorkspaceLimit = size_t(512) << 20;
constexpr int kSlots = 4;

struct Ctx {
  int device = 0;
  cudaStream_t s = nullptr, copy = nullptr;
  cublasHandle_t blas = nullptr;
  cublasLtHandle_t lt = nullptr;
  cudnnHandle_t dnn = nullptr;
  bool tf32 = false;
  void* blas_ws = nullptr;
  void* conv_ws = nullptr;
  size_t conv_ws_bytes = 0;
  DevScalars* scal = nullptr;  // device
  double* nadam = nullptr;     // device [t, mu_product(t)] of NAdam (UpdateHyper::nadam)
  double* lamb = nullptr;      // device scratch of LAMB's norms (UpdateHyper::lamb)
  DevScalars host{};           // last values written
  bool scal_valid = false;
  int* flags = nullptr;        // device error flags (embedding index)
  bool capturing = false;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  void* stage[kSlots] = {};
  size_t stage_bytes[kSlots] = {};
  cudaEvent_t staged[kSlots] = {};
  void* nccl = nullptr;  // ncclComm_t
};

// Per-op state: the descriptors and buffers one op needs, created once.
struct Op {
  int opcode = -1;
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, b = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnPoolingDescriptor_t pool = nullptr;
  cudnnActivationDescriptor_t ident = nullptr;
  cudnnConvolutionFwdAlgo_t fwd_algo{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo{};
  bool fused_bias = false;
  cublasLtMatmulDesc_t md = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
  cublasLtMatmulAlgo_t lt_algo{};
  std::vector<void*> bufs;  // device buffers owned by the op
  RecurrentPtr rec;         // RNN, GRU, LSTM (CudaRecurrent.cpp); its grad op's buffers live here too
  int64_t rows = 0;         // batch norm: the real rows of the last training forward
  float* buf(size_t floats) {
    void* p = nullptr;
    CK(cudaMalloc(&p, (floats ? floats : 1) * 4));
    CK(cudaMemset(p, 0, (floats ? floats : 1) * 4));
    bufs.push_back(p);
    return static_cast<float*>(p);
  }
  ~Op() {
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (b) cudnnDestroyTensorDescriptor(b);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (pool) cudnnDestroyPoolingDescriptor(pool);
    if (ident) cudnnDestroyActivationDescriptor(ident);
    if (md) cublasLtMatmulDescDestroy(md);
    for (auto l : {la, lb, lc})
      if (l) cublasLtMatrixLayoutDestroy(l);
    for (void* p : bufs) cudaFree(p);
  }
};

// NCCL (CudaNccl.cpp).
void nccl_destroy(void* comm);
int nccl_init(void** ctxs, int32_t n, char* err, size_t len);
int nccl_allreduce(void** ctxs, int32_t n, float* const* const* grads, const int64_t* numels, int32_t ngrads,
                   const float* weights, char* err, size_t len);
int nccl_unique_id(char* id, size_t idlen, char* err, size_t len);
int nccl_init_rank(void* ctx, int32_t nranks, int32_t rank, const char* id, char* err, size_t len);
int nccl_wait(void* ctx, double seconds, char* err, size_t len);
int32_t device_count();

namespace {

float* fp(const dls_tensor_desc& t) { return static_cast<float*>(t.data); }
bool acc_bit(const dls_grad_op_desc& g, int i) { return ((g.accumulate_mask >> i) & 1u) != 0; }
float* din(const dls_grad_op_desc& g, int i) { return i < g.nins ? static_cast<float*>(g.dins[i].data) : nullptr; }

cudnnTensorDescriptor_t tdesc(int64_t n, int64_t c, int64_t h, int64_t w) {
  cudnnTensorDescriptor_t d;
  DNN(cudnnCreateTensorDescriptor(&d));
  DNN(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(n), int(c), int(h), int(w)));
  return d;
}
cudnnTensorDescriptor_t tdesc(const dls_tensor_desc& t) { return tdesc(t.dims[0], t.dims[1], t.dims[2], t.dims[3]); }

template <class F>
int catching(char* err, size_t len, F&& f) {
  try {
    f();
    return 0;
  } catch (const std::bad_alloc&) {
    dls_put_error(err, len, "out of host memory");
  } catch (const std::exception& e) {
    dls_put_error(err, len, e.what());
  }
  return 1;
}

// Per-step scalars: written by a one-thread kernel when they change; during capture they are not written
// (replay writes them before each launch).
void sync_scalars(Ctx& c, const dls_step_ctx* s, const double* lr, const int64_t* t) {
  if (c.capturing) return;
  DevScalars v = c.host;
  if (s) v.step = s->step, v.seed = s->seed, v.valid_rows = s->valid_rows;
  if (lr) v.lr = float(*lr);
  if (t) v.t = *t;
  if (c.scal_valid && std::memcmp(&v, &c.host, sizeof v) == 0) return;
  set_scalars(c.s, c.scal, v);
  c.host = v, c.scal_valid = true;
}

void grow_conv_workspace(Ctx& c, size_t bytes) {
  bytes = shared_workspace({bytes, c.conv_ws_bytes});
  if (bytes <= c.conv_ws_bytes) return;
  if (c.capturing) throw Error("workspace growth during graph capture");
  CK(cudaStreamSynchronize(c.s));
  if (c.conv_ws) CK(cudaFree(c.conv_ws));
  c.conv_ws = nullptr;
  CK(cudaMalloc(&c.conv_ws, bytes));
  c.conv_ws_bytes = bytes;
}

// ---- dense: cuBLASLt forward with the bias fused in the epilogue; cuBLAS backward -----------------------
void dense_create(Ctx& c, const dls_op_desc& op, Op& st) {
  const auto& T = op.tensors;
  const int64_t N = op.rows, K = op.cols, M = T[1].dims[0];
  Gemm g = gemm_forward(N, K, M);
  BLAS(cublasLtMatmulDescCreate(&st.md, c.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUDA_R_32F));
  cublasOperation_t ta = g.ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb = g.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  BLAS(cublasLtMatmulDescSetAttribute(st.md, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
  BLAS(cublasLtMatmulDescSetAttribute(st.md, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
  if (T[2].id >= 0) {
    cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_BIAS;
    BLAS(cublasLtMatmulDescSetAttribute(st.md, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep));
    const void* bias = T[2].data;
    BLAS(cublasLtMatmulDescSetAttribute(st.md, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
  }
  // Stored (column-major) shapes: A = w as K x M, B = x as K x N, C = y as M x N.
  BLAS(cublasLtMatrixLayoutCreate(&st.la, CUDA_R_32F, g.ta ? g.k : g.m, g.ta ? g.m : g.k, g.lda));
  BLAS(cublasLtMatrixLayoutCreate(&st.lb, CUDA_R_32F, g.tb ? g.n : g.k, g.tb ? g.k : g.n, g.ldb));
  BLAS(cublasLtMatrixLayoutCreate(&st.lc, CUDA_R_32F, g.m, g.n, g.ldc));
  cublasLtMatmulPreference_t pref;
  BLAS(cublasLtMatmulPreferenceCreate(&pref));
  size_t ws = kBlasWorkspace;
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
  cublasLtMatmulHeuristicResult_t res{};
  int found = 0;
  cublasStatus_t rc = cublasLtMatmulAlgoGetHeuristic(c.lt, st.md, st.la, st.lb, st.lc, st.lc, pref, 1, &res, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (rc != CUBLAS_STATUS_SUCCESS || found == 0) throw Error("cuBLASLt has no algorithm for this dense layer");
  st.lt_algo = res.algo;
}
void dense_fwd(Ctx& c, const dls_op_desc& op, Op& st) {
  const auto& T = op.tensors;
  const float one = 1.f, zero = 0.f;
  BLAS(cublasLtMatmul(c.lt, st.md, &one, T[1].data, st.la, T[0].data, st.lb, &zero, T[3].data, st.lc, T[3].data,
                      st.lc, &st.lt_algo, c.blas_ws, kBlasWorkspace, c.s));
}
void dense_bwd(Ctx& c, const dls_grad_op_desc& gd, Op&) {
  const dls_op_desc& op = *gd.fwd;
  const auto& T = op.tensors;
  const int64_t N = op.rows, K = op.cols, M = T[1].dims[0];
  const float one = 1.f, zero = 0.f;
  const float* dy = fp(gd.dout);
  if (float* dx = din(gd, 0)) {
    Gemm g = gemm_backward_data(N, K, M);
    BLAS(cublasSgemm(c.blas, CUBLAS_OP_N, CUBLAS_OP_N, int(g.m), int(g.n), int(g.k), &one, fp(T[1]), int(g.lda), dy,
                     int(g.ldb), acc_bit(gd, 0) ? &one : &zero, dx, int(g.ldc)));
  }
  if (gd.dparams[0].id >= 0) {
    Gemm g = gemm_backward_weights(N, K, M);
    BLAS(cublasSgemm(c.blas, CUBLAS_OP_N, CUBLAS_OP_T, int(g.m), int(g.n), int(g.k), &one, fp(T[0]), int(g.lda), dy,
                     int(g.ldb), &zero, fp(gd.dparams[0]), int(g.ldc)));
  }
  if (T[2].id >= 0 && gd.dparams[1].id >= 0) col_sum(c.s, dy, fp(gd.dparams[1]), N, M);
}

// ---- convolution: cuDNN, algorithms measured once ------------------------------------------------------
template <class Perf>
std::vector<AlgoCandidate> candidates(const Perf* p, int n) {
  std::vector<AlgoCandidate> v;
  for (int i = 0; i < n; ++i) v.push_back({int(p[i].algo), int(p[i].status), p[i].time, p[i].memory});
  return v;
}
// The algorithm cudnnFind* measured fastest within the workspace limit (CudaPlan pick_algo); the shared
// convolution workspace grows to what it needs. `pass` names the pass in the error when none fits.
template <class Perf>
auto chosen_algo(Ctx& c, const Perf* perf, int found, const char* pass) {
  int i = pick_algo(candidates(perf, found), kConvWorkspaceLimit);
  if (i < 0) throw Error(std::string("cuDNN found no ") + pass + " convolution algorithm for these shapes");
  grow_conv_workspace(c, perf[i].memory);
  return perf[i].algo;
}
// y = conv(x, w)
cudnnConvolutionFwdAlgo_t fwd_algo(Ctx& c, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                   cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t y) {
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int found = 0;
  DNN(cudnnFindConvolutionForwardAlgorithm(c.dnn, x, w, conv, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
  return chosen_algo(c, perf, found, "forward");
}
// dx from dy and w
cudnnConvolutionBwdDataAlgo_t bwd_data_algo(Ctx& c, cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t dy,
                                            cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t dx) {
  cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  int found = 0;
  DNN(cudnnFindConvolutionBackwardDataAlgorithm(c.dnn, w, dy, conv, dx, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &found,
                                                perf));
  return chosen_algo(c, perf, found, "backward-data");
}
// dw from x and dy
cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo(Ctx& c, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t dy,
                                                cudnnConvolutionDescriptor_t conv, cudnnFilterDescriptor_t dw) {
  cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  int found = 0;
  DNN(cudnnFindConvolutionBackwardFilterAlgorithm(c.dnn, x, dy, conv, dw, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                  &found, perf));
  return chosen_algo(c, perf, found, "backward-filter");
}
// The descriptors of a convolution over the window `v` (x [N, C, H, W], y [N, K, OH, OW]) whose filter is
// [out, in / groups, KH, KW]: conv2d's [K, C/groups, ...], and conv_transpose2d's [C, K/groups, ...] (the convolution it
// runs backwards maps y to x).
void conv_descriptors(Ctx& c, const dls_window2d& v, int64_t out, int64_t in, Op& st) {
  st.x = tdesc(v.n, v.c, v.h, v.w);
  st.y = tdesc(v.n, v.k, v.oh, v.ow);
  DNN(cudnnCreateFilterDescriptor(&st.w));
  DNN(cudnnSetFilter4dDescriptor(st.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, int(out), int(in / v.groups), int(v.kh),
                                 int(v.kw)));
  DNN(cudnnCreateConvolutionDescriptor(&st.conv));
  DNN(cudnnSetConvolution2dDescriptor(st.conv, int(v.pt), int(v.pl), int(v.sh), int(v.sw), int(v.dh), int(v.dw),
                                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  if (v.groups > 1) DNN(cudnnSetConvolutionGroupCount(st.conv, int(v.groups)));
  DNN(cudnnSetConvolutionMathType(st.conv, c.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
}
void conv_create(Ctx& c, const dls_op_desc& op, Op& st) {
  const dls_window2d& v = op.win;
  const auto& T = op.tensors;
  conv_descriptors(c, v, v.k, v.c, st);
  int n, ch, oh, ow;
  DNN(cudnnGetConvolution2dForwardOutputDim(st.conv, st.x, st.w, &n, &ch, &oh, &ow));
  if (oh != v.oh || ow != v.ow)
    throw Error("asymmetric padding (top/left " + std::to_string(v.pt) + "/" + std::to_string(v.pl) + ", bottom/right " +
                std::to_string(v.pb) + "/" + std::to_string(v.pr) + ") is not supported by cuDNN convolution");
  st.fwd_algo = fwd_algo(c, st.x, st.w, st.conv, st.y);
  if (T[2].id >= 0) {
    st.b = tdesc(1, v.k, 1, 1);
    // cuDNN fuses the bias (identity activation) only with IMPLICIT_PRECOMP_GEMM.
    if (st.fwd_algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) {
      DNN(cudnnCreateActivationDescriptor(&st.ident));
      DNN(cudnnSetActivationDescriptor(st.ident, CUDNN_ACTIVATION_IDENTITY, CUDNN_NOT_PROPAGATE_NAN, 0.0));
      st.fused_bias = true;
    }
  }
}
void conv_fwd(Ctx& c, const dls_op_desc& op, Op& st) {
  const auto& T = op.tensors;
  const float one = 1.f, zero = 0.f;
  if (st.fused_bias) {
    DNN(cudnnConvolutionBiasActivationForward(c.dnn, &one, st.x, T[0].data, st.w, T[1].data, st.conv, st.fwd_algo,
                                              c.conv_ws, c.conv_ws_bytes, &zero, st.y, T[3].data, st.b, T[2].data,
                                              st.ident, st.y, T[3].data));
    return;
  }
  DNN(cudnnConvolutionForward(c.dnn, &one, st.x, T[0].data, st.w, T[1].data, st.conv, st.fwd_algo, c.conv_ws,
                              c.conv_ws_bytes, &zero, st.y, T[3].data));
  if (st.b) DNN(cudnnAddTensor(c.dnn, &one, st.b, T[2].data, &one, st.y, T[3].data));
}
void conv_create_bwd(Ctx& c, const dls_grad_op_desc& g, Op& f, Op& st) {
  if (din(g, 0)) st.bwd_data_algo = bwd_data_algo(c, f.w, f.y, f.conv, f.x);
  if (g.dparams[0].id >= 0) st.bwd_filter_algo = bwd_filter_algo(c, f.x, f.y, f.conv, f.w);
}
void conv_bwd(Ctx& c, const dls_grad_op_desc& g, Op& f, Op& st) {
  const auto& T = g.fwd->tensors;
  const float one = 1.f, zero = 0.f;
  if (float* dx = din(g, 0))
    DNN(cudnnConvolutionBackwardData(c.dnn, &one, f.w, T[1].data, f.y, g.dout.data, f.conv, st.bwd_data_algo,
                                     c.conv_ws, c.conv_ws_bytes, acc_bit(g, 0) ? &one : &zero, f.x, dx));
  if (g.dparams[0].id >= 0)
    DNN(cudnnConvolutionBackwardFilter(c.dnn, &one, f.x, T[0].data, f.y, g.dout.data, f.conv, st.bwd_filter_algo,
                                       c.conv_ws, c.conv_ws_bytes, &zero, f.w, g.dparams[0].data));
  if (f.b && g.dparams[1].id >= 0)
    DNN(cudnnConvolutionBackwardBias(c.dnn, &one, f.y, g.dout.data, &zero, f.b, g.dparams[1].data));
}

// ---- conv_transpose2d: cuDNN's convolution from y to x run backwards ----------------------------------------
// The forward is the backward-data pass of the convolution whose input is y [N, F, OH, OW] and output x [N, C, H, W],
// with the filter [C, F/groups, KH, KW] (torch.nn.ConvTranspose2d's layout); its gradients are that convolution's
// forward (d(x)) and backward-filter (d(w), with x and y's roles swapped). output_pad is below the stride
// (OpDecode.cpp), so the convolution's output size rule gives H back from OH.
void deconv_create(Ctx& c, const dls_op_desc& op, Op& st) {
  const dls_window2d& v = op.win;
  conv_descriptors(c, v, v.c, v.k, st);
  int n, ch, h, w;
  DNN(cudnnGetConvolution2dForwardOutputDim(st.conv, st.y, st.w, &n, &ch, &h, &w));
  if (h != v.h || w != v.w) throw Error("conv_transpose2d: cuDNN's size rule does not give the input back from the output");
  st.bwd_data_algo = bwd_data_algo(c, st.w, st.x, st.conv, st.y);
  if (op.tensors[2].id >= 0) st.b = tdesc(1, v.k, 1, 1);
}
void deconv_fwd(Ctx& c, const dls_op_desc& op, Op& st) {
  const auto& T = op.tensors;
  const float one = 1.f, zero = 0.f;
  DNN(cudnnConvolutionBackwardData(c.dnn, &one, st.w, T[1].data, st.x, T[0].data, st.conv, st.bwd_data_algo, c.conv_ws,
                                   c.conv_ws_bytes, &zero, st.y, T[3].data));
  if (st.b) DNN(cudnnAddTensor(c.dnn, &one, st.b, T[2].data, &one, st.y, T[3].data));
}
void deconv_create_bwd(Ctx& c, const dls_grad_op_desc& g, Op& f, Op& st) {
  if (din(g, 0)) st.fwd_algo = fwd_algo(c, f.y, f.w, f.conv, f.x);
  if (g.dparams[0].id >= 0) st.bwd_filter_algo = bwd_filter_algo(c, f.y, f.x, f.conv, f.w);
}
void deconv_bwd(Ctx& c, const dls_grad_op_desc& g, Op& f, Op& st) {
  const auto& T = g.fwd->tensors;
  const float one = 1.f, zero = 0.f;
  if (float* dx = din(g, 0))
    DNN(cudnnConvolutionForward(c.dnn, &one, f.y, g.dout.data, f.w, T[1].data, f.conv, st.fwd_algo, c.conv_ws,
                                c.conv_ws_bytes, acc_bit(g, 0) ? &one : &zero, f.x, dx));
  if (g.dparams[0].id >= 0)
    DNN(cudnnConvolutionBackwardFilter(c.dnn, &one, f.y, g.dout.data, f.x, T[0].data, f.conv, st.bwd_filter_algo,
                                       c.conv_ws, c.conv_ws_bytes, &zero, f.w, g.dparams[0].data));
  if (f.b && g.dparams[1].id >= 0)
    DNN(cudnnConvolutionBackwardBias(c.dnn, &one, f.y, g.dout.data, &zero, f.b, g.dparams[1].data));
}

// slice, pad, repeat: core/IndexMap.h's map, uploaded once (the forward op's first buffer).
void index_create(const dls_op_desc& op, Op& st) {
  const std::vector<int32_t> map = index_map(op);
  float* d = st.buf(map.size());
  CK(cudaMemcpy(d, map.data(), map.size() * 4, cudaMemcpyHostToDevice));
}

// ---- pooling, batch norm, softmax: cuDNN -----------------------------------------------------------------
void pool_create(const dls_op_desc& op, Op& st) {
  const dls_window2d& v = op.win;
  // cuDNN pooling has no dilation: sema refuses maxpool(dilation > 1) on CUDA (E0304, op table cudaWithout).
  if (v.dh != 1 || v.dw != 1) throw Error("dilated max pooling has no CUDA kernel");
  st.x = tdesc(v.n, v.c, v.h, v.w);
  st.y = tdesc(v.n, v.c, v.oh, v.ow);
  DNN(cudnnCreatePoolingDescriptor(&st.pool));
  DNN(cudnnSetPooling2dDescriptor(st.pool,
                                  op.opcode == DLS_OP_MAXPOOL ? CUDNN_POOLING_MAX_DETERMINISTIC
                                                              : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING,
                                  CUDNN_NOT_PROPAGATE_NAN, int(v.kh), int(v.kw), int(v.pt), int(v.pl), int(v.sh),
                                  int(v.sw)));
  int n, ch, oh, ow;
  DNN(cudnnGetPooling2dForwardOutputDim(st.pool, st.x, &n, &ch, &oh, &ow));
  if (oh != v.oh || ow != v.ow) throw Error("asymmetric pooling padding is not supported by cuDNN pooling");
}
void bn_create(const dls_op_desc& op, Op& st) {
  const auto& T = op.tensors;
  if (op.attrs[0] < CUDNN_BN_MIN_EPSILON) throw Error("batch norm eps is below cuDNN's minimum 1e-5");
  st.x = tdesc(T[0]);
  st.y = tdesc(T[0]);  // the real rows of a partial batch (bn_fwd)
  st.b = tdesc(1, T[0].dims[1], 1, 1);
  st.buf(size_t(T[0].dims[1]));  // bufs[0]: saved mean
  st.buf(size_t(T[0].dims[1]));  // bufs[1]: saved inverse std
}
// A partial batch (the last of an epoch under drop_last: false, padded to the plan's N) is normalised over its
// real rows only, as PyTorch normalises a batch of that size: the descriptor `y` holds those rows of the same
// buffers (samples are the outermost axis), and the padded rows' outputs and input gradients are zero.
void bn_fwd(Ctx& c, const dls_op_desc& op, Op& st, const dls_step_ctx& s) {
  const auto& T = op.tensors;
  const float one = 1.f, zero = 0.f;
  const int64_t N = T[0].dims[0];
  if (s.training) {
    const int64_t rows = s.valid_rows > 0 && s.valid_rows < N ? s.valid_rows : N;
    cudnnTensorDescriptor_t xd = st.x;
    if (rows < N) {
      DNN(cudnnSetTensor4dDescriptor(st.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, int(rows), int(T[0].dims[1]),
                                     int(T[0].dims[2]), int(T[0].dims[3])));
      xd = st.y;
      const int64_t per = T[0].numel / N;
      CK(cudaMemsetAsync(fp(T[5]) + rows * per, 0, size_t((N - rows) * per) * sizeof(float), c.s));
    }
    st.rows = rows;
    DNN(cudnnBatchNormalizationForwardTraining(c.dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd, T[0].data, xd,
                                               T[5].data, st.b, T[1].data, T[2].data, op.attrs[1], T[3].data,
                                               T[4].data, op.attrs[0], st.bufs[0], st.bufs[1]));
  } else {
    DNN(cudnnBatchNormalizationForwardInference(c.dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, st.x, T[0].data, st.x,
                                                T[5].data, st.b, T[1].data, T[2].data, T[3].data, T[4].data,
                                                op.attrs[0]));
  }
}
void bn_bwd(Ctx& c, const dls_grad_op_desc& g, Op& f, Op& st) {
  const auto& T = g.fwd->tensors;
  const float one = 1.f, zero = 0.f;
  float* dx = din(g, 0);
  const int64_t N = T[0].dims[0];
  const bool partial = f.rows > 0 && f.rows < N;
  cudnnTensorDescriptor_t xd = partial ? f.y : f.x;  // f.y: the rows of the forward pass of this step
  if (partial && dx && !acc_bit(g, 0)) {
    const int64_t per = T[0].numel / N;
    CK(cudaMemsetAsync(dx + f.rows * per, 0, size_t((N - f.rows) * per) * sizeof(float), c.s));
  }
  DNN(cudnnBatchNormalizationBackward(
      c.dnn, CUDNN_BATCHNORM_SPATIAL, &one, dx && acc_bit(g, 0) ? &one : &zero, &one, &zero, xd, T[0].data, xd,
      g.dout.data, xd, dx ? dx : st.bufs[0], f.b, T[1].data, g.dparams[0].id >= 0 ? g.dparams[0].data : st.bufs[1],
      g.dparams[1].id >= 0 ? g.dparams[1].data : st.bufs[2], g.fwd->attrs[0], f.bufs[0], f.bufs[1]));
}

// ---- multi-head attention (ops.def MULTI_HEAD_ATTENTION, CROSS_ATTENTION): cuBLAS products, one strided batch over the heads
// per sample; the op-owned buffers as CpuAttention.cpp's: bufs[0] qkv [N*T, 3D], [1] P [N, H, T, T], [2] o
// [N*T, D], [3] dropout mask and [4] P after dropout (both [N, H, T, T], dropout > 0); the grad op's: [0] d(qkv),
// [1] d(o), [2] d(P) [N, H, T, T].
// Row-major C[M, N] = op(A) op(B), batched: C^T = op(B)^T op(A)^T in cuBLAS's column-major terms.
void rgemm(cublasHandle_t h, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           long long sA, const float* B, int64_t ldb, long long sB, float beta, float* C, int64_t ldc, long long sC,
           int64_t batch = 1) {
  BLAS(cublasSgemmStridedBatched(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(N), int(M), int(K),
                                 &alpha, B, int(ldb), sB, A, int(lda), sA, &beta, C, int(ldc), sC, int(batch)));
}
struct AttnDims {
  int64_t N, T, D, H, E;
  float scale, p;
  bool causal;
  bool cross;
  int64_t S;  // the key steps: the memory's (cross-attention) or T
  size_t w;   // the first weight's operand: 1, or 2 after the memory
  int64_t ldq() const { return cross ? D : 3 * D; }
  int64_t ldk() const { return cross ? 2 * D : 3 * D; }
};
AttnDims attn_dims(const dls_op_desc& op) {
  const auto& T = op.tensors;
  AttnDims d{T[0].dims[0], T[0].dims[1], T[0].dims[2], int64_t(op.attrs[0]), 0, 1.f, float(op.attrs[2]), op.attrs[1] != 0,
             op.opcode == DLS_OP_CROSS_ATTENTION, T[0].dims[1], 1};
  if (d.cross) d.S = T[1].dims[1], d.w = 2;
  d.E = d.D / d.H;
  d.scale = 1.f / std::sqrt(float(d.E));
  return d;
}
// Cross-attention adds bufs[5] k|v [N*S, 2D] after the forward's five (bufs[0] holds q [N*T, D]; [3], [4] are
// allocated empty without dropout), and the grad op's bufs[3] d(k|v).
void attn_create(const dls_op_desc& op, Op& st) {
  const AttnDims a = attn_dims(op);
  const size_t NT = size_t(a.N * a.T), NHTS = size_t(a.N * a.H * a.T * a.S);
  st.buf(NT * (a.cross ? 1 : 3) * size_t(a.D));
  st.buf(NHTS);
  st.buf(NT * size_t(a.D));
  if (a.p > 0) st.buf(NHTS), st.buf(NHTS);
  else if (a.cross) st.buf(1), st.buf(1);
  if (a.cross) st.buf(size_t(a.N * a.S) * 2 * size_t(a.D));
}
void attn_fwd(Ctx& c, const dls_op_desc& op, Op& st, const dls_step_ctx& s) {
  const auto& T = op.tensors;
  const AttnDims a = attn_dims(op);
  const int64_t D3 = 3 * a.D, TS = a.T * a.S, ldq = a.ldq(), ldk = a.ldk();
  const size_t w = a.w;
  float* qkv = static_cast<float*>(st.bufs[0]);
  float* P = static_cast<float*>(st.bufs[1]);
  float* o = static_cast<float*>(st.bufs[2]);
  float* kv = a.cross ? static_cast<float*>(st.bufs[5]) : qkv + a.D;  // k of sample 0; v follows at + D
  const bool drop = s.training && a.p > 0;
  // The output projection's operands: out_proj.weight, out_proj.bias (-1: none) and y.
  int iwo = int(w) + 1, ibo = int(w) + 3, iy = int(w) + 4;
  if (a.cross) {
    // q = x W_q^T + b_q; k = memory W_k^T + b_k, v = memory W_v^T + b_v side by side in kv (AttentionOperands.h: rows
    // of in_proj_weight, or q_proj_weight, k_proj_weight, v_proj_weight over a memory of width K).
    const CrossAttentionOperands co = cross_attention_operands(T, op.ntensors);
    const int64_t K = co.K;
    const float* wq = fp(T[co.wq]);
    const float* wk = co.split ? fp(T[co.wk]) : wq + a.D * a.D;
    const float* wv = co.split ? fp(T[co.wv]) : wq + 2 * a.D * a.D;
    rgemm(c.blas, false, true, a.N * a.T, a.D, a.D, 1.f, fp(T[0]), a.D, 0, wq, a.D, 0, 0.f, qkv, a.D, 0);
    rgemm(c.blas, false, true, a.N * a.S, a.D, K, 1.f, fp(T[1]), K, 0, wk, K, 0, 0.f, kv, 2 * a.D, 0);
    rgemm(c.blas, false, true, a.N * a.S, a.D, K, 1.f, fp(T[1]), K, 0, wv, K, 0, 0.f, kv + a.D, 2 * a.D, 0);
    if (co.bi >= 0) {
      add_rows(c.s, qkv, fp(T[co.bi]), qkv, a.N * a.T, a.D);
      add_rows(c.s, kv, fp(T[co.bi]) + a.D, kv, a.N * a.S, 2 * a.D);
    }
    iwo = co.wo, ibo = co.bo, iy = co.y;
  } else {
    rgemm(c.blas, false, true, a.N * a.T, D3, a.D, 1.f, fp(T[0]), a.D, 0, fp(T[w]), a.D, 0, 0.f, qkv, D3, 0);
    if (T[w + 2].id >= 0) add_rows(c.s, qkv, fp(T[w + 2]), qkv, a.N * a.T, D3);
    if (T[ibo].id < 0) ibo = -1;
  }
  for (int64_t n = 0; n < a.N; ++n) {
    const float* q = qkv + n * a.T * ldq;
    const float* k = kv + n * a.S * ldk;
    rgemm(c.blas, false, true, a.T, a.S, a.E, a.scale, q, ldq, a.E, k, ldk, a.E, 0.f, P + n * a.H * TS, a.S, TS, a.H);
  }
  float* mask = drop ? static_cast<float*>(st.bufs[3]) : nullptr;
  float* pd = drop ? static_cast<float*>(st.bufs[4]) : nullptr;
  attn_softmax(c.s, c.scal, uint64_t(op.id), a.p, drop, a.causal, P, mask, pd, a.N * a.H * a.T, a.T, a.S);
  const float* W = drop ? pd : P;
  for (int64_t n = 0; n < a.N; ++n) {
    const float* v = kv + n * a.S * ldk + a.D;
    rgemm(c.blas, false, false, a.T, a.E, a.S, 1.f, W + n * a.H * TS, a.S, TS, v, ldk, a.E, 0.f, o + n * a.T * a.D, a.D,
          a.E, a.H);
  }
  rgemm(c.blas, false, true, a.N * a.T, a.D, a.D, 1.f, o, a.D, 0, fp(T[iwo]), a.D, 0, 0.f, fp(T[iy]), a.D, 0);
  if (ibo >= 0) add_rows(c.s, fp(T[iy]), fp(T[ibo]), fp(T[iy]), a.N * a.T, a.D);
}
void attn_create_grad(const dls_grad_op_desc& g, Op& st) {
  const AttnDims a = attn_dims(*g.fwd);
  const size_t NT = size_t(a.N * a.T);
  st.buf(NT * (a.cross ? 1 : 3) * size_t(a.D));
  st.buf(NT * size_t(a.D));
  st.buf(size_t(a.N * a.H * a.T * a.S));
  if (a.cross) st.buf(size_t(a.N * a.S) * 2 * size_t(a.D));
}
void attn_bwd(Ctx& c, const dls_grad_op_desc& g, Op& f, Op& st) {
  const dls_op_desc& op = *g.fwd;
  const auto& T = op.tensors;
  const AttnDims a = attn_dims(op);
  const int64_t D3 = 3 * a.D, TS = a.T * a.S, NT = a.N * a.T, NS = a.N * a.S, ldq = a.ldq(), ldk = a.ldk();
  const size_t w = a.w;
  const float* qkv = static_cast<const float*>(f.bufs[0]);
  const float* P = static_cast<const float*>(f.bufs[1]);
  const float* o = static_cast<const float*>(f.bufs[2]);
  const float* mask = a.p > 0 ? static_cast<const float*>(f.bufs[3]) : nullptr;
  const float* W = a.p > 0 ? static_cast<const float*>(f.bufs[4]) : P;
  const float* kv = a.cross ? static_cast<const float*>(f.bufs[5]) : qkv + a.D;
  float* dqkv = static_cast<float*>(st.bufs[0]);
  float* dO = static_cast<float*>(st.bufs[1]);
  float* dP = static_cast<float*>(st.bufs[2]);
  float* dkv = a.cross ? static_cast<float*>(st.bufs[3]) : dqkv + a.D;
  const float* dy = fp(g.dout);
  // The gradient of the op's operand i (dparam_of), or dparams[k] where a caller gives only those; the operands of the
  // weights and biases as the forward's (AttentionOperands.h for cross-attention).
  auto dpar = [&](int i, int k) -> float* {
    if (i < 0) return nullptr;
    if (g.dparam_of) return g.dparam_of[i].id >= 0 ? fp(g.dparam_of[i]) : nullptr;
    return k < 4 && g.dparams[k].id >= 0 ? fp(g.dparams[k]) : nullptr;
  };
  CrossAttentionOperands co;
  if (a.cross) co = cross_attention_operands(T, op.ntensors);
  const int iwo = a.cross ? co.wo : int(w) + 1;
  const int ibo = a.cross ? co.bo : T[w + 3].id >= 0 ? int(w) + 3 : -1;
  rgemm(c.blas, false, false, NT, a.D, a.D, 1.f, dy, a.D, 0, fp(T[iwo]), a.D, 0, 0.f, dO, a.D, 0);
  if (float* dwo = dpar(iwo, 1)) rgemm(c.blas, true, false, a.D, a.D, NT, 1.f, dy, a.D, 0, o, a.D, 0, 0.f, dwo, a.D, 0);
  if (float* dbo = dpar(ibo, 3)) col_sum(c.s, dy, dbo, NT, a.D);
  for (int64_t n = 0; n < a.N; ++n) {
    const float* v = kv + n * a.S * ldk + a.D;
    const float* dOn = dO + n * a.T * a.D;
    float* dv = dkv + n * a.S * ldk + a.D;
    // d(v) = P'^T d(o); d(P') = d(o) v^T
    rgemm(c.blas, true, false, a.S, a.E, a.T, 1.f, W + n * a.H * TS, a.S, TS, dOn, a.D, a.E, 0.f, dv, ldk, a.E, a.H);
    rgemm(c.blas, false, true, a.T, a.S, a.E, 1.f, dOn, a.D, a.E, v, ldk, a.E, 0.f, dP + n * a.H * TS, a.S, TS, a.H);
  }
  attn_softmax_bwd(c.s, P, mask, dP, a.N * a.H * a.T, a.S, a.scale);
  for (int64_t n = 0; n < a.N; ++n) {
    const float* q = qkv + n * a.T * ldq;
    const float* k = kv + n * a.S * ldk;
    float* dq = dqkv + n * a.T * ldq;
    float* dk = dkv + n * a.S * ldk;
    const float* dS = dP + n * a.H * TS;
    // d(q) = d(s) k; d(k) = d(s)^T q
    rgemm(c.blas, false, false, a.T, a.E, a.S, 1.f, dS, a.S, TS, k, ldk, a.E, 0.f, dq, ldq, a.E, a.H);
    rgemm(c.blas, true, false, a.S, a.E, a.T, 1.f, dS, a.S, TS, q, ldq, a.E, 0.f, dk, ldk, a.E, a.H);
  }
  if (a.cross) {
    // d(x) = d(q) W_q, then d(memory) = d(k) W_k + d(v) W_v (added into d(x) when x and memory are one value);
    // d(W_q) = d(q)^T x, d(W_k) = d(k)^T memory, d(W_v) = d(v)^T memory (rows of d(in_proj_weight) when packed).
    const int64_t K = co.K;
    const float* wq = fp(T[co.wq]);
    const float* wk = co.split ? fp(T[co.wk]) : wq + a.D * a.D;
    const float* wv = co.split ? fp(T[co.wv]) : wq + 2 * a.D * a.D;
    float* dwq = dpar(co.wq, 0);
    float* dwk = co.split ? dpar(co.wk, 1) : dwq ? dwq + a.D * a.D : nullptr;
    float* dwv = co.split ? dpar(co.wv, 2) : dwq ? dwq + 2 * a.D * a.D : nullptr;
    if (float* dx = din(g, 0))
      rgemm(c.blas, false, false, NT, a.D, a.D, 1.f, dqkv, a.D, 0, wq, a.D, 0, acc_bit(g, 0) ? 1.f : 0.f, dx, a.D, 0);
    if (float* dm = din(g, 1)) {
      rgemm(c.blas, false, false, NS, K, a.D, 1.f, dkv, 2 * a.D, 0, wk, K, 0, acc_bit(g, 1) ? 1.f : 0.f, dm, K, 0);
      rgemm(c.blas, false, false, NS, K, a.D, 1.f, dkv + a.D, 2 * a.D, 0, wv, K, 0, 1.f, dm, K, 0);
    }
    if (dwq) rgemm(c.blas, true, false, a.D, a.D, NT, 1.f, dqkv, a.D, 0, fp(T[0]), a.D, 0, 0.f, dwq, a.D, 0);
    if (dwk) rgemm(c.blas, true, false, a.D, K, NS, 1.f, dkv, 2 * a.D, 0, fp(T[1]), K, 0, 0.f, dwk, K, 0);
    if (dwv) rgemm(c.blas, true, false, a.D, K, NS, 1.f, dkv + a.D, 2 * a.D, 0, fp(T[1]), K, 0, 0.f, dwv, K, 0);
    if (float* dbi = dpar(co.bi, 2)) {
      col_sum(c.s, dqkv, dbi, NT, a.D);
      col_sum(c.s, dkv, dbi + a.D, NS, 2 * a.D);
    }
    return;
  }
  if (float* dx = din(g, 0))
    rgemm(c.blas, false, false, NT, a.D, D3, 1.f, dqkv, D3, 0, fp(T[w]), a.D, 0, acc_bit(g, 0) ? 1.f : 0.f, dx, a.D, 0);
  if (g.dparams[0].id >= 0) rgemm(c.blas, true, false, D3, a.D, NT, 1.f, dqkv, D3, 0, fp(T[0]), a.D, 0, 0.f, fp(g.dparams[0]), a.D, 0);
  if (T[w + 2].id >= 0 && g.dparams[2].id >= 0) col_sum(c.s, dqkv, fp(g.dparams[2]), NT, D3);
}

int act_of(int opcode) {
  switch (opcode) {
    case DLS_OP_RELU: return ACT_RELU;
    case DLS_OP_LEAKY_RELU: return ACT_LEAKY;
    case DLS_OP_GELU: return ACT_GELU;
    case DLS_OP_TANH: return ACT_TANH;
    case DLS_OP_RAMP: return ACT_RAMP;
    default: return ACT_SIGMOID;
  }
}
LocalDims local_dims(const dls_window2d& v) {
  return {v.n, v.c, v.h, v.w, v.k, v.kh, v.kw, v.oh, v.ow, v.sh, v.sw, v.pt, v.pl};
}

// cross_entropy, nll: the ignore_index attribute (ops.def: cross_entropy's second, nll's first) and the op's
// one-float count of the rows not ignored (its last buffer); other losses: none.
int64_t loss_ignore(const dls_op_desc& op) {
  const int i = op.opcode == DLS_OP_CROSS_ENTROPY ? 1 : 0;
  return (op.opcode == DLS_OP_CROSS_ENTROPY || op.opcode == DLS_OP_NLL) && op.nattrs > i ? int64_t(op.attrs[i]) : -100;
}
template <class Bufs>
float* loss_counted(const Bufs& bufs, int opcode) {
  if (opcode != DLS_OP_CROSS_ENTROPY && opcode != DLS_OP_NLL) return nullptr;
  return static_cast<float*>(bufs.back());
}
// cross_entropy, nll: the class weights on the device (the buffer before the count: all ones without `weight`).
template <class Bufs>
float* loss_weights(const Bufs& bufs, int opcode) {
  if (opcode != DLS_OP_CROSS_ENTROPY && opcode != DLS_OP_NLL) return nullptr;
  return static_cast<float*>(bufs[bufs.size() - 2]);
}
float* class_weights_create(const dls_op_desc& op, Op& st) {
  const int first = op.opcode == DLS_OP_CROSS_ENTROPY ? 2 : 1;
  std::vector<float> w(size_t(op.cols), 1.f);
  if (op.nattrs - first == op.cols)
    for (int64_t i = 0; i < op.cols; ++i) w[size_t(i)] = float(op.attrs[first + i]);
  float* d = st.buf(w.size());
  CK(cudaMemcpy(d, w.data(), w.size() * 4, cudaMemcpyHostToDevice));
  return d;
}
// The element-wise losses' attributes (LossMath.h): huber's delta, smooth_l1's beta, focal's gamma and alpha.
double loss_attr(const dls_op_desc& op, int i) {
  return op.opcode >= DLS_OP_HUBER && op.opcode <= DLS_OP_POISSON && op.nattrs > i ? op.attrs[i] : 0.0;
}

void create(Ctx& c, const dls_op_desc& op, Op& st) {
  st.opcode = op.opcode;
  const auto& T = op.tensors;
  switch (op.opcode) {
    case DLS_OP_DENSE: dense_create(c, op, st); break;
    case DLS_OP_CONV2D: conv_create(c, op, st); break;
    case DLS_OP_CONV_TRANSPOSE2D: deconv_create(c, op, st); break;
    case DLS_OP_SLICE: case DLS_OP_PAD: case DLS_OP_REPEAT: index_create(op, st); break;
    case DLS_OP_MAXPOOL: case DLS_OP_AVGPOOL: pool_create(op, st); break;
    case DLS_OP_BATCH_NORM: bn_create(op, st); break;
    case DLS_OP_SOFTMAX: case DLS_OP_LOG_SOFTMAX: st.x = tdesc(op.rows, op.cols, 1, 1); break;
    case DLS_OP_DROPOUT: st.buf(size_t(T[0].numel)); break;           // mask
    case DLS_OP_LAYER_NORM: st.buf(size_t(2 * op.rows)); break;       // mean, rstd per row
    case DLS_OP_CROSS_ENTROPY:  // the softmax, the class weights and the (weighted) count of rows not ignored
      st.buf(size_t(op.rows * op.cols)), class_weights_create(op, st), st.buf(1);
      break;
    case DLS_OP_NLL: class_weights_create(op, st), st.buf(1); break;  // the class weights and the count
    case DLS_OP_MULTI_HEAD_ATTENTION: case DLS_OP_CROSS_ATTENTION: attn_create(op, st); break;
    case DLS_OP_POSITIONAL_EMBEDDING: break;
    case DLS_OP_RNN: case DLS_OP_GRU: case DLS_OP_LSTM:
      st.rec = recurrent_create(c.dnn, c.tf32, op);
      grow_conv_workspace(c, recurrent_workspace(*st.rec));
      break;
    case DLS_OP_GLOBAL_AVGPOOL: case DLS_OP_RELU: case DLS_OP_LEAKY_RELU: case DLS_OP_GELU: case DLS_OP_TANH:
    case DLS_OP_SIGMOID: case DLS_OP_ADD: case DLS_OP_CONCAT: case DLS_OP_TRANSPOSE: case DLS_OP_EMBEDDING:
    case DLS_OP_UPSAMPLE: case DLS_OP_COPY: case DLS_OP_BCE_WITH_LOGITS: case DLS_OP_MSE:
    case DLS_OP_BCE: case DLS_OP_L1: case DLS_OP_HUBER: case DLS_OP_SMOOTH_L1: case DLS_OP_KL_DIV: case DLS_OP_FOCAL:
    case DLS_OP_HINGE: case DLS_OP_POISSON: case DLS_OP_RAMP: case DLS_OP_REORG: case DLS_OP_LOCAL:
    case DLS_OP_SCALED_ADD: case DLS_OP_COSINE_EMBEDDING:
      break;
    default:
      if (!more_is(op.opcode)) throw Error("op is not supported by the CUDA backend");
      if (const size_t n = more_fwd_scratch(op)) st.buf(n);
      break;
  }
}

void forward(Ctx& c, const dls_op_desc& op, Op& st, const dls_step_ctx& s) {
  const auto& T = op.tensors;
  const float one = 1.f, zero = 0.f;
  switch (op.opcode) {
    case DLS_OP_DENSE: dense_fwd(c, op, st); return;
    case DLS_OP_CONV2D: conv_fwd(c, op, st); return;
    case DLS_OP_CONV_TRANSPOSE2D: deconv_fwd(c, op, st); return;
    case DLS_OP_SLICE: case DLS_OP_PAD: case DLS_OP_REPEAT:
      index_gather(c.s, fp(T[0]), static_cast<const int32_t*>(st.bufs[0]), fp(T[1]), T[1].numel,
                   op.opcode == DLS_OP_PAD ? float(op.attrs[1]) : 0.f);
      return;
    case DLS_OP_MAXPOOL: case DLS_OP_AVGPOOL:
      DNN(cudnnPoolingForward(c.dnn, st.pool, &one, st.x, T[0].data, &zero, st.y, T[1].data));
      return;
    case DLS_OP_BATCH_NORM: bn_fwd(c, op, st, s); return;
    case DLS_OP_SOFTMAX: case DLS_OP_LOG_SOFTMAX:
      DNN(cudnnSoftmaxForward(c.dnn, op.opcode == DLS_OP_SOFTMAX ? CUDNN_SOFTMAX_ACCURATE : CUDNN_SOFTMAX_LOG,
                              CUDNN_SOFTMAX_MODE_INSTANCE, &one, st.x, T[0].data, &zero, st.x, T[1].data));
      return;
    case DLS_OP_RELU: case DLS_OP_LEAKY_RELU: case DLS_OP_GELU: case DLS_OP_TANH: case DLS_OP_SIGMOID:
    case DLS_OP_RAMP:
      act_fwd(c.s, act_of(op.opcode), op.nattrs > 0 ? float(op.attrs[0]) : 0.f, fp(T[0]), fp(T[1]), T[0].numel);
      return;
    case DLS_OP_DROPOUT:
      if (s.training) dropout_fwd(c.s, c.scal, uint64_t(op.id), float(op.attrs[0]), fp(T[0]), fp(T[1]),
                                  static_cast<float*>(st.bufs[0]), T[0].numel);
      else if (T[0].data != T[1].data) CK(cudaMemcpyAsync(T[1].data, T[0].data, size_t(T[0].numel) * 4, cudaMemcpyDeviceToDevice, c.s));
      return;
    case DLS_OP_GLOBAL_AVGPOOL: row_mean(c.s, fp(T[0]), fp(T[1]), op.rows, op.cols); return;
    case DLS_OP_LAYER_NORM:
      layer_norm_fwd(c.s, fp(T[0]), fp(T[1]), fp(T[2]), fp(T[3]), static_cast<float*>(st.bufs[0]), op.rows, op.cols,
                     float(op.attrs[0]));
      return;
    case DLS_OP_ADD: binary(c.s, 0, fp(T[0]), fp(T[1]), fp(T[2]), T[2].numel, false); return;
    case DLS_OP_COPY:
      if (T[0].data != T[1].data) CK(cudaMemcpyAsync(T[1].data, T[0].data, size_t(T[0].numel) * 4, cudaMemcpyDeviceToDevice, c.s));
      return;
    case DLS_OP_SCALED_ADD: {  // y = a x, or y += a x (the weighted loss terms)
      const float a = float(op.attrs[0]);
      if (op.attrs[1] == 0) CK(cudaMemsetAsync(T[1].data, 0, size_t(T[1].numel) * 4, c.s));
      BLAS(cublasSaxpy(c.blas, int(T[1].numel), &a, fp(T[0]), 1, fp(T[1]), 1));
      return;
    }
    case DLS_OP_CONCAT: {
      const int axis = int(op.attrs[0]);
      const dls_tensor_desc& y = T[op.ntensors - 1];
      int64_t outer, inner;
      dls_around_axis(&y, axis, &outer, &inner);
      int64_t off = 0;
      for (int i = 0; i + 1 < op.ntensors; ++i) {
        const int64_t len = T[i].dims[axis] * inner;
        copy2d(c.s, fp(T[i]), len, fp(y) + off, y.dims[axis] * inner, outer, len, false);
        off += len;
      }
      return;
    }
    case DLS_OP_TRANSPOSE: {
      int perm[4] = {0, 1, 2, 3};
      for (int k = 0; k < T[0].rank; ++k) perm[k] = int(op.attrs[k]);
      transpose4(c.s, fp(T[0]), fp(T[1]), T[0].dims, perm, false, false);
      return;
    }
    case DLS_OP_EMBEDDING:
      embedding_fwd(c.s, static_cast<const int32_t*>(T[0].data), fp(T[1]), fp(T[2]), op.rows, op.cols, T[1].dims[0],
                    c.flags);
      return;
    case DLS_OP_REORG: {
      const int64_t extra = int64_t(op.attrs[1]);
      if (extra > 0) {  // each sample flat, then `extra` zeros
        CK(cudaMemsetAsync(T[1].data, 0, size_t(T[1].numel) * 4, c.s));
        copy2d(c.s, fp(T[0]), op.cols, fp(T[1]), op.cols + extra, op.rows, op.cols, false);
      } else {
        reorg_fwd(c.s, fp(T[0]), fp(T[1]), T[0].dims[0], T[0].dims[1], T[0].dims[2], T[0].dims[3], int64_t(op.attrs[0]));
      }
      return;
    }
    case DLS_OP_LOCAL:
      local_fwd(c.s, fp(T[0]), fp(T[1]), T[2].id >= 0 ? fp(T[2]) : nullptr, fp(T[3]), local_dims(op.win));
      return;
    case DLS_OP_RNN: case DLS_OP_GRU: case DLS_OP_LSTM:
      recurrent_fwd(c.dnn, c.s, op, *st.rec, c.conv_ws, c.conv_ws_bytes);
      return;
    case DLS_OP_MULTI_HEAD_ATTENTION: case DLS_OP_CROSS_ATTENTION: attn_fwd(c, op, st, s); return;
    case DLS_OP_POSITIONAL_EMBEDDING:  // y[n] = x[n] + the table's first T rows
      add_rows(c.s, fp(T[0]), fp(T[1]), fp(T[2]), T[0].dims[0], T[0].dims[1] * T[0].dims[2]);
      return;
    case DLS_OP_UPSAMPLE:
      upsample_fwd(c.s, fp(T[0]), fp(T[1]), T[0].dims[0] * T[0].dims[1], T[0].dims[2], T[0].dims[3], int64_t(op.attrs[0]));
      return;
    case DLS_OP_COSINE_EMBEDDING:
      cosine_fwd(c.s, c.scal, fp(T[0]), fp(T[1]), fp(T[2]), fp(T[3]), op.rows, op.cols,
                 op.rows / std::max<int64_t>(1, T[0].dims[0]), op.nattrs > 0 ? op.attrs[0] : 0.0);
      return;
    default:
      if (more_is(op.opcode)) {
        more_fwd(c.s, op, st.bufs.empty() ? nullptr : static_cast<float*>(st.bufs[0]));
        return;
      }
      loss_fwd(c.s, c.scal, op.opcode, fp(T[0]), T[1].data,
               op.opcode == DLS_OP_CROSS_ENTROPY ? static_cast<float*>(st.bufs[0]) : nullptr, fp(T[2]), op.rows,
               op.cols, op.rows / std::max<int64_t>(1, T[0].dims[0]),
               op.opcode == DLS_OP_CROSS_ENTROPY && op.nattrs > 0 ? float(op.attrs[0]) : 0.f, loss_ignore(op),
               loss_counted(st.bufs, op.opcode), loss_weights(st.bufs, op.opcode), loss_attr(op, 0), loss_attr(op, 1));
      return;
  }
}

void create_grad(Ctx& c, const dls_grad_op_desc& g, Op& f, Op& st) {
  st.opcode = g.fwd->opcode;
  if (st.opcode == DLS_OP_CONV2D) conv_create_bwd(c, g, f, st);
  if (st.opcode == DLS_OP_CONV_TRANSPOSE2D) deconv_create_bwd(c, g, f, st);
  if ((st.opcode == DLS_OP_SLICE || st.opcode == DLS_OP_PAD || st.opcode == DLS_OP_REPEAT) && din(g, 0))
    st.buf(size_t(g.fwd->tensors[0].numel));  // the scratch d(x)
  if (f.rec) recurrent_create_grad(g, *f.rec);
  if (st.opcode == DLS_OP_MULTI_HEAD_ATTENTION || st.opcode == DLS_OP_CROSS_ATTENTION) attn_create_grad(g, st);
  if (st.opcode == DLS_OP_BATCH_NORM) {
    const int64_t C = g.fwd->tensors[0].dims[1];
    st.buf(din(g, 0) ? 1 : size_t(g.fwd->tensors[0].numel));  // scratch d(x) when not needed
    st.buf(size_t(C));                                         // scratch d(gamma)
    st.buf(size_t(C));                                         // scratch d(beta)
  }
  if (more_is(st.opcode))
    if (const size_t n = more_bwd_scratch(g)) st.buf(n);
  if (st.opcode == DLS_OP_SOFTMAX || st.opcode == DLS_OP_LOG_SOFTMAX || st.opcode == DLS_OP_MAXPOOL ||
      st.opcode == DLS_OP_AVGPOOL || st.opcode == DLS_OP_DENSE)
    return;
}

void backward(Ctx& c, const dls_grad_op_desc& g, Op& f, Op& st) {
  const dls_op_desc& op = *g.fwd;
  const auto& T = op.tensors;
  const float one = 1.f, zero = 0.f;
  const float* dy = fp(g.dout);
  float* dx = din(g, 0);
  const bool acc = acc_bit(g, 0);
  switch (op.opcode) {
    case DLS_OP_DENSE: dense_bwd(c, g, f); return;
    case DLS_OP_CONV2D: conv_bwd(c, g, f, st); return;
    case DLS_OP_CONV_TRANSPOSE2D: deconv_bwd(c, g, f, st); return;
    case DLS_OP_SLICE: case DLS_OP_PAD: case DLS_OP_REPEAT:
      if (dx)
        index_scatter(c.s, dy, static_cast<const int32_t*>(f.bufs[0]), static_cast<float*>(st.bufs[0]), dx, T[1].numel, T[0].numel, acc);
      return;
    case DLS_OP_MAXPOOL: case DLS_OP_AVGPOOL:
      if (dx)
        DNN(cudnnPoolingBackward(c.dnn, f.pool, &one, f.y, T[1].data, f.y, dy, f.x, T[0].data, acc ? &one : &zero, f.x, dx));
      return;
    case DLS_OP_BATCH_NORM: bn_bwd(c, g, f, st); return;
    case DLS_OP_SOFTMAX: case DLS_OP_LOG_SOFTMAX:
      if (dx)
        DNN(cudnnSoftmaxBackward(c.dnn, op.opcode == DLS_OP_SOFTMAX ? CUDNN_SOFTMAX_ACCURATE : CUDNN_SOFTMAX_LOG,
                                 CUDNN_SOFTMAX_MODE_INSTANCE, &one, f.x, T[1].data, f.x, dy, acc ? &one : &zero, f.x, dx));
      return;
    case DLS_OP_RELU: case DLS_OP_LEAKY_RELU: case DLS_OP_GELU: case DLS_OP_TANH: case DLS_OP_SIGMOID:
    case DLS_OP_RAMP:
      if (dx) act_bwd(c.s, act_of(op.opcode), op.nattrs > 0 ? float(op.attrs[0]) : 0.f, fp(T[0]), fp(T[1]), dy, dx, T[0].numel, acc);
      return;
    case DLS_OP_DROPOUT:
      if (dx) binary(c.s, 1, dy, static_cast<const float*>(f.bufs[0]), dx, T[0].numel, acc);
      return;
    case DLS_OP_GLOBAL_AVGPOOL:
      if (dx) row_mean_bwd(c.s, dy, dx, op.rows, op.cols, acc);
      return;
    case DLS_OP_LAYER_NORM:
      layer_norm_bwd(c.s, fp(T[0]), fp(T[1]), static_cast<const float*>(f.bufs[0]), dy, dx, acc,
                     g.dparams[0].id >= 0 ? fp(g.dparams[0]) : nullptr, g.dparams[1].id >= 0 ? fp(g.dparams[1]) : nullptr,
                     op.rows, op.cols);
      return;
    case DLS_OP_ADD: case DLS_OP_COPY:
      for (int k = 0; k < (op.opcode == DLS_OP_ADD ? 2 : 1); ++k)
        if (float* d = din(g, k)) {
          if (acc_bit(g, k)) binary(c.s, 2, dy, nullptr, d, T[k].numel, true);
          else if (d != dy) CK(cudaMemcpyAsync(d, dy, size_t(T[k].numel) * 4, cudaMemcpyDeviceToDevice, c.s));
        }
      return;
    case DLS_OP_CONCAT: {
      const int axis = int(op.attrs[0]);
      const dls_tensor_desc& y = T[op.ntensors - 1];
      int64_t outer, inner;
      dls_around_axis(&y, axis, &outer, &inner);
      int64_t off = 0;
      for (int i = 0; i + 1 < op.ntensors; ++i) {
        const int64_t len = T[i].dims[axis] * inner;
        if (float* d = din(g, i)) copy2d(c.s, dy + off, y.dims[axis] * inner, d, len, outer, len, acc_bit(g, i));
        off += len;
      }
      return;
    }
    case DLS_OP_TRANSPOSE: {
      if (!dx) return;
      int perm[4] = {0, 1, 2, 3};
      for (int k = 0; k < T[0].rank; ++k) perm[k] = int(op.attrs[k]);
      transpose4(c.s, dy, dx, T[0].dims, perm, true, acc);
      return;
    }
    case DLS_OP_EMBEDDING:
      if (g.dparams[0].id < 0) return;
      CK(cudaMemsetAsync(g.dparams[0].data, 0, size_t(T[1].numel) * 4, c.s));
      embedding_bwd(c.s, static_cast<const int32_t*>(T[0].data), dy, fp(g.dparams[0]), op.rows, op.cols, T[1].dims[0]);
      return;
    case DLS_OP_REORG: {
      if (!dx) return;
      const int64_t extra = int64_t(op.attrs[1]);
      if (extra > 0) copy2d(c.s, dy, op.cols + extra, dx, op.cols, op.rows, op.cols, acc);  // the zeros take none
      else reorg_bwd(c.s, dy, dx, T[0].dims[0], T[0].dims[1], T[0].dims[2], T[0].dims[3], int64_t(op.attrs[0]), acc);
      return;
    }
    case DLS_OP_LOCAL: {
      const LocalDims d = local_dims(op.win);
      if (dx) local_bwd_data(c.s, dy, fp(T[1]), dx, d, acc);
      local_bwd_params(c.s, fp(T[0]), dy, g.dparams[0].id >= 0 ? fp(g.dparams[0]) : nullptr,
                       T[2].id >= 0 && g.dparams[1].id >= 0 ? fp(g.dparams[1]) : nullptr, d);
      return;
    }
    case DLS_OP_RNN: case DLS_OP_GRU: case DLS_OP_LSTM:
      recurrent_bwd(c.dnn, c.s, g, *f.rec, c.conv_ws, c.conv_ws_bytes);
      return;
    case DLS_OP_MULTI_HEAD_ATTENTION: case DLS_OP_CROSS_ATTENTION: attn_bwd(c, g, f, st); return;
    case DLS_OP_POSITIONAL_EMBEDDING: {
      const int64_t N = T[0].dims[0], per = T[0].dims[1] * T[0].dims[2];
      if (dx) {
        if (acc) binary(c.s, 2, dy, nullptr, dx, T[0].numel, true);
        else if (dx != dy) CK(cudaMemcpyAsync(dx, dy, size_t(T[0].numel) * 4, cudaMemcpyDeviceToDevice, c.s));
      }
      if (g.dparams[0].id >= 0) {
        col_sum(c.s, dy, fp(g.dparams[0]), N, per);
        if (T[1].numel > per) CK(cudaMemsetAsync(fp(g.dparams[0]) + per, 0, size_t(T[1].numel - per) * 4, c.s));
      }
      return;
    }
    case DLS_OP_UPSAMPLE:
      if (dx) upsample_bwd(c.s, dy, dx, T[0].dims[0] * T[0].dims[1], T[0].dims[2], T[0].dims[3], int64_t(op.attrs[0]), acc);
      return;
    case DLS_OP_COSINE_EMBEDDING: {
      float* d2 = din(g, 1);
      if (dx || d2)
        cosine_bwd(c.s, c.scal, fp(T[0]), fp(T[1]), fp(T[2]), dx, acc, d2, acc_bit(g, 1), op.rows, op.cols,
                   op.rows / std::max<int64_t>(1, T[0].dims[0]), op.nattrs > 0 ? op.attrs[0] : 0.0);
      return;
    }
    default:
      if (more_is(op.opcode)) {
        more_bwd(c.s, g, f.bufs.empty() ? nullptr : static_cast<const float*>(f.bufs[0]),
                 st.bufs.empty() ? nullptr : static_cast<float*>(st.bufs[0]));
        return;
      }
      if (dx)
        loss_bwd(c.s, c.scal, op.opcode, fp(T[0]), T[1].data,
                 op.opcode == DLS_OP_CROSS_ENTROPY ? static_cast<const float*>(f.bufs[0]) : nullptr, dx, acc, op.rows,
                 op.cols, op.rows / std::max<int64_t>(1, T[0].dims[0]),
                 op.opcode == DLS_OP_CROSS_ENTROPY && op.nattrs > 0 ? float(op.attrs[0]) : 0.f, loss_ignore(op),
                 loss_counted(f.bufs, op.opcode), loss_weights(f.bufs, op.opcode), loss_attr(op, 0), loss_attr(op, 1));
      return;
  }
}

// ---- start-up --------------------------------------------------------------------------------------------
void* be_init(int32_t device, int32_t, char* err, size_t len) {
  StartFacts f;
  f.device = device;
  cudaError_t rc = cudaGetDeviceCount(&f.device_count);
  f.count_status = int(rc);
  if (rc != cudaSuccess) f.device_count = 0;
  cudaDriverGetVersion(&f.driver_version);
  cudaRuntimeGetVersion(&f.runtime_version);
  StartFault k = classify_start(f);
  if (k == StartFault::none) {
    f.cudnn_version = cudnnGetVersion();
    f.cudnn_built = CUDNN_VERSION;
    k = classify_start(f);
  }
  if (k != StartFault::none) {
    dls_put_error(err, len, start_message(k, f).c_str());
    return nullptr;
  }
  auto c = std::make_unique<Ctx>();
  int r = catching(err, len, [&] {
    c->device = device;
    const char* tf = std::getenv("DLS_CUDA_TF32");
    c->tf32 = tf && std::strcmp(tf, "1") == 0;
    CK(cudaSetDevice(device));
    CK(cudaStreamCreateWithFlags(&c->s, cudaStreamNonBlocking));
    CK(cudaStreamCreateWithFlags(&c->copy, cudaStreamNonBlocking));
    BLAS(cublasCreate(&c->blas));
    BLAS(cublasLtCreate(&c->lt));
    DNN(cudnnCreate(&c->dnn));
    // Explicit workspaces: graph capture forbids cuBLAS allocating its own.
    CK(cudaMalloc(&c->blas_ws, kBlasWorkspace));
    BLAS(cublasSetStream(c->blas, c->s));
    BLAS(cublasSetWorkspace(c->blas, c->blas_ws, kBlasWorkspace));
    BLAS(cublasSetMathMode(c->blas, c->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
    DNN(cudnnSetStream(c->dnn, c->s));
    CK(cudaMalloc(&c->scal, sizeof(DevScalars)));
    CK(cudaMemset(c->scal, 0, sizeof(DevScalars)));
    CK(cudaMalloc(&c->nadam, 2 * sizeof(double)));
    CK(cudaMemset(c->nadam, 0, 2 * sizeof(double)));
    CK(cudaMalloc(&c->lamb, 2 * kMaxUpdateTensors * sizeof(double)));
    CK(cudaMalloc(&c->flags, 64));
    CK(cudaMemset(c->flags, 0, 64));
    for (auto& e : c->staged) CK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  });
  if (r) return nullptr;
  return c.release();
}

void be_shutdown(void* ctx) {
  auto* c = static_cast<Ctx*>(ctx);
  if (!c) return;
  cudaStreamSynchronize(c->s);
  cudaStreamSynchronize(c->copy);
  if (c->exec) cudaGraphExecDestroy(c->exec);
  if (c->graph) cudaGraphDestroy(c->graph);
  for (int i = 0; i < kSlots; ++i) {
    if (c->stage[i]) cudaFree(c->stage[i]);
    if (c->staged[i]) cudaEventDestroy(c->staged[i]);
  }
  nccl_destroy(c->nccl);
  cudaFree(c->conv_ws), cudaFree(c->blas_ws), cudaFree(c->scal), cudaFree(c->flags), cudaFree(c->nadam), cudaFree(c->lamb);
  if (c->dnn) cudnnDestroy(c->dnn);
  if (c->lt) cublasLtDestroy(c->lt);
  if (c->blas) cublasDestroy(c->blas);
  if (c->s) cudaStreamDestroy(c->s);
  if (c->copy) cudaStreamDestroy(c->copy);
  delete c;
}

// alloc: the plan's arena and persistent tensors. Checks free memory first so that the core's R0503 names
// the need; the allocation is 256-byte aligned (cudaMalloc) and zero-filled.
void* be_alloc(void* ctx, size_t bytes) {
  auto* c = static_cast<Ctx*>(ctx);
  size_t rounded = (bytes + 255) / 256 * 256;
  void* p = nullptr;
  if (cudaMalloc(&p, rounded ? rounded : 256) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  if (cudaMemsetAsync(p, 0, rounded ? rounded : 256, c->s) != cudaSuccess || cudaStreamSynchronize(c->s) != cudaSuccess) {
    cudaFree(p);
    return nullptr;
  }
  return p;
}
void be_free(void* ctx, void* p) {
  auto* c = static_cast<Ctx*>(ctx);
  cudaStreamSynchronize(c->s);
  cudaFree(p);
}
int be_to_device(void* ctx, void* dst, const void* src, size_t bytes, char* err, size_t len) {
  return catching(err, len, [&] {
    auto* c = static_cast<Ctx*>(ctx);
    // Synchronous from the host's view: the source may be reused as soon as this returns.
    CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->s));
    CK(cudaStreamSynchronize(c->s));
  });
}
int be_to_host(void* ctx, void* dst, const void* src, size_t bytes, char* err, size_t len) {
  return catching(err, len, [&] {
    auto* c = static_cast<Ctx*>(ctx);
    CK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->s));
    CK(cudaStreamSynchronize(c->s));
  });
}
int be_zero(void* ctx, void* p, size_t bytes, char* err, size_t len) {
  return catching(err, len, [&] { CK(cudaMemsetAsync(p, 0, bytes, static_cast<Ctx*>(ctx)->s)); });
}

int be_create_op(void* ctx, const dls_op_desc* op, void** state, char* err, size_t len) {
  if (op->precision != DLS_F32) {  // no reduced-precision kernels here (dls_rt_precision refuses it first)
    dls_put_error(err, len, "this backend computes in f32 only: reduced precision is not supported on CUDA yet");
    return 1;
  }
  auto st = std::make_unique<Op>();
  int rc = catching(err, len, [&] { create(*static_cast<Ctx*>(ctx), *op, *st); });
  if (rc == 0) *state = st.release();
  return rc;
}
int be_create_grad_op(void* ctx, const dls_grad_op_desc* g, void** state, char* err, size_t len) {
  auto st = std::make_unique<Op>();
  int rc = catching(err, len, [&] { create_grad(*static_cast<Ctx*>(ctx), *g, *static_cast<Op*>(g->fwd_state), *st); });
  if (rc == 0) *state = st.release();
  return rc;
}
void be_destroy_op(void*, void* state) { delete static_cast<Op*>(state); }

int be_fwd(void* ctx, const dls_op_desc* op, void* state, const dls_step_ctx* s, char* err, size_t len) {
  return catching(err, len, [&] {
    auto& c = *static_cast<Ctx*>(ctx);
    sync_scalars(c, s, nullptr, nullptr);
    forward(c, *op, *static_cast<Op*>(state), *s);
  });
}
int be_bwd(void* ctx, const dls_grad_op_desc* g, void* state, const dls_step_ctx* s, char* err, size_t len) {
  return catching(err, len, [&] {
    auto& c = *static_cast<Ctx*>(ctx);
    sync_scalars(c, s, nullptr, nullptr);
    backward(c, *g, *static_cast<Op*>(g->fwd_state), *static_cast<Op*>(state));
  });
}

UpdateHyper hyper_of(const dls_update_desc& u) {
  UpdateHyper h;
  h.kind = u.kind, h.momentum = float(u.momentum), h.eps = float(u.eps), h.beta1 = u.beta1, h.beta2 = u.beta2;
  h.nesterov = u.nesterov;
  return h;
}
int update_all(void* ctx, const dls_update_desc* us, int32_t n, const float* loss, char* err, size_t len) {
  return catching(err, len, [&] {
    if (n <= 0) return;
    auto& c = *static_cast<Ctx*>(ctx);
    sync_scalars(c, nullptr, &us[0].lr, &us[0].t);
    std::vector<UpdateTensor> ts;
    for (int i = 0; i < n; ++i) {
      if (us[i].kind != us[0].kind) throw Error("update_all: mixed optimizer kinds");
      ts.push_back({us[i].param, us[i].grad, us[i].state0, us[i].state1, us[i].numel, float(us[i].weight_decay),
                    us[i].state2});
      if (us[i].kind <= DLS_OPT_ADAMW && us[i].kind >= DLS_OPT_ADAM && us[i].nesterov && !us[i].state2)
        throw Error("update_all: amsgrad without its max_exp_avg_sq buffer");
    }
    UpdateHyper h = hyper_of(us[0]);
    h.nadam = c.nadam;
    h.lamb = c.lamb;
    multi_update(c.s, c.scal, h, ts.data(), n, loss);
    CK(cudaGetLastError());
  });
}
int be_update(void* ctx, const dls_update_desc* u, char* err, size_t len) { return update_all(ctx, u, 1, nullptr, err, len); }
int be_clip(void* ctx, int32_t kind, double threshold, float* const* grads, const int64_t* numels, int32_t n,
            const float* loss, double* stats, char* err, size_t len) {
  return catching(err, len, [&] {
    if (kind != DLS_CLIP_NORM && kind != DLS_CLIP_VALUE) throw Error("clip: unknown kind");
    clip_grads(static_cast<Ctx*>(ctx)->s, kind, float(threshold), grads, numels, n, loss, stats);
    CK(cudaGetLastError());
  });
}

int be_sync(void* ctx, char* err, size_t len) {
  return catching(err, len, [&] {
    auto& c = *static_cast<Ctx*>(ctx);
    CK(cudaStreamSynchronize(c.s));
    CK(cudaGetLastError());
    int flag = 0;
    CK(cudaMemcpy(&flag, c.flags, sizeof flag, cudaMemcpyDeviceToHost));
    if (flag) {
      CK(cudaMemset(c.flags, 0, sizeof flag));
      throw Error("embedding index of row " + std::to_string(flag - 1) + " is outside the table");
    }
  });
}

// ---- extensions -------------------------------------------------------------------------------------------
int begin_capture(void* ctx, char* err, size_t len) {
  return catching(err, len, [&] {
    auto& c = *static_cast<Ctx*>(ctx);
    if (c.capturing) throw Error("begin_capture: already capturing");
    if (c.exec) {
      CK(cudaGraphExecDestroy(c.exec));
      c.exec = nullptr;
    }
    if (c.graph) {
      CK(cudaGraphDestroy(c.graph));
      c.graph = nullptr;
    }
    CK(cudaStreamSynchronize(c.s));
    CK(cudaStreamBeginCapture(c.s, cudaStreamCaptureModeThreadLocal));
    c.capturing = true;
  });
}
int end_capture(void* ctx, char* err, size_t len) {
  return catching(err, len, [&] {
    auto& c = *static_cast<Ctx*>(ctx);
    if (!c.capturing) throw Error("end_capture without begin_capture");
    c.capturing = false;
    CK(cudaStreamEndCapture(c.s, &c.graph));
    CK(cudaGraphInstantiate(&c.exec, c.graph, 0));
    CK(cudaGraphUpload(c.exec, c.s));
  });
}
int replay(void* ctx, const dls_step_ctx* s, double lr, int64_t t, char* err, size_t len) {
  return catching(err, len, [&] {
    auto& c = *static_cast<Ctx*>(ctx);
    if (!c.exec) throw Error("replay: no captured step");
    sync_scalars(c, s, &lr, &t);
    CK(cudaGraphLaunch(c.exec, c.s));
  });
}
void* host_alloc(void*, size_t bytes) {
  void* p = nullptr;
  return cudaMallocHost(&p, bytes ? bytes : 1) == cudaSuccess ? p : nullptr;
}
void host_free(void*, void* p) { cudaFreeHost(p); }
int prefetch(void* ctx, int32_t slot, const void* src, size_t bytes, char* err, size_t len) {
  return catching(err, len, [&] {
    auto& c = *static_cast<Ctx*>(ctx);
    if (slot < 0 || slot >= kSlots) throw Error("prefetch: slot out of range");
    if (c.stage_bytes[slot] < bytes) {  // first batch only: sized once
      CK(cudaStreamSynchronize(c.copy));
      if (c.stage[slot]) CK(cudaFree(c.stage[slot]));
      CK(cudaMalloc(&c.stage[slot], bytes));
      c.stage_bytes[slot] = bytes;
    }
    CK(cudaMemcpyAsync(c.stage[slot], src, bytes, cudaMemcpyHostToDevice, c.copy));
    CK(cudaEventRecord(c.staged[slot], c.copy));
  });
}
int consume(void* ctx, int32_t slot, void* dst, size_t bytes, char* err, size_t len) {
  return catching(err, len, [&] {
    auto& c = *static_cast<Ctx*>(ctx);
    if (slot < 0 || slot >= kSlots || c.stage_bytes[slot] < bytes) throw Error("consume: slot was not prefetched");
    if (!c.capturing) CK(cudaStreamWaitEvent(c.s, c.staged[slot], 0));
    CK(cudaMemcpyAsync(dst, c.stage[slot], bytes, cudaMemcpyDeviceToDevice, c.s));
  });
}

}  // namespace

int ctx_device(void* ctx) { return static_cast<Ctx*>(ctx)->device; }
void* ctx_stream(void* ctx) { return static_cast<Ctx*>(ctx)->s; }
void*& ctx_nccl(void* ctx) { return static_cast<Ctx*>(ctx)->nccl; }

const dls_backend kCuda = {
    DLS_BACKEND_VERSION, "cuda", be_init, be_shutdown, be_alloc, be_free, be_to_device, be_to_host, be_zero,
    be_create_op, be_create_grad_op, be_destroy_op, be_fwd, be_bwd, be_update, be_sync,
    update_all, begin_capture, end_capture, replay,
    be_clip,
};
const dls_backend_ext kCudaExt = {
    DLS_BACKEND_EXT_VERSION, host_alloc, host_free, prefetch, consume, nccl_init, nccl_allreduce,
    nccl_unique_id, nccl_init_rank, nccl_wait, device_count,
};

}  // namespace dls::cuda

extern "C" const dls_backend* dls_cuda_backend(void) { return &dls::cuda::kCuda; }
extern "C" const dls_backend_ext* dls_cuda_backend_ext(void) { return &dls::cuda::kCudaExt; }
