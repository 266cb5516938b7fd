// CpuLosses.cpp: loss ops (hand-written loops). Every loss is the mean over the VALID rows of the batch
// (dls_step_ctx::valid_rows; padded rows of the last evaluation batch contribute nothing), and its
// backward seeds d(loss) = 1 implicitly, writing d(input) = d(mean)/d(input) (zero for padded rows).
// cross_entropy and nll skip the rows whose label is their ignore_index (ops.def): the mean is over the others.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "CpuOp.h"
#include "core/LossMath.h"
#include "dlspec/OpSchema.h"

namespace dls::cpu {

namespace {
Step fn_step(std::function<void(const dls_step_ctx&)> f) {
  Step s;
  s.fn = std::move(f);
  return s;
}
// Valid rows of `rows`: valid_rows counts samples, each of which is `per` rows (a sequence's steps).
int64_t valid(const dls_step_ctx& s, int64_t rows, int64_t per) {
  const int64_t v = s.valid_rows * per;
  return v > 0 && v < rows ? v : rows;
}
// ops.def: cross_entropy's ignore_index is its second attribute, nll's its first.
int64_t ignore_of(const dls_op_desc& op) {
  const int i = op.opcode == DLS_OP_CROSS_ENTROPY ? 1 : 0;
  return op.nattrs > i ? int64_t(op.attrs[i]) : -100;
}
// ops.def: cross_entropy's and nll's class weights follow ignore_index (none: every class weighs 1).
std::vector<float> weights_of(const dls_op_desc& op, int64_t C) {
  const int first = op.opcode == DLS_OP_CROSS_ENTROPY ? 2 : 1;
  std::vector<float> w(size_t(C), 1.f);
  if (op.nattrs - first == C)
    for (int64_t i = 0; i < C; ++i) w[size_t(i)] = float(op.attrs[first + i]);
  return w;
}
}  // namespace

bool build_loss_forward(const dls_op_desc& op, OpState& st) {
  if (!schema::isLoss(op.opcode)) return false;
  const auto& T = op.tensors;
  const float* x = fptr(T[0]);
  float* loss = fptr(T[2]);
  const int64_t R = op.rows, C = op.cols, per = R / std::max<int64_t>(1, T[0].dims[0]);
  switch (op.opcode) {
    case DLS_OP_COSINE_EMBEDDING: {
      // x1, x2 [rows, D], targets [rows] of 1 or -1: the mean of the rows' losses (core/LossMath.h).
      const float* x2 = fptr(T[1]);
      const float* t = fptr(T[2]);
      float* out = fptr(T[3]);
      const double margin = op.nattrs > 0 ? op.attrs[0] : 0.0;
      st.train.push_back(fn_step([=](const dls_step_ctx& s) {
        const int64_t V = valid(s, R, per);
        double total = 0;
        for (int64_t r = 0; r < V; ++r) {
          const loss_math::CosRow cr = loss_math::cos_row(x + r * C, x2 + r * C, C);
          total += loss_math::cos_loss(cr.cos, t[r], margin);
        }
        out[0] = V > 0 ? float(total / double(V)) : 0.f;
      }));
      return true;
    }
    case DLS_OP_CROSS_ENTROPY: {
      if (T[1].dtype == DLS_F32) {
        // Class probabilities t[N, C] (torch 1.13's CrossEntropyLoss with probability targets): the mean over the
        // valid rows of -sum_i t'_i log_softmax(x)_i, t' = (1 - eps) t + eps / C. A one-hot row gives exactly the
        // class-label loss of its class.
        const float* t = fptr(T[1]);
        const float eps = op.nattrs > 0 ? float(op.attrs[0]) : 0.f;
        float* prob = st.buf(size_t(R * C))->p;
        st.train.push_back(fn_step([=](const dls_step_ctx& s) {
          const int64_t V = valid(s, R, per);
          double total = 0;
          for (int64_t r = 0; r < V; ++r) {
            const float* xr = x + r * C;
            const float* tr = t + r * C;
            float m = xr[0];
            for (int64_t i = 1; i < C; ++i) m = std::max(m, xr[i]);
            float sum = 0;
            for (int64_t i = 0; i < C; ++i) sum += (prob[r * C + i] = std::exp(xr[i] - m));
            const float inv = 1.f / sum, lse = m + std::log(sum);
            double smooth = 0, hard = 0;
            for (int64_t i = 0; i < C; ++i) {
              prob[r * C + i] *= inv;
              smooth += double(lse) - double(xr[i]);
              if (tr[i] != 0.f) hard += double(tr[i]) * double(lse - xr[i]);
            }
            smooth /= double(C);
            total += (1.0 - eps) * hard + eps * smooth;
          }
          loss[0] = V > 0 ? float(total / double(V)) : 0.f;
        }));
        return true;
      }
      const int32_t* y = static_cast<const int32_t*>(T[1].data);
      const float eps = op.nattrs > 0 ? float(op.attrs[0]) : 0.f;
      const int64_t ign = ignore_of(op);
      const std::vector<float> w = weights_of(op, C);
      float* prob = st.buf(size_t(R * C))->p;  // softmax, kept for the backward
      st.train.push_back(fn_step([=](const dls_step_ctx& s) {
        const int64_t V = valid(s, R, per);
        double total = 0, counted = 0;  // counted: the sum of the counted rows' label weights (torch's weighted mean)
        for (int64_t r = 0; r < V; ++r) {
          if (y[r] == ign) continue;
          const float* xr = x + r * C;
          float m = xr[0];
          for (int64_t i = 1; i < C; ++i) m = std::max(m, xr[i]);
          float sum = 0;
          for (int64_t i = 0; i < C; ++i) sum += (prob[r * C + i] = std::exp(xr[i] - m));
          const float inv = 1.f / sum, lse = m + std::log(sum);
          double smooth = 0;  // sum_i w_i (lse - x_i) / C: the smoothed term, each class by its weight
          for (int64_t i = 0; i < C; ++i) {
            prob[r * C + i] *= inv;
            smooth += double(w[size_t(i)]) * (double(lse) - double(xr[i]));
          }
          smooth /= double(C);
          int64_t label = y[r] < 0 || y[r] >= C ? 0 : y[r];
          const double wl = w[size_t(label)];
          counted += wl;
          total += (1.0 - eps) * wl * (lse - xr[label]) + eps * smooth;
        }
        loss[0] = counted != 0 ? float(total / counted) : 0.f;
      }));
      return true;
    }
    case DLS_OP_NLL: {
      const int32_t* y = static_cast<const int32_t*>(T[1].data);
      const int64_t ign = ignore_of(op);
      const std::vector<float> w = weights_of(op, C);
      st.train.push_back(fn_step([=](const dls_step_ctx& s) {
        const int64_t V = valid(s, R, per);
        double total = 0, counted = 0;
        for (int64_t r = 0; r < V; ++r)
          if (y[r] != ign) {
            const int64_t label = y[r] < 0 || y[r] >= C ? 0 : y[r];
            total -= double(w[size_t(label)]) * x[r * C + label], counted += w[size_t(label)];
          }
        loss[0] = counted != 0 ? float(total / counted) : 0.f;
      }));
      return true;
    }
    case DLS_OP_BCE_WITH_LOGITS:
    case DLS_OP_MSE:
    case DLS_OP_L1:
    case DLS_OP_HUBER:
    case DLS_OP_SMOOTH_L1:
    case DLS_OP_KL_DIV:
    case DLS_OP_FOCAL:
    case DLS_OP_HINGE:
    case DLS_OP_POISSON:
    case DLS_OP_BCE: {
      const float* t = fptr(T[1]);
      const int opcode = op.opcode;
      const double a0 = op.nattrs > 0 ? op.attrs[0] : 0, a1 = op.nattrs > 1 ? op.attrs[1] : 0;
      st.train.push_back(fn_step([=](const dls_step_ctx& s) {
        const int64_t rows = valid(s, R, per), n = rows * C;
        double total = 0;
        for (int64_t i = 0; i < n; ++i) {
          const float v = x[i], tv = t[i];
          if (loss_math::handles(opcode)) {
            total += loss_math::value(opcode, v, tv, a0, a1);
          } else if (opcode == DLS_OP_MSE) {
            total += double(v - tv) * double(v - tv);
          } else if (opcode == DLS_OP_L1) {
            total += std::fabs(double(v) - double(tv));
          } else if (opcode == DLS_OP_BCE_WITH_LOGITS) {
            total += std::max(v, 0.f) - v * tv + std::log1p(std::exp(-std::fabs(v)));
          } else {  // PyTorch clamps the logs at -100
            total -= tv * std::max(std::log(v), -100.f) + (1 - tv) * std::max(std::log1p(-v), -100.f);
          }
        }
        // kl_div's batchmean divides by the rows, the others by the elements
        loss[0] = float(total / double(opcode == DLS_OP_KL_DIV ? rows : n));
      }));
      return true;
    }
    default: return false;
  }
}

bool build_loss_backward(const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  if (!schema::isLoss(op.opcode)) return false;
  if (op.opcode == DLS_OP_COSINE_EMBEDDING) {
    // d(x1) and d(x2) (dins[0], dins[1]; either may be absent): d(row loss)/d(cos) d(cos)/d(x) / valid rows.
    const auto& T = op.tensors;
    float* d1 = g.nins > 0 ? fptr(g.dins[0]) : nullptr;
    float* d2 = g.nins > 1 ? fptr(g.dins[1]) : nullptr;
    if (!d1 && !d2) return true;
    const bool acc1 = (g.accumulate_mask & 1u) != 0, acc2 = (g.accumulate_mask & 2u) != 0;
    const float *x1 = fptr(T[0]), *x2 = fptr(T[1]), *t = fptr(T[2]);
    const int64_t R = op.rows, D = op.cols, per = R / std::max<int64_t>(1, T[0].dims[0]);
    const double margin = op.nattrs > 0 ? op.attrs[0] : 0.0;
    st.train.push_back(fn_step([=](const dls_step_ctx& s) {
      const int64_t V = valid(s, R, per);
      for (int64_t r = 0; r < R; ++r) {
        const float *a = x1 + r * D, *b = x2 + r * D;
        double k = 0;
        loss_math::CosRow cr{0, 1, 1, 1, 0};
        if (r < V) {
          cr = loss_math::cos_row(a, b, D);
          k = loss_math::cos_loss_dcos(cr.cos, t[r], margin) / double(V);
        }
        for (int64_t j = 0; j < D; ++j) {
          const float g1 = k != 0 ? float(k * loss_math::cos_dx(cr, a[j], b[j], cr.a)) : 0.f;
          const float g2 = k != 0 ? float(k * loss_math::cos_dx(cr, b[j], a[j], cr.b)) : 0.f;
          if (d1) d1[r * D + j] = acc1 ? d1[r * D + j] + g1 : g1;
          if (d2) d2[r * D + j] = acc2 ? d2[r * D + j] + g2 : g2;
        }
      }
    }));
    return true;
  }
  if (g.nins < 1 || !g.dins[0].data) return true;  // nothing to do
  const auto& T = op.tensors;
  float* dx = fptr(g.dins[0]);
  const bool acc = (g.accumulate_mask & 1u) != 0;
  const float* x = fptr(T[0]);
  const int64_t R = op.rows, C = op.cols, per = R / std::max<int64_t>(1, T[0].dims[0]);
  const int opcode = op.opcode;
  if (opcode == DLS_OP_CROSS_ENTROPY && T[1].dtype == DLS_F32) {
    // d/dx_i of the probability-target loss: (p_i sum_j t'_j - t'_i) / valid rows.
    const float* t = fptr(T[1]);
    const float eps = op.nattrs > 0 ? float(op.attrs[0]) : 0.f;
    const float* prob = f.bufs.at(0)->p;
    st.train.push_back(fn_step([=](const dls_step_ctx& s) {
      const int64_t V = valid(s, R, per);
      const float scale = V > 0 ? float(1.0 / double(V)) : 0.f;
      for (int64_t r = 0; r < R; ++r) {
        float tsum = 0;
        for (int64_t i = 0; i < C; ++i) tsum += t[r * C + i];
        for (int64_t i = 0; i < C; ++i) {
          float d = 0;
          if (r < V) {
            const float ti = (1.f - eps) * t[r * C + i] + eps / float(C), ts = (1.f - eps) * tsum + eps;
            d = (prob[r * C + i] * ts - ti) * scale;
          }
          dx[r * C + i] = acc ? dx[r * C + i] + d : d;
        }
      }
    }));
    return true;
  }
  if (opcode == DLS_OP_CROSS_ENTROPY || opcode == DLS_OP_NLL) {
    const int32_t* y = static_cast<const int32_t*>(T[1].data);
    const float eps = (opcode == DLS_OP_CROSS_ENTROPY && op.nattrs > 0) ? float(op.attrs[0]) : 0.f;
    const float* prob = opcode == DLS_OP_CROSS_ENTROPY ? f.bufs.at(0)->p : nullptr;
    const int64_t ign = ignore_of(op);
    const std::vector<float> w = weights_of(op, C);
    st.train.push_back(fn_step([=](const dls_step_ctx& s) {
      const int64_t V = valid(s, R, per);
      double counted = 0;
      for (int64_t r = 0; r < V; ++r)
        if (y[r] != ign) counted += w[size_t(y[r] < 0 || y[r] >= C ? 0 : y[r])];
      const float scale = counted != 0 ? float(1.0 / counted) : 0.f;
      for (int64_t r = 0; r < R; ++r) {
        int64_t label = y[r] < 0 || y[r] >= C ? 0 : y[r];
        // d/dx_i of (1 - eps) w_l (lse - x_l) + eps / C sum_j w_j (lse - x_j):
        //   p_i ((1 - eps) w_l + eps W / C) - (1 - eps) w_l [i = l] - eps w_i / C, W = sum_j w_j
        float wsum = 0;
        if (prob && eps != 0.f)
          for (int64_t j = 0; j < C; ++j) wsum += w[size_t(j)];
        const float wl = w[size_t(label)];
        for (int64_t i = 0; i < C; ++i) {
          float d = 0;
          if (r < V && y[r] != ign) {
            if (prob) {
              d = (prob[r * C + i] * ((1.f - eps) * wl + eps * wsum / float(C)) - (i == label ? (1.f - eps) * wl : 0.f) -
                   eps * w[size_t(i)] / float(C)) * scale;
            } else {
              d = i == label ? -wl * scale : 0.f;
            }
          }
          dx[r * C + i] = acc ? dx[r * C + i] + d : d;
        }
      }
    }));
    return true;
  }
  const float* t = fptr(T[1]);
  const double a0 = op.nattrs > 0 ? op.attrs[0] : 0, a1 = op.nattrs > 1 ? op.attrs[1] : 0;
  st.train.push_back(fn_step([=](const dls_step_ctx& s) {
    const int64_t rows = valid(s, R, per), n = rows * C, all = R * C;
    const float scale = 1.f / float(opcode == DLS_OP_KL_DIV ? rows : n);
    for (int64_t i = 0; i < all; ++i) {
      float d = 0;
      if (i < n) {
        const float v = x[i], tv = t[i];
        if (loss_math::handles(opcode)) {
          d = float(loss_math::grad(opcode, v, tv, a0, a1)) * scale;
        } else if (opcode == DLS_OP_MSE) {
          d = 2.f * (v - tv) * scale;
        } else if (opcode == DLS_OP_L1) {
          d = v > tv ? scale : v < tv ? -scale : 0.f;  // torch: sign(x - t), 0 at equality
        } else if (opcode == DLS_OP_BCE_WITH_LOGITS) {
          d = (1.f / (1.f + std::exp(-v)) - tv) * scale;
        } else {
          d = (v - tv) / std::max(v * (1 - v), 1e-12f) * scale;
        }
      }
      dx[i] = acc ? dx[i] + d : d;
    }
  }));
  return true;
}

}  // namespace dls::cpu
