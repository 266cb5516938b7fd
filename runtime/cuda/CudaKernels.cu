// CudaKernels.cu: the CUDA backend's own kernels (see CudaKernels.h). Kept to one translation unit: nvcc is
// slow. Grid-stride loops everywhere; every kernel reads per-step values from DevScalars.
#include <cuda_runtime.h>

#include <cmath>
#include <vector>

#include "../core/LossMath.h"
#include "CudaKernels.h"

namespace dls::cuda {

namespace {

constexpr int kThreads = 256;
inline unsigned blocks(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return unsigned(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}
#define GRID_LOOP(i, n) for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)

// The CPU backend's counter-based RNG (core/Rng.h), bit for bit.
__device__ __forceinline__ uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
__device__ __forceinline__ uint64_t hash3(uint64_t a, uint64_t b, uint64_t c) { return mix64(mix64(mix64(a) ^ b) ^ c); }
__device__ __forceinline__ float u01(uint64_t bits) { return float(bits >> 40) * (1.0f / 16777216.0f); }

__device__ __forceinline__ int64_t valid_of(const DevScalars* sc, int64_t R, int64_t per = 1) {
  int64_t v = sc->valid_rows * per;  // valid_rows counts samples; a sequence's sample is `per` rows
  return v > 0 && v < R ? v : R;
}
__device__ __forceinline__ void put(float* p, int64_t i, float v, bool acc) { p[i] = acc ? p[i] + v : v; }

// Block-wide sum of a double (kThreads threads).
__device__ double block_sum(double v) {
  __shared__ double sh[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    v = threadIdx.x < kThreads / 32 ? sh[threadIdx.x] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  }
  __syncthreads();
  return v;  // valid in thread 0
}

__global__ void k_set_scalars(DevScalars* d, DevScalars v) { *d = v; }

__global__ void k_act_fwd(int act, float alpha, const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  GRID_LOOP(i, n) {
    float v = x[i], r;
    switch (act) {
      case ACT_RELU: r = v > 0.f ? v : 0.f; break;
      case ACT_LEAKY: r = v > 0.f ? v : alpha * v; break;
      case ACT_GELU: r = 0.5f * v * (1.f + erff(v * 0.70710678118654752f)); break;
      case ACT_TANH: r = tanhf(v); break;
      case ACT_RAMP: r = (v > 0.f ? v : 0.f) + 0.1f * v; break;
      default: r = 1.f / (1.f + expf(-v)); break;
    }
    y[i] = r;
  }
}

__global__ void k_act_bwd(int act, float alpha, const float* __restrict__ x, const float* __restrict__ y,
                          const float* __restrict__ dy, float* dx, int64_t n, bool acc) {
  GRID_LOOP(i, n) {
    float d;
    switch (act) {
      case ACT_RELU: d = y[i] > 0.f ? dy[i] : 0.f; break;
      case ACT_LEAKY: d = x[i] > 0.f ? dy[i] : alpha * dy[i]; break;
      case ACT_GELU: {
        float v = x[i];
        d = dy[i] * (0.5f * (1.f + erff(v * 0.70710678118654752f)) + v * expf(-0.5f * v * v) * 0.3989422804014327f);
        break;
      }
      case ACT_TANH: d = dy[i] * (1.f - y[i] * y[i]); break;
      case ACT_RAMP: d = dy[i] * ((y[i] > 0.f ? 1.f : 0.f) + 0.1f); break;  // y > 0 exactly where x > 0
      default: d = dy[i] * y[i] * (1.f - y[i]); break;
    }
    put(dx, i, d, acc);
  }
}

__global__ void k_dropout(const DevScalars* sc, uint64_t op, float p, const float* __restrict__ x, float* __restrict__ y,
                          float* __restrict__ mask, int64_t n) {
  const uint64_t key = hash3(sc->seed, (uint64_t)sc->step, op);
  const float scale = 1.f / (1.f - p);
  GRID_LOOP(i, n) {
    float m = u01(mix64(key ^ (uint64_t)i * 0x9e3779b97f4a7c15ull)) >= p ? scale : 0.f;
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

__global__ void k_binary(int kind, const float* a, const float* b, float* y, int64_t n, bool acc, float scale) {
  GRID_LOOP(i, n) {
    float v = kind == 0 ? a[i] + b[i] : kind == 1 ? a[i] * b[i] : kind == 2 ? a[i] : a[i] * scale;
    put(y, i, v, acc);
  }
}

__global__ void k_row_mean(const float* x, float* y, int64_t R, int64_t C) {
  // one warp per row
  int64_t warp = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) >> 5;
  int lane = threadIdx.x & 31;
  if (warp >= R) return;
  float s = 0;
  for (int64_t i = lane; i < C; i += 32) s += x[warp * C + i];
  for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
  if (lane == 0) y[warp] = s / float(C);
}
__global__ void k_row_mean_bwd(const float* dy, float* dx, int64_t R, int64_t C, bool acc) {
  GRID_LOOP(i, R * C) put(dx, i, dy[i / C] / float(C), acc);
}
__global__ void k_col_sum(const float* dy, float* db, int64_t N, int64_t M) {
  GRID_LOOP(m, M) {
    float s = 0;
    for (int64_t r = 0; r < N; ++r) s += dy[r * M + m];
    db[m] = s;
  }
}

__global__ void k_layer_norm_fwd(const float* x, const float* g, const float* b, float* y, float* stats, int64_t R,
                                 int64_t C, float eps) {
  int64_t r = blockIdx.x;
  if (r >= R) return;
  const float* xr = x + r * C;
  double s = 0;
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) s += xr[i];
  __shared__ double mean_sh, rstd_sh;
  s = block_sum(s);
  if (threadIdx.x == 0) mean_sh = s / double(C);
  __syncthreads();
  const double m = mean_sh;
  double v = 0;
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) v += (xr[i] - m) * (xr[i] - m);
  v = block_sum(v);
  if (threadIdx.x == 0) {
    rstd_sh = 1.0 / sqrt(v / double(C) + eps);
    stats[2 * r] = float(m), stats[2 * r + 1] = float(rstd_sh);
  }
  __syncthreads();
  const double rs = rstd_sh;
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) y[r * C + i] = float((xr[i] - m) * rs) * g[i] + b[i];
}
__global__ void k_layer_norm_bwd_dx(const float* x, const float* g, const float* stats, const float* dy, float* dx,
                                    bool acc, int64_t R, int64_t C) {
  int64_t r = blockIdx.x;
  if (r >= R) return;
  const float m = stats[2 * r], rs = stats[2 * r + 1];
  // xhat re-centred on its own rounded mean (the stored mean is a float), so that the row's dx sums to 0 as
  // it does in real arithmetic; see the CPU backend's layer_norm gradient.
  double s0 = 0;
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) s0 += double((x[r * C + i] - m) * rs);
  __shared__ double c_sh;
  s0 = block_sum(s0);
  if (threadIdx.x == 0) c_sh = s0 / double(C);
  __syncthreads();
  const float c0 = float(c_sh);
  double s1 = 0, s2 = 0;
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
    float xh = (x[r * C + i] - m) * rs - c0, dg = dy[r * C + i] * g[i];
    s1 += dg, s2 += double(dg) * xh;
  }
  __shared__ double a_sh, b_sh;
  s1 = block_sum(s1);
  if (threadIdx.x == 0) a_sh = s1;
  s2 = block_sum(s2);
  if (threadIdx.x == 0) b_sh = s2;
  __syncthreads();
  const float a = float(a_sh / C), b = float(b_sh / C);
  for (int64_t i = threadIdx.x; i < C; i += blockDim.x) {
    float xh = (x[r * C + i] - m) * rs - c0;
    put(dx, r * C + i, rs * (dy[r * C + i] * g[i] - a - xh * b), acc);
  }
}
__global__ void k_layer_norm_bwd_params(const float* x, const float* stats, const float* dy, float* dg, float* db,
                                        int64_t R, int64_t C) {
  GRID_LOOP(c, C) {
    float sg = 0, sb = 0;
    for (int64_t r = 0; r < R; ++r) {
      float xh = (x[r * C + c] - stats[2 * r]) * stats[2 * r + 1];
      sg += dy[r * C + c] * xh, sb += dy[r * C + c];
    }
    if (dg) dg[c] = sg;
    if (db) db[c] = sb;
  }
}

