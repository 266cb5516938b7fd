// bench_main.cpp: training throughput of the hand-made mlp (batch 128) and LeNet (batch 64) programs on
// synthetic data already in memory, as bench/torch_cpu_anchor.py measures PyTorch: 8 random batches,
// 10 warm-up steps, then `iters` timed steps. Prints one JSON line; DLS_PROFILE=1 adds a per-op table.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/Rng.h"
#include "programs/Programs.h"
#include "train/Trainer.h"

using namespace dls;

static double bench(const char* name, dls_gen_fn setup, dls_gen_fn train, dls_gen_fn eval, ProgramConfig& cfg,
                    int iters, int threads) {
  cfg.data = false;
  auto rt = make_runtime(threads);
  call(rt.get(), setup);
  const Tensor& x = rt->tensors[rt->io_input];
  const int64_t B = x.d.dims[0], n = x.d.numel;
  std::vector<Batch> batches(8);
  Rng rng(42);
  for (auto& b : batches) {
    b.x.resize(size_t(n));
    for (auto& v : b.x) v = float(rng.normal());
    b.labels.resize(size_t(B));
    for (auto& l : b.labels) l = int32_t(rng.below(10));
    b.valid = B;
  }
  auto step = [&](int i) {
    bind_batch(rt.get(), batches[size_t(i % 8)]);
    rt->step.step = i;
    call(rt.get(), train);
  };
  for (int i = 0; i < 10; ++i) step(i);
  const bool profile = std::getenv("DLS_PROFILE") != nullptr;
  rt->profile = profile;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) step(i);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (profile) {
    std::fprintf(stderr, "%s: %.3f ms/step\n", name, 1e3 * s / iters);
    for (size_t i = 0; i < rt->op_seconds.size(); ++i)
      std::fprintf(stderr, "  fwd %-14s %8.3f ms\n", opcode_name(rt->ops[i]->opcode), 1e3 * rt->op_seconds[i] / iters);
    for (size_t i = 0; i < rt->gop_seconds.size(); ++i)
      std::fprintf(stderr, "  bwd %-14s %8.3f ms\n", opcode_name(rt->ops[rt->gops[i]->d.fwd->id]->opcode), 1e3 * rt->gop_seconds[i] / iters);
    std::fprintf(stderr, "  update             %8.3f ms\n", 1e3 * rt->update_seconds / iters);
  }
  (void)eval;
  return double(iters) * double(B) / s;
}

int main(int argc, char** argv) {
  int threads = 2, scale = 1;
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--scale")) scale = std::atoi(argv[i + 1]);
  }
  try {
    double mlp = bench("mlp", mlp_setup, mlp_train_step, mlp_eval_step, mlp_config(), 200 * scale, threads);
    std::printf("mlp_mnist_b128 %.0f\n", mlp);
    std::fflush(stdout);
    double lenet = bench("lenet", lenet_setup, lenet_train_step, lenet_eval_step, lenet_config(), 100 * scale, threads);
    std::printf("lenet_mnist_b64 %.0f\n", lenet);
    std::printf("{\"dlspec\":\"cpu\",\"threads\":%d,\"img_s\":{\"mlp_mnist_b128\":%.0f,\"lenet_mnist_b64\":%.0f}}\n", threads, mlp, lenet);
  } catch (const Fault& f) {
    emit(f);
    return 1;
  }
  return 0;
}
