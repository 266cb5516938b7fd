// Training guards: exploding/vanishing gradients, dying ReLU, loss not decreasing, overfitting.
#include <catch2/catch.hpp>
#include <cstdio>

#include "TestUtil.h"
#include "programs/Programs.h"
#include "core/CpuFeatures.h"
#include "train/Guards.h"

using namespace dls;

namespace {
std::unique_ptr<dls_rt> mlp_rt() {
  mlp_config() = ProgramConfig{};
  mlp_config().data = false, mlp_config().batch = 4;
  auto rt = make_runtime(1);
  call(rt.get(), mlp_setup);
  return rt;
}
bool any_contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v)
    if (x.find(s) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST_CASE("gradient norm guards", "[guards]") {
  auto rt = mlp_rt();
  Program p{mlp_setup, mlp_train_step, mlp_eval_step};
  Guards g(rt.get(), 1);
  std::vector<float> big(512 * 784, 100.f);
  write_tensor(rt.get(), rt->params[0].grad, big.data(), big.size() * 4);  // fc1.weight: exploding
  std::vector<std::string> seen;
  set_diagnostic_capture(&seen);
  g.after_step(p, 0, 0, 1.0f);  // fc2..: zero gradients -> vanishing
  set_diagnostic_capture(nullptr);
  CHECK(any_contains(seen, "warning[R0102]: gradient norm of 'fc1.weight'"));
  CHECK(any_contains(seen, "warning[R0103]: gradient norm of 'fc2.weight'"));
}

TEST_CASE("gradient norm guards name a few parameters per step and count the rest", "[guards]") {
  auto rt = mlp_rt();
  Program p{mlp_setup, mlp_train_step, mlp_eval_step};
  size_t trainable = 0;
  for (const auto& prm : rt->params) trainable += prm.trainable;
  REQUIRE(trainable > 4);
  Guards g(rt.get(), 1);  // every gradient is zero: each parameter's gradient vanishes
  std::vector<std::string> seen;
  set_diagnostic_capture(&seen);
  g.after_step(p, 0, 0, 1.0f);
  g.after_step(p, 0, 1, 1.0f);  // each parameter is reported once: nothing new
  set_diagnostic_capture(nullptr);
  size_t r0103 = 0;
  for (const auto& s : seen) r0103 += s.find("warning[R0103]") != std::string::npos;
  CHECK(r0103 == 3);
  CHECK(any_contains(seen, fmt::format("and {} more parameters at this step", trainable - 3)));
}

TEST_CASE("dying ReLU guard points at the ReLU", "[guards]") {
  auto rt = mlp_rt();
  Program p{mlp_setup, mlp_train_step, mlp_eval_step};
  std::vector<float> neg(512, -100.f);
  write_tensor(rt.get(), rt->params[1].value, neg.data(), neg.size() * 4);  // fc1.bias far below zero
  rt->suppress_update = true;
  Guards g(rt.get(), 1);
  std::vector<std::string> seen;
  set_diagnostic_capture(&seen);
  for (int s = 0; s < 10; ++s) {
    call(rt.get(), mlp_train_step);
    g.after_step(p, 0, s, 2.3f);
  }
  set_diagnostic_capture(nullptr);
  CHECK(any_contains(seen, "warning[R0104]: 100% of the units of this ReLU"));
  CHECK(any_contains(seen, "--> mlp.dls:4:3"));
}

TEST_CASE("epoch trend guards", "[guards]") {
  auto rt = mlp_rt();
  std::vector<std::string> seen;
  set_diagnostic_capture(&seen);
  {
    Guards g(rt.get());
    g.after_epoch(0, 2.30, 2.2);
    g.after_epoch(1, 2.31, 2.2);
    g.after_epoch(2, 2.31, 2.2);
  }
  CHECK(any_contains(seen, "warning[R0105]: training loss has not decreased over epochs 1 to 3 of this run"));
  seen.clear();
  {
    Guards g(rt.get());  // a run resumed after epoch 5
    g.after_epoch(5, 2.30, 2.2);
    g.after_epoch(6, 2.31, 2.2);
    g.after_epoch(7, 2.31, 2.2);
  }
  CHECK(any_contains(seen, "warning[R0105]: training loss has not decreased over epochs 6 to 8 of this run"));
  seen.clear();
  {
    Guards g(rt.get());
    g.after_epoch(0, 1.0, 0.9);
    g.after_epoch(1, 0.8, 0.85);
    g.after_epoch(2, 0.6, 0.9);
    g.after_epoch(3, 0.4, 1.0);
  }
  set_diagnostic_capture(nullptr);
  CHECK(any_contains(seen, "warning[R0106]: validation loss rose for 2 epochs"));
}

TEST_CASE("R0411: a gradient that bf16 products flush to zero, which f32 keeps (R0103 at most)", "[guards][precision]") {
  // Inputs of 1e-39 (f32 subnormals): d(fc1.weight) = dy^T x is of that size. bf16's products treat such
  // values as zero, so the gradient comes out exactly zero; f32 keeps them.
  if (!cpu_has_bf16_kernels())
    std::printf("[skipped: this processor has no AVX-512, so no bf16 kernels (R0410); only the f32 half runs]\n");
  for (int32_t precision : {DLS_BF16, DLS_F32}) {
    if (precision == DLS_BF16 && !cpu_has_bf16_kernels()) continue;
    INFO((precision == DLS_BF16 ? "bf16" : "f32"));
    mlp_config() = ProgramConfig{};
    mlp_config().data = false, mlp_config().batch = 4;
    auto rt = make_runtime(1);
    dls_rt_precision(rt.get(), precision);
    call(rt.get(), mlp_setup);
    Program p{mlp_setup, mlp_train_step, mlp_eval_step};
    const auto& x = rt->tensors[rt->io_input].d;
    std::vector<float> tiny(size_t(x.numel), 1e-39f);
    write_tensor(rt.get(), rt->io_input, tiny.data(), tiny.size() * 4);
    rt->suppress_update = true;
    call(rt.get(), mlp_train_step);
    const float loss = read_tensor(rt.get(), rt->io_loss)[0];
    REQUIRE(loss > 0);
    Guards g(rt.get(), 1);
    std::vector<std::string> seen;
    set_diagnostic_capture(&seen);
    g.after_step(p, 0, 0, loss);
    set_diagnostic_capture(nullptr);
    const bool underflow = any_contains(seen, "warning[R0411]: the gradient of 'fc1.weight' is exactly zero");
    CHECK(underflow == (precision == DLS_BF16));
    if (precision == DLS_F32) CHECK(any_contains(seen, "warning[R0103]: gradient norm of 'fc1.weight'"));
  }
}

TEST_CASE("R0410: reduced precision the backend has no kernels for is refused, not ignored", "[guards][precision]") {
  {
    auto rt = make_runtime(1);
    dls_rt_placement(rt.get(), DLS_DEVICE_CUDA, 0, 1);
    dls_rt_precision(rt.get(), DLS_BF16);
    CHECK_THAT(dlt::fault_of([&] { raise_pending(rt.get()); }, Diag::R0410),
               Catch::Contains("precision bf16 is not supported on the CUDA backend yet"));
  }
  {
    auto rt = make_runtime(1);
    dls_rt_precision(rt.get(), DLS_F16);
    CHECK_THAT(dlt::fault_of([&] { raise_pending(rt.get()); }, Diag::R0410),
               Catch::Contains("precision f16 is not supported on the CPU backend yet"));
  }
  {
    // bf16 on the CPU: accepted on an AVX-512 processor (R0412 where it is emulated), refused without one.
    auto rt = make_runtime(1);
    dls_rt_precision(rt.get(), DLS_BF16);
    if (cpu_has_bf16_kernels()) {
      raise_pending(rt.get());
      CHECK(rt->precision == DLS_BF16);
    } else {
      CHECK_THAT(dlt::fault_of([&] { raise_pending(rt.get()); }, Diag::R0410),
                 Catch::Contains("precision bf16 is not supported on the CPU backend yet: this processor has no AVX-512"));
    }
  }
}
