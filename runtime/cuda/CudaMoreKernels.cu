// CudaMoreKernels.cu: see CudaMore.h. The formulas are core/EltMath.h's, shared with the CPU loops.
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>

#include "../core/EltMath.h"
#include "../include/dlspec/runtime.h"
#include "CudaMore.h"

namespace dls::cuda {

namespace {

constexpr int kThreads = 256;
inline unsigned blocks(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return unsigned(b < 1 ? 1 : (b > 65535 * 8 ? 65535 * 8 : b));
}
#define MGRID(i, n) for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)

__device__ __forceinline__ void put(float* p, int64_t i, float v, bool acc) { p[i] = acc ? p[i] + v : v; }

void check(cudaError_t e) {
  if (e != cudaSuccess) throw std::runtime_error(cudaGetErrorString(e));
}

int act_kind(int opcode) {
  switch (opcode) {
    case DLS_OP_ELU: return elt::ELU;
    case DLS_OP_SELU: return elt::SELU;
    case DLS_OP_SILU: return elt::SILU;
    case DLS_OP_MISH: return elt::MISH;
    case DLS_OP_SOFTPLUS: return elt::SOFTPLUS;
    case DLS_OP_HARDSWISH: return elt::HARDSWISH;
    case DLS_OP_HARDSIGMOID: return elt::HARDSIGMOID;
    case DLS_OP_RELU6: return elt::RELU6;
    default: return -1;
  }
}
int bin_kind(int opcode) { return opcode == DLS_OP_MUL ? elt::MUL : opcode == DLS_OP_SUB ? elt::SUB : elt::DIV; }

__global__ void k_act(int k, float a, float b, const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  MGRID(i, n) y[i] = elt::fwd(k, x[i], a, b);
}
__global__ void k_act_grad(int k, float a, float b, const float* __restrict__ x, const float* __restrict__ dy, float* dx,
                           int64_t n, bool acc) {
  MGRID(i, n) put(dx, i, dy[i] * elt::deriv(k, x[i], a, b), acc);
}

// prelu over rows of `inner` elements, row r in channel r % C (C = 1: one shared slope).
__global__ void k_prelu(const float* x, const float* w, float* y, int64_t n, int64_t C, int64_t inner, bool shared) {
  MGRID(i, n) {
    const float a = w[shared ? 0 : (i / inner) % C];
    y[i] = x[i] > 0.f ? x[i] : a * x[i];
  }
}
__global__ void k_prelu_grad(const float* x, const float* w, const float* dy, float* dx, float* dw, int64_t n, int64_t C,
                             int64_t inner, bool shared, bool acc) {
  MGRID(i, n) {
    const int64_t c = shared ? 0 : (i / inner) % C;
    if (dx) put(dx, i, x[i] > 0.f ? dy[i] : w[c] * dy[i], acc);
    if (dw && x[i] <= 0.f) atomicAdd(dw + c, dy[i] * x[i]);
  }
}

__global__ void k_glu(const float* x, float* y, int64_t outer, int64_t h) {
  MGRID(i, outer * h) {
    const int64_t o = i / h, j = i % h;
    y[i] = x[o * 2 * h + j] * elt::sigm(x[o * 2 * h + h + j]);
  }
}
__global__ void k_glu_grad(const float* x, const float* dy, float* dx, int64_t outer, int64_t h, bool acc) {
  MGRID(i, outer * h) {
    const int64_t o = i / h, j = i % h;
    const float a = x[o * 2 * h + j], s = elt::sigm(x[o * 2 * h + h + j]), d = dy[i];
    put(dx, o * 2 * h + j, d * s, acc);
    put(dx, o * 2 * h + h + j, d * a * s * (1.f - s), acc);
  }
}

__global__ void k_bin(int k, elt::Bcast g, const float* a, const float* b, float* y) {
  MGRID(i, g.n) {
    int64_t oa, ob;
    elt::offsets(g, i, oa, ob);
    y[i] = elt::bin(k, a[oa], b[ob]);
  }
}
// Sums into zeroed scratch (ta, tb: may be null).
__global__ void k_bin_grad(int k, elt::Bcast g, const float* a, const float* b, const float* dy, float* ta, float* tb) {
  MGRID(i, g.n) {
    int64_t oa, ob;
    elt::offsets(g, i, oa, ob);
    if (ta) atomicAdd(ta + oa, dy[i] * elt::bin_da(k, a[oa], b[ob]));
    if (tb) atomicAdd(tb + ob, dy[i] * elt::bin_db(k, a[oa], b[ob]));
  }
}
__global__ void k_add_or_copy(const float* src, float* dst, int64_t n, bool acc) {
  MGRID(i, n) put(dst, i, src[i], acc);
}

__global__ void k_reduce_sum(elt::Reduce g, const float* x, float* y, float scale) {
  MGRID(i, g.n) atomicAdd(y + elt::reduce_out(g, i), x[i] * scale);
}
// Floats as order-preserving integers, for atomicMax.
__device__ __forceinline__ int ordered(float f) {
  const int k = __float_as_int(f);
  return k >= 0 ? k : k ^ 0x7fffffff;
}
__device__ __forceinline__ float unordered(int k) { return __int_as_float(k >= 0 ? k : k ^ 0x7fffffff); }
__global__ void k_fill_int(int* p, int v, int64_t n) {
  MGRID(i, n) p[i] = v;
}
__global__ void k_reduce_max_keys(elt::Reduce g, const float* x, int* keys) {
  MGRID(i, g.n) atomicMax(keys + elt::reduce_out(g, i), ordered(x[i]));
}
// The first maximal element's index of each output (arg starts at INT_MAX), and y.
__global__ void k_reduce_max_arg(elt::Reduce g, const float* x, const int* keys, int* arg) {
  MGRID(i, g.n) {
    const int64_t j = elt::reduce_out(g, i);
    if (ordered(x[i]) == keys[j]) atomicMin(arg + j, int(i));
  }
}
__global__ void k_keys_to_y(const int* keys, float* y, int64_t n) {
  MGRID(j, n) y[j] = unordered(keys[j]);
}
__global__ void k_reduce_grad(elt::Reduce g, const float* dy, const int* arg, float* dx, float scale, bool acc) {
  MGRID(i, g.n) {
    const int64_t j = elt::reduce_out(g, i);
    put(dx, i, arg ? (arg[j] == int(i) ? dy[j] : 0.f) : dy[j] * scale, acc);
  }
}

__global__ void k_adaptive(const float* x, float* y, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  MGRID(o, NC * OH * OW) {
    const int64_t j = o % OW, i = (o / OW) % OH, p = o / (OW * OH);
    const int64_t h0 = elt::bin_start(i, H, OH), h1 = elt::bin_end(i, H, OH);
    const int64_t w0 = elt::bin_start(j, W, OW), w1 = elt::bin_end(j, W, OW);
    float s = 0;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) s += x[(p * H + h) * W + w];
    y[o] = s / float((h1 - h0) * (w1 - w0));
  }
}
__global__ void k_adaptive_grad(const float* dy, float* dx, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                bool acc) {
  MGRID(e, NC * H * W) {
    const int64_t w = e % W, h = (e / W) % H, p = e / (W * H);
    float s = 0;
    for (int64_t i = 0; i < OH; ++i) {
      const int64_t h0 = elt::bin_start(i, H, OH), h1 = elt::bin_end(i, H, OH);
      if (h < h0 || h >= h1) continue;
      for (int64_t j = 0; j < OW; ++j) {
        const int64_t w0 = elt::bin_start(j, W, OW), w1 = elt::bin_end(j, W, OW);
        if (w >= w0 && w < w1) s += dy[(p * OH + i) * OW + j] / float((h1 - h0) * (w1 - w0));
      }
    }
    put(dx, e, s, acc);
  }
}

// group_norm: one thread per (sample, group) row of M elements, rows of G groups of C/G channels x inner.
__global__ void k_gn_fwd(const float* x, const float* gm, const float* bt, float* y, float* stats, int64_t R, int64_t M,
                         int64_t G, int64_t C, int64_t inner, double eps) {
  MGRID(r, R) {
    const float* xr = x + r * M;
    double m = 0, v = 0;
    for (int64_t i = 0; i < M; ++i) m += xr[i];
    m /= double(M);
    for (int64_t i = 0; i < M; ++i) v += (xr[i] - m) * (xr[i] - m);
    const float rstd = float(1.0 / sqrt(v / double(M) + eps));
    stats[2 * r] = float(m), stats[2 * r + 1] = rstd;
    for (int64_t i = 0; i < M; ++i) {
      const int64_t c = (r % G) * (C / G) + i / inner;
      const float h = float((xr[i] - m) * double(rstd));
      y[r * M + i] = gm ? h * gm[c] + bt[c] : h;
    }
  }
}
__global__ void k_gn_bwd_dx(const float* x, const float* gm, const float* stats, const float* dy, float* dx, int64_t R,
                            int64_t M, int64_t G, int64_t C, int64_t inner, bool acc) {
  MGRID(r, R) {
    const float m = stats[2 * r], rstd = stats[2 * r + 1];
    double s0 = 0;  // h re-centred on its own rounded mean, as in the CPU backend: the group's dx sums to 0
    for (int64_t i = 0; i < M; ++i) s0 += double((x[r * M + i] - m) * rstd);
    const float c0 = float(s0 / double(M));
    double s1 = 0, s2 = 0;
    for (int64_t i = 0; i < M; ++i) {
      const int64_t c = (r % G) * (C / G) + i / inner;
      const float h = (x[r * M + i] - m) * rstd - c0, dh = gm ? dy[r * M + i] * gm[c] : dy[r * M + i];
      s1 += dh, s2 += double(dh) * h;
    }
    for (int64_t i = 0; i < M; ++i) {
      const int64_t c = (r % G) * (C / G) + i / inner;
      const float h = (x[r * M + i] - m) * rstd - c0, dh = gm ? dy[r * M + i] * gm[c] : dy[r * M + i];
      put(dx, r * M + i, rstd * float(dh - s1 / double(M) - h * s2 / double(M)), acc);
    }
  }
}
// d(gamma), d(beta): one thread per channel over every sample (overwritten; either may be null).
__global__ void k_gn_bwd_params(const float* x, const float* stats, const float* dy, float* dg, float* db, int64_t N,
                                int64_t G, int64_t C, int64_t inner) {
  MGRID(c, C) {
    double sg = 0, sb = 0;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t r = n * G + c / (C / G);
      const float m = stats[2 * r], rstd = stats[2 * r + 1];
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t e = (n * C + c) * inner + i;
        sg += double(dy[e]) * ((x[e] - m) * rstd), sb += dy[e];
      }
    }
    if (dg) dg[c] = float(sg);
    if (db) db[c] = float(sb);
  }
}

