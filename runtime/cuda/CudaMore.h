// CudaMore.h: the CUDA kernels of the ops added with core/EltMath.h's formulas (ops.def ELU .. ADAPTIVE_AVGPOOL):
// the activations, prelu, glu, broadcasting mul/sub/div, reductions over axes and adaptive average pooling.
// Simple grid-stride kernels (CudaMoreKernels.cu); sums over broadcast or reduced elements use atomics into
// op-owned scratch. Like CudaKernels.h's launchers they run on the given stream, allocate nothing and never
// synchronise.
#ifndef DLSPEC_RUNTIME_CUDA_CUDAMORE_H
#define DLSPEC_RUNTIME_CUDA_CUDAMORE_H
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "../core/Backend.h"

namespace dls::cuda {

// Whether the opcode (after decode_op: the row's KERNEL) is one of these ops.
bool more_is(int opcode);
// Floats of op-owned scratch the forward op and its gradient op need (0: none).
size_t more_fwd_scratch(const dls_op_desc& op);
size_t more_bwd_scratch(const dls_grad_op_desc& g);
// fwd_scratch: the forward op's scratch (read by the gradient of max).
void more_fwd(cudaStream_t s, const dls_op_desc& op, float* fwd_scratch);
void more_bwd(cudaStream_t s, const dls_grad_op_desc& g, const float* fwd_scratch, float* scratch);

// slice, pad, repeat over core/IndexMap.h's map (device int32, one entry per output element): y[i] = x[map[i]], or
// `value` where it is -1; the gradient sums d(y) into scratch (nx floats) and writes (=|+=) dx from it.
void index_gather(cudaStream_t s, const float* x, const int32_t* map, float* y, int64_t ny, float value);
void index_scatter(cudaStream_t s, const float* dy, const int32_t* map, float* scratch, float* dx, int64_t ny, int64_t nx,
                   bool acc);

}  // namespace dls::cuda
#endif
