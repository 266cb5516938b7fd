// Optimizer updates against reference implementations of PyTorch's formulas (double precision), schedules
// and initialisers.
#include <catch2/catch.hpp>

#include <cmath>

#include "TestUtil.h"
#include "core/Init.h"
#include "core/Schedule.h"
#include "cpu/CpuOp.h"

using namespace dls;

namespace {
struct Ref {  // torch.optim, written out in double
  int kind;
  double lr, mom, b1, b2, eps, wd;
  bool nest;
  std::vector<double> p, s0, s1;
  int t = 0;
  void step(const std::vector<double>& g) {
    ++t;
    for (size_t i = 0; i < p.size(); ++i) {
      double d = g[i];
      if (kind == DLS_OPT_SGD) {
        d += wd * p[i];
        if (mom != 0) {
          s0[i] = t == 1 ? d : mom * s0[i] + d;
          d = nest ? d + mom * s0[i] : s0[i];
        }
        p[i] -= lr * d;
      } else if (kind == DLS_OPT_ADAM || kind == DLS_OPT_ADAMW) {
        if (kind == DLS_OPT_ADAMW) p[i] *= 1 - lr * wd; else d += wd * p[i];
        s0[i] = b1 * s0[i] + (1 - b1) * d;
        s1[i] = b2 * s1[i] + (1 - b2) * d * d;
        double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
        p[i] -= lr / bc1 * s0[i] / (std::sqrt(s1[i]) / std::sqrt(bc2) + eps);
      } else if (kind == DLS_OPT_ADADELTA) {  // torch.optim.Adadelta, rho = b2
        d += wd * p[i];
        s0[i] = b2 * s0[i] + (1 - b2) * d * d;
        double delta = std::sqrt(s1[i] + eps) / std::sqrt(s0[i] + eps) * d;
        s1[i] = b2 * s1[i] + (1 - b2) * delta * delta;
        p[i] -= lr * delta;
      } else if (kind == DLS_OPT_NADAM) {  // torch.optim.NAdam, momentum_decay = mom
        d += wd * p[i];
        auto mu = [&](int k) { return b1 * (1 - 0.5 * std::pow(0.96, k * mom)); };
        double prod = 1;
        for (int k = 1; k <= t; ++k) prod *= mu(k);
        s0[i] = b1 * s0[i] + (1 - b1) * d;
        s1[i] = b2 * s1[i] + (1 - b2) * d * d;
        double denom = std::sqrt(s1[i] / (1 - std::pow(b2, t))) + eps;
        // torch 1.13: mu_product_next = mu_product * mu * mu_next
        p[i] -= lr * (1 - mu(t)) / (1 - prod) * d / denom + lr * mu(t + 1) / (1 - prod * mu(t) * mu(t + 1)) * s0[i] / denom;
      } else {
        d += wd * p[i];
        s0[i] = b2 * s0[i] + (1 - b2) * d * d;
        double avg = std::sqrt(s0[i]) + eps;
        if (mom > 0) {
          s1[i] = mom * s1[i] + d / avg;
          p[i] -= lr * s1[i];
        } else {
          p[i] -= lr * d / avg;
        }
      }
    }
  }
};

void check_optimizer(int kind, double lr, double mom, double b1, double b2, double eps, double wd, bool nest) {
  const int n = 37;
  std::vector<float> p(n), g(n), s0(n, 0.f), s1(n, 0.f);
  Ref ref{kind, lr, mom, b1, b2, eps, wd, nest, {}, std::vector<double>(n), std::vector<double>(n)};
  for (int i = 0; i < n; ++i) p[size_t(i)] = float(std::sin(i + 1.0)), ref.p.push_back(p[size_t(i)]);
  for (int t = 1; t <= 5; ++t) {
    std::vector<double> gd(n);
    for (int i = 0; i < n; ++i) g[size_t(i)] = float(std::cos(i * 0.7 + t)), gd[size_t(i)] = g[size_t(i)];
    dls_update_desc u{kind, p.data(), g.data(), s0.data(), s1.data(), n, lr, mom, b1, b2, eps, wd, nest ? 1 : 0, t, nullptr};
    cpu::update(u);
    ref.step(gd);
  }
  for (int i = 0; i < n; ++i) CHECK(p[size_t(i)] == Approx(ref.p[size_t(i)]).epsilon(1e-5).margin(1e-6));
}
}  // namespace