float* fp(const dls_tensor_desc& t) { return static_cast<float*>(t.data); }
float* din(const dls_grad_op_desc& g, int i) { return i < g.nins ? static_cast<float*>(g.dins[i].data) : nullptr; }
bool acc_bit(const dls_grad_op_desc& g, int i) { return ((g.accumulate_mask >> i) & 1u) != 0; }
void around(const dls_tensor_desc& t, int axis, int64_t& outer, int64_t& h) {
  outer = 1;
  int64_t inner = 1;
  for (int k = 0; k < axis; ++k) outer *= t.dims[k];
  for (int k = axis + 1; k < t.rank; ++k) inner *= t.dims[k];
  h = t.dims[axis] / 2 * inner;
}

}  // namespace

bool more_is(int opcode) {
  switch (opcode) {
    case DLS_OP_ELU: case DLS_OP_SELU: case DLS_OP_SILU: case DLS_OP_MISH: case DLS_OP_SOFTPLUS: case DLS_OP_HARDSWISH:
    case DLS_OP_HARDSIGMOID: case DLS_OP_RELU6: case DLS_OP_PRELU: case DLS_OP_GLU: case DLS_OP_MUL: case DLS_OP_SUB:
    case DLS_OP_DIV: case DLS_OP_REDUCE_MEAN: case DLS_OP_REDUCE_SUM: case DLS_OP_REDUCE_MAX: case DLS_OP_ADAPTIVE_AVGPOOL:
    case DLS_OP_GROUP_NORM:
      return true;
    default: return false;
  }
}

