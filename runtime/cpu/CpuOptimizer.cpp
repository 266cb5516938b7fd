// CpuOptimizer.cpp: PyTorch's optimizer update formulas (torch.optim, single-tensor "foreach=False" path),
// in float, one pass over each parameter.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "CpuOp.h"

namespace dls::cpu {

namespace {
// NAdam's mu_product = mu_1 ... mu_t (torch.optim.NAdam keeps it per parameter; it is the same for all): the
// last one, advanced by a factor when t is the next step, computed afresh otherwise (a resume).
double nadam_product(int64_t t, double beta1, double md) {
  static thread_local int64_t last_t = 0;
  static thread_local double last = 1, last_b1 = 0, last_md = 0;
  auto mu = [&](int64_t k) { return beta1 * (1.0 - 0.5 * std::pow(0.96, double(k) * md)); };
  if (last_b1 != beta1 || last_md != md || (t != last_t && t != last_t + 1)) {
    last = 1;
    for (int64_t k = 1; k <= t; ++k) last *= mu(k);
  } else if (t == last_t + 1) {
    last *= mu(t);
  }
  last_t = t, last_b1 = beta1, last_md = md;
  return last;
}
}  // namespace

void update(const dls_update_desc& u) {
  float* p = u.param;
  const float* g = u.grad;
  float* s0 = u.state0;
  float* s1 = u.state1;
  const int64_t n = u.numel;
  const float lr = float(u.lr), wd = float(u.weight_decay), mom = float(u.momentum);
  switch (u.kind) {
    case DLS_OPT_SGD: {
      // d = g + wd*p; buf = mom*buf + d (buf = d at the first step: buf starts at 0); d = nesterov ?
      // d + mom*buf : buf; p -= lr*d
      const bool nest = u.nesterov != 0;
#pragma omp parallel for simd if (n > 65536) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        float d = g[i] + wd * p[i];
        if (mom != 0.f) {
          float b = (u.t == 1) ? d : mom * s0[i] + d;
          s0[i] = b;
          d = nest ? d + mom * b : b;
        }
        p[i] -= lr * d;
      }
      break;
    }
    case DLS_OPT_ADAM:
    case DLS_OPT_ADAMW: {
      const float b1 = float(u.beta1), b2 = float(u.beta2), eps = float(u.eps);
      const float bc1 = 1.f - float(std::pow(u.beta1, double(u.t)));
      const float bc2 = 1.f - float(std::pow(u.beta2, double(u.t)));
      const float step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
      const bool decoupled = u.kind == DLS_OPT_ADAMW;
      // 1 - beta in double, then rounded, as torch.optim passes `1 - beta2` (a Python float) to addcmul_
      const float omb1 = float(1.0 - u.beta1), omb2 = float(1.0 - u.beta2);
      float* s2 = u.nesterov ? u.state2 : nullptr;  // amsgrad: max_exp_avg_sq
      if (u.nesterov && !s2) throw std::runtime_error("amsgrad without its max_exp_avg_sq buffer");
#pragma omp parallel for simd if (n > 65536) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        float d = g[i];
        if (decoupled) {
          p[i] *= 1.f - lr * wd;
        } else {
          d += wd * p[i];
        }
        float m = s0[i] * b1 + omb1 * d;
        float v = s1[i] * b2 + omb2 * d * d;
        s0[i] = m, s1[i] = v;
        if (s2) v = s2[i] = std::max(s2[i], v);
        float denom = std::sqrt(v) / bc2_sqrt + eps;
        p[i] -= step_size * m / denom;
      }
      break;
    }
    case DLS_OPT_ADAGRAD: {  // torch.optim.Adagrad: initial_accumulator_value = momentum; sum in state0
      // The sum starts at initial_accumulator_value: the update at t = 1 reads that instead of the zeroed buffer.
      // lr_decay is a DLS_SCHED_TIME_DECAY schedule, already in lr.
      const float eps = float(u.eps), init = float(u.momentum);
      const bool first = u.t == 1;
#pragma omp parallel for simd if (n > 65536) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        float d = g[i] + wd * p[i];
        float sum = (first ? init : s0[i]) + d * d;
        s0[i] = sum;
        p[i] -= lr * d / (std::sqrt(sum) + eps);
      }
      break;
    }
    case DLS_OPT_LAMB: {  // runtime.h dls_optimizer: exp_avg, exp_avg_sq; the trust ratio over the whole tensor
      const float b1 = float(u.beta1), b2 = float(u.beta2), eps = float(u.eps);
      const float bc1 = 1.f - float(std::pow(u.beta1, double(u.t)));
      const float bc2 = 1.f - float(std::pow(u.beta2, double(u.t)));
      const float omb1 = float(1.0 - u.beta1), omb2 = float(1.0 - u.beta2);
      double wn = 0, rn = 0;
#pragma omp parallel for simd reduction(+ : wn, rn) if (n > 65536) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        float m = b1 * s0[i] + omb1 * g[i];
        float v = b2 * s1[i] + omb2 * g[i] * g[i];
        s0[i] = m, s1[i] = v;
        float r = (m / bc1) / (std::sqrt(v / bc2) + eps) + wd * p[i];
        wn += double(p[i]) * double(p[i]);
        rn += double(r) * double(r);
      }
      const float ratio = wn > 0 && rn > 0 ? float(std::sqrt(wn) / std::sqrt(rn)) : 1.f;
      const float step = lr * ratio;
