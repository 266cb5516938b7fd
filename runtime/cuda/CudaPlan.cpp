// CudaPlan.cpp: host-side arithmetic of the CUDA backend (see CudaPlan.h).
#include "CudaPlan.h"

#include "../include/dlspec/runtime.h"

#include <algorithm>
#include <cstdio>

namespace dls::cuda {

Gemm gemm_forward(int64_t N, int64_t K, int64_t M) {
  // Column-major view: y^T (M x N, ld M) = (w stored K x M, ld K)^T * (x stored K x N, ld K).
  return Gemm{M, N, K, K, K, M, true, false};
}
Gemm gemm_backward_data(int64_t N, int64_t K, int64_t M) {
  // dx^T (K x N, ld K) = (w stored K x M, ld K) * (dy stored M x N, ld M).
  return Gemm{K, N, M, K, M, K, false, false};
}
Gemm gemm_backward_weights(int64_t N, int64_t K, int64_t M) {
  // dw^T (K x M, ld K) = (x stored K x N, ld K) * (dy stored M x N, ld M)^T.
  return Gemm{K, M, N, K, M, K, false, true};
}

int pick_algo(const std::vector<AlgoCandidate>& c, size_t limit) {
  int best = -1;
  for (int i = 0; i < (int)c.size(); ++i) {
    if (c[i].status != 0 || c[i].algo < 0 || c[i].workspace > limit) continue;
    if (best < 0 || c[i].ms < c[best].ms) best = i;
  }
  return best;
}

size_t shared_workspace(const std::vector<size_t>& req) {
  size_t m = 0;
  for (size_t r : req) m = std::max(m, r);
  return (m + 255) / 256 * 256;
}

RnnCell rnn_cell(int opcode, const double* attrs, int nattrs) {
  switch (opcode) {
    case DLS_OP_RNN:  // activation: 0 tanh, 1 relu, 2 leaky_relu
      if (nattrs < 1) return RnnCell::none;
      return attrs[0] == 0 ? RnnCell::tanh : attrs[0] == 1 ? RnnCell::relu : RnnCell::none;
    case DLS_OP_GRU:  // reset_after
      return nattrs >= 1 && attrs[0] == 1 ? RnnCell::gru : RnnCell::none;
    case DLS_OP_LSTM: return RnnCell::lstm;
    default: return RnnCell::none;
  }
}

int rnn_gates(RnnCell c) {
  switch (c) {
    case RnnCell::relu: case RnnCell::tanh: return 1;
    case RnnCell::gru: return 3;
    case RnnCell::lstm: return 4;
    case RnnCell::none: return 0;
  }
  return 0;
}

std::vector<CopySeg> merge_copies(const std::vector<CopySeg>& segs) {
  std::vector<CopySeg> out;
  for (const CopySeg& s : segs) {
    if (s.bytes == 0) continue;
    if (!out.empty() && out.back().ours + out.back().bytes == s.ours && out.back().theirs + out.back().bytes == s.theirs)
      out.back().bytes += s.bytes;
    else
      out.push_back(s);
  }
  return out;
}

std::vector<int64_t> chunk_starts(const std::vector<int64_t>& numels, int64_t chunk) {
  std::vector<int64_t> s{0};
  for (int64_t n : numels) s.push_back(s.back() + (n + chunk - 1) / chunk);
  return s;
}

std::vector<std::pair<int, int>> launch_groups(int n, int max_tensors) {
  std::vector<std::pair<int, int>> g;
  for (int b = 0; b < n; b += max_tensors) g.push_back({b, std::min(n, b + max_tensors)});
  return g;
}

Shard shard_rows(int64_t batch, int ranks, int rank) {
  const int64_t base = batch / ranks, extra = batch % ranks;
  Shard s;
  s.rows = base + (rank < extra ? 1 : 0);
  s.begin = rank * base + std::min<int64_t>(rank, extra);
  return s;
}

int64_t shard_valid(int64_t batch, int64_t valid, int ranks, int rank) {
  Shard s = shard_rows(batch, ranks, rank);
  return std::clamp<int64_t>(valid - s.begin, 0, s.rows);
}

float shard_grad_weight(int64_t valid_rank, int64_t valid_total) {
  return valid_total > 0 ? float(double(valid_rank) / double(valid_total)) : 0.f;
}

StartFault classify_start(const StartFacts& f) {
  if (f.count_status == 35 /* cudaErrorInsufficientDriver */ || f.count_status == 34 /* stub library */)
    return f.driver_version == 0 ? StartFault::no_driver : StartFault::driver_too_old;
  if (f.count_status != 0 || f.device_count <= 0) return StartFault::no_device;
  if (f.device < 0 || f.device >= f.device_count) return StartFault::bad_index;
  if (f.driver_version > 0 && f.runtime_version > 0 && f.driver_version / 1000 < f.runtime_version / 1000)
    return StartFault::driver_too_old;
  if (f.cudnn_version / 10000 != f.cudnn_built / 10000) return StartFault::cudnn_mismatch;
  if (f.cudnn_version < 90000) return StartFault::cudnn_too_old;
  return StartFault::none;
}

namespace {
std::string ver(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }
std::string dnnver(size_t v) {
  if (v < 10000)  // cuDNN 8 and older: major * 1000 + minor * 100 + patch
    return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 100) + "." + std::to_string(v % 100);
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100);
}
}  // namespace

std::string start_message(StartFault k, const StartFacts& f) {
  const std::string where = "cuda:" + std::to_string(f.device);
  switch (k) {
    case StartFault::none: return "";
    case StartFault::no_driver:
      return "this executable was built for " + where +
             " but no CUDA device is available (no NVIDIA driver: libcuda.so not found); place the model `on cpu`";
    case StartFault::no_device:
      return "this executable was built for " + where + " but no CUDA device is available; place the model `on cpu`";
    case StartFault::bad_index:
      return "this executable was built for " + where + " but this machine has " + std::to_string(f.device_count) +
             " CUDA device" + (f.device_count == 1 ? "" : "s") + " (cuda:0" +
             (f.device_count > 1 ? " .. cuda:" + std::to_string(f.device_count - 1) : std::string()) + ")";
    case StartFault::driver_too_old:
      return "the CUDA driver (" + (f.driver_version ? "supports CUDA " + ver(f.driver_version) : std::string("unknown")) +
             ") is older than the CUDA runtime this executable was built with (" + ver(f.runtime_version) +
             "); update the NVIDIA driver";
    case StartFault::cudnn_mismatch:
      return "cuDNN " + dnnver(f.cudnn_version) + " is loaded but this executable was built against cuDNN " +
             dnnver(f.cudnn_built) + " (major versions differ); install cuDNN " + std::to_string(f.cudnn_built / 10000);
    case StartFault::cudnn_too_old:
      return "cuDNN " + dnnver(f.cudnn_version) + " is too old; cuDNN 9.0 or newer is needed";
  }
  return "";
}

std::string human_bytes(size_t b) {
  char buf[64];
  if (b >= (size_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / double(size_t(1) << 30));
  else if (b >= (size_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", double(b) / double(size_t(1) << 20));
  else std::snprintf(buf, sizeof buf, "%zu bytes", b);
  return buf;
}

std::string memory_message(size_t need, const std::string& what, size_t free_bytes, size_t total_bytes, int device) {
  return "not enough free memory on cuda:" + std::to_string(device) + ": " + what + " needs " + human_bytes(need) +
         " but only " + human_bytes(free_bytes) + " of " + human_bytes(total_bytes) + " is free";
}

}  // namespace dls::cuda
