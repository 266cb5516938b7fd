// CpuAttention.cpp: multi-head self-attention (runtime.h DLS_OP_MULTI_HEAD_ATTENTION, torch.nn.MultiheadAttention's
// formulas and parameter layout) and the learned positional embedding (DLS_OP_POSITIONAL_EMBEDDING) on the CPU.
// The products are dnnl_sgemm calls (row-major); softmax, masks and dropout are plain loops. The forward keeps
// what the backward needs in op-owned scratch:
//   qkv  [N*T, 3D]     x W_in^T + b_in (q, k, v side by side; head h's columns h*E .. h*E+E-1 of each)
//   p    [N, H, T, T]  softmax of the scaled, masked scores
//   mask [N, H, T, T]  dropout's scale-or-zero factors (dropout > 0 only)
//   o    [N*T, D]      the heads' outputs side by side, before the output projection
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "../core/Rng.h"
#include "CpuOp.h"

namespace dls::cpu {

namespace {

struct Attn {
  int64_t N = 0, T = 0, D = 0, H = 1, E = 0;
  bool causal = false;
  float dropout = 0, scale = 1;
  uint64_t opid = 0;
  const float *x = nullptr, *wi = nullptr, *wo = nullptr, *bi = nullptr, *bo = nullptr;
  float* y = nullptr;
  float *qkv = nullptr, *p = nullptr, *mask = nullptr, *o = nullptr, *pd = nullptr;  // pd: P after dropout [T, T]
};

Step fn_step(std::function<void(const dls_step_ctx&)> f) {
  Step s;
  s.fn = std::move(f);
  return s;
}

void add_rows(float* m, const float* b, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = m + r * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) row[j] += b[j];
  }
}

void col_sums(const float* m, int64_t rows, int64_t cols, float* out) {
  std::memset(out, 0, size_t(cols) * 4);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = m + r * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) out[j] += row[j];
  }
}

// The dropout factor of element i of op `opid`'s attention weights this step (as DLS_OP_DROPOUT's masks).
inline float drop_factor(uint64_t key, int64_t i, float p, float keep_scale) {
  return u01(mix64(key ^ (uint64_t)i * 0x9e3779b97f4a7c15ull)) >= p ? keep_scale : 0.f;
}

void forward(const Attn& a, const dls_step_ctx& s) {
  const int64_t N = a.N, T = a.T, D = a.D, H = a.H, E = a.E, D3 = 3 * D;
  dnnl_sgemm('N', 'T', N * T, D3, D, 1.f, a.x, D, a.wi, D, 0.f, a.qkv, D3);
  if (a.bi) add_rows(a.qkv, a.bi, N * T, D3);
  const bool drop = s.training && a.dropout > 0;
  const uint64_t key = hash3(s.seed, (uint64_t)s.step, a.opid);
  const float keep = 1.f / (1.f - a.dropout);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h) {
      const float* q = a.qkv + n * T * D3 + h * E;
      const float* k = q + D;
      const float* v = q + 2 * D;
      float* P = a.p + (n * H + h) * T * T;
      // scores = q k^T / sqrt(E)
      dnnl_sgemm('N', 'T', T, T, E, a.scale, q, D3, k, D3, 0.f, P, T);
#pragma omp parallel for if (T * T > 16384) schedule(static)
      for (int64_t i = 0; i < T; ++i) {
        float* row = P + i * T;
        const int64_t len = a.causal ? i + 1 : T;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < len; ++j) mx = std::max(mx, row[j]);
        float sum = 0;
        for (int64_t j = 0; j < len; ++j) sum += row[j] = std::exp(row[j] - mx);
        const float inv = 1.f / sum;
        for (int64_t j = 0; j < len; ++j) row[j] *= inv;
        for (int64_t j = len; j < T; ++j) row[j] = 0.f;
      }
      const float* W = P;
      if (drop) {
        float* M = a.mask + (n * H + h) * T * T;
        const int64_t base = ((s.shard * N + n) * H + h) * T * T;  // the global batch's row (dls_step_ctx::shard)
        for (int64_t i = 0; i < T * T; ++i) {
          M[i] = drop_factor(key, base + i, a.dropout, keep);
          a.pd[i] = P[i] * M[i];
        }
        W = a.pd;
      }
      // o_h = P' v
      dnnl_sgemm('N', 'N', T, E, T, 1.f, W, T, v, D3, 0.f, a.o + n * T * D + h * E, D);
    }
  dnnl_sgemm('N', 'T', N * T, D, D, 1.f, a.o, D, a.wo, D, 0.f, a.y, D);
  if (a.bo) add_rows(a.y, a.bo, N * T, D);
}

