// CudaExt.h: what the CUDA backend offers beyond the dls_backend table (Backend.h): pinned host memory with
// next-batch prefetch on a second stream (not yet called by the core), and NCCL gradient all-reduce (called by
// dist::GradReducer for every replica: the ranks of `mpirun` and the devices of a device list, one thread each). The
// fused multi-tensor update and whole-step graphs moved into dls_backend (version 3), where the core uses them.
#ifndef DLSPEC_RUNTIME_CUDA_CUDAEXT_H
#define DLSPEC_RUNTIME_CUDA_CUDAEXT_H
#include "../core/Backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLS_BACKEND_EXT_VERSION 4

typedef struct dls_backend_ext {
  int32_t version;
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

  // ---- version 3: one rank per device across processes (mpirun), the communicator bootstrapped over MPI ----
  // Writes a new NCCL unique id (ncclGetUniqueId) into id[0..idlen) (idlen >= DLS_NCCL_ID_BYTES): rank 0 makes
  // it and broadcasts it to the others.
  int (*nccl_unique_id)(char* id, size_t idlen, char* err, size_t errlen);
  // Joins ctx to the communicator of `nranks` ranks named by `id` as rank `rank` (ncclCommInitRank); allreduce
  // with n == 1 and this ctx then sums over the ranks.
  int (*nccl_init_rank)(void* ctx, int32_t nranks, int32_t rank, const char* id, char* err, size_t errlen);
  // Waits up to `seconds` for ctx's stream (the all-reduces on it) to finish, polling NCCL's asynchronous
  // errors; on a timeout or an error it aborts the communicator (ncclCommAbort) and returns 1 (err says which),
  // so that a peer that died or hangs never blocks this rank for ever.
  int (*nccl_wait)(void* ctx, double seconds, char* err, size_t errlen);

  // ---- version 4: several devices in one process (`on [cuda:0, cuda:1, ...]`, runtime/dist/Replicas.h) ----
  // The number of CUDA devices this process can use (cudaGetDeviceCount; 0 when there is no driver or device).
  int32_t (*device_count)(void);
} dls_backend_ext;

#define DLS_NCCL_ID_BYTES 128

// NULL when the CUDA backend is not built.
const dls_backend_ext* dls_cuda_backend_ext(void);

#ifdef __cplusplus
}
#endif
#endif
