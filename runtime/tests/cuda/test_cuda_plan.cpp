// test_cuda_plan.cpp: the CUDA backend's host-side logic, checked without a GPU.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <vector>

#include "cuda/CudaPlan.h"
#include "include/dlspec/runtime.h"

using namespace dls::cuda;

namespace {
// Reference column-major GEMM over plain arrays, to check the row-major mapping numerically.
void colmajor_gemm(const Gemm& g, const float* A, const float* B, float* C) {
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      float s = 0;
      for (int64_t k = 0; k < g.k; ++k) {
        float a = g.ta ? A[i * g.lda + k] : A[k * g.lda + i];
        float b = g.tb ? B[k * g.ldb + j] : B[j * g.ldb + k];
        s += a * b;
      }
      C[j * g.ldc + i] = s;
    }
}
}  // namespace

TEST_CASE("dense GEMM mapping reproduces row-major y = x w^T, dx = dy w, dw = dy^T x") {
  const int64_t N = 3, K = 4, M = 2;
  std::vector<float> x(N * K), w(M * K), dy(N * M);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i) * 0.5f - 1;
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i % 3) - 0.25f * float(i);
  for (size_t i = 0; i < dy.size(); ++i) dy[i] = float(i) - 2;
  std::vector<float> y(N * M), dx(N * K), dw(M * K);
  colmajor_gemm(gemm_forward(N, K, M), w.data(), x.data(), y.data());
  colmajor_gemm(gemm_backward_data(N, K, M), w.data(), dy.data(), dx.data());
  colmajor_gemm(gemm_backward_weights(N, K, M), x.data(), dy.data(), dw.data());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m) {
      float s = 0;
      for (int64_t k = 0; k < K; ++k) s += x[n * K + k] * w[m * K + k];
      CHECK(y[n * M + m] == Approx(s));
    }
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      float s = 0;
      for (int64_t m = 0; m < M; ++m) s += dy[n * M + m] * w[m * K + k];
      CHECK(dx[n * K + k] == Approx(s));
    }
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) {
      float s = 0;
      for (int64_t n = 0; n < N; ++n) s += dy[n * M + m] * x[n * K + k];
      CHECK(dw[m * K + k] == Approx(s));
    }
  Gemm f = gemm_forward(128, 784, 512);
  CHECK(f.m == 512);
  CHECK(f.n == 128);
  CHECK(f.k == 784);
  CHECK(f.ta);
  CHECK_FALSE(f.tb);
}

TEST_CASE("algorithm choice: fastest usable candidate within the workspace limit") {
  std::vector<AlgoCandidate> c = {{1, 0, 0.5f, 1 << 30}, {2, 3, 0.1f, 0}, {0, 0, 0.9f, 0}, {6, 0, 0.7f, 1 << 20}};
  CHECK(pick_algo(c, size_t(1) << 31) == 0);  // algo 1
  CHECK(pick_algo(c, size_t(1) << 21) == 3);  // algo 6 (algo 1 is too big, algo 2 failed)
  CHECK(pick_algo(c, 0) == 2);
  CHECK(pick_algo({{1, 1, 0.1f, 0}}, 100) == -1);
  CHECK(pick_algo({}, 100) == -1);
}

TEST_CASE("shared workspace is the largest requirement rounded to 256 bytes") {
  CHECK(shared_workspace({}) == 0);
  CHECK(shared_workspace({1, 300, 17}) == 512);
  CHECK(shared_workspace({256}) == 256);
}

TEST_CASE("multi-tensor update chunking") {
  auto s = chunk_starts({4096, 1, 8193, 0}, 4096);
  REQUIRE(s.size() == 5);
  CHECK(s == std::vector<int64_t>{0, 1, 2, 5, 5});
  auto g = launch_groups(100, 48);
  REQUIRE(g.size() == 3);
  CHECK(g[0] == std::pair<int, int>{0, 48});
  CHECK(g[2] == std::pair<int, int>{96, 100});
  CHECK(launch_groups(0, 48).empty());
}

TEST_CASE("data-parallel batch split and gradient weights") {
  int64_t total = 0;
  for (int r = 0; r < 3; ++r) {
    Shard s = shard_rows(128, 3, r);
    CHECK(s.begin == total);
    total += s.rows;
  }
  CHECK(total == 128);
  CHECK(shard_rows(128, 3, 0).rows == 43);
  CHECK(shard_rows(128, 3, 2).rows == 42);
  CHECK(shard_rows(128, 1, 0).rows == 128);  // one device: the whole batch
  // 100 valid rows of 128 over 2 ranks: rank 0 has rows 0..63 (all valid), rank 1 has 64..127 (36 valid)
  CHECK(shard_valid(128, 100, 2, 0) == 64);
  CHECK(shard_valid(128, 100, 2, 1) == 36);
  CHECK(shard_valid(128, 10, 4, 3) == 0);
  float w0 = shard_grad_weight(64, 100), w1 = shard_grad_weight(36, 100);
  CHECK(w0 + w1 == Approx(1.0f));
  CHECK(shard_grad_weight(0, 0) == 0.f);
}

