// EltMath.h: the formulas of the element-wise activations (ops.def ELU .. RELU6, PRELU, GLU's gate), their
// derivatives, and the index geometry of broadcasting binary ops and reductions. One copy for both backends:
// the CPU loops (runtime/cpu/CpuMoreOps.cpp) and the CUDA kernels (runtime/cuda/CudaMoreKernels.cu) include it.
// Formulas and boundary choices follow torch 1.13 (its CPU kernels), so that a compiled step agrees with it.
#ifndef DLSPEC_RUNTIME_CORE_ELTMATH_H
#define DLSPEC_RUNTIME_CORE_ELTMATH_H
#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define DLS_HD __host__ __device__ __forceinline__
#else
#define DLS_HD inline
#endif

namespace dls::elt {

// The activations of the loops, in one numbering for both backends.
enum Kind : int { ELU = 0, SELU = 1, SILU = 2, MISH = 3, SOFTPLUS = 4, HARDSWISH = 5, HARDSIGMOID = 6, RELU6 = 7 };

constexpr float kSeluScale = 1.0507009873554804934193349852946f;
constexpr float kSeluAlpha = 1.6732632423543772848170429916717f;

DLS_HD float sigm(float x) { return 1.f / (1.f + expf(-x)); }
// log(1 + e^x), stable for large |x|.
DLS_HD float log1pexp(float x) { return x > 0.f ? x + log1pf(expf(-x)) : log1pf(expf(x)); }

// y = f(x); a, b: the op's attributes (elu: alpha; softplus: beta, threshold).
DLS_HD float fwd(int k, float x, float a, float b) {
  switch (k) {
    case ELU: return x > 0.f ? x : a * (expf(x) - 1.f);
    case SELU: return kSeluScale * (x > 0.f ? x : kSeluAlpha * (expf(x) - 1.f));
    case SILU: return x * sigm(x);
    case MISH: return x * tanhf(log1pexp(x));
    case SOFTPLUS: return x * a > b ? x : log1pexp(x * a) / a;
    case HARDSWISH: return x <= -3.f ? 0.f : x >= 3.f ? x : x * (x + 3.f) / 6.f;
    case HARDSIGMOID: return x <= -3.f ? 0.f : x >= 3.f ? 1.f : x / 6.f + 0.5f;
    default: return x <= 0.f ? 0.f : x >= 6.f ? 6.f : x;  // RELU6
  }
}

// f'(x), as torch's backward kernels compute it.
DLS_HD float deriv(int k, float x, float a, float b) {
  switch (k) {
    case ELU: return x > 0.f ? 1.f : a * expf(x);
    case SELU: return kSeluScale * (x > 0.f ? 1.f : kSeluAlpha * expf(x));
    case SILU: {
      const float s = sigm(x);
      return s * (1.f + x * (1.f - s));
    }
    case MISH: {
      const float t = tanhf(log1pexp(x));
      return t + x * sigm(x) * (1.f - t * t);
    }
    case SOFTPLUS: return x * a > b ? 1.f : sigm(x * a);
    case HARDSWISH: return x < -3.f ? 0.f : x <= 3.f ? x / 3.f + 0.5f : 1.f;
    case HARDSIGMOID: return x > -3.f && x < 3.f ? 1.f / 6.f : 0.f;
    default: return x > 0.f && x < 6.f ? 1.f : 0.f;  // RELU6 (torch's hardtanh(0, 6))
  }
}

// Broadcasting over 4 axes: y's dims right-aligned to 4 (leading 1s), and each operand's element strides
// over them (0 along an axis it is broadcast along).
struct Bcast {
  int64_t y[4];
  int64_t sa[4], sb[4];
  int64_t n;  // y's element count
};
// dims/rank as dls_tensor_desc's.
inline void strides_over(const int64_t* dims, int rank, const int64_t* y4, int yrank, int64_t* s) {
  int64_t st = 1;
  for (int k = 3; k >= 0; --k) {
    const int ax = k - (4 - yrank) - (yrank - rank);  // the operand's own axis index for y4[k]
    const int64_t d = ax >= 0 && ax < rank ? dims[ax] : 1;
    s[k] = d == 1 && y4[k] != 1 ? 0 : st;
    st *= d;
  }
}
inline Bcast bcast(const int64_t* da, int ra, const int64_t* db, int rb, const int64_t* dy, int ry) {
  Bcast g{};
  for (int k = 0; k < 4; ++k) g.y[k] = k < 4 - ry ? 1 : dy[k - (4 - ry)];
  g.n = g.y[0] * g.y[1] * g.y[2] * g.y[3];
  strides_over(da, ra, g.y, ry, g.sa);
  strides_over(db, rb, g.y, ry, g.sb);
  return g;
}
// The offsets of y's element i in a and b.
DLS_HD void offsets(const Bcast& g, int64_t i, int64_t& oa, int64_t& ob) {
  const int64_t i3 = i % g.y[3], r3 = i / g.y[3];
  const int64_t i2 = r3 % g.y[2], r2 = r3 / g.y[2];
  const int64_t i1 = r2 % g.y[1], i0 = r2 / g.y[1];
  oa = i0 * g.sa[0] + i1 * g.sa[1] + i2 * g.sa[2] + i3 * g.sa[3];
  ob = i0 * g.sb[0] + i1 * g.sb[1] + i2 * g.sb[2] + i3 * g.sb[3];
}

// Binary ops (ops.def MUL, SUB, DIV).
enum Bin : int { MUL = 0, SUB = 1, DIV = 2 };
DLS_HD float bin(int k, float a, float b) { return k == MUL ? a * b : k == SUB ? a - b : a / b; }
// d(y)/d(a) and d(y)/d(b) at (a, b).
DLS_HD float bin_da(int k, float, float b) { return k == MUL ? b : k == SUB ? 1.f : 1.f / b; }
DLS_HD float bin_db(int k, float a, float b) { return k == MUL ? a : k == SUB ? -1.f : -a / (b * b); }

// A reduction over flagged axes of x (rank <= 4): the offset in y of x's element i is offsets() with y's
// strides 0 along the reduced axes. `sa` holds those strides, over x's dims right-aligned to 4.
struct Reduce {
  int64_t x[4];
  int64_t sy[4];
  int64_t n;      // x's element count
  int64_t count;  // elements per output
};
inline Reduce reduce_geom(const int64_t* dx, int rx, const double* flags) {
  Reduce g{};
  for (int k = 0; k < 4; ++k) g.x[k] = k < 4 - rx ? 1 : dx[k - (4 - rx)];
  g.n = g.x[0] * g.x[1] * g.x[2] * g.x[3];
  int64_t st = 1;
  g.count = 1;
  for (int k = 3; k >= 0; --k) {
    const int ax = k - (4 - rx);
    const bool red = ax >= 0 && flags[ax] != 0;
    g.sy[k] = red ? 0 : st;
    if (red) g.count *= g.x[k];
    else st *= g.x[k];
  }
  return g;
}
DLS_HD int64_t reduce_out(const Reduce& g, int64_t i) {
  const int64_t i3 = i % g.x[3], r3 = i / g.x[3];
  const int64_t i2 = r3 % g.x[2], r2 = r3 / g.x[2];
  const int64_t i1 = r2 % g.x[1], i0 = r2 / g.x[1];
  return i0 * g.sy[0] + i1 * g.sy[1] + i2 * g.sy[2] + i3 * g.sy[3];
}

// Adaptive average pooling's bin [start, end) of output index i over an input of n, in o bins (torch).
DLS_HD int64_t bin_start(int64_t i, int64_t n, int64_t o) { return (i * n) / o; }
DLS_HD int64_t bin_end(int64_t i, int64_t n, int64_t o) { return ((i + 1) * n + o - 1) / o; }

}  // namespace dls::elt
#endif
