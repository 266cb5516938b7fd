// CpuMoreOps.cpp: the CPU loops of the ops oneDNN 2.6 has no primitive for: the activations selu, softplus,
// hardsigmoid (elementwise loops that CpuOps.cpp's eltwise path runs in the layout it chose), prelu, glu,
// broadcasting mul/sub/div, reductions over axes and adaptive average pooling. Formulas: core/EltMath.h.
// Gradient outputs of the ops that sum over broadcast or reduced elements are computed into a private buffer
// and then written (=|+=) into d(input), so an arena address shared with d(output) is never read after it
// was overwritten.
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "CpuOp.h"
#include "../core/EltMath.h"
#include "../core/IndexMap.h"

namespace dls::cpu {

namespace {

Step fn(std::function<void(const dls_step_ctx&)> f) {
  Step s;
  s.fn = std::move(f);
  return s;
}

// d(input i) written from a private buffer: =, or += with its accumulate bit.
struct GradSink {
  float* p = nullptr;
  bool acc = false;
  int64_t n = 0;
  void from(const float* src) const {
    if (!p) return;
    if (acc) {
      for (int64_t i = 0; i < n; ++i) p[i] += src[i];
    } else {
      std::memcpy(p, src, size_t(n) * 4);
    }
  }
};
GradSink sink(const dls_grad_op_desc& g, int i) {
  if (i >= g.nins || !g.dins[i].data) return {};
  return {fptr(g.dins[i]), ((g.accumulate_mask >> i) & 1u) != 0, g.dins[i].numel};
}

// axis: (outer, len, inner) of a tensor around an axis.
void around(const dls_tensor_desc& t, int axis, int64_t& outer, int64_t& len, int64_t& inner) {
  outer = 1, inner = 1, len = t.dims[axis];
  for (int k = 0; k < axis; ++k) outer *= t.dims[k];
  for (int k = axis + 1; k < t.rank; ++k) inner *= t.dims[k];
}

}  // namespace

int loop_act_kind(int opcode) {
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

void act_loop(int kind, const float* __restrict x, float* __restrict y, int64_t n, float a, float b) {
#pragma omp parallel for simd if (n > 262144) schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = elt::fwd(kind, x[i], a, b);
}

void act_grad_loop(int kind, const float* x, const float* dy, float* dx, int64_t n, float a, float b, bool acc) {
#pragma omp parallel for simd if (n > 262144) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float v = dy[i] * elt::deriv(kind, x[i], a, b);
    dx[i] = acc ? dx[i] + v : v;
  }
}

bool more_fwd(const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  switch (op.opcode) {
    case DLS_OP_PRELU: {
      const float* x = fptr(T[0]);
      const float* w = fptr(T[1]);
      float* y = fptr(T[2]);
      const int64_t N = op.rows, C = op.cols, inner = T[0].numel / (N * C);
      const bool shared = T[1].numel == 1;
      st.train.push_back(fn([=](const dls_step_ctx&) {
        for (int64_t r = 0; r < N * C; ++r) {
          const float a = w[shared ? 0 : r % C];
          for (int64_t i = r * inner; i < (r + 1) * inner; ++i) y[i] = x[i] > 0.f ? x[i] : a * x[i];
        }
      }));
      return true;
    }
    case DLS_OP_GLU: {
      const float* x = fptr(T[0]);
      float* y = fptr(T[1]);
      int64_t outer, len, inner;
      around(T[0], (int)op.attrs[0], outer, len, inner);
      const int64_t h = len / 2 * inner;
      st.train.push_back(fn([=](const dls_step_ctx&) {
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < h; ++i) y[o * h + i] = x[o * 2 * h + i] * elt::sigm(x[o * 2 * h + h + i]);
      }));
      return true;
    }
    case DLS_OP_MUL:
    case DLS_OP_SUB:
    case DLS_OP_DIV: {
      const int kind = op.opcode == DLS_OP_MUL ? elt::MUL : op.opcode == DLS_OP_SUB ? elt::SUB : elt::DIV;
      const elt::Bcast g = elt::bcast(T[0].dims, T[0].rank, T[1].dims, T[1].rank, T[2].dims, T[2].rank);
      const float* a = fptr(T[0]);
      const float* b = fptr(T[1]);
      float* y = fptr(T[2]);
      st.train.push_back(fn([=](const dls_step_ctx&) {
        for (int64_t i = 0; i < g.n; ++i) {
          int64_t oa, ob;
          elt::offsets(g, i, oa, ob);
          y[i] = elt::bin(kind, a[oa], b[ob]);
        }
      }));
      return true;
    }
    case DLS_OP_REDUCE_MEAN:
    case DLS_OP_REDUCE_SUM:
    case DLS_OP_REDUCE_MAX: {
      const elt::Reduce g = elt::reduce_geom(T[0].dims, T[0].rank, op.attrs + 1);
      const float* x = fptr(T[0]);
      float* y = fptr(T[1]);
      const int64_t ny = T[1].numel;
      const int opc = op.opcode;
      // max: the index in x of each output's maximum, for the backward.
      int64_t* arg = nullptr;
      if (opc == DLS_OP_REDUCE_MAX) arg = reinterpret_cast<int64_t*>(st.buf(size_t(2 * ny))->p);
      st.train.push_back(fn([=](const dls_step_ctx&) {
        if (opc == DLS_OP_REDUCE_MAX) {
          for (int64_t j = 0; j < ny; ++j) arg[j] = -1;
          for (int64_t i = 0; i < g.n; ++i) {
            const int64_t j = elt::reduce_out(g, i);
            if (arg[j] < 0 || x[i] > y[j]) y[j] = x[i], arg[j] = i;
          }
          return;
        }
        std::vector<double> acc(size_t(ny), 0.0);
        for (int64_t i = 0; i < g.n; ++i) acc[size_t(elt::reduce_out(g, i))] += x[i];
        const double scale = opc == DLS_OP_REDUCE_MEAN ? 1.0 / double(g.count) : 1.0;
        for (int64_t j = 0; j < ny; ++j) y[j] = float(acc[size_t(j)] * scale);
      }));
      return true;
    }
    case DLS_OP_ADAPTIVE_AVGPOOL: {
      const float* x = fptr(T[0]);
      float* y = fptr(T[1]);
      const int64_t NC = T[0].dims[0] * T[0].dims[1], H = T[0].dims[2], W = T[0].dims[3];
      const int64_t OH = T[1].dims[2], OW = T[1].dims[3];
      st.train.push_back(fn([=](const dls_step_ctx&) {
        for (int64_t p = 0; p < NC; ++p)
          for (int64_t i = 0; i < OH; ++i)
            for (int64_t j = 0; j < OW; ++j) {
              const int64_t h0 = elt::bin_start(i, H, OH), h1 = elt::bin_end(i, H, OH);
              const int64_t w0 = elt::bin_start(j, W, OW), w1 = elt::bin_end(j, W, OW);
              float s = 0;
              for (int64_t h = h0; h < h1; ++h)
                for (int64_t w = w0; w < w1; ++w) s += x[(p * H + h) * W + w];
              y[(p * OH + i) * OW + j] = s / float((h1 - h0) * (w1 - w0));
            }
      }));
      return true;
    }
    case DLS_OP_SLICE:
    case DLS_OP_PAD:
    case DLS_OP_REPEAT: {
      // y[i] = x[map[i]] (constant padding: `value` where the map is -1); core/IndexMap.h
      auto map = std::make_shared<std::vector<int32_t>>(index_map(op));
      const float* x = fptr(T[0]);
      float* y = fptr(T[1]);
      const float value = op.opcode == DLS_OP_PAD ? float(op.attrs[1]) : 0.f;
      const int64_t n = T[1].numel;
      st.train.push_back(fn([=](const dls_step_ctx&) {
        const int32_t* m = map->data();
        for (int64_t i = 0; i < n; ++i) y[i] = m[i] >= 0 ? x[m[i]] : value;
      }));
      return true;
    }
    case DLS_OP_GROUP_NORM: {
      const float* x = fptr(T[0]);
      const float* gm = T[1].id >= 0 ? fptr(T[1]) : nullptr;
      const float* bt = T[2].id >= 0 ? fptr(T[2]) : nullptr;
      float* y = fptr(T[3]);
      const int64_t R = op.rows, M = op.cols, G = (int64_t)op.attrs[0], C = T[0].dims[1], inner = M * G / C;
      const double eps = op.attrs[1];
      float* stats = st.buf(size_t(2 * R))->p;  // mean, 1/std per sample and group
      st.train.push_back(fn([=](const dls_step_ctx&) {
        for (int64_t r = 0; r < R; ++r) {
          const float* xr = x + r * M;
          double m = 0, v = 0;
          for (int64_t i = 0; i < M; ++i) m += xr[i];
          m /= double(M);
          for (int64_t i = 0; i < M; ++i) v += (xr[i] - m) * (xr[i] - m);
          const float rstd = float(1.0 / std::sqrt(v / double(M) + eps));
          stats[2 * r] = float(m), stats[2 * r + 1] = rstd;
          for (int64_t i = 0; i < M; ++i) {
            const int64_t c = (r % G) * (C / G) + i / inner;
            const float h = float((xr[i] - m) * double(rstd));
            y[r * M + i] = gm ? h * gm[c] + bt[c] : h;
          }
        }
      }));
      return true;
    }
    default: return false;
  }
}

