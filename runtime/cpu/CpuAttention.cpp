// CpuAttention.cpp: multi-head self- and cross-attention (runtime.h DLS_OP_MULTI_HEAD_ATTENTION,
// DLS_OP_CROSS_ATTENTION; torch.nn.MultiheadAttention's formulas and parameter layout) and the learned positional
// embedding (DLS_OP_POSITIONAL_EMBEDDING) on the CPU.
// The products are dnnl_sgemm calls (row-major); softmax, masks and dropout are plain loops. The forward keeps
// what the backward needs in op-owned scratch:
//   qkv  [N*T, 3D]     x W_in^T + b_in (q, k, v side by side; head h's columns h*E .. h*E+E-1 of each);
//                      cross-attention: q [N*T, D] here and k|v [N*S, 2D] (memory's projection) in kv
//   p    [N, H, T, S]  softmax of the scaled, masked scores (S = T for self-attention)
//   mask [N, H, T, S]  dropout's scale-or-zero factors (dropout > 0 only)
//   o    [N*T, D]      the heads' outputs side by side, before the output projection
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "../core/AttentionOperands.h"
#include "../core/Rng.h"
#include "CpuOp.h"

namespace dls::cpu {

namespace {

struct Attn {
  int64_t N = 0, T = 0, S = 0, D = 0, H = 1, E = 0;  // S: the key steps (T for self-attention)
  int64_t K = 0;  // cross-attention: the memory's width (kdim = vdim)
  bool causal = false, cross = false;
  float dropout = 0, scale = 1;
  uint64_t opid = 0;
  const float *x = nullptr, *mem = nullptr, *wi = nullptr, *wo = nullptr, *bi = nullptr, *bo = nullptr;
  const float *wq = nullptr, *wk = nullptr, *wv = nullptr;  // cross-attention: W_q [D, D], W_k and W_v [D, K]
  float* y = nullptr;
  float *qkv = nullptr, *p = nullptr, *mask = nullptr, *o = nullptr, *pd = nullptr;  // pd: P after dropout [T, S]
  float* kv = nullptr;  // cross-attention: qkv holds q [N*T, D], kv holds k|v [N*S, 2D]
  // Where head h of sample n finds q (rows of T, stride ldq) and k, v (rows of S, stride ldk).
  int64_t ldq() const { return cross ? D : 3 * D; }
  int64_t ldk() const { return cross ? 2 * D : 3 * D; }
  template <class F>
  F* qp(F* base, int64_t n, int64_t h) const { return base + n * T * ldq() + h * E; }
  template <class F>
  F* kp(F* qbase, F* kvbase, int64_t n, int64_t h) const { return (cross ? kvbase : qbase + D) + n * S * ldk() + h * E; }
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
  const int64_t N = a.N, T = a.T, S = a.S, D = a.D, H = a.H, E = a.E, D3 = 3 * D;
  const int64_t ldq = a.ldq(), ldk = a.ldk();
  if (a.cross) {
    // q = x W_q^T + b_q; k = memory W_k^T + b_k, v = memory W_v^T + b_v side by side in kv (W_q, W_k, W_v: rows 0, D,
    // 2D of in_proj_weight, or q_proj_weight, k_proj_weight, v_proj_weight over a memory of width K).
    const int64_t K = a.K;
    dnnl_sgemm('N', 'T', N * T, D, D, 1.f, a.x, D, a.wq, D, 0.f, a.qkv, D);
    dnnl_sgemm('N', 'T', N * S, D, K, 1.f, a.mem, K, a.wk, K, 0.f, a.kv, 2 * D);
    dnnl_sgemm('N', 'T', N * S, D, K, 1.f, a.mem, K, a.wv, K, 0.f, a.kv + D, 2 * D);
    if (a.bi) add_rows(a.qkv, a.bi, N * T, D), add_rows(a.kv, a.bi + D, N * S, 2 * D);
  } else {
    dnnl_sgemm('N', 'T', N * T, D3, D, 1.f, a.x, D, a.wi, D, 0.f, a.qkv, D3);
    if (a.bi) add_rows(a.qkv, a.bi, N * T, D3);
  }
  const bool drop = s.training && a.dropout > 0;
  const uint64_t key = hash3(s.seed, (uint64_t)s.step, a.opid);
  const float keep = 1.f / (1.f - a.dropout);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h) {
      const float* q = a.qp(static_cast<const float*>(a.qkv), n, h);
      const float* k = a.kp(static_cast<const float*>(a.qkv), static_cast<const float*>(a.kv), n, h);
      const float* v = k + D;
      float* P = a.p + (n * H + h) * T * S;
      // scores = q k^T / sqrt(E)
      dnnl_sgemm('N', 'T', T, S, E, a.scale, q, ldq, k, ldk, 0.f, P, S);
#pragma omp parallel for if (T * S > 16384) schedule(static)
      for (int64_t i = 0; i < T; ++i) {
        float* row = P + i * S;
        const int64_t len = a.causal ? std::min(i + 1, S) : S;
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < len; ++j) mx = std::max(mx, row[j]);
        float sum = 0;
        for (int64_t j = 0; j < len; ++j) sum += row[j] = std::exp(row[j] - mx);
        const float inv = 1.f / sum;
        for (int64_t j = 0; j < len; ++j) row[j] *= inv;
        for (int64_t j = len; j < S; ++j) row[j] = 0.f;
      }
      const float* W = P;
      if (drop) {
        float* M = a.mask + (n * H + h) * T * S;
        const int64_t base = ((s.shard * N + n) * H + h) * T * S;  // the global batch's row (dls_step_ctx::shard)
        for (int64_t i = 0; i < T * S; ++i) {
          M[i] = drop_factor(key, base + i, a.dropout, keep);
          a.pd[i] = P[i] * M[i];
        }
        W = a.pd;
      }
      // o_h = P' v
      dnnl_sgemm('N', 'N', T, E, S, 1.f, W, S, v, ldk, 0.f, a.o + n * T * D + h * E, D);
    }
  dnnl_sgemm('N', 'T', N * T, D, D, 1.f, a.o, D, a.wo, D, 0.f, a.y, D);
  if (a.bo) add_rows(a.y, a.bo, N * T, D);
}

