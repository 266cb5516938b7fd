// CpuFeatures: what the CPU backend's reduced-precision kernels need of the processor. oneDNN 2.6 computes bf16
// products only on AVX-512 processors (its `avx512_core`: AVX512F, BW, VL and DQ): natively with AVX512_BF16,
// else by emulation; on a processor without AVX-512 it has no bf16 kernel at all.
#pragma once

namespace dls {

// Whether `precision = bf16` can run on this CPU.
inline bool cpu_has_bf16_kernels() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq");
#else
  return false;
#endif
}

// Whether it runs natively (AVX512_BF16) rather than emulated.
inline bool cpu_has_native_bf16() {
#if defined(__x86_64__)
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

}  // namespace dls