struct AttnGrad {
  const float* dy = nullptr;
  float* dx = nullptr;
  bool dx_acc = false;
  float *dwi = nullptr, *dwo = nullptr, *dbi = nullptr, *dbo = nullptr;
  float *dqkv = nullptr, *dO = nullptr, *dP = nullptr, *pd = nullptr;  // dP, pd: [T, T]
  bool trained_with_dropout = false;
};

void backward(const Attn& a, const AttnGrad& g) {
  const int64_t N = a.N, T = a.T, D = a.D, H = a.H, E = a.E, D3 = 3 * D;
  // Output projection: d(o) = dy W_out, d(W_out) = dy^T o, d(b_out) = column sums of dy.
  dnnl_sgemm('N', 'N', N * T, D, D, 1.f, g.dy, D, a.wo, D, 0.f, g.dO, D);
  if (g.dwo) dnnl_sgemm('T', 'N', D, D, N * T, 1.f, g.dy, D, a.o, D, 0.f, g.dwo, D);
  if (g.dbo) col_sums(g.dy, N * T, D, g.dbo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h) {
      const float* q = a.qkv + n * T * D3 + h * E;
      const float* k = q + D;
      const float* v = q + 2 * D;
      float* dq = g.dqkv + n * T * D3 + h * E;
      float* dk = dq + D;
      float* dv = dq + 2 * D;
      const float* P = a.p + (n * H + h) * T * T;
      const float* M = g.trained_with_dropout ? a.mask + (n * H + h) * T * T : nullptr;
      const float* dO = g.dO + n * T * D + h * E;
      const float* W = P;
      if (M) {
        for (int64_t i = 0; i < T * T; ++i) g.pd[i] = P[i] * M[i];
        W = g.pd;
      }
      // d(v) = P'^T d(o); d(P') = d(o) v^T; d(P) = d(P') * mask
      dnnl_sgemm('T', 'N', T, E, T, 1.f, W, T, dO, D, 0.f, dv, D3);
      dnnl_sgemm('N', 'T', T, T, E, 1.f, dO, D, v, D3, 0.f, g.dP, T);
      // softmax: d(s) = P * (d(P) - sum_j d(P) P), times the scale (masked entries have P = 0)
      float* dS = g.dP;
      const float sc = a.scale;
#pragma omp parallel for if (T * T > 16384) schedule(static)
      for (int64_t i = 0; i < T; ++i) {
        float* row = dS + i * T;
        const float* prow = P + i * T;
        const float* mrow = M ? M + i * T : nullptr;
        float dot = 0;
        for (int64_t j = 0; j < T; ++j) {
          if (mrow) row[j] *= mrow[j];
          dot += row[j] * prow[j];
        }
        for (int64_t j = 0; j < T; ++j) row[j] = prow[j] * (row[j] - dot) * sc;
      }
      // d(q) = d(s) k, d(k) = d(s)^T q
      dnnl_sgemm('N', 'N', T, E, T, 1.f, dS, T, k, D3, 0.f, dq, D3);
      dnnl_sgemm('T', 'N', T, E, T, 1.f, dS, T, q, D3, 0.f, dk, D3);
    }
  // Input projection: d(x) = d(qkv) W_in, d(W_in) = d(qkv)^T x, d(b_in) = column sums of d(qkv).
  if (g.dx) dnnl_sgemm('N', 'N', N * T, D, D3, 1.f, g.dqkv, D3, a.wi, D, g.dx_acc ? 1.f : 0.f, g.dx, D);
  if (g.dwi) dnnl_sgemm('T', 'N', D3, D, N * T, 1.f, g.dqkv, D3, a.x, D, 0.f, g.dwi, D);
  if (g.dbi) col_sums(g.dqkv, N * T, D3, g.dbi);
}

}  // namespace