struct AttnGrad {
  const float* dy = nullptr;
  float *dx = nullptr, *dmem = nullptr;
  bool dx_acc = false, dmem_acc = false;
  float *dwi = nullptr, *dwo = nullptr, *dbi = nullptr, *dbo = nullptr;
  float *dwq = nullptr, *dwk = nullptr, *dwv = nullptr;  // cross-attention: d(W_q), d(W_k), d(W_v)
  float *dqkv = nullptr, *dkv = nullptr, *dO = nullptr, *dP = nullptr, *pd = nullptr;  // dP, pd: [T, S]
  bool trained_with_dropout = false;
};

void backward(const Attn& a, const AttnGrad& g) {
  const int64_t N = a.N, T = a.T, S = a.S, D = a.D, H = a.H, E = a.E, D3 = 3 * D;
  const int64_t ldq = a.ldq(), ldk = a.ldk();
  // Output projection: d(o) = dy W_out, d(W_out) = dy^T o, d(b_out) = column sums of dy.
  dnnl_sgemm('N', 'N', N * T, D, D, 1.f, g.dy, D, a.wo, D, 0.f, g.dO, D);
  if (g.dwo) dnnl_sgemm('T', 'N', D, D, N * T, 1.f, g.dy, D, a.o, D, 0.f, g.dwo, D);
  if (g.dbo) col_sums(g.dy, N * T, D, g.dbo);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h) {
      const float* q = a.qp(static_cast<const float*>(a.qkv), n, h);
      const float* k = a.kp(static_cast<const float*>(a.qkv), static_cast<const float*>(a.kv), n, h);
      const float* v = k + D;
      float* dq = a.qp(g.dqkv, n, h);
      float* dk = a.kp(g.dqkv, g.dkv, n, h);
      float* dv = dk + D;
      const float* P = a.p + (n * H + h) * T * S;
      const float* M = g.trained_with_dropout ? a.mask + (n * H + h) * T * S : nullptr;
      const float* dO = g.dO + n * T * D + h * E;
      const float* W = P;
      if (M) {
        for (int64_t i = 0; i < T * S; ++i) g.pd[i] = P[i] * M[i];
        W = g.pd;
      }
      // d(v) = P'^T d(o); d(P') = d(o) v^T; d(P) = d(P') * mask
      dnnl_sgemm('T', 'N', S, E, T, 1.f, W, S, dO, D, 0.f, dv, ldk);
      dnnl_sgemm('N', 'T', T, S, E, 1.f, dO, D, v, ldk, 0.f, g.dP, S);
      // softmax: d(s) = P * (d(P) - sum_j d(P) P), times the scale (masked entries have P = 0)
      float* dS = g.dP;
      const float sc = a.scale;
#pragma omp parallel for if (T * S > 16384) schedule(static)
      for (int64_t i = 0; i < T; ++i) {
        float* row = dS + i * S;
        const float* prow = P + i * S;
        const float* mrow = M ? M + i * S : nullptr;
        float dot = 0;
        for (int64_t j = 0; j < S; ++j) {
          if (mrow) row[j] *= mrow[j];
          dot += row[j] * prow[j];
        }
        for (int64_t j = 0; j < S; ++j) row[j] = prow[j] * (row[j] - dot) * sc;
      }
      // d(q) = d(s) k, d(k) = d(s)^T q
      dnnl_sgemm('N', 'N', T, E, S, 1.f, dS, S, k, ldk, 0.f, dq, ldq);
      dnnl_sgemm('T', 'N', S, E, T, 1.f, dS, S, q, ldq, 0.f, dk, ldk);
    }
  if (a.cross) {
    // d(x) = d(q) W_q, d(memory) = d(k) W_k + d(v) W_v; d(W_q) = d(q)^T x, d(W_k) = d(k)^T memory, d(W_v) =
    // d(v)^T memory. d(x) first: when x and memory are one value, d(memory) adds into it (its accumulate bit).
    const int64_t K = a.K;
    if (g.dx) dnnl_sgemm('N', 'N', N * T, D, D, 1.f, g.dqkv, D, a.wq, D, g.dx_acc ? 1.f : 0.f, g.dx, D);
    if (g.dmem) {
      dnnl_sgemm('N', 'N', N * S, K, D, 1.f, g.dkv, 2 * D, a.wk, K, g.dmem_acc ? 1.f : 0.f, g.dmem, K);
      dnnl_sgemm('N', 'N', N * S, K, D, 1.f, g.dkv + D, 2 * D, a.wv, K, 1.f, g.dmem, K);
    }
    if (g.dwq) dnnl_sgemm('T', 'N', D, D, N * T, 1.f, g.dqkv, D, a.x, D, 0.f, g.dwq, D);
    if (g.dwk) dnnl_sgemm('T', 'N', D, K, N * S, 1.f, g.dkv, 2 * D, a.mem, K, 0.f, g.dwk, K);
    if (g.dwv) dnnl_sgemm('T', 'N', D, K, N * S, 1.f, g.dkv + D, 2 * D, a.mem, K, 0.f, g.dwv, K);
    if (g.dbi) col_sums(g.dqkv, N * T, D, g.dbi), col_sums(g.dkv, N * S, 2 * D, g.dbi + D);
    return;
  }
  // Input projection: d(x) = d(qkv) W_in, d(W_in) = d(qkv)^T x, d(b_in) = column sums of d(qkv).
  if (g.dx) dnnl_sgemm('N', 'N', N * T, D, D3, 1.f, g.dqkv, D3, a.wi, D, g.dx_acc ? 1.f : 0.f, g.dx, D);
  if (g.dwi) dnnl_sgemm('T', 'N', D3, D, N * T, 1.f, g.dqkv, D3, a.x, D, 0.f, g.dwi, D);
  if (g.dbi) col_sums(g.dqkv, N * T, D3, g.dbi);
}

}  // namespace