// One block: rows strided over threads, double accumulation, mean over valid rows.
// cross entropy and nll skip the rows labelled `ignore` and keep how many they counted in *counted for the
// backward.
__global__ void k_loss_fwd(const DevScalars* sc, int opcode, const float* __restrict__ x, const void* labels,
                           float* prob, float* loss, int64_t R, int64_t C, int64_t per, float eps, int64_t ignore,
                           float* counted, const float* __restrict__ w, double a0, double a1) {
  const int64_t V = valid_of(sc, R, per);
  double total = 0;
  if (opcode == 32 || opcode == 33) {  // cross entropy, nll: torch's weighted mean (counted: the labels' weights)
    const int32_t* y = static_cast<const int32_t*>(labels);
    double cnt = 0;
    for (int64_t r = threadIdx.x; r < V; r += blockDim.x) {
      if (y[r] == ignore) continue;
      const float* xr = x + r * C;
      int64_t label = y[r] < 0 || y[r] >= C ? 0 : y[r];
      const double wl = w ? w[label] : 1.0;
      cnt += wl;
      if (opcode == 33) {
        total -= wl * xr[label];
        continue;
      }
      float m = xr[0];
      for (int64_t i = 1; i < C; ++i) m = fmaxf(m, xr[i]);
      float sum = 0;
      for (int64_t i = 0; i < C; ++i) sum += (prob[r * C + i] = expf(xr[i] - m));
      const float inv = 1.f / sum, lse = m + logf(sum);
      double smooth = 0;  // sum_i w_i (lse - x_i) / C
      for (int64_t i = 0; i < C; ++i) prob[r * C + i] *= inv, smooth += (w ? w[i] : 1.0) * (double(lse) - double(xr[i]));
      smooth /= double(C);
      total += (1.0 - eps) * wl * (lse - xr[label]) + eps * smooth;
    }
    total = block_sum(total);
    cnt = block_sum(cnt);
    if (threadIdx.x == 0) {
      loss[0] = cnt > 0 ? float(total / cnt) : 0.f;
      if (counted) counted[0] = float(cnt);
    }
    return;
  }
  const float* t = static_cast<const float*>(labels);
  const int64_t n = V * C;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = x[i], tv = t[i];
    if (dls::loss_math::handles(opcode)) total += dls::loss_math::value(opcode, v, tv, a0, a1);
    else if (opcode == 35) total += double(v - tv) * double(v - tv);
    else if (opcode == 37) total += fabs(double(v) - double(tv));  // l1
    else if (opcode == 34) total += fmaxf(v, 0.f) - v * tv + log1pf(expf(-fabsf(v)));
    else total -= tv * fmaxf(logf(v), -100.f) + (1 - tv) * fmaxf(log1pf(-v), -100.f);
  }
  total = block_sum(total);
  if (threadIdx.x == 0) loss[0] = float(total / double(opcode == DLS_OP_KL_DIV ? V : n));  // kl_div: batchmean
}

