// CpuRecurrent.cpp: RNN, GRU and LSTM on the CPU, forward and backward through time (runtime.h,
// DLS_OP_RNN/GRU/LSTM), in torch.nn's cells, gate order and parameter layout. The products are dnnl_sgemm
// calls (all steps' input products at once, one recurrent product per step); the gates are plain loops.
// The forward keeps what the backward needs in op-owned scratch, time-major:
//   gx    [T][N][G*U]  W_ih x_t + b_ih
//   hs    [T+1][N][U]  h_(t-1) for step t (hs[0] = h_0 = 0)
//   cs    [T+1][N][U]  LSTM cell states (cs[0] = c_0 = 0)
//   cache [T][N][4*U]  activated gates: GRU r, z, n and (reset_after) W_hn h + b_hn or (reset before) r*h;
//                      LSTM i, f, g, o; RNN: none (its derivative comes from h itself)
#include <algorithm>
#include <cmath>
#include <cstring>

#include "CpuOp.h"

namespace dls::cpu {

namespace {

struct Rec {
  int opcode = 0;
  int64_t N = 0, T = 0, F = 0, U = 0, G = 1;
  bool last = false, reset_after = true;
  int act = 0;  // RNN: 0 tanh, 1 relu, 2 leaky_relu
  float alpha = 0;
  const float *x = nullptr, *wi = nullptr, *wh = nullptr, *bi = nullptr, *bh = nullptr;
  float* y = nullptr;
  float *gx = nullptr, *gh = nullptr, *hs = nullptr, *cs = nullptr, *cache = nullptr;
};

inline float sigm(float a) { return 1.f / (1.f + std::exp(-a)); }

Step fn_step(std::function<void(const dls_step_ctx&)> f) {
  Step s;
  s.fn = std::move(f);
  return s;
}

void forward(const Rec& r) {
  const int64_t N = r.N, T = r.T, F = r.F, U = r.U, GU = r.G * r.U, NU = N * U;
  // Input products of every step: gx[t] = x_t W_ih^T (+ b_ih); x_t is rows n*T + t of x.
  for (int64_t t = 0; t < T; ++t)
    dnnl_sgemm('N', 'T', N, GU, F, 1.f, r.x + t * F, T * F, r.wi, F, 0.f, r.gx + t * N * GU, GU);
  if (r.bi)
    for (int64_t q = 0; q < T * N; ++q) {
      float* row = r.gx + q * GU;
#pragma omp simd
      for (int64_t j = 0; j < GU; ++j) row[j] += r.bi[j];
    }
  for (int64_t t = 0; t < T; ++t) {
    const float* hp = r.hs + t * NU;
    float* hn = r.hs + (t + 1) * NU;
    const float* gxt = r.gx + t * N * GU;
    float* ct = r.cache ? r.cache + t * N * 4 * U : nullptr;
    const float* bh = r.bh;
    float* gh = r.gh;
    if (r.opcode == DLS_OP_GRU && !r.reset_after) {
      // r, z from h; then n from W_hn (r * h).
      dnnl_sgemm('N', 'T', N, 2 * U, U, 1.f, hp, U, r.wh, U, 0.f, gh, GU);
#pragma omp parallel for if (NU > 16384) schedule(static)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < U; ++j) {
          const float* a = gxt + n * GU;
          const float* b = gh + n * GU;
          float* cc = ct + n * 4 * U;
          const float rr = sigm(a[j] + b[j] + (bh ? bh[j] : 0.f));
          const float zz = sigm(a[U + j] + b[U + j] + (bh ? bh[U + j] : 0.f));
          cc[j] = rr, cc[U + j] = zz, cc[3 * U + j] = rr * hp[n * U + j];
        }
      dnnl_sgemm('N', 'T', N, U, U, 1.f, ct + 3 * U, 4 * U, r.wh + 2 * U * U, U, 0.f, gh + 2 * U, GU);
#pragma omp parallel for if (NU > 16384) schedule(static)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < U; ++j) {
          float* cc = ct + n * 4 * U;
          const float nn = std::tanh(gxt[n * GU + 2 * U + j] + gh[n * GU + 2 * U + j] + (bh ? bh[2 * U + j] : 0.f));
          const float zz = cc[U + j];
          cc[2 * U + j] = nn;
          hn[n * U + j] = (1.f - zz) * nn + zz * hp[n * U + j];
        }
      continue;
    }
    dnnl_sgemm('N', 'T', N, GU, U, 1.f, hp, U, r.wh, U, 0.f, gh, GU);
    const int opcode = r.opcode, act = r.act;
    const float alpha = r.alpha;
    float* cs = r.cs;
#pragma omp parallel for if (NU > 16384) schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const float* a = gxt + n * GU;
      const float* b = gh + n * GU;
      for (int64_t j = 0; j < U; ++j) {
        auto pre = [&](int64_t k) { return a[k * U + j] + b[k * U + j] + (bh ? bh[k * U + j] : 0.f); };
        float h;
        if (opcode == DLS_OP_RNN) {
          const float v = pre(0);
          h = act == 0 ? std::tanh(v) : v > 0 ? v : act == 1 ? 0.f : alpha * v;
        } else if (opcode == DLS_OP_GRU) {  // torch.nn.GRU: r multiplies (W_hn h + b_hn)
          float* cc = ct + n * 4 * U;
          const float rr = sigm(pre(0)), zz = sigm(pre(1));
          const float ghn = b[2 * U + j] + (bh ? bh[2 * U + j] : 0.f);
          const float nn = std::tanh(a[2 * U + j] + rr * ghn);
          cc[j] = rr, cc[U + j] = zz, cc[2 * U + j] = nn, cc[3 * U + j] = ghn;
          h = (1.f - zz) * nn + zz * hp[n * U + j];
        } else {  // LSTM
          float* cc = ct + n * 4 * U;
          const float ii = sigm(pre(0)), ff = sigm(pre(1)), gg = std::tanh(pre(2)), oo = sigm(pre(3));
          const float c = ff * cs[t * NU + n * U + j] + ii * gg;
          cs[(t + 1) * NU + n * U + j] = c;
          cc[j] = ii, cc[U + j] = ff, cc[2 * U + j] = gg, cc[3 * U + j] = oo;
          h = oo * std::tanh(c);
        }
        hn[n * U + j] = h;
      }
    }
  }
  // The output: every step's h ([N, T, U]) or the last one's ([N, U]).
  if (r.last) {
    std::memcpy(r.y, r.hs + T * NU, size_t(NU) * 4);
  } else {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t t = 0; t < T; ++t) std::memcpy(r.y + (n * T + t) * U, r.hs + (t + 1) * NU + n * U, size_t(U) * 4);
  }
}