TEST_CASE("SGD: plain, momentum, Nesterov, weight decay", "[optim]") {
  check_optimizer(DLS_OPT_SGD, 0.1, 0, 0, 0, 0, 0, false);
  check_optimizer(DLS_OPT_SGD, 0.1, 0.9, 0, 0, 0, 0, false);
  check_optimizer(DLS_OPT_SGD, 0.1, 0.9, 0, 0, 0, 1e-2, true);
}

TEST_CASE("Adam, AdamW, RMSprop", "[optim]") {
  check_optimizer(DLS_OPT_ADAM, 1e-2, 0, 0.9, 0.999, 1e-8, 0, false);
  check_optimizer(DLS_OPT_ADAM, 1e-2, 0, 0.9, 0.999, 1e-8, 1e-2, false);
  check_optimizer(DLS_OPT_ADAMW, 1e-2, 0, 0.9, 0.999, 1e-8, 1e-2, false);
  check_optimizer(DLS_OPT_RMSPROP, 1e-2, 0, 0, 0.99, 1e-8, 0, false);
  check_optimizer(DLS_OPT_RMSPROP, 1e-2, 0.9, 0, 0.99, 1e-8, 1e-3, false);
}

TEST_CASE("Adadelta, NAdam", "[optim]") {
  check_optimizer(DLS_OPT_ADADELTA, 1.0, 0, 0, 0.9, 1e-6, 0, false);
  check_optimizer(DLS_OPT_ADADELTA, 0.5, 0, 0, 0.8, 1e-6, 1e-2, false);
  check_optimizer(DLS_OPT_NADAM, 2e-3, 4e-3, 0.9, 0.999, 1e-8, 0, false);
  check_optimizer(DLS_OPT_NADAM, 1e-2, 5e-2, 0.8, 0.99, 1e-8, 1e-2, false);
}

TEST_CASE("Keras' time-based decay: lr / (1 + decay * updates so far), chained with the others", "[optim]") {
  std::vector<ScheduleConfig> s = {{DLS_SCHED_TIME_DECAY, 0.1, 0, 0, 0}};
  CHECK(schedule_lr(s, 0.2, 0, 0, 3) == Approx(0.2));
  CHECK(schedule_lr(s, 0.2, 2, 5, 3) == Approx(0.2 / 1.5));
  s.push_back({DLS_SCHED_STEP, 1, 0.5, 0, 0});
  CHECK(schedule_lr(s, 0.2, 1, 3, 3) == Approx(0.2 / 1.3 * 0.5));
}