__global__ void k_loss_bwd(const DevScalars* sc, int opcode, const float* __restrict__ x, const void* labels,
                           const float* prob, float* dx, bool acc, int64_t R, int64_t C, int64_t per, float eps,
                           int64_t ignore, const float* counted, const float* __restrict__ w, double a0, double a1) {
  const int64_t V = valid_of(sc, R, per);
  if (opcode == 32 || opcode == 33) {
    const int32_t* y = static_cast<const int32_t*>(labels);
    const float cnt = counted ? counted[0] : float(V);
    const float scale = cnt != 0 ? 1.f / cnt : 0.f;
    GRID_LOOP(j, R * C) {
      int64_t r = j / C, i = j % C;
      int64_t label = y[r] < 0 || y[r] >= C ? 0 : y[r];
      const float wl = w ? w[label] : 1.f, wi = w ? w[i] : 1.f;
      float d = 0;
      if (r < V && y[r] != ignore) {
        if (opcode == 32) {
          // p_i ((1 - eps) w_l + eps W / C) - (1 - eps) w_l [i = l] - eps w_i / C, W = sum_j w_j (CpuLosses.cpp)
          float wsum = 0;
          if (eps != 0.f)
            for (int64_t k = 0; k < C; ++k) wsum += w ? w[k] : 1.f;
          d = (prob[j] * ((1.f - eps) * wl + eps * wsum / float(C)) - (i == label ? (1.f - eps) * wl : 0.f) -
               eps * wi / float(C)) * scale;
        } else {
          d = i == label ? -wl * scale : 0.f;
        }
      }
      put(dx, j, d, acc);
    }
    return;
  }
  const float* t = static_cast<const float*>(labels);
  const int64_t n = V * C;
  const float scale = 1.f / float(opcode == DLS_OP_KL_DIV ? V : n);
  GRID_LOOP(i, R * C) {
    float d = 0;
    if (i < n) {
      const float v = x[i], tv = t[i];
      if (dls::loss_math::handles(opcode)) d = float(dls::loss_math::grad(opcode, v, tv, a0, a1)) * scale;
      else if (opcode == 35) d = 2.f * (v - tv) * scale;
      else if (opcode == 37) d = v > tv ? scale : v < tv ? -scale : 0.f;  // l1: sign(x - t), 0 at equality
      else if (opcode == 34) d = (1.f / (1.f + expf(-v)) - tv) * scale;
      else d = (v - tv) / fmaxf(v * (1 - v), 1e-12f) * scale;
    }
    put(dx, i, d, acc);
  }
}

// cosine_embedding (core/LossMath.h): one thread per row for the loss's sum; one thread per row for the gradient.
__global__ void k_cosine_fwd(const DevScalars* sc, const float* __restrict__ x1, const float* __restrict__ x2,
                             const float* __restrict__ t, float* loss, int64_t R, int64_t D, int64_t per, double margin) {
  const int64_t V = valid_of(sc, R, per);
  double total = 0;
  for (int64_t r = threadIdx.x; r < V; r += blockDim.x) {
    const dls::loss_math::CosRow cr = dls::loss_math::cos_row(x1 + r * D, x2 + r * D, D);
    total += dls::loss_math::cos_loss(cr.cos, t[r], margin);
  }
  total = block_sum(total);
  if (threadIdx.x == 0) loss[0] = V > 0 ? float(total / double(V)) : 0.f;
}
__global__ void k_cosine_bwd(const DevScalars* sc, const float* __restrict__ x1, const float* __restrict__ x2,
                             const float* __restrict__ t, float* d1, bool acc1, float* d2, bool acc2, int64_t R, int64_t D,
                             int64_t per, double margin) {
  const int64_t V = valid_of(sc, R, per);
  GRID_LOOP(r, R) {
    const float *a = x1 + r * D, *b = x2 + r * D;
    double k = 0;
    dls::loss_math::CosRow cr{0, 1, 1, 1, 0};
    if (r < V) {
      cr = dls::loss_math::cos_row(a, b, D);
      k = dls::loss_math::cos_loss_dcos(cr.cos, t[r], margin) / double(V);
    }
    for (int64_t j = 0; j < D; ++j) {
      if (d1) put(d1, r * D + j, k != 0 ? float(k * dls::loss_math::cos_dx(cr, a[j], b[j], cr.a)) : 0.f, acc1);
      if (d2) put(d2, r * D + j, k != 0 ? float(k * dls::loss_math::cos_dx(cr, b[j], a[j], cr.b)) : 0.f, acc2);
    }
  }
}

struct Dims4 {
  int64_t x[4];
  int perm[4];
};
__global__ void k_transpose4(const float* x, float* y, Dims4 d, bool inverse, bool acc) {
  const int64_t xs[4] = {d.x[1] * d.x[2] * d.x[3], d.x[2] * d.x[3], d.x[3], 1};
  const int64_t yd[4] = {d.x[d.perm[0]], d.x[d.perm[1]], d.x[d.perm[2]], d.x[d.perm[3]]};
  const int64_t n = d.x[0] * d.x[1] * d.x[2] * d.x[3];
  GRID_LOOP(i, n) {
    int64_t rem = i, src = 0;
    for (int k = 3; k >= 0; --k) {
      int64_t idx = rem % yd[k];
      rem /= yd[k];
      src += idx * xs[d.perm[k]];
    }
    if (!inverse) put(y, i, x[src], acc);  // forward: y[i] = x[src]
    else put(y, src, x[i], acc);           // backward: dx[src] (+)= dy[i] (a permutation: no collisions)
  }
}

__global__ void k_upsample_fwd(const float* x, float* y, int64_t NC, int64_t H, int64_t W, int64_t f) {
  const int64_t OH = H * f, OW = W * f;
  GRID_LOOP(i, NC * OH * OW) {
    int64_t w = i % OW, h = (i / OW) % OH, p = i / (OW * OH);
    y[i] = x[(p * H + h / f) * W + w / f];
  }
}
__global__ void k_upsample_bwd(const float* dy, float* dx, int64_t NC, int64_t H, int64_t W, int64_t f, bool acc) {
  GRID_LOOP(i, NC * H * W) {
    int64_t w = i % W, h = (i / W) % H, p = i / (W * H);
    float s = 0;
    for (int64_t a = 0; a < f; ++a)
      for (int64_t b = 0; b < f; ++b) s += dy[(p * H * f + h * f + a) * W * f + w * f + b];
    put(dx, i, s, acc);
  }
}

// Darknet's reorg: y's element (b, k, j, i) of [N, C, H, W] reads x as [N, C / s^2, H*s, W*s] (runtime.h).
__global__ void k_reorg(const float* __restrict__ src, float* dst, int64_t N, int64_t C, int64_t H, int64_t W,
                        int64_t s, bool grad, bool acc) {
  const int64_t Cp = C / (s * s);
  GRID_LOOP(yi, N * C * H * W) {
    const int64_t i = yi % W, j = (yi / W) % H, k = (yi / (H * W)) % C, b = yi / (C * H * W);
    const int64_t o = k / Cp, c2 = k % Cp;
    const int64_t xi = b * C * H * W + ((c2 * H * s + j * s + o / s) * W * s + i * s + o % s);
    if (!grad) dst[yi] = src[xi];
    else put(dst, xi, src[yi], acc);  // a permutation: no two threads write one element
  }
}