void attention_fwd(Ctx&, const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  auto a = std::make_shared<Attn>();
  a->N = T[0].dims[0], a->T = T[0].dims[1], a->D = T[0].dims[2];
  a->H = int64_t(op.attrs[0]), a->E = a->D / a->H;
  a->causal = op.attrs[1] != 0, a->dropout = float(op.attrs[2]);
  a->scale = 1.f / std::sqrt(float(a->E));
  a->opid = uint64_t(op.id);
  a->x = fptr(T[0]), a->wi = fptr(T[1]), a->wo = fptr(T[2]);
  a->bi = T[3].id >= 0 ? fptr(T[3]) : nullptr;
  a->bo = T[4].id >= 0 ? fptr(T[4]) : nullptr;
  a->y = fptr(T[5]);
  const size_t NT = size_t(a->N * a->T), TT = size_t(a->T * a->T), NHTT = size_t(a->N * a->H) * TT;
  a->qkv = st.buf(NT * 3 * size_t(a->D))->p;
  a->p = st.buf(NHTT)->p;
  a->o = st.buf(NT * size_t(a->D))->p;
  if (a->dropout > 0) a->mask = st.buf(NHTT)->p, a->pd = st.buf(TT)->p;
  const Attn* ap = a.get();
  st.train.push_back(fn_step([ap](const dls_step_ctx& s) { forward(*ap, s); }));
  st.fwd_pd = a;
}

void attention_bwd(Ctx&, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const Attn& a = *static_cast<Attn*>(f.fwd_pd.get());
  AttnGrad d;
  d.dy = fptr(g.dout);
  if (g.nins > 0 && g.dins[0].data) d.dx = fptr(g.dins[0]), d.dx_acc = (g.accumulate_mask & 1u) != 0;
  // dparams: the op's trainable parameters in tensor order: w_in, w_out, then b_in, b_out when present.
  auto dp = [&](int i) { return g.dparams[i].id >= 0 ? fptr(g.dparams[i]) : nullptr; };
  d.dwi = dp(0), d.dwo = dp(1);
  if (a.bi) d.dbi = dp(2), d.dbo = dp(3);
  const size_t NT = size_t(a.N * a.T), TT = size_t(a.T * a.T);
  d.dqkv = st.buf(NT * 3 * size_t(a.D))->p;
  d.dO = st.buf(NT * size_t(a.D))->p;
  d.dP = st.buf(TT)->p;
  d.trained_with_dropout = a.dropout > 0;
  if (a.dropout > 0) d.pd = st.buf(TT)->p;
  const Attn* ap = &a;
  st.train.push_back(fn_step([ap, d](const dls_step_ctx&) { backward(*ap, d); }));
}

// y[n, t] = x[n, t] + table[t]; d(x) = dy, d(table)[t] = sum_n dy[n, t] (rows past T stay zero).
void positional_fwd(Ctx&, const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  const float* x = fptr(T[0]);
  const float* w = fptr(T[1]);
  float* y = fptr(T[2]);
  const int64_t N = T[0].dims[0], per = T[0].dims[1] * T[0].dims[2];
  st.train.push_back(fn_step([=](const dls_step_ctx&) {
    for (int64_t n = 0; n < N; ++n) {
      const float* xr = x + n * per;
      float* yr = y + n * per;
#pragma omp simd
      for (int64_t i = 0; i < per; ++i) yr[i] = xr[i] + w[i];
    }
  }));
}

void positional_bwd(Ctx&, const dls_grad_op_desc& g, OpState&, OpState& st) {
  const auto& T = g.fwd->tensors;
  const float* dy = fptr(g.dout);
  float* dx = g.nins > 0 && g.dins[0].data ? fptr(g.dins[0]) : nullptr;
  const bool acc = (g.accumulate_mask & 1u) != 0;
  float* dw = g.dparams[0].id >= 0 ? fptr(g.dparams[0]) : nullptr;
  const int64_t N = T[0].dims[0], per = T[0].dims[1] * T[0].dims[2], table = T[1].numel;
  st.train.push_back(fn_step([=](const dls_step_ctx&) {
    if (dx) {
      if (acc) {
#pragma omp simd
        for (int64_t i = 0; i < N * per; ++i) dx[i] += dy[i];
      } else if (dx != dy) {
        std::memmove(dx, dy, size_t(N * per) * 4);
      }
    }
    if (dw) {
      std::memset(dw, 0, size_t(table) * 4);
      for (int64_t n = 0; n < N; ++n) {
        const float* r = dy + n * per;
#pragma omp simd
        for (int64_t i = 0; i < per; ++i) dw[i] += r[i];
      }
    }
  }));
}

}  // namespace dls::cpu