TEST_CASE("learning-rate schedules", "[optim]") {
  std::vector<ScheduleConfig> step = {{DLS_SCHED_STEP, 2, 0.5, 0, 0}};
  CHECK(schedule_lr(step, 0.1, 0, 0, 10) == Approx(0.1));
  CHECK(schedule_lr(step, 0.1, 2, 0, 10) == Approx(0.05));
  CHECK(schedule_lr(step, 0.1, 5, 0, 10) == Approx(0.025));
  std::vector<ScheduleConfig> ms = {{DLS_SCHED_MULTISTEP, 3, 6, -1, 0.1}};
  CHECK(schedule_lr(ms, 1, 2, 0, 10) == Approx(1));
  CHECK(schedule_lr(ms, 1, 3, 0, 10) == Approx(0.1));
  CHECK(schedule_lr(ms, 1, 7, 0, 10) == Approx(0.01));
  std::vector<ScheduleConfig> cos = {{DLS_SCHED_COSINE, 0, 0.0, 0, 0}};
  CHECK(schedule_lr(cos, 1, 0, 0, 10) == Approx(1));
  CHECK(schedule_lr(cos, 1, 5, 0, 10) == Approx(0.5));
  CHECK(schedule_lr(cos, 1, 10, 0, 10) == Approx(0).margin(1e-12));
  std::vector<ScheduleConfig> ex = {{DLS_SCHED_EXPONENTIAL, 0.5, 0, 0, 0}};  // ExponentialLR(gamma=0.5)
  CHECK(schedule_lr(ex, 0.1, 0, 0, 10) == Approx(0.1));
  CHECK(schedule_lr(ex, 0.1, 3, 7, 10) == Approx(0.0125));
  // Past t_max the rate rises again along the cosine, as torch.optim.lr_scheduler.CosineAnnealingLR's does.
  std::vector<ScheduleConfig> short_cos = {{DLS_SCHED_COSINE, 2, 0.0, 0, 0}};
  CHECK(schedule_lr(short_cos, 1, 2, 0, 10) == Approx(0).margin(1e-12));
  CHECK(schedule_lr(short_cos, 1, 3, 0, 10) == Approx(0.5));
  CHECK(schedule_lr(short_cos, 1, 4, 0, 10) == Approx(1));
  std::vector<ScheduleConfig> warm = {{DLS_SCHED_WARMUP, 4, 0, 0, 0}, {DLS_SCHED_STEP, 1, 0.5, 0, 0}};
  CHECK(schedule_lr(warm, 1, 0, 0, 10) == Approx(0.25));
  CHECK(schedule_lr(warm, 1, 0, 3, 10) == Approx(1));
  CHECK(schedule_lr(warm, 1, 1, 10, 10) == Approx(0.5));
  // A list of decay schedules chains (PyTorch's schedulers on one optimizer): the factors multiply.
  std::vector<ScheduleConfig> chain = {{DLS_SCHED_COSINE, 4, 0.0, 0, 0}, {DLS_SCHED_STEP, 1, 0.5, 0, 0}};
  CHECK(schedule_lr(chain, 0.1, 0, 0, 4) == Approx(0.1));
  CHECK(schedule_lr(chain, 0.1, 2, 0, 4) == Approx(0.1 * 0.5 * 0.25));
  // More than three milestones: the lowering passes them three per schedule, and the factors multiply.
  std::vector<ScheduleConfig> five = {{DLS_SCHED_MULTISTEP, 1, 2, 3, 0.5}, {DLS_SCHED_MULTISTEP, 4, 5, -1, 0.5}};
  CHECK(schedule_lr(five, 1, 3, 0, 10) == Approx(0.125));
  CHECK(schedule_lr(five, 1, 5, 0, 10) == Approx(0.03125));
  std::vector<ScheduleConfig> zero = {{DLS_SCHED_MULTISTEP, 0, -1, -1, 0.5}};  // milestone 0: from the start
  CHECK(schedule_lr(zero, 1, 0, 0, 10) == Approx(0.5));
}

TEST_CASE("initialisers", "[optim]") {
  auto stats = [](const std::vector<float>& v, double& mean, double& sd, double& lo, double& hi) {
    mean = sd = 0, lo = 1e9, hi = -1e9;
    for (float x : v) mean += x, lo = std::min(lo, double(x)), hi = std::max(hi, double(x));
    mean /= double(v.size());
    for (float x : v) sd += (x - mean) * (x - mean);
    sd = std::sqrt(sd / double(v.size()));
  };
  std::vector<float> v(20000);
  double mean, sd, lo, hi;
  Param p;
  p.fan_in = 100, p.fan_out = 50;
  p.init = DLS_INIT_TORCH_DEFAULT;
  init_values(p, 0, 1, v);
  stats(v, mean, sd, lo, hi);
  CHECK(hi <= 0.1);
  CHECK(lo >= -0.1);
  CHECK(hi > 0.099);
  p.init = DLS_INIT_HE;
  init_values(p, 0, 1, v);
  stats(v, mean, sd, lo, hi);
  CHECK(hi <= std::sqrt(6.0 / 100));
  CHECK(sd == Approx(std::sqrt(2.0 / 100)).epsilon(0.03));
  p.init = DLS_INIT_GLOROT;
  init_values(p, 0, 1, v);
  stats(v, mean, sd, lo, hi);
  CHECK(hi <= std::sqrt(6.0 / 150));
  p.init = DLS_INIT_NORMAL, p.a = 1, p.b = 2;
  init_values(p, 0, 1, v);
  stats(v, mean, sd, lo, hi);
  CHECK(mean == Approx(1).margin(0.05));
  CHECK(sd == Approx(2).epsilon(0.03));
  p.init = DLS_INIT_CONSTANT, p.a = 0.5;
  init_values(p, 0, 1, v);
  CHECK(v[123] == 0.5f);
  p.init = DLS_INIT_ONES;
  init_values(p, 0, 1, v);
  CHECK(v[7] == 1.f);
  // Deterministic from (seed, index), different across indices.
  std::vector<float> a(10), b(10), c(10);
  p.init = DLS_INIT_UNIFORM, p.a = -1, p.b = 1;
  init_values(p, 3, 9, a);
  init_values(p, 3, 9, b);
  init_values(p, 4, 9, c);
  CHECK(a == b);
  CHECK(a != c);
}

