// CudaRecurrent.cpp: RNN (tanh, relu), GRU (reset_after, torch.nn's form) and LSTM on cuDNN 9's RNN API
// (v8 descriptors): `layers` layers, one or two directions (cuDNN's pseudo-layer l * D + d is torch.nn's layer l,
// direction d), linear input, two biases, h_0 = c_0 = 0, batch-major unpacked data ([N, T, F] in, [N, T, D*U]
// out, the directions side by side as torch.nn) with every sequence T steps long.
//  - Weights: cuDNN keeps them in its own weight space. Where each gate's matrix and bias lie there is asked
//    once (cudnnGetRNNWeightParams: linear layers 0..G-1 act on x, G..2G-1 on h, in torch.nn's gate order
//    for both cells: LSTM i, f, g, o; GRU r, z (cuDNN's "update"), n (cuDNN's h~)), and becomes a list of
//    device-to-device copies, joined where adjacent. fwd copies w_ih, w_hh (b_ih, b_hh) in; bias: false
//    leaves cuDNN's biases at zero. bwd zeroes a weight-gradient space, lets cuDNN add into it
//    (CUDNN_WGRAD_MODE_ADD) and copies the gradients out, overwriting dparams as Backend.h says.
//  - cuDNN's y ([N, T, D*U]) is op-owned, since the backward needs it and the plan does not keep the op's
//    output alive; output: sequence copies it out, output: last copies the last layer's final states out of hy
//    ([L*D, N, U]: each direction's [N, U] into its columns of [N, D*U]) and its gradient goes back into the
//    same entries of dhy (zero elsewhere) with a zero dy.
//  - Forward always runs in training mode, so that eval and training forwards have one workspace size and
//    the reserve space a backward reads is the last forward's.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // cuDNN 9 marks parts of the RNN API deprecated
#include "CudaRecurrent.h"

#include <cuda_runtime.h>

#include <climits>
#include <stdexcept>
#include <string>
#include <vector>

#include <dlspec/runtime.h>

#include "../core/RecurrentGeometry.h"
#include "CudaKernels.h"
#include "CudaPlan.h"

namespace dls::cuda {

namespace {
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
void check(cudnnStatus_t e, const char* what) {
  if (e != CUDNN_STATUS_SUCCESS) throw std::runtime_error(std::string(what) + ": " + cudnnGetErrorString(e));
}
#define RC(call) check((call), #call)

cudnnRNNMode_t mode_of(RnnCell c) {
  switch (c) {
    case RnnCell::relu: return CUDNN_RNN_RELU;
    case RnnCell::tanh: return CUDNN_RNN_TANH;
    case RnnCell::gru: return CUDNN_GRU;
    default: return CUDNN_LSTM;
  }
}
}  // namespace

struct Recurrent {
  RnnCell cell = RnnCell::none;
  int G = 0;
  int64_t N = 0, T = 0, F = 0, U = 0, L = 1, D = 1;
  int per = 2;  // parameter tensors per layer and direction: w_ih, w_hh (, b_ih, b_hh)
  bool last = false, bias = false;
  cudnnDropoutDescriptor_t drop = nullptr;
  cudnnRNNDescriptor_t rnn = nullptr;
  cudnnRNNDataDescriptor_t xd = nullptr, yd = nullptr;
  cudnnTensorDescriptor_t hd = nullptr;
  size_t wbytes = 0, work = 0, rbytes = 0;
  void* w = nullptr;        // cuDNN's weight space
  void* dw = nullptr;       // its gradient (grad op)
  void* reserve = nullptr;  // what the training forward keeps for the backward
  int32_t* seq = nullptr;   // device: N lengths, all T
  float* y = nullptr;       // cuDNN's y [N, T, D*U]
  float* hy = nullptr;      // final states [L*D, N, U] (output: last)
  float* dhy = nullptr;     // their gradient: zero but for the last layer's entries (output: last)
  float* dx = nullptr;      // scratch d(x) [N, T, F]: not wanted, or accumulated
  float* dy = nullptr;      // zeros [N, T, D*U] (output: last)
  std::vector<std::vector<CopySeg>> segs;  // per parameter tensor, in the op's order (per * (l * D + d) + k)
  std::vector<void*> mem;

