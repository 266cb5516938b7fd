// emit → link, the last stages of the flow (Compilation.h): a lowered train block → LLVM IR text, a host
// object, or an executable linked with the runtime. A library of its own because it links LLVM, which a
// dlspec built without the code generator lacks; it links the flow and codegen and nothing else.
#pragma once
#include <string>

#include "Compilation.h"
#include "codegen/BuildProgram.h"

namespace dls {

using codegen::EmitKind;

// Writes `output`, atomically (with EmitKind::LLVM, "-" hands the IR back in `irText`). Never writes over an
// input of the compilation, the spec or one of its data files (E0903). Reports into the compilation's
// diagnostics: I0001 for an internal error of the code generator, E1005 when writing or linking fails (the
// message names the path; a link failure includes the command line and the linker's output).
bool emit(Compilation& c, const plan::LowerResult& lowered, EmitKind kind, const std::string& output,
          std::string* irText = nullptr);

}  // namespace dls