__global__ void k_local_fwd(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                            float* __restrict__ y, LocalDims d) {
  const int64_t L = d.oh * d.ow, K = d.c * d.r * d.s;
  GRID_LOOP(i, d.n * d.f * L) {
    const int64_t l = i % L, f = (i / L) % d.f, n = i / (L * d.f);
    const int64_t oh = l / d.ow, ow = l % d.ow;
    const float* wr = w + (l * d.f + f) * K;
    float acc = 0.f;
    for (int64_t c = 0; c < d.c; ++c) {
      const float* xc = x + (n * d.c + c) * d.h * d.w;
      for (int64_t r = 0; r < d.r; ++r) {
        const int64_t ih = oh * d.sh - d.pt + r;
        if (ih < 0 || ih >= d.h) continue;
        for (int64_t s = 0; s < d.s; ++s) {
          const int64_t iw = ow * d.sw - d.pl + s;
          if (iw >= 0 && iw < d.w) acc += wr[(c * d.r + r) * d.s + s] * xc[ih * d.w + iw];
        }
      }
    }
    y[i] = acc + (b ? b[f * L + l] : 0.f);
  }
}
__global__ void k_local_bwd_data(const float* __restrict__ dy, const float* __restrict__ w, float* dx, LocalDims d,
                                 bool acc) {
  const int64_t L = d.oh * d.ow, K = d.c * d.r * d.s;
  GRID_LOOP(i, d.n * d.c * d.h * d.w) {
    const int64_t iw = i % d.w, ih = (i / d.w) % d.h, c = (i / (d.h * d.w)) % d.c, n = i / (d.c * d.h * d.w);
    float sum = 0.f;
    for (int64_t r = 0; r < d.r; ++r) {
      const int64_t t = ih + d.pt - r;
      if (t < 0 || t % d.sh != 0 || t / d.sh >= d.oh) continue;
      for (int64_t s = 0; s < d.s; ++s) {
        const int64_t u = iw + d.pl - s;
        if (u < 0 || u % d.sw != 0 || u / d.sw >= d.ow) continue;
        const int64_t l = (t / d.sh) * d.ow + u / d.sw;
        const float* wp = w + l * d.f * K + (c * d.r + r) * d.s + s;  // stride K over filters
        const float* dp = dy + n * d.f * L + l;                        // stride L over filters
        for (int64_t f = 0; f < d.f; ++f) sum += dp[f * L] * wp[f * K];
      }
    }
    put(dx, i, sum, acc);
  }
}
__global__ void k_local_bwd_w(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dw,
                              LocalDims d) {
  const int64_t L = d.oh * d.ow, K = d.c * d.r * d.s;
  GRID_LOOP(i, L * d.f * K) {
    const int64_t k = i % K, f = (i / K) % d.f, l = i / (K * d.f);
    const int64_t s = k % d.s, r = (k / d.s) % d.r, c = k / (d.r * d.s);
    const int64_t ih = (l / d.ow) * d.sh - d.pt + r, iw = (l % d.ow) * d.sw - d.pl + s;
    float sum = 0.f;
    if (ih >= 0 && ih < d.h && iw >= 0 && iw < d.w)
      for (int64_t n = 0; n < d.n; ++n) sum += dy[(n * d.f + f) * L + l] * x[((n * d.c + c) * d.h + ih) * d.w + iw];
    dw[i] = sum;
  }
}
__global__ void k_local_bwd_b(const float* __restrict__ dy, float* __restrict__ db, int64_t N, int64_t FL) {
  GRID_LOOP(i, FL) {
    float sum = 0.f;
    for (int64_t n = 0; n < N; ++n) sum += dy[n * FL + i];
    db[i] = sum;
  }
}

__global__ void k_embedding_fwd(const int32_t* idx, const float* table, float* y, int64_t R, int64_t D, int64_t V,
                                int* flag) {
  GRID_LOOP(i, R * D) {
    int64_t r = i / D, c = i % D;
    int32_t k = idx[r];
    if (k < 0 || k >= V) {
      y[i] = 0.f;
      if (c == 0) atomicCAS(flag, 0, int(r) + 1);
    } else {
      y[i] = table[int64_t(k) * D + c];
    }
  }
}
__global__ void k_embedding_bwd(const int32_t* idx, const float* dy, float* dt, int64_t R, int64_t D, int64_t V) {
  GRID_LOOP(i, R * D) {
    int64_t r = i / D, c = i % D;
    int32_t k = idx[r];
    if (k >= 0 && k < V) atomicAdd(&dt[int64_t(k) * D + c], dy[i]);
  }
}

__global__ void k_copy2d(const float* src, int64_t ss, float* dst, int64_t ds, int64_t outer, int64_t len, bool acc) {
  GRID_LOOP(i, outer * len) {
    int64_t o = i / len, j = i % len;
    put(dst, o * ds + j, src[o * ss + j], acc);
  }
}

struct UpdateArgs {
  UpdateTensor t[kMaxUpdateTensors];
  int64_t first_block[kMaxUpdateTensors + 1];
  int n;
};