// Self-attention (ops.def MULTI_HEAD_ATTENTION: x, w_in, w_out, b_in, b_out, y) or cross-attention
// (CROSS_ATTENTION: x, memory, the parameters of AttentionOperands.h, y); the attributes heads, causal, dropout in both.
void attention_fwd(Ctx&, const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  auto a = std::make_shared<Attn>();
  a->cross = op.opcode == DLS_OP_CROSS_ATTENTION;
  const size_t w = a->cross ? 2 : 1;  // the first weight's operand
  a->N = T[0].dims[0], a->T = T[0].dims[1], a->D = T[0].dims[2];
  a->S = a->cross ? T[1].dims[1] : a->T;
  a->H = int64_t(op.attrs[0]), a->E = a->D / a->H;
  a->causal = op.attrs[1] != 0, a->dropout = float(op.attrs[2]);
  a->scale = 1.f / std::sqrt(float(a->E));
  a->opid = uint64_t(op.id);
  a->x = fptr(T[0]), a->mem = a->cross ? fptr(T[1]) : nullptr;
  if (a->cross) {
    const CrossAttentionOperands o = cross_attention_operands(op.tensors, op.ntensors);
    a->K = o.K;
    a->wq = fptr(T[size_t(o.wq)]), a->wo = fptr(T[size_t(o.wo)]);
    a->wk = o.split ? fptr(T[size_t(o.wk)]) : a->wq + a->D * a->D;
    a->wv = o.split ? fptr(T[size_t(o.wv)]) : a->wq + 2 * a->D * a->D;
    a->bi = o.bi >= 0 ? fptr(T[size_t(o.bi)]) : nullptr;
    a->bo = o.bo >= 0 ? fptr(T[size_t(o.bo)]) : nullptr;
    a->y = fptr(T[size_t(o.y)]);
  } else {
    a->wi = fptr(T[w]), a->wo = fptr(T[w + 1]);
    a->bi = T[w + 2].id >= 0 ? fptr(T[w + 2]) : nullptr;
    a->bo = T[w + 3].id >= 0 ? fptr(T[w + 3]) : nullptr;
    a->y = fptr(T[w + 4]);
  }
  const size_t NT = size_t(a->N * a->T), NS = size_t(a->N * a->S), TS = size_t(a->T * a->S),
               NHTS = size_t(a->N * a->H) * TS;
  a->qkv = st.buf(NT * (a->cross ? 1 : 3) * size_t(a->D))->p;
  a->p = st.buf(NHTS)->p;
  a->o = st.buf(NT * size_t(a->D))->p;
  if (a->dropout > 0) a->mask = st.buf(NHTS)->p, a->pd = st.buf(TS)->p;
  if (a->cross) a->kv = st.buf(NS * 2 * size_t(a->D))->p;
  const Attn* ap = a.get();
  st.train.push_back(fn_step([ap](const dls_step_ctx& s) { forward(*ap, s); }));
  st.fwd_pd = a;
}