struct RecGrad {
  const float* dy = nullptr;
  float* dx = nullptr;
  bool dx_acc = false;
  float *dwi = nullptr, *dwh = nullptr, *dbi = nullptr, *dbh = nullptr;
  float *dgx = nullptr, *dgh = nullptr;  // [T][N][G*U]; dgh == dgx for RNN and LSTM
  float *dh = nullptr, *dhp = nullptr, *dc = nullptr, *drh = nullptr;  // [N][U]
};

void col_sums(const float* m, int64_t rows, int64_t cols, float* out) {
  std::memset(out, 0, size_t(cols) * 4);
  for (int64_t q = 0; q < rows; ++q) {
    const float* row = m + q * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) out[j] += row[j];
  }
}

void backward(const Rec& r, const RecGrad& g) {
  const int64_t N = r.N, T = r.T, F = r.F, U = r.U, GU = r.G * r.U, NU = N * U;
  const bool before = r.opcode == DLS_OP_GRU && !r.reset_after;
  std::memset(g.dh, 0, size_t(NU) * 4);
  if (g.dc) std::memset(g.dc, 0, size_t(NU) * 4);
  float* dh = g.dh;
  float* dhp = g.dhp;
  for (int64_t t = T - 1; t >= 0; --t) {
    // d(h_t): from the output (every step, or only the last) plus what step t+1 sent back.
    if (!r.last) {
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < U; ++j) dh[n * U + j] += g.dy[(n * T + t) * U + j];
    } else if (t == T - 1) {
      for (int64_t i = 0; i < NU; ++i) dh[i] += g.dy[i];
    }
    const float* hp = r.hs + t * NU;
    const float* hn = r.hs + (t + 1) * NU;
    const float* ct = r.cache ? r.cache + t * N * 4 * U : nullptr;
    float* dgx = g.dgx + t * N * GU;
    float* dgh = g.dgh + t * N * GU;
    const int opcode = r.opcode, act = r.act;
    const float alpha = r.alpha;
    const float* cs = r.cs;
    float* dc = g.dc;
#pragma omp parallel for if (NU > 16384) schedule(static)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < U; ++j) {
        const int64_t i = n * U + j;
        const float d = dh[i];
        float* ax = dgx + n * GU;
        float* ah = dgh + n * GU;
        if (opcode == DLS_OP_RNN) {
          const float h = hn[i];
          ax[j] = d * (act == 0 ? 1.f - h * h : h > 0 ? 1.f : act == 1 ? 0.f : alpha);
          dhp[i] = 0;
        } else if (opcode == DLS_OP_LSTM) {
          const float* cc = ct + n * 4 * U;
          const float ii = cc[j], ff = cc[U + j], gg = cc[2 * U + j], oo = cc[3 * U + j];
          const float tc = std::tanh(cs[(t + 1) * NU + i]);
          const float dcc = dc[i] + d * oo * (1.f - tc * tc);
          ax[j] = dcc * gg * ii * (1.f - ii);
          ax[U + j] = dcc * cs[t * NU + i] * ff * (1.f - ff);
          ax[2 * U + j] = dcc * ii * (1.f - gg * gg);
          ax[3 * U + j] = d * tc * oo * (1.f - oo);
          dc[i] = dcc * ff;
          dhp[i] = 0;
        } else {
          const float* cc = ct + n * 4 * U;
          const float rr = cc[j], zz = cc[U + j], nn = cc[2 * U + j];
          const float dan = d * (1.f - zz) * (1.f - nn * nn);
          const float daz = d * (hp[i] - nn) * zz * (1.f - zz);
          ax[U + j] = ah[U + j] = daz;
          ax[2 * U + j] = dan;
          dhp[i] = d * zz;
          if (!before) {  // n = tanh(a_n + r * ghn)
            const float dar = dan * cc[3 * U + j] * rr * (1.f - rr);
            ax[j] = ah[j] = dar;
            ah[2 * U + j] = dan * rr;
          } else {
            ah[2 * U + j] = dan;  // r's part waits for d(r h) below
          }
        }
      }
    if (before) {
      // d(r h) = dan W_hn; then r's pre-activation and h's share of it.
      dnnl_sgemm('N', 'N', N, U, U, 1.f, dgh + 2 * U, GU, r.wh + 2 * U * U, U, 0.f, g.drh, U);
      const float* ctc = ct;
      const float* drh = g.drh;
#pragma omp parallel for if (NU > 16384) schedule(static)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < U; ++j) {
          const int64_t i = n * U + j;
          const float rr = ctc[n * 4 * U + j];
          const float dar = drh[i] * hp[i] * rr * (1.f - rr);
          dgx[n * GU + j] = dgh[n * GU + j] = dar;
          dhp[i] += drh[i] * rr;
        }
    }
    // d(h_(t-1)) += d(recurrent pre-activations) W_hh (GRU with the reset before: the r, z rows only).
    dnnl_sgemm('N', 'N', N, U, before ? 2 * U : GU, 1.f, dgh, GU, r.wh, U, 1.f, dhp, U);
    std::swap(dh, dhp);
  }
  // Input side, all steps: d(x_t) = dgx_t W_ih, d(W_ih) = sum_t dgx_t^T x_t.
  if (g.dx)
    for (int64_t t = 0; t < T; ++t)
      dnnl_sgemm('N', 'N', N, F, GU, 1.f, g.dgx + t * N * GU, GU, r.wi, F, g.dx_acc ? 1.f : 0.f, g.dx + t * F, T * F);
  if (g.dwi)
    for (int64_t t = 0; t < T; ++t)
      dnnl_sgemm('T', 'N', GU, F, N, 1.f, g.dgx + t * N * GU, GU, r.x + t * F, T * F, t ? 1.f : 0.f, g.dwi, F);
  // Recurrent side: d(W_hh) = sum_t dgh_t^T h_(t-1) (hs[0..T-1] is [T*N, U]); reset before: W_hn gets r h.
  if (g.dwh) {
    dnnl_sgemm('T', 'N', before ? 2 * U : GU, U, T * N, 1.f, g.dgh, GU, r.hs, U, 0.f, g.dwh, U);
    if (before) dnnl_sgemm('T', 'N', U, U, T * N, 1.f, g.dgh + 2 * U, GU, r.cache + 3 * U, 4 * U, 0.f, g.dwh + 2 * U * U, U);
  }
  if (g.dbi) col_sums(g.dgx, T * N, GU, g.dbi);
  if (g.dbh) col_sums(g.dgh, T * N, GU, g.dbh);
}

}  // namespace

