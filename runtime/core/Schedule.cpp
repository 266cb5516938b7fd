#include "Schedule.h"

#include <algorithm>
#include <cmath>

namespace dls {

double onecycle_lr(double max_lr, double pct_start, double div_factor, double final_div_factor, int64_t step,
                   int64_t total_steps) {
  const double initial = max_lr / div_factor, min_lr = initial / final_div_factor;
  auto cos_anneal = [](double start, double end, double pct) { return end + (start - end) / 2.0 * (std::cos(M_PI * pct) + 1); };
  if (total_steps < 1) return initial;
  const double s = double(std::min<int64_t>(std::max<int64_t>(step, 0), total_steps - 1));
  // Two phases as torch builds them: warm-up ends at step pct_start * total_steps - 1, annealing at total_steps - 1.
  const double end1 = pct_start * double(total_steps) - 1, end2 = double(total_steps) - 1;
  if (s <= end1) return cos_anneal(initial, max_lr, s / end1);
  return cos_anneal(max_lr, min_lr, (s - end1) / (end2 - end1));
}

bool plateau_step(dls_rt* rt, double metric) {
  // torch.optim.lr_scheduler.ReduceLROnPlateau(mode, factor, patience, threshold=min_delta, threshold_mode='abs',
  // cooldown, min_lr, eps=1e-8).step(metric)
  const bool maximize = rt->plateau_monitor == DLS_METRIC_ACCURACY;
  const bool better = maximize ? metric > rt->plateau_best + rt->plateau_min_delta
                               : metric < rt->plateau_best - rt->plateau_min_delta;
  if (better) {
    rt->plateau_best = metric, rt->plateau_bad = 0;
  } else {
    ++rt->plateau_bad;
  }
  if (rt->plateau_cooldown_left > 0) --rt->plateau_cooldown_left, rt->plateau_bad = 0;
  if (rt->plateau_bad > rt->plateau_patience) {
    rt->plateau_cooldown_left = rt->plateau_cooldown, rt->plateau_bad = 0;
    const double old_lr = rt->plateau_lr, new_lr = std::max(old_lr * rt->plateau_factor, rt->plateau_min_lr);
    if (old_lr - new_lr > 1e-8) {
      rt->plateau_lr = new_lr;
      return true;
    }
  }
  return false;
}

double schedule_lr(const std::vector<ScheduleConfig>& sched, double base, int64_t epoch, int64_t step,
                   int64_t total_epochs, int64_t steps_per_epoch) {
  // onecycle sets the rate itself (sema lets nothing chain with it).
  for (const auto& s : sched)
    if (s.kind == DLS_SCHED_ONECYCLE) return onecycle_lr(s.a, s.b, s.c, s.d, step, total_epochs * steps_per_epoch);
  // Several decay schedules chain as PyTorch's schedulers on one optimizer do: their factors multiply.
  double factor = 1.0, warm = 1.0;
  for (const auto& s : sched) {
    switch (s.kind) {
      case DLS_SCHED_STEP:  // StepLR(step_size=a, gamma=b)
        if (s.a >= 1) factor *= std::pow(s.b, std::floor(double(epoch) / s.a));
        break;
      case DLS_SCHED_MULTISTEP: {  // MultiStepLR(milestones=[a,b,c], gamma=d); a negative milestone is unused
        int passed = 0;
        for (double m : {s.a, s.b, s.c})
          if (m >= 0 && double(epoch) >= m) ++passed;
        factor *= std::pow(s.d, passed);
        break;
      }
      case DLS_SCHED_COSINE: {  // CosineAnnealingLR(T_max=a or total epochs, eta_min=b), closed form
        // Past T_max the rate rises again along the same cosine (period 2 T_max), as PyTorch's does.
        double tmax = s.a > 0 ? s.a : double(total_epochs);
        if (base != 0) factor *= (s.b + (base - s.b) * (1 + std::cos(M_PI * double(epoch) / tmax)) / 2) / base;
        break;
      }
      case DLS_SCHED_EXPONENTIAL:  // ExponentialLR(gamma=a)
        factor *= std::pow(s.a, double(epoch));
        break;
      case DLS_SCHED_TIME_DECAY:  // Keras' legacy `decay`: lr / (1 + decay * iterations), per update
        factor /= 1.0 + s.a * double(step);
        break;
      case DLS_SCHED_WARMUP:
        if (s.a > 0 && double(step) < s.a) warm = double(step + 1) / s.a;
        break;
      default: break;
    }
  }
  return base * factor * warm;
}

}  // namespace dls
