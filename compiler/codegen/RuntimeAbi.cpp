// RuntimeAbi: the prototype table of runtime.h (see RuntimeAbi.h).
#include "codegen/RuntimeAbi.h"


namespace dls::codegen {
namespace {

using enum CType;

const std::vector<RuntimeFunction>& table() {
  static const std::vector<RuntimeFunction> functions = {
      {"dls_rt_main", Int, {Int, Argv, GenFn, GenFn, GenFn}},
      {"dls_rt_program", Void, {RtPtr, CString, CString, UInt64}},
      {"dls_rt_placement", Void, {RtPtr, Int32, Int32, Int32}},
      {"dls_rt_train_config", Void, {RtPtr, Int64, Int64, Int64}},
      {"dls_rt_checkpoint", Void, {RtPtr, CString, Int64, Int64}},
      {"dls_rt_resume", Void, {RtPtr, CString}},
      {"dls_rt_batching", Void, {RtPtr, Int32}},
      {"dls_rt_precision", Void, {RtPtr, Int32}},
      {"dls_rt_validate", Void, {RtPtr, Int64, Int32}},
      {"dls_rt_validate_split", Void, {RtPtr, Int32}},
      {"dls_rt_metric_options", Void, {RtPtr, Int32, Int32, Int32, Int32}},
      {"dls_rt_optimizer", Void, {RtPtr, Int32, Double, Double, Double, Double, Double, Double, Int32}},
      {"dls_rt_schedule", Void, {RtPtr, Int32, Double, Double, Double, Double}},
      {"dls_rt_plateau", Void, {RtPtr, Int32, Double, Int64, Double, Int64, Double}},
      {"dls_rt_clip", Void, {RtPtr, Int32, Double}},
      {"dls_rt_stop", Void, {RtPtr, Int32, Int32, Int64, Double}},
      {"dls_rt_accumulate", Void, {RtPtr, Int64}},
      {"dls_rt_checkpoint_best", Void, {RtPtr, Int32, Int32}},
      {"dls_rt_dataset", Void,
       {RtPtr, Int32, Int32, CString, CString, Int32, Int32, Int64, Int64, Int64, Int64, Int64}},
      {"dls_rt_sample_dtype", Void, {RtPtr, Int32, Int32}},
      {"dls_rt_images", Void, {RtPtr, Int32, Int64, Int64, Int32, Int32}},
      {"dls_rt_csv", Void, {RtPtr, Int32, Int32, Int64, Int32, Int32, Int64}},
      {"dls_rt_csv_columns", Void, {RtPtr, Int32, CString, Int32, CString}},
      {"dls_rt_csv_categories", Void, {RtPtr, Int32, CString}},
      {"dls_rt_csv_label_file", Void, {RtPtr, Int32, CString}},
      {"dls_rt_pipe_features", Void, {RtPtr, Int32, CString, CString}},
      {"dls_rt_class_names", Void, {RtPtr, CString}},
      {"dls_rt_text", Void, {RtPtr, Int32, Int64, Int32}},
      {"dls_rt_vocabulary", Void, {RtPtr, CString}},
      {"dls_rt_split", Void, {RtPtr, Double}},
      {"dls_rt_pipe", Void, {RtPtr, Int32, Int32, Double, Double, Double, Double}},
      {"dls_rt_arena", Void, {RtPtr, Int64}},
      {"dls_rt_tensor", Int32, {RtPtr, Int32, Int32, Int64, Int64, Int64, Int64, Int64}},
      {"dls_rt_batch_axes", Void, {RtPtr, Int32, Int32}},
      {"dls_rt_batch_origin", Void, {RtPtr, Int32, Int32}},
      {"dls_rt_param", Void,
       {RtPtr, Int32, Int32, CString, Int32, Double, Double, Int64, Int64, Int32, Int32}},
      {"dls_rt_op", Int32, {RtPtr, Int32, Int32Array, Int32, DoubleArray, Int32, Int32, Int32}},
      {"dls_rt_grad_op", Int32, {RtPtr, Int32, Int32, Int32Array, Int32, Int32}},
      {"dls_rt_io", Void, {RtPtr, Int32, Int32, Int32, Int32}},
      {"dls_rt_head", Void, {RtPtr, Int32, Int32, CString, Double, Int32}},
      {"dls_rt_device_list", Void, {RtPtr, Int32, Int32, Int32}},
      {"dls_rt_fwd", Void, {RtPtr, Int32}},
      {"dls_rt_bwd", Void, {RtPtr, Int32}},
      {"dls_rt_zero", Void, {RtPtr, Int32}},
      {"dls_rt_update", Void, {RtPtr}},
      {"dls_rt_sample_field", Void, {RtPtr, Int32, Int32, CString, CString, Int32, Int32, Int64, Int64, Int64, Int64}},
      {"dls_rt_pipe_field", Void, {RtPtr, Int32, Int32}},
      {"dls_rt_input", Void, {RtPtr, Int32, Int32}},
      {"dls_rt_watch_output", Void, {RtPtr, Int32, CString, Int32}},
      {"dls_rt_csv_field", Void, {RtPtr, Int32, Int32, Int64, Int64}},
  };
  return functions;
}

}  // namespace

std::span<const RuntimeFunction> runtimeFunctions() { return table(); }

const RuntimeFunction* findRuntimeFunction(std::string_view name) {
  for (const RuntimeFunction& f : table())
    if (f.name == name) return &f;
  return nullptr;
}

std::string_view cSpelling(CType type) {
  switch (type) {
    case Void: return "void";
    case Int: return "int";
    case Int32: return "int32_t";
    case Int64: return "int64_t";
    case UInt64: return "uint64_t";
    case Double: return "double";
    case RtPtr: return "dls_rt*";
    case CString: return "const char*";
    case Argv: return "char**";
    case GenFn: return "dls_gen_fn";
    case Int32Array: return "const int32_t*";
    case DoubleArray: return "const double*";
  }
  return "?";
}

}  // namespace dls::codegen