__global__ void k_multi_update(const DevScalars* sc, UpdateHyper h, UpdateArgs a, const float* loss) {
  if (loss && !isfinite(*loss)) return;
  // Which tensor does this block belong to? (n <= 48: a linear scan is cheapest)
  int ti = 0;
  while (ti + 1 < a.n && a.first_block[ti + 1] <= (int64_t)blockIdx.x) ++ti;
  const UpdateTensor T = a.t[ti];
  const int64_t begin = ((int64_t)blockIdx.x - a.first_block[ti]) * kUpdateChunk;
  const int64_t end = begin + kUpdateChunk < T.n ? begin + kUpdateChunk : T.n;
  const float lr = sc->lr, wd = T.wd, mom = h.momentum;
  const int64_t t = sc->t;
  if (h.kind == 0) {  // SGD
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
      float d = T.g[i] + wd * T.p[i];
      if (mom != 0.f) {
        float b = t == 1 ? d : mom * T.s0[i] + d;
        T.s0[i] = b;
        d = h.nesterov ? d + mom * b : b;
      }
      T.p[i] -= lr * d;
    }
  } else if (h.kind == 1 || h.kind == 2) {  // Adam, AdamW
    const float b1 = float(h.beta1), b2 = float(h.beta2), eps = h.eps;
    const float bc1 = 1.f - float(pow(h.beta1, double(t))), bc2 = 1.f - float(pow(h.beta2, double(t)));
    const float step_size = lr / bc1, bc2_sqrt = sqrtf(bc2);
    const bool decoupled = h.kind == 2;
    const float omb1 = float(1.0 - h.beta1), omb2 = float(1.0 - h.beta2);  // torch.optim's `1 - beta`, rounded once
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
      float d = T.g[i];
      if (decoupled) T.p[i] *= 1.f - lr * wd;
      else d += wd * T.p[i];
      float m = T.s0[i] * b1 + omb1 * d;
      float v = T.s1[i] * b2 + omb2 * d * d;
      T.s0[i] = m, T.s1[i] = v;
      if (h.nesterov) v = T.s2[i] = fmaxf(T.s2[i], v);  // amsgrad: max_exp_avg_sq
      T.p[i] -= step_size * m / (sqrtf(v) / bc2_sqrt + eps);
    }
  } else if (h.kind == 6) {  // Adagrad: initial_accumulator_value = momentum, read at t = 1 for the zeroed sum
    const float eps = h.eps;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
      float d = T.g[i] + wd * T.p[i];
      float sum = (t == 1 ? mom : T.s0[i]) + d * d;
      T.s0[i] = sum;
      T.p[i] -= lr * d / (sqrtf(sum) + eps);
    }
  } else if (h.kind == 7) {  // LAMB: exp_avg, exp_avg_sq already advanced by k_lamb_norms, the norms in h.lamb
    const float eps = h.eps;
    const float bc1 = 1.f - float(pow(h.beta1, double(t))), bc2 = 1.f - float(pow(h.beta2, double(t)));
    const double wn = h.lamb[2 * ti], rn = h.lamb[2 * ti + 1];
    const float step = lr * (wn > 0 && rn > 0 ? float(sqrt(wn) / sqrt(rn)) : 1.f);
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
      float r = (T.s0[i] / bc1) / (sqrtf(T.s1[i] / bc2) + eps) + wd * T.p[i];
      T.p[i] -= step * r;
    }
  } else if (h.kind == 4) {  // Adadelta: rho = beta2
    const float rho = float(h.beta2), eps = h.eps;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
      float d = T.g[i] + wd * T.p[i];
      float v = rho * T.s0[i] + (1.f - rho) * d * d;
      T.s0[i] = v;
      float delta = sqrtf(T.s1[i] + eps) / sqrtf(v + eps) * d;
      T.s1[i] = rho * T.s1[i] + (1.f - rho) * delta * delta;
      T.p[i] -= lr * delta;
    }
  } else if (h.kind == 5) {  // NAdam: momentum_decay = momentum, mu_product from k_nadam_product
    const double md = double(h.momentum);
    const double mu = h.beta1 * (1.0 - 0.5 * pow(0.96, double(t) * md));
    const double mu_next = h.beta1 * (1.0 - 0.5 * pow(0.96, double(t + 1) * md));
    const double prod = h.nadam[1], prod_next = prod * mu * mu_next;  // torch 1.13's NAdam: mu_t twice
    const float b1 = float(h.beta1), b2 = float(h.beta2), eps = h.eps;
    const float bc2 = 1.f - float(pow(h.beta2, double(t)));
    const float cg = float(double(lr) * (1.0 - mu) / (1.0 - prod)), cm = float(double(lr) * mu_next / (1.0 - prod_next));
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
      float d = T.g[i] + wd * T.p[i];
      float m = b1 * T.s0[i] + (1.f - b1) * d;
      float v = b2 * T.s1[i] + (1.f - b2) * d * d;
      T.s0[i] = m, T.s1[i] = v;
      float denom = sqrtf(v / bc2) + eps;
      T.p[i] -= cg * d / denom + cm * m / denom;
    }
  } else {  // RMSprop
    const float alpha = float(h.beta2), eps = h.eps;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
      float d = T.g[i] + wd * T.p[i];
      float v = alpha * T.s0[i] + (1.f - alpha) * d * d;
      T.s0[i] = v;
      float avg = sqrtf(v) + eps;
      if (mom > 0.f) {
        float b = mom * T.s1[i] + d / avg;
        T.s1[i] = b;
        T.p[i] -= lr * b;
      } else {
        T.p[i] -= lr * d / avg;
      }
    }
  }
}

// Gradient clipping (Backend.h, clip): stats[3] holds the step's sum of squares (norm) and the bits of
// stats[4] its largest |element| (value; non-negative floats order as their bit patterns).
struct ClipArgs {
  float* g[kMaxUpdateTensors];
  int64_t n[kMaxUpdateTensors];
  int64_t first_block[kMaxUpdateTensors + 1];
  int count;
};
__device__ __forceinline__ int clip_tensor(const ClipArgs& a) {
  int ti = 0;
  while (ti + 1 < a.count && a.first_block[ti + 1] <= (int64_t)blockIdx.x) ++ti;
  return ti;
}
__device__ __forceinline__ bool loss_ok(const float* loss) { return !loss || isfinite(*loss); }

