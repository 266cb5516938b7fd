// CudaPlan.h: the CUDA backend's host-side arithmetic, free of CUDA headers so that it is unit-tested on
// machines without a GPU: row-major GEMM mapping onto column-major BLAS, algorithm choice among measured
// candidates, workspace sizing, multi-tensor optimizer chunking, data-parallel batch split and the
// start-up checks' messages.
#ifndef DLSPEC_RUNTIME_CUDA_CUDAPLAN_H
#define DLSPEC_RUNTIME_CUDA_CUDAPLAN_H
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dls::cuda {

// One column-major GEMM C(m x n, ldc) = op(A)(m x k) * op(B)(k x n).
struct Gemm {
  int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  bool ta = false, tb = false;
};
// Dense y[N,M] = x[N,K] w[M,K]^T over row-major tensors, as column-major GEMMs (A, B, C named per call):
Gemm gemm_forward(int64_t N, int64_t K, int64_t M);      // A = w, B = x, C = y
Gemm gemm_backward_data(int64_t N, int64_t K, int64_t M);   // A = w, B = dy, C = dx
Gemm gemm_backward_weights(int64_t N, int64_t K, int64_t M);  // A = x, B = dy, C = dw

// A candidate algorithm as measured by cudnnFind* (status 0 = usable).
struct AlgoCandidate {
  int algo = -1;
  int status = 0;
  float ms = 0;
  size_t workspace = 0;
};
// Index of the fastest usable candidate whose workspace fits the limit (candidates come sorted by time
// from cuDNN, but this does not rely on it); -1 when none is usable.
int pick_algo(const std::vector<AlgoCandidate>& c, size_t workspace_limit);
// Workspace bytes shared by all ops: the largest requirement, rounded up to 256 bytes.
size_t shared_workspace(const std::vector<size_t>& requirements);

// Recurrent layers (CudaRecurrent.cpp) on cuDNN's RNN API. The cuDNN cell for an op (runtime.h
// DLS_OP_RNN/GRU/LSTM and its activation / reset_after attribute), or none where cuDNN has no such cell:
// rnn leaky_relu, gru reset_after = 0 (cuDNN's GRU applies the reset gate after the recurrent product).
enum class RnnCell { relu, tanh, lstm, gru, none };
RnnCell rnn_cell(int opcode, const double* attrs, int nattrs);
// Gates per step (1, 3, 4) of a cell; 0 for none.
int rnn_gates(RnnCell c);
// One device-to-device copy between a parameter tensor and cuDNN's weight space: `bytes` at offset `ours`
// of the tensor and at offset `theirs` of the weight space.
struct CopySeg {
  size_t ours = 0, theirs = 0, bytes = 0;
  bool operator==(const CopySeg&) const = default;
};
// Joins segments that continue each other on both sides, keeping the order (cuDNN usually keeps a layer's
// gate matrices adjacent, so a whole weight_ih becomes one copy).
std::vector<CopySeg> merge_copies(const std::vector<CopySeg>& segs);

// Multi-tensor optimizer launch: each tensor is cut into chunks of `chunk` elements; block b of the
// launch handles chunk b. first_block[i] is tensor i's first block; the last entry is the block count.
std::vector<int64_t> chunk_starts(const std::vector<int64_t>& numels, int64_t chunk);
// Batches of at most `max_tensors` tensors (kernel parameter space), as [begin, end) index pairs.
std::vector<std::pair<int, int>> launch_groups(int ntensors, int max_tensors);

// Data parallelism over `ranks` devices: rank r gets rows [begin, begin + rows) of the global batch.
struct Shard {
  int64_t begin = 0, rows = 0;
};
Shard shard_rows(int64_t batch, int ranks, int rank);
// Valid rows of rank r's shard when only `valid` rows of the global batch are real samples.
int64_t shard_valid(int64_t batch, int64_t valid, int ranks, int rank);
// Each rank's loss averages over its own valid rows; scaling its gradient by valid_r / valid before a sum
// all-reduce gives the gradient of the mean over the whole batch.
float shard_grad_weight(int64_t valid_rank, int64_t valid_total);

// Start-up checks, in the order they run; each failure has one message for the R0501 diagnostic.
enum class StartFault { none, no_driver, no_device, bad_index, driver_too_old, cudnn_too_old, cudnn_mismatch };
struct StartFacts {
  int device = 0;           // the placement's device index
  int device_count = 0;     // cudaGetDeviceCount (0 when it failed)
  int count_status = 0;     // its error code: 0 ok, 35 insufficient driver, 100 no device
  int driver_version = 0;   // cudaDriverGetVersion (e.g. 13000)
  int runtime_version = 0;  // cudaRuntimeGetVersion the binary was built with
  size_t cudnn_version = 0; // cudnnGetVersion (e.g. 91400)
  size_t cudnn_built = 0;   // CUDNN_VERSION at build time
};
StartFault classify_start(const StartFacts& f);
std::string start_message(StartFault k, const StartFacts& f);
// "not enough free device memory" text: what is needed, what for, what is free.
std::string memory_message(size_t need, const std::string& what, size_t free_bytes, size_t total_bytes, int device);
std::string human_bytes(size_t b);

}  // namespace dls::cuda
#endif