size_t more_fwd_scratch(const dls_op_desc& op) {
  // max: the ordered keys, then the arg indices, one int each per output
  if (op.opcode == DLS_OP_GROUP_NORM) return size_t(2 * op.rows);  // mean, 1/std per sample and group
  return op.opcode == DLS_OP_REDUCE_MAX ? size_t(2 * op.tensors[1].numel) : 0;
}

size_t more_bwd_scratch(const dls_grad_op_desc& g) {
  const dls_op_desc& op = *g.fwd;
  if (op.opcode == DLS_OP_MUL || op.opcode == DLS_OP_SUB || op.opcode == DLS_OP_DIV)
    return size_t(op.tensors[0].numel + op.tensors[1].numel);
  return 0;
}

void more_fwd(cudaStream_t s, const dls_op_desc& op, float* scratch) {
  const auto& T = op.tensors;
  const int64_t n = T[0].numel;
  if (const int k = act_kind(op.opcode); k >= 0) {
    const float a = op.nattrs > 0 ? float(op.attrs[0]) : 0.f, b = op.nattrs > 1 ? float(op.attrs[1]) : 0.f;
    k_act<<<blocks(n), kThreads, 0, s>>>(k, a, b, fp(T[0]), fp(T[1]), n);
    return;
  }
  switch (op.opcode) {
    case DLS_OP_PRELU:
      k_prelu<<<blocks(n), kThreads, 0, s>>>(fp(T[0]), fp(T[1]), fp(T[2]), n, op.cols, n / (op.rows * op.cols),
                                             T[1].numel == 1);
      return;
    case DLS_OP_GLU: {
      int64_t outer, h;
      around(T[0], int(op.attrs[0]), outer, h);
      k_glu<<<blocks(outer * h), kThreads, 0, s>>>(fp(T[0]), fp(T[1]), outer, h);
      return;
    }
    case DLS_OP_MUL: case DLS_OP_SUB: case DLS_OP_DIV: {
      const elt::Bcast g = elt::bcast(T[0].dims, T[0].rank, T[1].dims, T[1].rank, T[2].dims, T[2].rank);
      k_bin<<<blocks(g.n), kThreads, 0, s>>>(bin_kind(op.opcode), g, fp(T[0]), fp(T[1]), fp(T[2]));
      return;
    }
    case DLS_OP_REDUCE_MEAN: case DLS_OP_REDUCE_SUM: case DLS_OP_REDUCE_MAX: {
      const elt::Reduce g = elt::reduce_geom(T[0].dims, T[0].rank, op.attrs + 1);
      const int64_t ny = T[1].numel;
      if (op.opcode != DLS_OP_REDUCE_MAX) {
        check(cudaMemsetAsync(T[1].data, 0, size_t(ny) * 4, s));
        k_reduce_sum<<<blocks(g.n), kThreads, 0, s>>>(g, fp(T[0]), fp(T[1]),
                                                      op.opcode == DLS_OP_REDUCE_MEAN ? 1.f / float(g.count) : 1.f);
        return;
      }
      int* keys = reinterpret_cast<int*>(scratch);
      int* arg = keys + ny;
      k_fill_int<<<blocks(ny), kThreads, 0, s>>>(keys, -2147483647 - 1, ny);  // below every key
      k_fill_int<<<blocks(ny), kThreads, 0, s>>>(arg, 0x7fffffff, ny);
      k_reduce_max_keys<<<blocks(g.n), kThreads, 0, s>>>(g, fp(T[0]), keys);
      k_reduce_max_arg<<<blocks(g.n), kThreads, 0, s>>>(g, fp(T[0]), keys, arg);
      k_keys_to_y<<<blocks(ny), kThreads, 0, s>>>(keys, fp(T[1]), ny);
      return;
    }
    case DLS_OP_GROUP_NORM: {
      const int64_t G = int64_t(op.attrs[0]), C = T[0].dims[1];
      k_gn_fwd<<<blocks(op.rows), kThreads, 0, s>>>(fp(T[0]), T[1].id >= 0 ? fp(T[1]) : nullptr,
                                                    T[2].id >= 0 ? fp(T[2]) : nullptr, fp(T[3]), scratch, op.rows, op.cols,
                                                    G, C, op.cols * G / C, op.attrs[1]);
      return;
    }
    case DLS_OP_ADAPTIVE_AVGPOOL:
      k_adaptive<<<blocks(T[1].numel), kThreads, 0, s>>>(fp(T[0]), fp(T[1]), T[0].dims[0] * T[0].dims[1], T[0].dims[2],
                                                         T[0].dims[3], T[1].dims[2], T[1].dims[3]);
      return;
    default: throw std::runtime_error("op is not supported by the CUDA backend");
  }
}