__global__ void k_clip_begin(double* stats, const float* loss) {
  if (!loss_ok(loss)) return;
  stats[3] = 0;
  *reinterpret_cast<unsigned*>(&stats[4]) = 0u;
}
__device__ float block_max(float v) {
  __shared__ float sh[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
  if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x < 32) {
    v = threadIdx.x < kThreads / 32 ? sh[threadIdx.x] : 0.f;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
  }
  __syncthreads();
  return v;  // valid in thread 0
}
// Sum of squares (kind 1) or largest |element| (kind 2) of every gradient, into the step's scratch.
__global__ void k_clip_reduce(int kind, ClipArgs a, double* stats, const float* loss) {
  if (!loss_ok(loss)) return;
  const int ti = clip_tensor(a);
  const int64_t begin = ((int64_t)blockIdx.x - a.first_block[ti]) * kUpdateChunk;
  const int64_t end = begin + kUpdateChunk < a.n[ti] ? begin + kUpdateChunk : a.n[ti];
  const float* g = a.g[ti];
  if (kind == 1) {
    double sq = 0;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) sq += double(g[i]) * double(g[i]);
    sq = block_sum(sq);
    if (threadIdx.x == 0) atomicAdd(&stats[3], sq);
  } else {
    float mx = 0.f;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) mx = fmaxf(mx, fabsf(g[i]));
    mx = block_max(mx);
    if (threadIdx.x == 0) atomicMax(reinterpret_cast<unsigned*>(&stats[4]), __float_as_uint(mx));
  }
}
__device__ __forceinline__ double clip_measure(int kind, const double* stats) {
  return kind == 1 ? sqrt(stats[3]) : double(__uint_as_float(*reinterpret_cast<const unsigned*>(&stats[4])));
}
// Scales (norm: by min(1, threshold / (norm + 1e-6)), as torch.nn.utils.clip_grad_norm_) or clamps.
__global__ void k_clip_apply(int kind, float threshold, ClipArgs a, const double* stats, const float* loss) {
  if (!loss_ok(loss)) return;
  const int ti = clip_tensor(a);
  const int64_t begin = ((int64_t)blockIdx.x - a.first_block[ti]) * kUpdateChunk;
  const int64_t end = begin + kUpdateChunk < a.n[ti] ? begin + kUpdateChunk : a.n[ti];
  float* g = a.g[ti];
  if (kind == 1) {
    const float coef = float(double(threshold) / (clip_measure(kind, stats) + 1e-6));
    if (coef >= 1.f) return;
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) g[i] *= coef;
  } else {
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) g[i] = fminf(fmaxf(g[i], -threshold), threshold);
  }
}
__global__ void k_clip_end(int kind, float threshold, double* stats, const float* loss) {
  if (!loss_ok(loss)) return;
  const double m = clip_measure(kind, stats);
  const bool clipped = kind == 1 ? float(double(threshold) / (m + 1e-6)) < 1.f : m > double(threshold);
  stats[0] += clipped ? 1.0 : 0.0;
  stats[1] += m;
  stats[2] += 1.0;
}

// ---- attention (DLS_OP_MULTI_HEAD_ATTENTION, DLS_OP_CROSS_ATTENTION): one thread per row of T scores ----
__global__ void k_attn_softmax(const DevScalars* sc, uint64_t op, float p, bool drop, bool causal, float* P, float* mask,
                               float* pd, int64_t rows, int64_t Tq, int64_t T) {
  const uint64_t key = drop ? hash3(sc->seed, (uint64_t)sc->step, op) : 0;
  const float keep = 1.f / (1.f - p);
  GRID_LOOP(r, rows) {
    float* row = P + r * T;
    const int64_t i = r % Tq, len = causal ? (i + 1 < T ? i + 1 : T) : T;
    float mx = -INFINITY;
    for (int64_t j = 0; j < len; ++j) mx = fmaxf(mx, row[j]);
    float sum = 0;
    for (int64_t j = 0; j < len; ++j) sum += row[j] = expf(row[j] - mx);
    const float inv = 1.f / sum;
    for (int64_t j = 0; j < T; ++j) {
      const float v = j < len ? row[j] * inv : 0.f;
      row[j] = v;
      if (drop) {
        const int64_t e = r * T + j;
        const float m = u01(mix64(key ^ (uint64_t)e * 0x9e3779b97f4a7c15ull)) >= p ? keep : 0.f;
        mask[e] = m;
        pd[e] = v * m;
      }
    }
  }
}
__global__ void k_attn_softmax_bwd(const float* P, const float* mask, float* dP, int64_t rows, int64_t T, float scale) {
  GRID_LOOP(r, rows) {
    float* d = dP + r * T;
    const float* pr = P + r * T;
    const float* mr = mask ? mask + r * T : nullptr;
    float dot = 0;
    for (int64_t j = 0; j < T; ++j) {
      if (mr) d[j] *= mr[j];
      dot += d[j] * pr[j];
    }
    for (int64_t j = 0; j < T; ++j) d[j] = pr[j] * (d[j] - dot) * scale;
  }
}
__global__ void k_add_rows(const float* x, const float* b, float* y, int64_t R, int64_t C) {
  GRID_LOOP(i, R * C) y[i] = x[i] + b[i % C];
}

}  // namespace

void attn_softmax(cudaStream_t s, const DevScalars* sc, uint64_t op, float p, bool drop, bool causal, float* P,
                  float* mask, float* pd, int64_t rows, int64_t Tq, int64_t T) {
  k_attn_softmax<<<blocks(rows), kThreads, 0, s>>>(sc, op, p, drop, causal, P, mask, pd, rows, Tq, T);
}
void attn_softmax_bwd(cudaStream_t s, const float* P, const float* mask, float* dP, int64_t rows, int64_t T, float scale) {
  k_attn_softmax_bwd<<<blocks(rows), kThreads, 0, s>>>(P, mask, dP, rows, T, scale);
}
void add_rows(cudaStream_t s, const float* x, const float* b, float* y, int64_t R, int64_t C) {
  k_add_rows<<<blocks(R * C), kThreads, 0, s>>>(x, b, y, R, C);
}

namespace {
}  // namespace

void clip_grads(cudaStream_t s, int kind, float threshold, float* const* grads, const int64_t* numels, int n,
                const float* loss, double* stats) {
  k_clip_begin<<<1, 1, 0, s>>>(stats, loss);
  std::vector<ClipArgs> groups;
  for (int b = 0; b < n; b += kMaxUpdateTensors) {
    ClipArgs a{};
    a.count = n - b < kMaxUpdateTensors ? n - b : kMaxUpdateTensors;
    a.first_block[0] = 0;
    for (int i = 0; i < a.count; ++i) {
      a.g[i] = grads[b + i], a.n[i] = numels[b + i];
      a.first_block[i + 1] = a.first_block[i] + (numels[b + i] + kUpdateChunk - 1) / kUpdateChunk;
    }
    groups.push_back(a);
  }
  for (const ClipArgs& a : groups)
    if (a.first_block[a.count] > 0) k_clip_reduce<<<unsigned(a.first_block[a.count]), kThreads, 0, s>>>(kind, a, stats, loss);
  for (const ClipArgs& a : groups)
    if (a.first_block[a.count] > 0) k_clip_apply<<<unsigned(a.first_block[a.count]), kThreads, 0, s>>>(kind, threshold, a, stats, loss);
  k_clip_end<<<1, 1, 0, s>>>(kind, threshold, stats, loss);
}