  void* alloc(size_t bytes) {
    void* p = nullptr;
    RC(cudaMalloc(&p, bytes ? bytes : 4));
    mem.push_back(p);
    RC(cudaMemset(p, 0, bytes ? bytes : 4));
    return p;
  }
  ~Recurrent() {
    if (xd) cudnnDestroyRNNDataDescriptor(xd);
    if (yd) cudnnDestroyRNNDataDescriptor(yd);
    if (hd) cudnnDestroyTensorDescriptor(hd);
    if (rnn) cudnnDestroyRNNDescriptor(rnn);
    if (drop) cudnnDestroyDropoutDescriptor(drop);
    for (void* p : mem) cudaFree(p);
  }
};

void RecurrentDeleter::operator()(Recurrent* r) const { delete r; }

namespace {
// Bytes a cuDNN-filled tensor descriptor spans.
size_t desc_bytes(cudnnTensorDescriptor_t d) {
  size_t b = 0;
  RC(cudnnGetTensorSizeInBytes(d, &b));
  return b;
}

// Where each gate's matrix and bias lie in cuDNN's weight space, as copies to and from our tensors.
void locate_weights(cudnnHandle_t dnn, Recurrent& r) {
  cudnnTensorDescriptor_t md = nullptr, bd = nullptr;
  RC(cudnnCreateTensorDescriptor(&md));
  RC(cudnnCreateTensorDescriptor(&bd));
  try {
    const int cells = int(r.L * r.D);
    std::vector<std::vector<CopySeg>> raw(size_t(cells * r.per));
    for (int pl = 0; pl < cells; ++pl)
      for (int lin = 0; lin < 2 * r.G; ++lin) {
        void *m = nullptr, *b = nullptr;
        RC(cudnnGetRNNWeightParams(dnn, r.rnn, pl, r.wbytes, r.w, lin, md, &m, bd, &b));
        const bool rec = lin >= r.G;
        const size_t gate = size_t(lin % r.G), U = size_t(r.U);
        const size_t cols = size_t(rec ? r.U : pl < r.D ? r.F : r.D * r.U);
        if (!m || desc_bytes(md) != U * cols * 4)
          throw std::runtime_error("cuDNN's RNN weight space does not hold a [" + std::to_string(U) + ", " +
                                   std::to_string(cols) + "] matrix for linear layer " + std::to_string(lin) +
                                   " of pseudo-layer " + std::to_string(pl));
        const size_t base = size_t(r.per * pl);
        raw[base + (rec ? 1 : 0)].push_back(
            {gate * U * cols * 4, size_t(static_cast<char*>(m) - static_cast<char*>(r.w)), U * cols * 4});
        if (!r.bias) continue;
        if (!b || desc_bytes(bd) != U * 4)
          throw std::runtime_error("cuDNN's RNN weight space does not hold a bias of " + std::to_string(U) +
                                   " for linear layer " + std::to_string(lin));
        raw[base + (rec ? 3 : 2)].push_back({gate * U * 4, size_t(static_cast<char*>(b) - static_cast<char*>(r.w)), U * 4});
      }
    r.segs.clear();
    for (const auto& v : raw) r.segs.push_back(merge_copies(v));
  } catch (...) {
    cudnnDestroyTensorDescriptor(md);
    cudnnDestroyTensorDescriptor(bd);
    throw;
  }
  cudnnDestroyTensorDescriptor(md);
  cudnnDestroyTensorDescriptor(bd);
}
}  // namespace

RecurrentPtr recurrent_create(cudnnHandle_t dnn, bool tf32, const dls_op_desc& op) {
  const dls_tensor_desc* T = op.tensors;
  RecurrentPtr r(new Recurrent);
  r->cell = rnn_cell(op.opcode, op.attrs, op.nattrs);
  if (r->cell == RnnCell::none)
    throw std::runtime_error(op.opcode == DLS_OP_RNN
                                 ? "rnn with activation leaky_relu has no CUDA kernel (cuDNN's cells are tanh and relu)"
                                 : "gru with reset_after: false has no CUDA kernel (cuDNN's GRU resets after the "
                                   "recurrent product)");
  const RecurrentGeometry geo = recurrent_geometry(op.opcode, op.attrs, op.nattrs);
  r->G = rnn_gates(r->cell);
  if (T[1].id >= 0)
    throw std::runtime_error("a recurrent layer over a masked (padded) sequence has no CUDA kernel yet");
  r->N = T[0].dims[0], r->T = T[0].dims[1], r->F = T[0].dims[2], r->U = T[3].dims[1];
  r->L = geo.layers, r->D = geo.dirs;
  r->per = int((op.ntensors - 3) / (r->L * r->D));  // x, tokens, parameters, y
  r->last = geo.last;
  r->bias = r->per == 4 && T[4].id >= 0;
  if (r->N > INT_MAX || r->T > INT_MAX || r->F > INT_MAX || r->D * r->U > INT_MAX || r->L * r->D * r->N * r->U > INT_MAX ||
      r->L > INT_MAX)
    throw std::runtime_error("recurrent layer dimensions exceed cuDNN's 32-bit sizes");
  const int N = int(r->N), Tn = int(r->T), F = int(r->F), U = int(r->U), L = int(r->L), D = int(r->D);

  RC(cudnnCreateDropoutDescriptor(&r->drop));
  RC(cudnnSetDropoutDescriptor(r->drop, dnn, 0.f, nullptr, 0, 0));  // no dropout between layers
  RC(cudnnCreateRNNDescriptor(&r->rnn));
  RC(cudnnSetRNNDescriptor_v8(r->rnn, CUDNN_RNN_ALGO_STANDARD, mode_of(r->cell), CUDNN_RNN_DOUBLE_BIAS,
                              D == 2 ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT,
                              CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH, F, U, U, L,
                              r->drop,
                              CUDNN_RNN_PADDED_IO_ENABLED));
  const std::vector<int> lengths(size_t(N), Tn);
  RC(cudnnCreateRNNDataDescriptor(&r->xd));
  RC(cudnnSetRNNDataDescriptor(r->xd, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, Tn, N, F,
                               lengths.data(), nullptr));
  RC(cudnnCreateRNNDataDescriptor(&r->yd));
  RC(cudnnSetRNNDataDescriptor(r->yd, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, Tn, N, D * U,
                               lengths.data(), nullptr));
  const int hdims[3] = {L * D, N, U}, hstrides[3] = {N * U, U, 1};
  RC(cudnnCreateTensorDescriptor(&r->hd));
  RC(cudnnSetTensorNdDescriptor(r->hd, CUDNN_DATA_FLOAT, 3, hdims, hstrides));

  RC(cudnnGetRNNWeightSpaceSize(dnn, r->rnn, &r->wbytes));
  r->w = r->alloc(r->wbytes);  // zero: with bias: false cuDNN's biases stay 0
  RC(cudnnGetRNNTempSpaceSizes(dnn, r->rnn, CUDNN_FWD_MODE_TRAINING, r->xd, &r->work, &r->rbytes));
  r->reserve = r->alloc(r->rbytes);
  r->seq = static_cast<int32_t*>(r->alloc(size_t(N) * 4));
  RC(cudaMemcpy(r->seq, lengths.data(), size_t(N) * 4, cudaMemcpyHostToDevice));
  r->y = static_cast<float*>(r->alloc(size_t(r->N * r->T * r->D * r->U) * 4));
  if (r->last) r->hy = static_cast<float*>(r->alloc(size_t(r->L * r->D * r->N * r->U) * 4));
  locate_weights(dnn, *r);
  RC(cudaDeviceSynchronize());  // the zero fills above ran on the default stream
  return r;
}

size_t recurrent_workspace(const Recurrent& r) { return r.work; }

void recurrent_fwd(cudnnHandle_t dnn, cudaStream_t s, const dls_op_desc& op, Recurrent& r, void* ws, size_t ws_bytes) {
  const dls_tensor_desc* T = op.tensors;
  if (ws_bytes < r.work) throw std::runtime_error("recurrent layer: the shared workspace is smaller than cuDNN needs");
  for (size_t k = 0; k < r.segs.size(); ++k)
    for (const CopySeg& c : r.segs[k])
      RC(cudaMemcpyAsync(static_cast<char*>(r.w) + c.theirs, static_cast<const char*>(T[2 + k].data) + c.ours, c.bytes,
                         cudaMemcpyDeviceToDevice, s));
  void* out = T[op.ntensors - 1].data;
  RC(cudnnRNNForward(dnn, r.rnn, CUDNN_FWD_MODE_TRAINING, r.seq, r.xd, T[0].data, r.yd, r.y, r.hd, nullptr, r.hy,
                     r.hd, nullptr, nullptr, r.wbytes, r.w, ws_bytes, ws, r.rbytes, r.reserve));
  const size_t U4 = size_t(r.U) * 4, NU = size_t(r.N * r.U);
  if (!r.last)
    RC(cudaMemcpyAsync(out, r.y, size_t(r.N * r.T * r.D * r.U) * 4, cudaMemcpyDeviceToDevice, s));
  else  // the last layer's direction d: hy[(L-1)*D + d] ([N, U]) into columns d*U.. of [N, D*U]
    for (int64_t d = 0; d < r.D; ++d)
      RC(cudaMemcpy2DAsync(static_cast<char*>(out) + size_t(d) * U4, size_t(r.D) * U4,
                           r.hy + size_t((r.L - 1) * r.D + d) * NU, U4, U4, size_t(r.N), cudaMemcpyDeviceToDevice, s));
}

void recurrent_create_grad(const dls_grad_op_desc& g, Recurrent& r) {
  const bool want_dx = g.nins > 0 && g.dins[0].data;
  if (!r.dw) r.dw = r.alloc(r.wbytes);
  if (!r.dx && (!want_dx || (g.accumulate_mask & 1u))) r.dx = static_cast<float*>(r.alloc(size_t(r.N * r.T * r.F) * 4));
  if (!r.dy && r.last) r.dy = static_cast<float*>(r.alloc(size_t(r.N * r.T * r.D * r.U) * 4));
  if (!r.dhy && r.last) r.dhy = static_cast<float*>(r.alloc(size_t(r.L * r.D * r.N * r.U) * 4));
  RC(cudaDeviceSynchronize());
}

void recurrent_bwd(cudnnHandle_t dnn, cudaStream_t s, const dls_grad_op_desc& g, Recurrent& r, void* ws,
                   size_t ws_bytes) {
  const dls_tensor_desc* T = g.fwd->tensors;
  if (ws_bytes < r.work) throw std::runtime_error("recurrent layer: the shared workspace is smaller than cuDNN needs");
  float* want = g.nins > 0 ? static_cast<float*>(g.dins[0].data) : nullptr;
  const bool acc = want && (g.accumulate_mask & 1u);
  float* dx = want && !acc ? want : r.dx;
  // output: sequence: d(y) is every step's; output: last: only the last layer's hy's, through dhy.
  const size_t U4 = size_t(r.U) * 4, NU = size_t(r.N * r.U);
  if (r.last)
    for (int64_t d = 0; d < r.D; ++d)
      RC(cudaMemcpy2DAsync(r.dhy + size_t((r.L - 1) * r.D + d) * NU, U4,
                           static_cast<const char*>(g.dout.data) + size_t(d) * U4, size_t(r.D) * U4, U4, size_t(r.N),
                           cudaMemcpyDeviceToDevice, s));
  RC(cudnnRNNBackwardData_v8(dnn, r.rnn, r.seq, r.yd, r.y, r.last ? r.dy : g.dout.data, r.xd, dx, r.hd, nullptr,
                             r.last ? r.dhy : nullptr, nullptr, r.hd, nullptr, nullptr, nullptr, r.wbytes, r.w,
                             ws_bytes, ws, r.rbytes, r.reserve));
  if (acc) binary(s, 2, r.dx, nullptr, want, r.N * r.T * r.F, true);
  // The gradient of parameter tensor k (the op's tensor 2 + k): dparam_of, or dparams where only those are given.
  auto dparam = [&](size_t k) -> const dls_tensor_desc* {
    const dls_tensor_desc* t = g.dparam_of ? &g.dparam_of[2 + k] : k < 4 ? &g.dparams[k] : nullptr;
    return t && t->id >= 0 ? t : nullptr;
  };
  bool any = false;
  for (size_t k = 0; k < r.segs.size(); ++k) any |= dparam(k) != nullptr;
  if (!any) return;
  RC(cudaMemsetAsync(r.dw, 0, r.wbytes, s));
  RC(cudnnRNNBackwardWeights_v8(dnn, r.rnn, CUDNN_WGRAD_MODE_ADD, r.seq, r.xd, T[0].data, r.hd, nullptr, r.yd, r.y,
                                r.wbytes, r.dw, ws_bytes, ws, r.rbytes, r.reserve));
  for (size_t k = 0; k < r.segs.size(); ++k) {
    const dls_tensor_desc* t = dparam(k);
    if (!t) continue;
    for (const CopySeg& c : r.segs[k])
      RC(cudaMemcpyAsync(static_cast<char*>(t->data) + c.ours, static_cast<const char*>(r.dw) + c.theirs, c.bytes,
                         cudaMemcpyDeviceToDevice, s));
  }
}

}  // namespace dls::cuda
