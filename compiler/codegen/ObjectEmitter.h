// ObjectEmitter: writes an LLVM module as a host object file (`dlspec build --emit=obj`, and the input of
// the link) or as textual IR (`--emit=llvm`).
#pragma once
#include <string>

namespace llvm {
class Module;
}

namespace dls::codegen {

// Compiles `module` for the host (default triple, host CPU and features, PIC, -O2) to a relocatable
// object at `path`. The file is written to a temporary name beside `path` and renamed into place, so a
// failure never leaves a half-written object. Sets the module's data layout and triple. Returns false
// with `error` set (an I/O problem names the path; anything else is an internal error).
bool emitObject(llvm::Module& module, const std::string& path, std::string& error);

// The module as textual LLVM IR.
std::string emitLLVMText(const llvm::Module& module);

}  // namespace dls::codegen