#pragma omp parallel for simd if (n > 65536) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        float r = (s0[i] / bc1) / (std::sqrt(s1[i] / bc2) + eps) + wd * p[i];
        p[i] -= step * r;
      }
      break;
    }
    case DLS_OPT_RMSPROP: {
      const float alpha = float(u.beta2), eps = float(u.eps);
#pragma omp parallel for simd if (n > 65536) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        float d = g[i] + wd * p[i];
        float v = alpha * s0[i] + (1.f - alpha) * d * d;
        s0[i] = v;
        float avg = std::sqrt(v) + eps;
        if (mom > 0.f) {
          float b = mom * s1[i] + d / avg;
          s1[i] = b;
          p[i] -= lr * b;
        } else {
          p[i] -= lr * d / avg;
        }
      }
      break;
    }
    case DLS_OPT_ADADELTA: {  // torch.optim.Adadelta: rho = beta2; square_avg in state0, acc_delta in state1
      const float rho = float(u.beta2), eps = float(u.eps);
#pragma omp parallel for simd if (n > 65536) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        float d = g[i] + wd * p[i];
        float v = rho * s0[i] + (1.f - rho) * d * d;
        s0[i] = v;
        float delta = std::sqrt(s1[i] + eps) / std::sqrt(v + eps) * d;
        s1[i] = rho * s1[i] + (1.f - rho) * delta * delta;
        p[i] -= lr * delta;
      }
      break;
    }
    case DLS_OPT_NADAM: {  // torch.optim.NAdam: momentum_decay = momentum; exp_avg, exp_avg_sq
      const double md = u.momentum;
      auto mu = [&](int64_t k) { return u.beta1 * (1.0 - 0.5 * std::pow(0.96, double(k) * md)); };
      const double prod = nadam_product(u.t, u.beta1, md), mu_t = mu(u.t), mu_next = mu(u.t + 1);
      const double prod_next = prod * mu_t * mu_next;  // torch 1.13's NAdam multiplies mu_t in twice here
      const float b1 = float(u.beta1), b2 = float(u.beta2), eps = float(u.eps);
      const float bc2 = 1.f - float(std::pow(u.beta2, double(u.t)));
      const float cg = float(u.lr * (1.0 - mu_t) / (1.0 - prod)), cm = float(u.lr * mu_next / (1.0 - prod_next));
#pragma omp parallel for simd if (n > 65536) schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        float d = g[i] + wd * p[i];
        float m = b1 * s0[i] + (1.f - b1) * d;
        float v = b2 * s1[i] + (1.f - b2) * d * d;
        s0[i] = m, s1[i] = v;
        float denom = std::sqrt(v / bc2) + eps;
        p[i] -= cg * d / denom + cm * m / denom;
      }
      break;
    }
    default: throw std::runtime_error("unknown optimizer kind");
  }
}

void clip(int32_t kind, double threshold, float* const* grads, const int64_t* numels, int32_t n, double* stats) {
  double measure = 0;
  bool clipped = false;
  if (kind == DLS_CLIP_NORM) {
    // torch.nn.utils.clip_grad_norm_ (norm_type 2): one total norm over every gradient, one factor for all.
    double sq = 0;
    for (int32_t k = 0; k < n; ++k) {
      const float* g = grads[k];
      const int64_t m = numels[k];
#pragma omp parallel for simd reduction(+ : sq) if (m > 65536) schedule(static)
      for (int64_t i = 0; i < m; ++i) sq += double(g[i]) * double(g[i]);
    }
    measure = std::sqrt(sq);
    const float coef = float(threshold / (measure + 1e-6));
    clipped = coef < 1.f;
    if (clipped)
      for (int32_t k = 0; k < n; ++k) {
        float* g = grads[k];
        const int64_t m = numels[k];
#pragma omp parallel for simd if (m > 65536) schedule(static)
        for (int64_t i = 0; i < m; ++i) g[i] *= coef;
      }
  } else if (kind == DLS_CLIP_VALUE) {
    // torch.nn.utils.clip_grad_value_: every element clamped to [-threshold, threshold].
    const float c = float(threshold);
    float mx = 0;
    for (int32_t k = 0; k < n; ++k) {
      float* g = grads[k];
      const int64_t m = numels[k];
#pragma omp parallel for simd reduction(max : mx) if (m > 65536) schedule(static)
      for (int64_t i = 0; i < m; ++i) {
        mx = std::max(mx, std::fabs(g[i]));
        g[i] = std::min(std::max(g[i], -c), c);
      }
    }
    measure = mx;
    clipped = mx > c;
  } else {
    throw std::runtime_error("unknown gradient clipping kind");
  }
  stats[0] += clipped ? 1 : 0;
  stats[1] += measure;
  stats[2] += 1;
}

}  // namespace dls::cpu
