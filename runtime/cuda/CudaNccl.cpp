// CudaNccl.cpp: data parallelism for `on [cuda:0, cuda:1, ...]` in one process: one NCCL communicator per
// device context (ncclCommInitAll; one device works too), gradients pre-scaled by each rank's share of the
// valid rows (CudaPlan shard_grad_weight) and summed in one NCCL group on each context's compute stream,
// so the all-reduce is stream-ordered after the backward and before the update (and capturable).
// Built only where CMake found libnccl (DLSPEC_HAVE_NCCL); otherwise the entry points say so.
#include <cuda_runtime.h>

#include <string>
#include <vector>

#ifdef DLSPEC_HAVE_NCCL
#include <nccl.h>
#endif

#include "CudaKernels.h"

namespace dls::cuda {

int ctx_device(void* ctx);
void* ctx_stream(void* ctx);
void*& ctx_nccl(void* ctx);

namespace {
void put(char* err, size_t len, const std::string& s) {
  if (err && len) {
    size_t n = s.size() < len - 1 ? s.size() : len - 1;
    s.copy(err, n);
    err[n] = 0;
  }
}
}  // namespace

#ifdef DLSPEC_HAVE_NCCL
void nccl_destroy(void* comm) {
  if (comm) ncclCommDestroy(static_cast<ncclComm_t>(comm));
}

int nccl_init(void** ctxs, int32_t n, char* err, size_t len) {
  std::vector<int> devs(n);
  for (int i = 0; i < n; ++i) devs[i] = ctx_device(ctxs[i]);
  std::vector<ncclComm_t> comms(n);
  ncclResult_t r = ncclCommInitAll(comms.data(), n, devs.data());
  if (r != ncclSuccess) {
    put(err, len, std::string("NCCL: ") + ncclGetErrorString(r));
    return 1;
  }
  for (int i = 0; i < n; ++i) ctx_nccl(ctxs[i]) = comms[i];
  return 0;
}

int nccl_allreduce(void** ctxs, int32_t n, float* const* const* grads, const int64_t* numels, int32_t ngrads,
                   const float* weights, char* err, size_t len) {
  for (int i = 0; i < n; ++i) {
    if (!ctx_nccl(ctxs[i])) {
      put(err, len, "NCCL all-reduce before nccl_init");
      return 1;
    }
    cudaSetDevice(ctx_device(ctxs[i]));
    auto s = static_cast<cudaStream_t>(ctx_stream(ctxs[i]));
    if (weights[i] != 1.f)
      for (int j = 0; j < ngrads; ++j) binary(s, 3, grads[i][j], nullptr, grads[i][j], numels[j], false, weights[i]);
  }
  ncclResult_t r = ncclGroupStart();
  for (int i = 0; i < n && r == ncclSuccess; ++i)
    for (int j = 0; j < ngrads && r == ncclSuccess; ++j)
      r = ncclAllReduce(grads[i][j], grads[i][j], size_t(numels[j]), ncclFloat32, ncclSum,
                        static_cast<ncclComm_t>(ctx_nccl(ctxs[i])), static_cast<cudaStream_t>(ctx_stream(ctxs[i])));
  ncclResult_t r2 = ncclGroupEnd();
  if (r == ncclSuccess) r = r2;
  if (r != ncclSuccess) {
    put(err, len, std::string("NCCL: ") + ncclGetErrorString(r));
    return 1;
  }
  return 0;
}
#else
void nccl_destroy(void*) {}
int nccl_init(void**, int32_t, char* err, size_t len) {
  put(err, len, "this runtime was built without NCCL (libnccl not found): multi-device placement is unavailable");
  return 1;
}
int nccl_allreduce(void**, int32_t, float* const* const*, const int64_t*, int32_t, const float*, char* err, size_t len) {
  return nccl_init(nullptr, 0, err, len);
}
#endif

}  // namespace dls::cuda