void recurrent_fwd(Ctx&, const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  auto r = std::make_shared<Rec>();
  r->opcode = op.opcode;
  r->N = T[0].dims[0], r->T = T[0].dims[1], r->F = T[0].dims[2], r->U = T[2].dims[1];
  r->G = op.opcode == DLS_OP_RNN ? 1 : op.opcode == DLS_OP_GRU ? 3 : 4;
  r->last = op.attrs[op.nattrs - 1] != 0;
  if (op.opcode == DLS_OP_RNN) r->act = int(op.attrs[0]), r->alpha = float(op.attrs[1]);
  if (op.opcode == DLS_OP_GRU) r->reset_after = op.attrs[0] != 0;
  r->x = fptr(T[0]), r->wi = fptr(T[1]), r->wh = fptr(T[2]);
  r->bi = T[3].id >= 0 ? fptr(T[3]) : nullptr;
  r->bh = T[4].id >= 0 ? fptr(T[4]) : nullptr;
  r->y = fptr(T[5]);
  const size_t NU = size_t(r->N * r->U), GU = size_t(r->G * r->U), TN = size_t(r->T * r->N);
  r->gx = st.buf(TN * GU)->p;
  r->gh = st.buf(size_t(r->N) * GU)->p;
  r->hs = st.buf((size_t(r->T) + 1) * NU)->p;
  if (op.opcode == DLS_OP_LSTM) r->cs = st.buf((size_t(r->T) + 1) * NU)->p;
  if (op.opcode != DLS_OP_RNN) r->cache = st.buf(TN * 4 * size_t(r->U))->p;
  const Rec* rp = r.get();
  st.train.push_back(fn_step([rp](const dls_step_ctx&) { forward(*rp); }));
  st.fwd_pd = r;
}

