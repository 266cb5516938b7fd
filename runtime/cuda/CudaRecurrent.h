// CudaRecurrent.h: RNN, GRU and LSTM (runtime.h DLS_OP_RNN/GRU/LSTM) on cuDNN's RNN API, for the CUDA
// backend's dispatch (CudaBackend.cpp). Our parameters stay separate tensors in torch.nn's layout; each step
// they are copied into cuDNN's weight space, and the weight gradients are scattered back after the backward.
// Everything is sized at create time; fwd/bwd only enqueue work on the given stream (capturable).
#ifndef DLSPEC_RUNTIME_CUDA_CUDARECURRENT_H
#define DLSPEC_RUNTIME_CUDA_CUDARECURRENT_H
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstddef>
#include <memory>

#include "../core/Backend.h"

namespace dls::cuda {

struct Recurrent;  // per-op state: descriptors, weight space, reserve space, scratch
struct RecurrentDeleter {
  void operator()(Recurrent* r) const;
};
using RecurrentPtr = std::unique_ptr<Recurrent, RecurrentDeleter>;

// Throws std::runtime_error (with a one-line reason) where cuDNN has no cell for the op's attributes or a
// call fails. workspace(): the bytes of temporary workspace fwd/bwd need (shared with convolutions).
RecurrentPtr recurrent_create(cudnnHandle_t dnn, bool tf32, const dls_op_desc& op);
size_t recurrent_workspace(const Recurrent& r);
void recurrent_fwd(cudnnHandle_t dnn, cudaStream_t s, const dls_op_desc& op, Recurrent& r, void* ws, size_t ws_bytes);
// The gradient op's buffers (weight-gradient space, scratch d(x) and d(y)) live in the forward's state.
void recurrent_create_grad(const dls_grad_op_desc& g, Recurrent& r);
void recurrent_bwd(cudnnHandle_t dnn, cudaStream_t s, const dls_grad_op_desc& g, Recurrent& r, void* ws,
                   size_t ws_bytes);

}  // namespace dls::cuda
#endif