void more_bwd(cudaStream_t s, const dls_grad_op_desc& g, const float* fwd_scratch, float* scratch) {
  const dls_op_desc& op = *g.fwd;
  const auto& T = op.tensors;
  const float* dy = fp(g.dout);
  float* dx = din(g, 0);
  const bool acc = acc_bit(g, 0);
  const int64_t n = T[0].numel;
  if (const int k = act_kind(op.opcode); k >= 0) {
    const float a = op.nattrs > 0 ? float(op.attrs[0]) : 0.f, b = op.nattrs > 1 ? float(op.attrs[1]) : 0.f;
    if (dx) k_act_grad<<<blocks(n), kThreads, 0, s>>>(k, a, b, fp(T[0]), dy, dx, n, acc);
    return;
  }
  switch (op.opcode) {
    case DLS_OP_PRELU: {
      float* dw = g.dparams[0].id >= 0 ? fp(g.dparams[0]) : nullptr;
      if (dw) check(cudaMemsetAsync(dw, 0, size_t(T[1].numel) * 4, s));
      if (dx || dw)
        k_prelu_grad<<<blocks(n), kThreads, 0, s>>>(fp(T[0]), fp(T[1]), dy, dx, dw, n, op.cols, n / (op.rows * op.cols),
                                                    T[1].numel == 1, acc);
      return;
    }
    case DLS_OP_GLU: {
      if (!dx) return;
      int64_t outer, h;
      around(T[0], int(op.attrs[0]), outer, h);
      k_glu_grad<<<blocks(outer * h), kThreads, 0, s>>>(fp(T[0]), dy, dx, outer, h, acc);
      return;
    }
    case DLS_OP_MUL: case DLS_OP_SUB: case DLS_OP_DIV: {
      const elt::Bcast geo = elt::bcast(T[0].dims, T[0].rank, T[1].dims, T[1].rank, T[2].dims, T[2].rank);
      float* da = din(g, 0);
      float* db = din(g, 1);
      float* ta = da ? scratch : nullptr;
      float* tb = db ? scratch + T[0].numel : nullptr;
      if (!ta && !tb) return;
      check(cudaMemsetAsync(scratch, 0, size_t(T[0].numel + T[1].numel) * 4, s));
      k_bin_grad<<<blocks(geo.n), kThreads, 0, s>>>(bin_kind(op.opcode), geo, fp(T[0]), fp(T[1]), dy, ta, tb);
      if (ta) k_add_or_copy<<<blocks(T[0].numel), kThreads, 0, s>>>(ta, da, T[0].numel, acc_bit(g, 0));
      if (tb) k_add_or_copy<<<blocks(T[1].numel), kThreads, 0, s>>>(tb, db, T[1].numel, acc_bit(g, 1));
      return;
    }
    case DLS_OP_REDUCE_MEAN: case DLS_OP_REDUCE_SUM: case DLS_OP_REDUCE_MAX: {
      if (!dx) return;
      const elt::Reduce geo = elt::reduce_geom(T[0].dims, T[0].rank, op.attrs + 1);
      const int* arg = op.opcode == DLS_OP_REDUCE_MAX ? reinterpret_cast<const int*>(fwd_scratch) + T[1].numel : nullptr;
      k_reduce_grad<<<blocks(geo.n), kThreads, 0, s>>>(geo, dy, arg, dx,
                                                       op.opcode == DLS_OP_REDUCE_MEAN ? 1.f / float(geo.count) : 1.f, acc);
      return;
    }
    case DLS_OP_GROUP_NORM: {
      const int64_t G = int64_t(op.attrs[0]), C = T[0].dims[1], inner = op.cols * G / C;
      const float* gm = T[1].id >= 0 ? fp(T[1]) : nullptr;
      if (dx) k_gn_bwd_dx<<<blocks(op.rows), kThreads, 0, s>>>(fp(T[0]), gm, fwd_scratch, dy, dx, op.rows, op.cols, G, C, inner, acc);
      float* dg = g.dparams[0].id >= 0 ? fp(g.dparams[0]) : nullptr;
      float* db = g.dparams[1].id >= 0 ? fp(g.dparams[1]) : nullptr;
      if (dg || db) k_gn_bwd_params<<<blocks(C), kThreads, 0, s>>>(fp(T[0]), fwd_scratch, dy, dg, db, T[0].dims[0], G, C, inner);
      return;
    }
    case DLS_OP_ADAPTIVE_AVGPOOL:
      if (dx)
        k_adaptive_grad<<<blocks(n), kThreads, 0, s>>>(dy, dx, T[0].dims[0] * T[0].dims[1], T[0].dims[2], T[0].dims[3],
                                                       T[1].dims[2], T[1].dims[3], acc);
      return;
    default: throw std::runtime_error("op is not supported by the CUDA backend");
  }
}

