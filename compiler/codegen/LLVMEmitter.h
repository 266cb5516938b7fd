// LLVMEmitter: turns a StepPlan into an LLVM module: declarations of the runtime.h functions it calls,
// dls_gen_setup / dls_gen_train_step / dls_gen_eval_step as straight-line calls with constant arguments,
// and main() returning dls_rt_main(argc, argv, setup, train_step, eval_step).
#pragma once
#include <memory>
#include <string>

#include "plan/StepPlan.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace dls::codegen {

// Builds and verifies the module in `context` (which must outlive it). A plan that does not match
// runtime.h (unknown callee, wrong argument kinds or counts) or a module that fails verification is a
// compiler bug: returns nullptr and sets `error` to a message starting with "internal error:".
std::unique_ptr<llvm::Module> emitModule(const plan::StepPlan& plan, llvm::LLVMContext& context,
                                         std::string& error);

}  // namespace dls::codegen