void set_scalars(cudaStream_t s, DevScalars* d, DevScalars v) { k_set_scalars<<<1, 1, 0, s>>>(d, v); }
void act_fwd(cudaStream_t s, int act, float alpha, const float* x, float* y, int64_t n) {
  k_act_fwd<<<blocks(n), kThreads, 0, s>>>(act, alpha, x, y, n);
}
void act_bwd(cudaStream_t s, int act, float alpha, const float* x, const float* y, const float* dy, float* dx, int64_t n,
             bool acc) {
  k_act_bwd<<<blocks(n), kThreads, 0, s>>>(act, alpha, x, y, dy, dx, n, acc);
}
void dropout_fwd(cudaStream_t s, const DevScalars* sc, uint64_t op, float p, const float* x, float* y, float* mask,
                 int64_t n) {
  k_dropout<<<blocks(n), kThreads, 0, s>>>(sc, op, p, x, y, mask, n);
}
void binary(cudaStream_t s, int kind, const float* a, const float* b, float* y, int64_t n, bool acc, float scale) {
  k_binary<<<blocks(n), kThreads, 0, s>>>(kind, a, b, y, n, acc, scale);
}
void row_mean(cudaStream_t s, const float* x, float* y, int64_t R, int64_t C) {
  k_row_mean<<<blocks(R * 32), kThreads, 0, s>>>(x, y, R, C);
}
void row_mean_bwd(cudaStream_t s, const float* dy, float* dx, int64_t R, int64_t C, bool acc) {
  k_row_mean_bwd<<<blocks(R * C), kThreads, 0, s>>>(dy, dx, R, C, acc);
}
void col_sum(cudaStream_t s, const float* dy, float* db, int64_t N, int64_t M) {
  k_col_sum<<<blocks(M), kThreads, 0, s>>>(dy, db, N, M);
}
void layer_norm_fwd(cudaStream_t s, const float* x, const float* g, const float* b, float* y, float* stats, int64_t R,
                    int64_t C, float eps) {
  k_layer_norm_fwd<<<unsigned(R), kThreads, 0, s>>>(x, g, b, y, stats, R, C, eps);
}
void layer_norm_bwd(cudaStream_t s, const float* x, const float* g, const float* stats, const float* dy, float* dx,
                    bool acc, float* dg, float* db, int64_t R, int64_t C) {
  if (dx) k_layer_norm_bwd_dx<<<unsigned(R), kThreads, 0, s>>>(x, g, stats, dy, dx, acc, R, C);
  if (dg || db) k_layer_norm_bwd_params<<<blocks(C), kThreads, 0, s>>>(x, stats, dy, dg, db, R, C);
}
void loss_fwd(cudaStream_t s, const DevScalars* sc, int opcode, const float* x, const void* labels, float* prob,
              float* loss, int64_t R, int64_t C, int64_t per, float smoothing, int64_t ignore, float* counted,
              const float* weights, double a0, double a1) {
  k_loss_fwd<<<1, kThreads, 0, s>>>(sc, opcode, x, labels, prob, loss, R, C, per, smoothing, ignore, counted, weights,
                                    a0, a1);
}
void loss_bwd(cudaStream_t s, const DevScalars* sc, int opcode, const float* x, const void* labels, const float* prob,
              float* dx, bool acc, int64_t R, int64_t C, int64_t per, float smoothing, int64_t ignore,
              const float* counted, const float* weights, double a0, double a1) {
  k_loss_bwd<<<blocks(R * C), kThreads, 0, s>>>(sc, opcode, x, labels, prob, dx, acc, R, C, per, smoothing, ignore,
                                                 counted, weights, a0, a1);
}
void cosine_fwd(cudaStream_t s, const DevScalars* sc, const float* x1, const float* x2, const float* t, float* loss,
                int64_t R, int64_t D, int64_t per, double margin) {
  k_cosine_fwd<<<1, kThreads, 0, s>>>(sc, x1, x2, t, loss, R, D, per, margin);
}
void cosine_bwd(cudaStream_t s, const DevScalars* sc, const float* x1, const float* x2, const float* t, float* d1, bool acc1,
                float* d2, bool acc2, int64_t R, int64_t D, int64_t per, double margin) {
  k_cosine_bwd<<<blocks(R), kThreads, 0, s>>>(sc, x1, x2, t, d1, acc1, d2, acc2, R, D, per, margin);
}
void transpose4(cudaStream_t s, const float* x, float* y, const int64_t* xdims, const int* perm, bool inverse, bool acc) {
  Dims4 d;
  for (int k = 0; k < 4; ++k) d.x[k] = xdims[k], d.perm[k] = perm[k];
  k_transpose4<<<blocks(d.x[0] * d.x[1] * d.x[2] * d.x[3]), kThreads, 0, s>>>(x, y, d, inverse, acc);
}
void upsample_fwd(cudaStream_t s, const float* x, float* y, int64_t NC, int64_t H, int64_t W, int64_t f) {
  k_upsample_fwd<<<blocks(NC * H * W * f * f), kThreads, 0, s>>>(x, y, NC, H, W, f);
}
void upsample_bwd(cudaStream_t s, const float* dy, float* dx, int64_t NC, int64_t H, int64_t W, int64_t f, bool acc) {
  k_upsample_bwd<<<blocks(NC * H * W), kThreads, 0, s>>>(dy, dx, NC, H, W, f, acc);
}
void reorg_fwd(cudaStream_t s, const float* x, float* y, int64_t N, int64_t C, int64_t H, int64_t W, int64_t stride) {
  k_reorg<<<blocks(N * C * H * W), kThreads, 0, s>>>(x, y, N, C, H, W, stride, false, false);
}
void reorg_bwd(cudaStream_t s, const float* dy, float* dx, int64_t N, int64_t C, int64_t H, int64_t W, int64_t stride,
               bool acc) {
  k_reorg<<<blocks(N * C * H * W), kThreads, 0, s>>>(dy, dx, N, C, H, W, stride, true, acc);
}
void local_fwd(cudaStream_t s, const float* x, const float* w, const float* b, float* y, const LocalDims& d) {
  k_local_fwd<<<blocks(d.n * d.f * d.oh * d.ow), kThreads, 0, s>>>(x, w, b, y, d);
}
void local_bwd_data(cudaStream_t s, const float* dy, const float* w, float* dx, const LocalDims& d, bool acc) {
  k_local_bwd_data<<<blocks(d.n * d.c * d.h * d.w), kThreads, 0, s>>>(dy, w, dx, d, acc);
}
void local_bwd_params(cudaStream_t s, const float* x, const float* dy, float* dw, float* db, const LocalDims& d) {
  const int64_t L = d.oh * d.ow;
  if (dw) k_local_bwd_w<<<blocks(L * d.f * d.c * d.r * d.s), kThreads, 0, s>>>(x, dy, dw, d);
  if (db) k_local_bwd_b<<<blocks(d.f * L), kThreads, 0, s>>>(dy, db, d.n, d.f * L);
}
void embedding_fwd(cudaStream_t s, const int32_t* idx, const float* table, float* y, int64_t R, int64_t D, int64_t V,
                   int* flag) {
  k_embedding_fwd<<<blocks(R * D), kThreads, 0, s>>>(idx, table, y, R, D, V, flag);
}
void embedding_bwd(cudaStream_t s, const int32_t* idx, const float* dy, float* dt, int64_t R, int64_t D, int64_t V) {
  k_embedding_bwd<<<blocks(R * D), kThreads, 0, s>>>(idx, dy, dt, R, D, V);
}
void copy2d(cudaStream_t s, const float* src, int64_t ss, float* dst, int64_t ds, int64_t outer, int64_t len, bool acc) {
  k_copy2d<<<blocks(outer * len), kThreads, 0, s>>>(src, ss, dst, ds, outer, len, acc);
}
// LAMB's first pass: exp_avg and exp_avg_sq advanced, and per tensor the squared norms of the weights and of the
// update r = m_hat / (sqrt(v_hat) + eps) + wd p added into norms[2 ti], norms[2 ti + 1] (zeroed before).
__global__ void k_lamb_norms(const DevScalars* sc, UpdateHyper h, UpdateArgs a, const float* loss) {
  if (loss && !isfinite(*loss)) return;
  int ti = 0;
  while (ti + 1 < a.n && a.first_block[ti + 1] <= (int64_t)blockIdx.x) ++ti;
  const UpdateTensor T = a.t[ti];
  const int64_t begin = ((int64_t)blockIdx.x - a.first_block[ti]) * kUpdateChunk;
  const int64_t end = begin + kUpdateChunk < T.n ? begin + kUpdateChunk : T.n;
  const int64_t t = sc->t;
  const float b1 = float(h.beta1), b2 = float(h.beta2), eps = h.eps, wd = T.wd;
  const float bc1 = 1.f - float(pow(h.beta1, double(t))), bc2 = 1.f - float(pow(h.beta2, double(t)));
  const float omb1 = float(1.0 - h.beta1), omb2 = float(1.0 - h.beta2);
  double wn = 0, rn = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const float g = T.g[i];
    float m = b1 * T.s0[i] + omb1 * g;
    float v = b2 * T.s1[i] + omb2 * g * g;
    T.s0[i] = m, T.s1[i] = v;
    float r = (m / bc1) / (sqrtf(v / bc2) + eps) + wd * T.p[i];
    wn += double(T.p[i]) * double(T.p[i]);
    rn += double(r) * double(r);
  }
  __shared__ double sw[kThreads], sr[kThreads];
  sw[threadIdx.x] = wn, sr[threadIdx.x] = rn;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k >>= 1) {
    if (int(threadIdx.x) < k) sw[threadIdx.x] += sw[threadIdx.x + k], sr[threadIdx.x] += sr[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    atomicAdd(&h.lamb[2 * ti], sw[0]);
    atomicAdd(&h.lamb[2 * ti + 1], sr[0]);
  }
}

