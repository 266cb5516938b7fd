// CudaNccl.cpp: data parallelism for `on [cuda:0, cuda:1, ...]` in one process: one NCCL communicator per
// device context (ncclCommInitAll; one device works too), gradients pre-scaled by each rank's share of the
// valid rows (CudaPlan shard_grad_weight) and summed in one NCCL group on each context's compute stream,
// so the all-reduce is stream-ordered after the backward and before the update (and capturable).
// Across processes (mpirun, one rank per device): rank 0's ncclGetUniqueId travels over MPI (dist::Comm) and
// every rank joins with ncclCommInitRank; the core's GradReducer then sums each bucket with allreduce (n == 1)
// and waits with nccl_wait, which bounds the wait and aborts the communicator when a peer is gone.
// Built only where CMake found libnccl (DLSPEC_HAVE_NCCL); otherwise the entry points say so.
#include <cuda_runtime.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#ifdef DLSPEC_HAVE_NCCL
#include <nccl.h>
#endif

#include "CudaExt.h"
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

int32_t device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return int32_t(n);
}

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
int nccl_unique_id(char* id, size_t idlen, char* err, size_t len) {
  static_assert(sizeof(ncclUniqueId) == DLS_NCCL_ID_BYTES, "DLS_NCCL_ID_BYTES is NCCL_UNIQUE_ID_BYTES");
  if (idlen < sizeof(ncclUniqueId)) {
    put(err, len, "NCCL: the buffer for the unique id is too small");
    return 1;
  }
  ncclUniqueId u;
  ncclResult_t r = ncclGetUniqueId(&u);
  if (r != ncclSuccess) {
    put(err, len, std::string("NCCL: ncclGetUniqueId: ") + ncclGetErrorString(r));
    return 1;
  }
  std::memcpy(id, &u, sizeof u);
  return 0;
}

int nccl_init_rank(void* ctx, int32_t nranks, int32_t rank, const char* id, char* err, size_t len) {
  ncclUniqueId u;
  std::memcpy(&u, id, sizeof u);
  cudaSetDevice(ctx_device(ctx));
  ncclComm_t comm = nullptr;
  ncclResult_t r = ncclCommInitRank(&comm, nranks, u, rank);
  if (r != ncclSuccess) {
    put(err, len, std::string("NCCL: ncclCommInitRank: ") + ncclGetErrorString(r));
    return 1;
  }
  nccl_destroy(ctx_nccl(ctx));
  ctx_nccl(ctx) = comm;
  return 0;
}

int nccl_wait(void* ctx, double seconds, char* err, size_t len) {
  auto comm = static_cast<ncclComm_t>(ctx_nccl(ctx));
  auto s = static_cast<cudaStream_t>(ctx_stream(ctx));
  cudaSetDevice(ctx_device(ctx));
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    cudaError_t q = cudaStreamQuery(s);
    if (q == cudaSuccess) return 0;
    if (q != cudaErrorNotReady) {
      put(err, len, std::string("CUDA: ") + cudaGetErrorString(q));
      return 1;
    }
    std::string why;
    ncclResult_t a = ncclSuccess;
    if (comm && ncclCommGetAsyncError(comm, &a) == ncclSuccess && a != ncclSuccess && a != ncclInProgress)
      why = std::string("NCCL: ") + ncclGetErrorString(a);
    else if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > seconds)
      why = "NCCL: the all-reduce did not finish within " + std::to_string(int(seconds)) + " s (a rank is gone or hangs)";
    if (!why.empty()) {
      if (comm) ncclCommAbort(comm);
      ctx_nccl(ctx) = nullptr;
      put(err, len, why);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
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
int nccl_unique_id(char*, size_t, char* err, size_t len) { return nccl_init(nullptr, 0, err, len); }
int nccl_init_rank(void*, int32_t, int32_t, const char*, char* err, size_t len) {
  return nccl_init(nullptr, 0, err, len);
}
int nccl_wait(void*, double, char* err, size_t len) { return nccl_init(nullptr, 0, err, len); }
#endif

}  // namespace dls::cuda
