#include "Schedule.h"

#include <cmath>

namespace dls {

double schedule_lr(const std::vector<ScheduleConfig>& sched, double base, int64_t epoch, int64_t step,
                   int64_t total_epochs) {
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