// slice, pad, repeat (core/IndexMap.h): y[i] = x[map[i]] or `value` where map[i] < 0; the gradient sums d(y) into
// op-owned scratch d(x) by atomics, then writes (=|+=) d(input).
namespace {
__global__ void k_index_gather(const float* x, const int32_t* map, float* y, int64_t n, float value) {
  MGRID(i, n) { y[i] = map[i] >= 0 ? x[map[i]] : value; }
}
__global__ void k_index_scatter(const float* dy, const int32_t* map, float* dx, int64_t n) {
  MGRID(i, n) {
    if (map[i] >= 0) atomicAdd(dx + map[i], dy[i]);
  }
}
__global__ void k_put_all(const float* src, float* dst, int64_t n, bool acc) {
  MGRID(i, n) { put(dst, i, src[i], acc); }
}
}  // namespace

void index_gather(cudaStream_t s, const float* x, const int32_t* map, float* y, int64_t ny, float value) {
  k_index_gather<<<blocks(ny), kThreads, 0, s>>>(x, map, y, ny, value);
}
void index_scatter(cudaStream_t s, const float* dy, const int32_t* map, float* scratch, float* dx, int64_t ny, int64_t nx,
                   bool acc) {
  check(cudaMemsetAsync(scratch, 0, size_t(nx) * 4, s));
  k_index_scatter<<<blocks(ny), kThreads, 0, s>>>(dy, map, scratch, ny);
  k_put_all<<<blocks(nx), kThreads, 0, s>>>(scratch, dx, nx, acc);
}

}  // namespace dls::cuda
