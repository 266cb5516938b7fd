// CpuRecurrent.cpp: RNN, GRU and LSTM on the CPU, forward and backward through time (runtime.h,
// DLS_OP_RNN/GRU/LSTM), in torch.nn's cells, gate order and parameter layout. The products are dnnl_sgemm
// calls (all steps' input products at once, one recurrent product per step); the gates are plain loops.
// Several layers and two directions run as a list of cells (layer 0, layer 0 reverse, layer 1, ...): a reverse
// cell's step s reads and writes time T-1-s; each layer below the last writes its directions side by side into
// op-owned [N, T, D*U] scratch, the next layer's input. Each cell keeps what the backward needs in op-owned
// scratch, indexed by step (time-major):
//   gx    [T][N][G*U]  W_ih x_t + b_ih
//   hs    [T+1][N][U]  h_(t-1) for step t (hs[0] = h_0 = 0)
//   cs    [T+1][N][U]  LSTM cell states (cs[0] = c_0 = 0)
//   cache [T][N][4*U]  activated gates: GRU r, z, n and (reset_after) W_hn h + b_hn or (reset before) r*h;
//                      LSTM i, f, g, o; RNN: none (its derivative comes from h itself)
#include <algorithm>
#include <cmath>
#include <cstring>

#include "../core/RecurrentGeometry.h"
#include "CpuOp.h"

namespace dls::cpu {

namespace {

// One layer in one direction.
struct Rec {
  int opcode = 0;
  int64_t N = 0, T = 0, F = 0, U = 0, G = 1;
  bool reset_after = true, rev = false;
  int act = 0;  // RNN: 0 tanh, 1 relu, 2 leaky_relu
  float alpha = 0;
  const float *x = nullptr, *wi = nullptr, *wh = nullptr, *bi = nullptr, *bh = nullptr;
  // Output: every step's h into y[N, T, W] (sequence) or the final h into ylast[N, W], at columns off..off+U.
  float *y = nullptr, *ylast = nullptr;
  int64_t W = 0, off = 0;
  float *gx = nullptr, *gh = nullptr, *hs = nullptr, *cs = nullptr, *cache = nullptr;
  // The padding mask: step t of sample n is padding where tok[n*T + t] == mask_token (tok null: none).
  const int32_t* tok = nullptr;
  int32_t mask_token = 0;
  int64_t time(int64_t s) const { return rev ? T - 1 - s : s; }
  bool pad(int64_t n, int64_t tt) const { return tok && tok[n * T + tt] == mask_token; }
};

inline float sigm(float a) { return 1.f / (1.f + std::exp(-a)); }

Step fn_step(std::function<void(const dls_step_ctx&)> f) {
  Step s;
  s.fn = std::move(f);
  return s;
}

void forward(const Rec& r) {
  const int64_t N = r.N, T = r.T, F = r.F, U = r.U, GU = r.G * r.U, NU = N * U;
  // Input products of every step: gx[s] = x_t W_ih^T (+ b_ih), t = time(s); x_t is rows n*T + t of x.
  for (int64_t t = 0; t < T; ++t)
    dnnl_sgemm('N', 'T', N, GU, F, 1.f, r.x + r.time(t) * F, T * F, r.wi, F, 0.f, r.gx + t * N * GU, GU);
  if (r.bi)
    for (int64_t q = 0; q < T * N; ++q) {
      float* row = r.gx + q * GU;
#pragma omp simd
      for (int64_t j = 0; j < GU; ++j) row[j] += r.bi[j];
    }
  // A padding step keeps the state: h (and c) after it are the ones before it.
  auto keep_padded = [&](int64_t t) {
    if (!r.tok) return;
    const int64_t tt = r.time(t);
    for (int64_t n = 0; n < N; ++n)
      if (r.pad(n, tt)) {
        std::memcpy(r.hs + (t + 1) * NU + n * U, r.hs + t * NU + n * U, size_t(U) * 4);
        if (r.cs) std::memcpy(r.cs + (t + 1) * NU + n * U, r.cs + t * NU + n * U, size_t(U) * 4);
      }
  };
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
      keep_padded(t);
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
    keep_padded(t);
  }
  // The output: every step's h ([N, T, W] at time(s)) or the final one's ([N, W]).
  if (r.ylast)
    for (int64_t n = 0; n < N; ++n) std::memcpy(r.ylast + n * r.W + r.off, r.hs + T * NU + n * U, size_t(U) * 4);
  if (r.y)  // a padding step's output is 0 (torch's pad_packed_sequence)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t t = 0; t < T; ++t) {
        float* dst = r.y + (n * T + r.time(t)) * r.W + r.off;
        if (r.pad(n, r.time(t))) std::memset(dst, 0, size_t(U) * 4);
        else std::memcpy(dst, r.hs + (t + 1) * NU + n * U, size_t(U) * 4);
      }
}

