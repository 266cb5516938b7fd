// Schedule.h: learning-rate schedules. Decay schedules are stepped per epoch as PyTorch's LR schedulers
// are when scheduler.step() is called once per epoch; a warm-up scales linearly per step.
#ifndef DLSPEC_RUNTIME_CORE_SCHEDULE_H
#define DLSPEC_RUNTIME_CORE_SCHEDULE_H
#include <cstdint>
#include <vector>

#include "Runtime.h"

namespace dls {
// Learning rate for 0-based `epoch` and 0-based global `step` (warm-up: factor (step+1)/a while step < a).
double schedule_lr(const std::vector<ScheduleConfig>& s, double base, int64_t epoch, int64_t step,
                   int64_t total_epochs);
}  // namespace dls
#endif
