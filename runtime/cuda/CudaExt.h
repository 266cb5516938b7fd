// CudaExt.h: what the CUDA backend offers beyond the dls_backend table (Backend.h, version 1), for the core
// to call where present: a fused multi-tensor optimizer update with the finiteness check on the device,
// whole-step CUDA graph capture and replay, pinned host memory with next-batch prefetch on a second
// stream, and NCCL gradient all-reduce. Kept out of Backend.h so that the core's table and the CPU
// backend stay unchanged until the core adopts them (then they can be appended to dls_backend).
#ifndef DLSPEC_RUNTIME_CUDA_CUDAEXT_H
#define DLSPEC_RUNTIME_CUDA_CUDAEXT_H
#include "../core/Backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLS_BACKEND_EXT_VERSION 1

typedef struct dls_backend_ext {
  int32_t version;
  // One update of every parameter in one launch (per 48 tensors). All descs share kind and hyper-
  // parameters except weight_decay. lr and t are taken from us[0] and written to device memory, so a
  // captured step replays with the values passed to replay(). loss (a device f32 scalar, may be NULL):
  // when it is not finite the update is skipped on the device, with no host round trip.
  int (*update_all)(void* ctx, const dls_update_desc* us, int32_t n, const float* loss, char* err, size_t errlen);
  // Whole-step CUDA graph. Between begin_capture and end_capture the core issues one training step
  // (zero, fwd, bwd, update_all) exactly as usual; nothing runs then. replay() sets the step scalars
  // (step, seed, valid rows, lr, t) and launches the graph. Valid only while the ops, tensors and
  // workspace stay as they were at capture (they do after setup).
  int (*begin_capture)(void* ctx, char* err, size_t errlen);
  int (*end_capture)(void* ctx, char* err, size_t errlen);
  int (*replay)(void* ctx, const dls_step_ctx* step, double lr, int64_t t, char* err, size_t errlen);
  // Pinned (page-locked) host memory for batches.
  void* (*host_alloc)(void* ctx, size_t bytes);
  void (*host_free)(void* ctx, void* p);
  // prefetch: starts copying host_src (pinned) into a device staging buffer of `slot` (0..3) on the copy
  // stream and returns at once. consume: makes the compute stream wait for that copy, then copies the
  // staging buffer into dev_dst (device-to-device, inside the step: capturable).
  int (*prefetch)(void* ctx, int32_t slot, const void* host_src, size_t bytes, char* err, size_t errlen);
  int (*consume)(void* ctx, int32_t slot, void* dev_dst, size_t bytes, char* err, size_t errlen);
  // Data parallelism in one process: ctxs[i] drives device i of the placement. Creates one NCCL
  // communicator per context (works with n == 1). Returns non-zero where NCCL was not built in.
  int (*nccl_init)(void** ctxs, int32_t n, char* err, size_t errlen);
  // Sum all-reduce of the gradients of every context, each pre-scaled by weights[i]
  // (dls::cuda::shard_grad_weight), in one NCCL group. grads[i][j]: context i's j-th gradient.
  int (*allreduce)(void** ctxs, int32_t n, float* const* const* grads, const int64_t* numels, int32_t ngrads,
                   const float* weights, char* err, size_t errlen);
} dls_backend_ext;

// NULL when the CUDA backend is not built.
const dls_backend_ext* dls_cuda_backend_ext(void);

#ifdef __cplusplus
}
#endif
#endif
