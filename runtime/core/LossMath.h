// LossMath.h: the per-element formulas of the element-wise losses ops.def HUBER .. POISSON and their derivatives
// with respect to the input. One copy for both backends: the CPU loops (runtime/cpu/CpuLosses.cpp) and the CUDA
// kernels (runtime/cuda/CudaKernels.cu) include it. The loss op sums value() over the valid elements and divides
// by their count (kl_div: by the valid rows, torch's batchmean); its gradient is grad() over the same divisor.
// Formulas and boundary choices follow torch 1.13 and torchvision (focal).
#ifndef DLSPEC_RUNTIME_CORE_LOSSMATH_H
#define DLSPEC_RUNTIME_CORE_LOSSMATH_H
#include <math.h>

#include "../include/dlspec/runtime.h"

#ifdef __CUDACC__
#define DLS_LOSS_HD __host__ __device__ __forceinline__
#else
#define DLS_LOSS_HD inline
#endif

namespace dls::loss_math {

// Whether value()/grad() compute this loss.
DLS_LOSS_HD bool handles(int opcode) { return opcode >= DLS_OP_HUBER && opcode <= DLS_OP_POISSON; }

// The loss of one element: input x, target t; a, b: the op's attributes (huber: delta; smooth_l1: beta;
// focal: gamma, alpha).
DLS_LOSS_HD double value(int opcode, float xf, float tf, double a, double b) {
  const double x = xf, t = tf, d = x - t, z = fabs(d);
  switch (opcode) {
    case DLS_OP_HUBER: return z <= a ? 0.5 * d * d : a * (z - 0.5 * a);
    case DLS_OP_SMOOTH_L1: return a == 0 ? z : z < a ? 0.5 * d * d / a : z - 0.5 * a;
    case DLS_OP_KL_DIV: return t > 0 ? t * (log(t) - x) : 0.0;  // torch: xlogy(t, t) - t x, 0 where t = 0
    case DLS_OP_FOCAL: {
      const double p = 1.0 / (1.0 + exp(-x));
      const double ce = fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
      const double m = 1.0 - (p * t + (1.0 - p) * (1.0 - t));
      double l = ce * pow(m, a);  // pow(0, 0) = 1
      if (b >= 0) l *= b * t + (1.0 - b) * (1.0 - t);
      return l;
    }
    case DLS_OP_HINGE: {
      const double y = 2.0 * t - 1.0;
      return fmax(0.0, 1.0 - y * x);
    }
    case DLS_OP_POISSON: return exp(x) - t * x;
    default: return 0.0;
  }
}

// d(value)/dx.
DLS_LOSS_HD double grad(int opcode, float xf, float tf, double a, double b) {
  const double x = xf, t = tf, d = x - t;
  switch (opcode) {
    case DLS_OP_HUBER: return d < -a ? -a : d > a ? a : d;  // torch: clamp(x - t, -delta, delta)
    case DLS_OP_SMOOTH_L1:
      if (a == 0) return d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0;  // beta = 0: torch runs l1_loss
      return d <= -a ? -1.0 : d >= a ? 1.0 : d / a;
    case DLS_OP_KL_DIV: return -t;
    case DLS_OP_FOCAL: {
      const double p = 1.0 / (1.0 + exp(-x));
      const double ce = fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
      const double m = 1.0 - (p * t + (1.0 - p) * (1.0 - t));
      const double dm = -(2.0 * t - 1.0) * p * (1.0 - p);
      // d(ce m^gamma) = (p - t) m^gamma + ce gamma m^(gamma - 1) dm (the second term 0 at gamma = 0, or m = 0)
      double g = (p - t) * pow(m, a);
      if (a != 0 && m > 0) g += ce * a * pow(m, a - 1.0) * dm;
      if (b >= 0) g *= b * t + (1.0 - b) * (1.0 - t);
      return g;
    }
    case DLS_OP_HINGE: {
      const double y = 2.0 * t - 1.0;
      return 1.0 - y * x >= 0 ? -y : 0.0;  // torch's clamp(min=0) passes the gradient at the boundary
    }
    case DLS_OP_POISSON: return exp(x) - t;
    default: return 0.0;
  }
}

// cosine_embedding (ops.def COSINE_EMBEDDING), one row of x1[N, D], x2[N, D] as torch 1.13 computes it:
// cos = x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)).
struct CosRow {
  double dot, a, b, s, cos;  // x1.x2, |x1|^2 + eps, |x2|^2 + eps, sqrt(a b), dot / s
};
DLS_LOSS_HD CosRow cos_row(const float* x1, const float* x2, long long D) {
  CosRow r{0, 0, 0, 0, 0};
  for (long long k = 0; k < D; ++k) {
    const double u = x1[k], v = x2[k];
    r.dot += u * v, r.a += u * u, r.b += v * v;
  }
  r.a += 1e-12, r.b += 1e-12;  // torch's EPSILON
  r.s = sqrt(r.a * r.b);
  r.cos = r.dot / r.s;
  return r;
}
// The row's loss: 1 - cos where t = 1, max(0, cos - margin) where t = -1, 0 for another target.
DLS_LOSS_HD double cos_loss(double cos, float t, double margin) {
  return t == 1.f ? 1.0 - cos : t == -1.f ? fmax(0.0, cos - margin) : 0.0;
}
// d(row loss)/d(cos); torch's clamp_min passes the gradient at the boundary.
DLS_LOSS_HD double cos_loss_dcos(double cos, float t, double margin) {
  return t == 1.f ? -1.0 : t == -1.f ? (cos - margin >= 0 ? 1.0 : 0.0) : 0.0;
}
// d(cos)/d(x1_k) = x2_k / s - cos x1_k / a (and for x2 the same with the roles swapped: mine = x2, other = x1, b).
DLS_LOSS_HD double cos_dx(const CosRow& r, float mine, float other, double mine_sq) {
  return double(other) / r.s - r.cos * double(mine) / mine_sq;
}

}  // namespace dls::loss_math
#endif