struct RecGrad {
  const float *dy = nullptr, *dylast = nullptr;  // d(y) [N, T, W] or d(ylast) [N, W], as Rec's outputs
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
    // d(h) after step t: from the output (every step, or only the last) plus what step t+1 sent back.
    const int64_t tt = r.time(t);
    if (g.dy) {  // a padding step's output is a constant 0
      for (int64_t n = 0; n < N; ++n)
        if (!r.pad(n, tt))
          for (int64_t j = 0; j < U; ++j) dh[n * U + j] += g.dy[(n * T + tt) * r.W + r.off + j];
    } else if (t == T - 1) {
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < U; ++j) dh[n * U + j] += g.dylast[n * r.W + r.off + j];
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
        if (r.pad(n, tt)) {  // the state passed through unchanged: so does its gradient (and c's, in dc)
          for (int64_t k = 0; k < r.G; ++k) ax[k * U + j] = ah[k * U + j] = 0;
          dhp[i] = d;
          continue;
        }
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
      dnnl_sgemm('N', 'N', N, F, GU, 1.f, g.dgx + t * N * GU, GU, r.wi, F, g.dx_acc ? 1.f : 0.f, g.dx + r.time(t) * F, T * F);
  if (g.dwi)
    for (int64_t t = 0; t < T; ++t)
      dnnl_sgemm('T', 'N', GU, F, N, 1.f, g.dgx + t * N * GU, GU, r.x + r.time(t) * F, T * F, t ? 1.f : 0.f, g.dwi, F);
  // Recurrent side: d(W_hh) = sum_t dgh_t^T h_(t-1) (hs[0..T-1] is [T*N, U]); reset before: W_hn gets r h.
  if (g.dwh) {
    dnnl_sgemm('T', 'N', before ? 2 * U : GU, U, T * N, 1.f, g.dgh, GU, r.hs, U, 0.f, g.dwh, U);
    if (before) dnnl_sgemm('T', 'N', U, U, T * N, 1.f, g.dgh + 2 * U, GU, r.cache + 3 * U, 4 * U, 0.f, g.dwh + 2 * U * U, U);
  }
  if (g.dbi) col_sums(g.dgx, T * N, GU, g.dbi);
  if (g.dbh) col_sums(g.dgh, T * N, GU, g.dbh);
}

// The whole op: its cells in torch.nn's order and the layers' outputs between them.
struct Multi {
  std::vector<Rec> cells;                 // layer l, direction d at l * dirs + d
  int64_t layers = 1, dirs = 1, per = 2;  // per: parameter tensors per cell (2, or 4 with biases)
  std::vector<float*> ys;                 // [N, T, D*U] outputs of layers 0 .. layers-2
};

}  // namespace

void recurrent_fwd(Ctx&, const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  const RecurrentGeometry geo = recurrent_geometry(op.opcode, op.attrs, op.nattrs);
  auto m = std::make_shared<Multi>();
  m->layers = geo.layers, m->dirs = geo.dirs;
  const int64_t cells = geo.layers * geo.dirs, np = op.ntensors - 3;  // x, tokens, parameters, y
  m->per = np / cells;
  const int64_t N = T[0].dims[0], Tn = T[0].dims[1], U = T[3].dims[1], W = geo.dirs * U;
  const size_t NU = size_t(N * U), GU = size_t(geo.G * U), TN = size_t(Tn * N);
  float* gx = st.buf(TN * GU)->p;  // forward-only scratch, shared by the cells
  float* gh = st.buf(size_t(N) * GU)->p;
  for (int64_t l = 0; l + 1 < geo.layers; ++l) m->ys.push_back(st.buf(TN * size_t(W))->p);
  for (int64_t k = 0; k < cells; ++k) {
    const int64_t l = k / geo.dirs;
    const dls_tensor_desc* P = &T[size_t(2 + m->per * k)];
    Rec r;
    r.opcode = op.opcode;
    r.N = N, r.T = Tn, r.U = U, r.G = geo.G;
    r.F = l == 0 ? T[0].dims[2] : W;
    r.rev = k % geo.dirs == 1;
    if (op.opcode == DLS_OP_RNN) r.act = int(op.attrs[0]), r.alpha = float(op.attrs[1]);
    if (op.opcode == DLS_OP_GRU) r.reset_after = op.attrs[0] != 0;
    r.x = l == 0 ? fptr(T[0]) : m->ys[size_t(l - 1)];
    r.wi = fptr(P[0]), r.wh = fptr(P[1]);
    r.bi = m->per == 4 && P[2].id >= 0 ? fptr(P[2]) : nullptr;
    r.bh = m->per == 4 && P[3].id >= 0 ? fptr(P[3]) : nullptr;
    r.W = W, r.off = r.rev ? U : 0;
    if (l + 1 < geo.layers) r.y = m->ys[size_t(l)];
    else if (geo.last) r.ylast = fptr(T[size_t(op.ntensors - 1)]);
    else r.y = fptr(T[size_t(op.ntensors - 1)]);
    r.gx = gx, r.gh = gh;
    if (T[1].id >= 0) r.tok = static_cast<const int32_t*>(T[1].data), r.mask_token = int32_t(geo.mask_token);
    r.hs = st.buf((size_t(Tn) + 1) * NU)->p;
    if (op.opcode == DLS_OP_LSTM) r.cs = st.buf((size_t(Tn) + 1) * NU)->p;
    if (op.opcode != DLS_OP_RNN) r.cache = st.buf(TN * 4 * size_t(U))->p;
    m->cells.push_back(r);
  }
  const Multi* mp = m.get();
  st.train.push_back(fn_step([mp](const dls_step_ctx&) {
    for (const Rec& r : mp->cells) forward(r);
  }));
  st.fwd_pd = m;
}