// NAdam's mu_product for this step's t: one more factor when the state holds t - 1, else the whole product.
__global__ void k_nadam_product(const DevScalars* sc, double* state, double beta1, double md, const float* loss) {
  if (loss && !isfinite(*loss)) return;
  const int64_t t = sc->t;
  auto mu = [&](int64_t k) { return beta1 * (1.0 - 0.5 * pow(0.96, double(k) * md)); };
  if (int64_t(state[0]) == t) return;
  if (int64_t(state[0]) == t - 1 && t > 1) {
    state[1] *= mu(t);
  } else {
    double p = 1;
    for (int64_t k = 1; k <= t; ++k) p *= mu(k);
    state[1] = p;
  }
  state[0] = double(t);
}

void multi_update(cudaStream_t s, const DevScalars* sc, const UpdateHyper& h, const UpdateTensor* ts, int n,
                  const float* loss) {
  if (h.kind == 5) k_nadam_product<<<1, 1, 0, s>>>(sc, h.nadam, h.beta1, double(h.momentum), loss);
  for (int b = 0; b < n; b += kMaxUpdateTensors) {
    UpdateArgs a{};
    a.n = n - b < kMaxUpdateTensors ? n - b : kMaxUpdateTensors;
    a.first_block[0] = 0;
    for (int i = 0; i < a.n; ++i) {
      a.t[i] = ts[b + i];
      a.first_block[i + 1] = a.first_block[i] + (ts[b + i].n + kUpdateChunk - 1) / kUpdateChunk;
    }
    if (h.kind == 7) {  // LAMB: the norms of every tensor first, then the update scaled by its trust ratio
      cudaMemsetAsync(h.lamb, 0, 2 * kMaxUpdateTensors * sizeof(double), s);
      k_lamb_norms<<<unsigned(a.first_block[a.n]), kThreads, 0, s>>>(sc, h, a, loss);
    }
    k_multi_update<<<unsigned(a.first_block[a.n]), kThreads, 0, s>>>(sc, h, a, loss);
  }
}

}  // namespace dls::cuda