TEST_CASE("gradient clipping: clip_grad_norm_ over all gradients, clip_grad_value_ per element, counted", "[optim]") {
  // Two gradient tensors, clipped as one group.
  std::vector<float> a = {3.f, -4.f, 0.5f}, b = {1.f, 2.f};
  const double total = std::sqrt(9.0 + 16.0 + 0.25 + 1.0 + 4.0);
  double stats[kDlsClipStats] = {0};
  {
    std::vector<float> x = a, y = b;
    float* gs[] = {x.data(), y.data()};
    const int64_t ns[] = {3, 2};
    cpu::clip(DLS_CLIP_NORM, 1.0, gs, ns, 2, stats);
    const double coef = 1.0 / (total + 1e-6);  // torch: max_norm / (total_norm + 1e-6), clamped to 1
    for (size_t i = 0; i < 3; ++i) CHECK(x[i] == Approx(a[i] * coef).epsilon(1e-6));
    for (size_t i = 0; i < 2; ++i) CHECK(y[i] == Approx(b[i] * coef).epsilon(1e-6));
    CHECK(stats[0] == 1);  // clipped
    CHECK(stats[1] == Approx(total));
    CHECK(stats[2] == 1);
  }
  {
    std::vector<float> x = a, y = b;
    float* gs[] = {x.data(), y.data()};
    const int64_t ns[] = {3, 2};
    cpu::clip(DLS_CLIP_NORM, 100.0, gs, ns, 2, stats);  // below the threshold: unchanged, not counted as clipped
    CHECK(x == a);
    CHECK(y == b);
    CHECK(stats[0] == 1);
    CHECK(stats[2] == 2);
  }
  {
    std::vector<float> x = a, y = b;
    float* gs[] = {x.data(), y.data()};
    const int64_t ns[] = {3, 2};
    double vs[kDlsClipStats] = {0};
    cpu::clip(DLS_CLIP_VALUE, 1.5, gs, ns, 2, vs);
    CHECK(x == std::vector<float>{1.5f, -1.5f, 0.5f});
    CHECK(y == std::vector<float>{1.f, 1.5f});
    CHECK(vs[0] == 1);
    CHECK(vs[1] == 4.0);  // the largest |element| before clamping
  }
}