void attention_bwd(Ctx&, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const Attn& a = *static_cast<Attn*>(f.fwd_pd.get());
  AttnGrad d;
  d.dy = fptr(g.dout);
  if (g.nins > 0 && g.dins[0].data) d.dx = fptr(g.dins[0]), d.dx_acc = (g.accumulate_mask & 1u) != 0;
  if (a.cross && g.nins > 1 && g.dins[1].data) d.dmem = fptr(g.dins[1]), d.dmem_acc = (g.accumulate_mask & 2u) != 0;
  // dparams: the op's trainable parameters in tensor order: w_in, w_out, then b_in, b_out when present.
  auto dp = [&](int i) { return g.dparams[i].id >= 0 ? fptr(g.dparams[i]) : nullptr; };
  if (a.cross) {
    // Cross-attention: the gradient of operand i (dparam_of), or dparams in the operands' order where a caller
    // gives only those (at most four: one of each weight, or in_proj_weight, out_proj.weight and the biases).
    const dls_op_desc& fw = *g.fwd;
    const CrossAttentionOperands o = cross_attention_operands(fw.tensors, fw.ntensors);
    auto of = [&](int i) -> float* {
      if (i < 0) return nullptr;
      if (g.dparam_of) return g.dparam_of[i].id >= 0 ? fptr(g.dparam_of[i]) : nullptr;
      return i - 2 < 4 ? dp(i - 2) : nullptr;
    };
    d.dwq = of(o.wq), d.dwo = of(o.wo);
    if (o.split) {
      d.dwk = of(o.wk), d.dwv = of(o.wv);
    } else if (d.dwq) {
      d.dwk = d.dwq + a.D * a.D, d.dwv = d.dwq + 2 * a.D * a.D;
    }
    if (a.bi) d.dbi = of(o.bi), d.dbo = of(o.bo);
  } else {
    d.dwi = dp(0), d.dwo = dp(1);
    if (a.bi) d.dbi = dp(2), d.dbo = dp(3);
  }
  const size_t NT = size_t(a.N * a.T), NS = size_t(a.N * a.S), TS = size_t(a.T * a.S);
  d.dqkv = st.buf(NT * (a.cross ? 1 : 3) * size_t(a.D))->p;
  d.dO = st.buf(NT * size_t(a.D))->p;
  d.dP = st.buf(TS)->p;
  d.trained_with_dropout = a.dropout > 0;
  if (a.dropout > 0) d.pd = st.buf(TS)->p;
  if (a.cross) d.dkv = st.buf(NS * 2 * size_t(a.D))->p;
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
