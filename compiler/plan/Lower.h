// lowerProgram: typed program → StepPlan. Runs reverse-mode autodiff over the network (each op's
// gradient is the runtime's gradient op for it, wired here: which inputs need a gradient and which
// gradients accumulate), plans the step's memory (buffer lifetimes and offsets in one arena), and
// emits the setup, train-step and eval-step call lists with every shape and constant baked in.
#pragma once
#include <optional>
#include <string>

#include "plan/MemoryPlan.h"
#include "plan/StepPlan.h"
#include "sema/Program.h"
#include "support/DiagnosticEngine.h"

namespace dls::plan {

struct LowerResult {
  StepPlan plan;
  MemoryPlan memory;
};

// Lowers the train block `train` (or the only one when empty). Reports E1xxx diagnostics for what the
// backend cannot run; returns nullopt when lowering failed.
// `device`, when given, overrides the train block's placement (`dlspec run --device cuda:0`).
// `planOffsets` = false skips assigning arena offsets (the one super-linear step, O(buffers^2) in the
// worst case): for `dlspec check`, which only needs the diagnostics. Offsets are then all 0.
std::optional<LowerResult> lowerProgram(const sema::Program& program, const std::string& train,
                                        const SourceManager& sm, DiagnosticEngine& diags,
                                        std::optional<sema::Device> device = std::nullopt, bool planOffsets = true);

}  // namespace dls::plan