namespace {
// torch.optim.Adam/AdamW(amsgrad=True), torch.optim.Adagrad and LAMB (runtime.h dls_optimizer), written out in
// double; `p` holds several tensors (LAMB's trust ratio is per tensor).
struct Ref2 {
  int kind;
  double lr, mom, b1, b2, eps, wd;
  int flag;
  std::vector<std::vector<double>> p, s0, s1, s2;
  int t = 0;
  void step(const std::vector<std::vector<double>>& g) {
    ++t;
    for (size_t k = 0; k < p.size(); ++k) {
      auto &P = p[k], &M = s0[k], &V = s1[k], &X = s2[k];
      const size_t n = P.size();
      if (kind == DLS_OPT_ADAM || kind == DLS_OPT_ADAMW) {
        for (size_t i = 0; i < n; ++i) {
          double d = g[k][i];
          if (kind == DLS_OPT_ADAMW) P[i] *= 1 - lr * wd; else d += wd * P[i];
          M[i] = b1 * M[i] + (1 - b1) * d;
          V[i] = b2 * V[i] + (1 - b2) * d * d;
          X[i] = std::max(X[i], V[i]);  // max_exp_avg_sq
          double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
          P[i] -= lr / bc1 * M[i] / (std::sqrt(flag ? X[i] : V[i]) / std::sqrt(bc2) + eps);
        }
      } else if (kind == DLS_OPT_ADAGRAD) {  // initial_accumulator_value = mom
        for (size_t i = 0; i < n; ++i) {
          double d = g[k][i] + wd * P[i];
          if (t == 1) M[i] = mom;
          M[i] += d * d;
          P[i] -= lr * d / (std::sqrt(M[i]) + eps);
        }
      } else {  // LAMB
        double wn = 0, rn = 0;
        std::vector<double> r(n);
        for (size_t i = 0; i < n; ++i) {
          M[i] = b1 * M[i] + (1 - b1) * g[k][i];
          V[i] = b2 * V[i] + (1 - b2) * g[k][i] * g[k][i];
          r[i] = M[i] / (1 - std::pow(b1, t)) / (std::sqrt(V[i] / (1 - std::pow(b2, t))) + eps) + wd * P[i];
          wn += P[i] * P[i], rn += r[i] * r[i];
        }
        const double ratio = wn > 0 && rn > 0 ? std::sqrt(wn) / std::sqrt(rn) : 1;
        for (size_t i = 0; i < n; ++i) P[i] -= lr * ratio * r[i];
      }
    }
  }
};

void check_optimizer2(int kind, double lr, double mom, double b1, double b2, double eps, double wd, int flag) {
  const std::vector<int> sizes = {37, 6};
  const int slots = dls_optimizer_state_slots(kind, mom, flag);
  std::vector<std::vector<float>> p, s0, s1, s2;
  Ref2 ref{kind, lr, mom, b1, b2, eps, wd, flag, {}, {}, {}, {}};
  for (int n : sizes) {
    p.emplace_back(size_t(n)), s0.emplace_back(size_t(n)), s1.emplace_back(size_t(n)), s2.emplace_back(size_t(n));
    ref.p.emplace_back(size_t(n)), ref.s0.emplace_back(size_t(n)), ref.s1.emplace_back(size_t(n)), ref.s2.emplace_back(size_t(n));
    for (int i = 0; i < n; ++i) p.back()[size_t(i)] = float(std::sin(i + 1.0 + n)), ref.p.back()[size_t(i)] = p.back()[size_t(i)];
  }
  for (int t = 1; t <= 8; ++t) {
    std::vector<std::vector<double>> gd;
    for (size_t k = 0; k < sizes.size(); ++k) {
      std::vector<float> g(size_t(sizes[k]));
      gd.emplace_back(g.size());
      for (size_t i = 0; i < g.size(); ++i) g[i] = float(std::cos(double(i) * 0.7 + t) * (1.0 + double(k))), gd[k][i] = g[i];
      dls_update_desc u{kind, p[k].data(), g.data(), slots > 0 ? s0[k].data() : nullptr, slots > 1 ? s1[k].data() : nullptr,
                        sizes[k], lr, mom, b1, b2, eps, wd, flag, t, slots > 2 ? s2[k].data() : nullptr};
      cpu::update(u);
    }
    ref.step(gd);
  }
  for (size_t k = 0; k < sizes.size(); ++k)
    for (size_t i = 0; i < p[k].size(); ++i) CHECK(p[k][i] == Approx(ref.p[k][i]).epsilon(1e-5).margin(1e-6));
  if (slots > 2)  // amsgrad's max_exp_avg_sq is the state torch.optim keeps
    for (size_t i = 0; i < s2[0].size(); ++i) CHECK(s2[0][i] == Approx(ref.s2[0][i]).epsilon(1e-5).margin(1e-9));
}
}  // namespace

TEST_CASE("Adam and AdamW with amsgrad, Adagrad, LAMB", "[optim]") {
  CHECK(dls_optimizer_state_slots(DLS_OPT_ADAM, 0, 1) == 3);
  CHECK(dls_optimizer_state_slots(DLS_OPT_ADAM, 0, 0) == 2);
  CHECK(dls_optimizer_state_slots(DLS_OPT_ADAGRAD, 0.1, 0) == 1);
  CHECK(dls_optimizer_state_slots(DLS_OPT_LAMB, 0, 0) == 2);
  check_optimizer2(DLS_OPT_ADAM, 1e-2, 0, 0.9, 0.999, 1e-8, 0, 1);
  check_optimizer2(DLS_OPT_ADAM, 1e-2, 0, 0.8, 0.99, 1e-8, 1e-2, 1);
  check_optimizer2(DLS_OPT_ADAMW, 1e-2, 0, 0.9, 0.999, 1e-8, 1e-2, 1);
  check_optimizer2(DLS_OPT_ADAGRAD, 1e-2, 0, 0, 0, 1e-10, 0, 0);
  check_optimizer2(DLS_OPT_ADAGRAD, 5e-2, 0.1, 0, 0, 1e-10, 1e-2, 0);
  check_optimizer2(DLS_OPT_LAMB, 1e-2, 0, 0.9, 0.999, 1e-6, 0.01, 0);
  check_optimizer2(DLS_OPT_LAMB, 1e-3, 0, 0.8, 0.99, 1e-6, 0, 0);
}