void recurrent_bwd(Ctx&, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const Multi& m = *static_cast<Multi*>(f.fwd_pd.get());
  const Rec& r0 = m.cells[0];
  const int64_t cells = int64_t(m.cells.size()), W = m.dirs * r0.U;
  // The gradient of the op's tensor i (a parameter): dparam_of, or dparams in order where a caller gives only those.
  auto dp = [&](int64_t i) -> float* {
    if (g.dparam_of) return g.dparam_of[i].id >= 0 ? fptr(g.dparam_of[i]) : nullptr;
    const int64_t k = i - 2;
    return k < 4 && g.dparams[k].id >= 0 ? fptr(g.dparams[k]) : nullptr;
  };
  float* dx = g.nins > 0 && g.dins[0].data ? fptr(g.dins[0]) : nullptr;
  const bool dx_acc = (g.accumulate_mask & 1u) != 0;
  const size_t NU = size_t(r0.N * r0.U), TNG = size_t(r0.T * r0.N * r0.G * r0.U), TNW = size_t(r0.T * r0.N * W);
  // Scratch shared by the cells (they run one after another), and d(output) of each layer below the last.
  float* dgx = st.buf(TNG)->p;
  float* dgh = r0.opcode == DLS_OP_GRU ? st.buf(TNG)->p : dgx;
  float *dh = st.buf(NU)->p, *dhp = st.buf(NU)->p;
  float* dc = r0.opcode == DLS_OP_LSTM ? st.buf(NU)->p : nullptr;
  float* drh = r0.opcode == DLS_OP_GRU && !r0.reset_after ? st.buf(NU)->p : nullptr;
  std::vector<float*> dys;
  for (int64_t l = 0; l + 1 < m.layers; ++l) dys.push_back(st.buf(TNW)->p);
  std::vector<RecGrad> gs;
  for (int64_t k = cells - 1; k >= 0; --k) {  // the last layer first; within a layer either direction
    const int64_t l = k / m.dirs, d = k % m.dirs;
    const Rec& r = m.cells[size_t(k)];
    RecGrad q;
    if (l + 1 < m.layers) q.dy = dys[size_t(l)];
    else if (r.ylast) q.dylast = fptr(g.dout);
    else q.dy = fptr(g.dout);
    // d(input): both directions of a layer read the same input, the second one adds to the first's.
    const bool first = d == m.dirs - 1;
    if (l == 0) q.dx = dx, q.dx_acc = dx_acc || !first;
    else q.dx = dys[size_t(l - 1)], q.dx_acc = !first;
    const int64_t base = 2 + m.per * k;
    q.dwi = dp(base), q.dwh = dp(base + 1);
    if (r.bi) q.dbi = dp(base + 2), q.dbh = dp(base + 3);
    q.dgx = dgx, q.dgh = dgh, q.dh = dh, q.dhp = dhp, q.dc = dc, q.drh = drh;
    gs.push_back(q);
  }
  const Multi* mp = &m;
  st.train.push_back(fn_step([mp, gs](const dls_step_ctx&) {
    const int64_t cells = int64_t(mp->cells.size());
    for (int64_t k = cells - 1, i = 0; k >= 0; --k, ++i) backward(mp->cells[size_t(k)], gs[size_t(i)]);
  }));
}

}  // namespace dls::cpu
