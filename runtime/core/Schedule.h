// Schedule.h: learning-rate schedules. Decay schedules are stepped per epoch as PyTorch's LR schedulers
// are when scheduler.step() is called once per epoch; a warm-up scales linearly per step.
#ifndef DLSPEC_RUNTIME_CORE_SCHEDULE_H
#define DLSPEC_RUNTIME_CORE_SCHEDULE_H
#include <cstdint>
#include <vector>

#include "Runtime.h"

namespace dls {
// Learning rate for 0-based `epoch` and 0-based global `step` (warm-up: factor (step+1)/a while step < a).
// steps_per_epoch: the updates of one epoch (onecycle's total_steps is total_epochs times it).
double schedule_lr(const std::vector<ScheduleConfig>& s, double base, int64_t epoch, int64_t step,
                   int64_t total_epochs, int64_t steps_per_epoch = 0);
// torch.optim.lr_scheduler.OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy='cos', div_factor,
// final_div_factor, three_phase=False) at 0-based `step`; past the last step, the last step's rate.
double onecycle_lr(double max_lr, double pct_start, double div_factor, double final_div_factor, int64_t step,
                   int64_t total_steps);
// One ReduceLROnPlateau.step(metric) (dls_rt_plateau) of rt's plateau state: the new rate is rt->plateau_lr.
// Returns whether it lowered the rate.
bool plateau_step(dls_rt* rt, double metric);
}  // namespace dls
#endif