TEST_CASE("onecycle: torch.optim.lr_scheduler.OneCycleLR's rate at every step", "[optim]") {
  // torch 1.13: OneCycleLR(SGD(lr=0.1), max_lr=0.5, total_steps=23, pct_start=0.3, anneal_strategy='cos',
  // cycle_momentum=False, div_factor=25, final_div_factor=1e4), the optimizer's lr read before each step.
  const double torch_lrs[] = {0.020000000000000018, 0.05322702046548655, 0.14370779112016402, 0.26638892514506596,
                              0.3873010179487383,   0.4729644980135772,  0.49995240706489064, 0.49426314845275304,
                              0.47930290816506177,  0.455639502846547,   0.42417107819222866, 0.3860920197840595,
                              0.3428476201283106,   0.29607922250849256, 0.24756192372152958, 0.1991372001928546,
                              0.15264301464948796,  0.10984405615571079, 0.07236476125415552, 0.04162765839814987,
                              0.01879937581536936,  0.004746362076949228, 2e-06};
  // 23 steps as 1 epoch of 23 updates; the optimizer's own lr (0.1) is not read.
  std::vector<ScheduleConfig> s = {{DLS_SCHED_ONECYCLE, 0.5, 0.3, 25, 1e4}};
  for (int k = 0; k < 23; ++k) CHECK(schedule_lr(s, 0.1, 0, k, 1, 23) == Approx(torch_lrs[k]).epsilon(1e-9));
  CHECK(schedule_lr(s, 0.1, 0, 40, 1, 23) == Approx(2e-06).epsilon(1e-9));  // past the last step: its rate
}

TEST_CASE("plateau: torch.optim.lr_scheduler.ReduceLROnPlateau's rate after each metric", "[optim]") {
  auto rt = make_runtime(1);
  dls_rt_optimizer(rt.get(), DLS_OPT_SGD, 0.2, 0, 0.9, 0.999, 1e-8, 0, 0);
  // torch 1.13: ReduceLROnPlateau(SGD(lr=0.2), mode='min', factor=0.5, patience=1, threshold=0.01,
  // threshold_mode='abs', cooldown=1, min_lr=0.03), step(m) for each m, then the optimizer's lr.
  dls_rt_plateau(rt.get(), DLS_METRIC_LOSS, 0.5, 1, 0.01, 1, 0.03);
  const double m1[] = {1.0, 0.9, 0.895, 0.9, 0.89, 0.88, 0.88, 0.88, 0.88, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6};
  const double l1[] = {0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.03, 0.03, 0.03, 0.03, 0.03};
  for (size_t i = 0; i < 16; ++i) {
    plateau_step(rt.get(), m1[i]);
    INFO("metric " << i);
    CHECK(rt->plateau_lr == Approx(l1[i]).epsilon(1e-12));
  }
  // mode='max' (val_accuracy), factor=0.1, patience=0, threshold=0 (abs).
  auto rt2 = make_runtime(1);
  dls_rt_optimizer(rt2.get(), DLS_OPT_SGD, 0.2, 0, 0.9, 0.999, 1e-8, 0, 0);
  dls_rt_plateau(rt2.get(), DLS_METRIC_ACCURACY, 0.1, 0, 0.0, 0, 0.0);
  const double m2[] = {0.5, 0.6, 0.6, 0.7, 0.65, 0.8};
  const double l2[] = {0.2, 0.2, 0.02, 0.02, 0.002, 0.002};
  for (size_t i = 0; i < 6; ++i) {
    plateau_step(rt2.get(), m2[i]);
    CHECK(rt2->plateau_lr == Approx(l2[i]).epsilon(1e-12));
  }
}