bool more_bwd(const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  const auto& T = op.tensors;
  const float* dy = fptr(g.dout);
  switch (op.opcode) {
    case DLS_OP_PRELU: {
      const float* x = fptr(T[0]);
      const float* w = fptr(T[1]);
      const GradSink dx = sink(g, 0);
      float* dw = g.dparams[0].id >= 0 ? fptr(g.dparams[0]) : nullptr;
      const int64_t N = op.rows, C = op.cols, inner = T[0].numel / (N * C), nw = T[1].numel;
      const bool shared = nw == 1;
      float* tmp = dx.p ? st.buf(size_t(T[0].numel))->p : nullptr;
      st.train.push_back(fn([=](const dls_step_ctx&) {
        std::vector<double> acc(size_t(nw), 0.0);
        for (int64_t r = 0; r < N * C; ++r) {
          const int64_t c = shared ? 0 : r % C;
          const float a = w[c];
          for (int64_t i = r * inner; i < (r + 1) * inner; ++i) {
            if (tmp) tmp[i] = x[i] > 0.f ? dy[i] : a * dy[i];
            if (x[i] <= 0.f) acc[size_t(c)] += double(dy[i]) * x[i];
          }
        }
        if (dw)
          for (int64_t k = 0; k < nw; ++k) dw[k] = float(acc[size_t(k)]);
        dx.from(tmp);
      }));
      return true;
    }
    case DLS_OP_GLU: {
      const GradSink dx = sink(g, 0);
      if (!dx.p) return true;
      const float* x = fptr(T[0]);
      int64_t outer, len, inner;
      around(T[0], (int)op.attrs[0], outer, len, inner);
      const int64_t h = len / 2 * inner;
      float* tmp = st.buf(size_t(T[0].numel))->p;
      st.train.push_back(fn([=](const dls_step_ctx&) {
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < h; ++i) {
            const float a = x[o * 2 * h + i], s = elt::sigm(x[o * 2 * h + h + i]), d = dy[o * h + i];
            tmp[o * 2 * h + i] = d * s;
            tmp[o * 2 * h + h + i] = d * a * s * (1.f - s);
          }
        dx.from(tmp);
      }));
      return true;
    }
    case DLS_OP_MUL:
    case DLS_OP_SUB:
    case DLS_OP_DIV: {
      const int kind = op.opcode == DLS_OP_MUL ? elt::MUL : op.opcode == DLS_OP_SUB ? elt::SUB : elt::DIV;
      const elt::Bcast geo = elt::bcast(T[0].dims, T[0].rank, T[1].dims, T[1].rank, T[2].dims, T[2].rank);
      const float* a = fptr(T[0]);
      const float* b = fptr(T[1]);
      const GradSink da = sink(g, 0), db = sink(g, 1);
      float* ta = da.p ? st.buf(size_t(T[0].numel))->p : nullptr;
      float* tb = db.p ? st.buf(size_t(T[1].numel))->p : nullptr;
      const int64_t na = T[0].numel, nb = T[1].numel;
      st.train.push_back(fn([=](const dls_step_ctx&) {
        if (ta) std::memset(ta, 0, size_t(na) * 4);
        if (tb) std::memset(tb, 0, size_t(nb) * 4);
        for (int64_t i = 0; i < geo.n; ++i) {
          int64_t oa, ob;
          elt::offsets(geo, i, oa, ob);
          if (ta) ta[oa] += dy[i] * elt::bin_da(kind, a[oa], b[ob]);
          if (tb) tb[ob] += dy[i] * elt::bin_db(kind, a[oa], b[ob]);
        }
        da.from(ta);
        db.from(tb);
      }));
      return true;
    }
    case DLS_OP_REDUCE_MEAN:
    case DLS_OP_REDUCE_SUM:
    case DLS_OP_REDUCE_MAX: {
      const GradSink dx = sink(g, 0);
      if (!dx.p) return true;
      const elt::Reduce geo = elt::reduce_geom(T[0].dims, T[0].rank, op.attrs + 1);
      float* tmp = st.buf(size_t(T[0].numel))->p;
      const int opc = op.opcode;
      const int64_t ny = T[1].numel;
      const int64_t* arg = opc == DLS_OP_REDUCE_MAX ? reinterpret_cast<const int64_t*>(f.bufs.at(0)->p) : nullptr;
      st.train.push_back(fn([=](const dls_step_ctx&) {
        if (arg) {
          std::memset(tmp, 0, size_t(geo.n) * 4);
          for (int64_t j = 0; j < ny; ++j)
            if (arg[j] >= 0) tmp[arg[j]] = dy[j];
        } else {
          const float scale = opc == DLS_OP_REDUCE_MEAN ? 1.f / float(geo.count) : 1.f;
          for (int64_t i = 0; i < geo.n; ++i) tmp[i] = dy[elt::reduce_out(geo, i)] * scale;
        }
        dx.from(tmp);
      }));
      return true;
    }
    case DLS_OP_ADAPTIVE_AVGPOOL: {
      const GradSink dx = sink(g, 0);
      if (!dx.p) return true;
      const int64_t NC = T[0].dims[0] * T[0].dims[1], H = T[0].dims[2], W = T[0].dims[3];
      const int64_t OH = T[1].dims[2], OW = T[1].dims[3];
      float* tmp = st.buf(size_t(T[0].numel))->p;
      st.train.push_back(fn([=](const dls_step_ctx&) {
        std::memset(tmp, 0, size_t(NC * H * W) * 4);
        for (int64_t p = 0; p < NC; ++p)
          for (int64_t i = 0; i < OH; ++i)
            for (int64_t j = 0; j < OW; ++j) {
              const int64_t h0 = elt::bin_start(i, H, OH), h1 = elt::bin_end(i, H, OH);
              const int64_t w0 = elt::bin_start(j, W, OW), w1 = elt::bin_end(j, W, OW);
              const float d = dy[(p * OH + i) * OW + j] / float((h1 - h0) * (w1 - w0));
              for (int64_t h = h0; h < h1; ++h)
                for (int64_t w = w0; w < w1; ++w) tmp[(p * H + h) * W + w] += d;
            }
        dx.from(tmp);
      }));
      return true;
    }
    case DLS_OP_SLICE:
    case DLS_OP_PAD:
    case DLS_OP_REPEAT: {
      // d(x)[map[i]] += d(y)[i]
      const GradSink dx = sink(g, 0);
      if (!dx.p) return true;
      auto map = std::make_shared<std::vector<int32_t>>(index_map(op));
      float* tmp = st.buf(size_t(T[0].numel))->p;
      const int64_t nx = T[0].numel, ny = T[1].numel;
      st.train.push_back(fn([=](const dls_step_ctx&) {
        const int32_t* m = map->data();
        std::memset(tmp, 0, size_t(nx) * 4);
        for (int64_t i = 0; i < ny; ++i)
          if (m[i] >= 0) tmp[m[i]] += dy[i];
        dx.from(tmp);
      }));
      return true;
    }
    case DLS_OP_GROUP_NORM: {
      const float* x = fptr(T[0]);
      const float* gm = T[1].id >= 0 ? fptr(T[1]) : nullptr;
      const GradSink dx = sink(g, 0);
      float* dg = g.dparams[0].id >= 0 ? fptr(g.dparams[0]) : nullptr;
      float* db = g.dparams[1].id >= 0 ? fptr(g.dparams[1]) : nullptr;
      const int64_t R = op.rows, M = op.cols, G = (int64_t)op.attrs[0], C = T[0].dims[1], inner = M * G / C;
      const float* stats = f.bufs.at(0)->p;
      float* tmp = dx.p ? st.buf(size_t(T[0].numel))->p : nullptr;
      st.train.push_back(fn([=](const dls_step_ctx&) {
        std::vector<double> sg(size_t(C), 0.0), sb(size_t(C), 0.0);
        for (int64_t r = 0; r < R; ++r) {
          const float m = stats[2 * r], rstd = stats[2 * r + 1];
          // h re-centred on its own rounded mean, as in layer_norm's gradient: the group's dx then sums to 0
          double s0 = 0;
          for (int64_t i = 0; i < M; ++i) s0 += double((x[r * M + i] - m) * rstd);
          const float c0 = float(s0 / double(M));
          double s1 = 0, s2 = 0;
          for (int64_t i = 0; i < M; ++i) {
            const int64_t c = (r % G) * (C / G) + i / inner;
            const float h = (x[r * M + i] - m) * rstd - c0, d = dy[r * M + i];
            const float dh = gm ? d * gm[c] : d;
            s1 += dh, s2 += double(dh) * h;
            sg[size_t(c)] += double(d) * h, sb[size_t(c)] += d;
          }
          if (tmp)
            for (int64_t i = 0; i < M; ++i) {
              const int64_t c = (r % G) * (C / G) + i / inner;
              const float h = (x[r * M + i] - m) * rstd - c0, dh = gm ? dy[r * M + i] * gm[c] : dy[r * M + i];
              tmp[r * M + i] = rstd * float(dh - s1 / double(M) - h * s2 / double(M));
            }
        }
        for (int64_t c = 0; c < C; ++c) {
          if (dg) dg[c] = float(sg[size_t(c)]);
          if (db) db[c] = float(sb[size_t(c)]);
        }
        dx.from(tmp);
      }));
      return true;
    }
    default: return false;
  }
}

}  // namespace dls::cpu
