// RuntimeAbi: the one table of runtime.h's functions (name, C return type, C parameter types) that
// generated code may call. It mirrors runtime/include/dlspec/runtime.h; tests/codegen checks the header
// against it textually so the two cannot drift.
#pragma once
#include <span>
#include <string_view>
#include <vector>

namespace dls::codegen {

// The C types that appear in runtime.h prototypes, spelled exactly as a prototype would normalise them.
enum class CType { Void, Int, Int32, Int64, UInt64, Double, RtPtr, CString, Argv, GenFn, Int32Array, DoubleArray };

struct RuntimeFunction {
  std::string_view name;
  CType result;
  std::vector<CType> params;
};

// Every function of runtime.h, in header order.
std::span<const RuntimeFunction> runtimeFunctions();
// The entry of `name`, or nullptr when runtime.h has no such function.
const RuntimeFunction* findRuntimeFunction(std::string_view name);
// The C spelling of a type ("const char*", "int64_t", ...), normalised as tests/codegen parses runtime.h.
std::string_view cSpelling(CType type);

}  // namespace dls::codegen