void recurrent_bwd(Ctx&, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const Rec& r = *static_cast<Rec*>(f.fwd_pd.get());
  RecGrad d;
  d.dy = fptr(g.dout);
  if (g.nins > 0 && g.dins[0].data) d.dx = fptr(g.dins[0]), d.dx_acc = (g.accumulate_mask & 1u) != 0;
  // dparams: the op's trainable parameters in tensor order: w_ih, w_hh, then b_ih, b_hh when present.
  auto dp = [&](int i) { return g.dparams[i].id >= 0 ? fptr(g.dparams[i]) : nullptr; };
  d.dwi = dp(0), d.dwh = dp(1);
  if (r.bi) d.dbi = dp(2), d.dbh = dp(3);
  const size_t NU = size_t(r.N * r.U), TNG = size_t(r.T * r.N * r.G * r.U);
  d.dgx = st.buf(TNG)->p;
  d.dgh = r.opcode == DLS_OP_GRU ? st.buf(TNG)->p : d.dgx;
  d.dh = st.buf(NU)->p, d.dhp = st.buf(NU)->p;
  if (r.opcode == DLS_OP_LSTM) d.dc = st.buf(NU)->p;
  if (r.opcode == DLS_OP_GRU && !r.reset_after) d.drh = st.buf(NU)->p;
  const Rec* rp = &r;
  st.train.push_back(fn_step([rp, d](const dls_step_ctx&) { backward(*rp, d); }));
}

}  // namespace dls::cpu
