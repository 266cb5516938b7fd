// BuildProgram: the whole back end for `dlspec build --emit=llvm|obj|exe` in one call: StepPlan →
// verified LLVM module → textual IR, host object, or executable linked with the runtime.
#pragma once
#include <string>

#include "plan/StepPlan.h"

namespace dls::codegen {

enum class EmitKind { LLVM, Object, Executable };

// Writes `outputPath` (atomically; "-" with EmitKind::LLVM writes the IR to `irText` instead of a file).
// Returns false with `error` set: internal errors start with "internal error:", I/O and link problems name
// the path (a link failure includes the command line and the linker's output).
bool buildProgram(const plan::StepPlan& plan, EmitKind kind, const std::string& outputPath, std::string& error,
                  std::string* irText = nullptr);

}  // namespace dls::codegen
