// TestPlans: hand-written StepPlans for the codegen tests: a tiny MLP that really trains (two-class data
// in .npy files) and a LeNet-sized plan for the size/speed test.
#pragma once
#include <string>

#include "plan/StepPlan.h"

namespace dls::codegen::test {

// 8 features → dense 16 → relu → dense 2 → cross-entropy, SGD, batch 16; data from xPath/yPath
// (f32 [n, 8] and i32 [n] .npy files), also used as the test split. Checkpoints (and metrics) go to
// `checkpointDir` every epoch; empty: no checkpoints (a null dir).
plan::StepPlan tinyMlpPlan(const std::string& xPath, const std::string& yPath, int64_t epochs,
                           const std::string& checkpointDir = "");

// LeNet-5's shape of plan (conv/pool ×2, three dense layers, cross-entropy, backward, Adam): valid
// runtime calls, used for size and timing.
plan::StepPlan lenetSizedPlan();

// Writes a two-class linearly separable data set of `n` samples as .npy files; false on an I/O error.
bool writeTwoClassNpy(const std::string& xPath, const std::string& yPath, int n);

}  // namespace dls::codegen::test
