// StepPlan: the lowered program, as the three functions a compiled executable runs (see
// runtime/include/dlspec/runtime.h): setup, train step and eval step, each a straight-line list of
// calls into the runtime's C ABI whose arguments are all constants. Produced by lowerProgram() from the
// typed graph (autodiff and memory plan included); consumed by codegen/ (LLVM) and by tests.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace dls::plan {

// One constant argument of a runtime call. `rt` is the dls_rt* the generated function receives.
struct RtArg {};
// A null pointer for a pointer parameter, e.g. dls_rt_checkpoint's dir (no checkpoints). An empty
// I32Array/F64Array is also passed as a null pointer.
struct NullPtr {};
struct I32Array {
  std::vector<int32_t> values;
};
struct F64Array {
  std::vector<double> values;
};
// Type rules (checked by codegen against runtime.h): int32_t for int32_t/int parameters; int64_t (or an
// int32_t, widened) for int64_t; uint64_t for uint64_t; double for double; std::string or NullPtr for
// const char*; I32Array/F64Array or NullPtr for const int32_t*/const double*.
using Arg = std::variant<RtArg, int32_t, int64_t, uint64_t, double, std::string /* C string */, I32Array, F64Array,
                         NullPtr>;

struct Call {
  std::string callee;     // a function of runtime.h, e.g. "dls_rt_op"
  std::vector<Arg> args;  // in order, including the leading RtArg
  // For tensor/op creation calls: the id the runtime will return (calls return ids in call order).
  // Generated code ignores return values; ids are assigned by the plan and must match call order.
};

struct StepPlan {
  std::string programName;    // executable name, e.g. "lenet"
  std::vector<Call> setup;    // dls_gen_setup
  std::vector<Call> train;    // dls_gen_train_step
  std::vector<Call> eval;     // dls_gen_eval_step
  int64_t arenaBytes = 0;     // the memory plan's peak, also passed to dls_rt_arena in setup
  // The network's ONNX model without its weights (import/OnnxExport.h: onnxTemplate), which the program's `export`
  // fills from a checkpoint; or, when the network has no ONNX form, why (one of them is set by `dlspec build`).
  std::string onnxTemplate, onnxUnavailable;
};

}  // namespace dls::plan