TEST_CASE("start-up checks map to one message each") {
  StartFacts f;
  f.device = 0, f.device_count = 1, f.count_status = 0, f.driver_version = 13000, f.runtime_version = 13000;
  f.cudnn_version = 91400, f.cudnn_built = 91900;
  CHECK(classify_start(f) == StartFault::none);

  StartFacts none = f;
  none.count_status = 100, none.device_count = 0;
  CHECK(classify_start(none) == StartFault::no_device);
  CHECK(start_message(StartFault::no_device, none) ==
        "this executable was built for cuda:0 but no CUDA device is available; place the model `on cpu`");

  StartFacts nodrv = f;
  nodrv.count_status = 35, nodrv.device_count = 0, nodrv.driver_version = 0;
  CHECK(classify_start(nodrv) == StartFault::no_driver);
  CHECK(start_message(StartFault::no_driver, nodrv).find("no CUDA device is available") != std::string::npos);

  StartFacts idx = f;
  idx.device = 2, idx.device_count = 2;
  CHECK(classify_start(idx) == StartFault::bad_index);
  CHECK(start_message(StartFault::bad_index, idx) ==
        "this executable was built for cuda:2 but this machine has 2 CUDA devices (cuda:0 .. cuda:1)");

  StartFacts old = f;
  old.count_status = 35, old.driver_version = 12040;
  CHECK(classify_start(old) == StartFault::driver_too_old);
  CHECK(start_message(StartFault::driver_too_old, old).find("CUDA 12.4") != std::string::npos);

  StartFacts dnn = f;
  dnn.cudnn_version = 8907;
  CHECK(classify_start(dnn) == StartFault::cudnn_mismatch);
  CHECK(start_message(StartFault::cudnn_mismatch, dnn).find("cuDNN 0.89.7") == std::string::npos);
  CHECK(start_message(StartFault::cudnn_mismatch, dnn).find("built against cuDNN 9.19.0") != std::string::npos);
}

TEST_CASE("memory message says how much, for what, and what is free") {
  std::string m = memory_message(size_t(3) << 30, "the step arena", size_t(1) << 30, size_t(80) << 30, 0);
  CHECK(m == "not enough free memory on cuda:0: the step arena needs 3.00 GiB but only 1.00 GiB of 80.00 GiB is free");
  CHECK(human_bytes(100) == "100 bytes");
  CHECK(human_bytes(size_t(5) << 20) == "5.0 MiB");
}

TEST_CASE("recurrent ops map onto cuDNN's cells where cuDNN has one") {
  const double tanh_[] = {0, 0.01, 0}, relu[] = {1, 0.01, 1}, leaky[] = {2, 0.2, 0};
  CHECK(rnn_cell(DLS_OP_RNN, tanh_, 3) == RnnCell::tanh);
  CHECK(rnn_cell(DLS_OP_RNN, relu, 3) == RnnCell::relu);
  CHECK(rnn_cell(DLS_OP_RNN, leaky, 3) == RnnCell::none);
  const double after[] = {1, 0}, before[] = {0, 1};
  CHECK(rnn_cell(DLS_OP_GRU, after, 2) == RnnCell::gru);
  CHECK(rnn_cell(DLS_OP_GRU, before, 2) == RnnCell::none);
  const double last[] = {1};
  CHECK(rnn_cell(DLS_OP_LSTM, last, 1) == RnnCell::lstm);
  CHECK(rnn_cell(DLS_OP_DENSE, last, 1) == RnnCell::none);
  CHECK(rnn_gates(RnnCell::tanh) == 1);
  CHECK(rnn_gates(RnnCell::relu) == 1);
  CHECK(rnn_gates(RnnCell::gru) == 3);
  CHECK(rnn_gates(RnnCell::lstm) == 4);
  CHECK(rnn_gates(RnnCell::none) == 0);
}

TEST_CASE("weight-space copies join where both sides continue, and only there") {
  // Four gate matrices of 48 bytes, adjacent in the weight space: one copy.
  std::vector<CopySeg> gates;
  for (size_t k = 0; k < 4; ++k) gates.push_back({k * 48, 1024 + k * 48, 48});
  CHECK(merge_copies(gates) == std::vector<CopySeg>{{0, 1024, 192}});
  // A gap in the weight space (cuDNN's alignment) splits it; empty segments vanish; order is kept.
  std::vector<CopySeg> gap = {{0, 0, 16}, {16, 16, 16}, {32, 64, 16}, {48, 80, 0}, {48, 80, 16}};
  CHECK(merge_copies(gap) == std::vector<CopySeg>{{0, 0, 32}, {32, 64, 32}});
  // Contiguous in the weight space but not in the tensor (gates in another order): no join.
  std::vector<CopySeg> swapped = {{16, 0, 16}, {0, 16, 16}};
  CHECK(merge_copies(swapped) == swapped);
  CHECK(merge_copies({}).empty());
}
