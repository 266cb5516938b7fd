// LLVMEmitterTest: StepPlan → verified module whose IR holds the expected declarations, calls and
// constants; malformed plans are internal errors, never crashes.
#include <catch2/catch.hpp>

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include "TestPlans.h"
#include "codegen/LLVMEmitter.h"
#include "codegen/ObjectEmitter.h"

using namespace dls;

namespace {

std::string irOf(const plan::StepPlan& p) {
  llvm::LLVMContext ctx;
  std::string error;
  auto m = codegen::emitModule(p, ctx, error);
  INFO(error);
  REQUIRE(m);
  CHECK(error.empty());
  return codegen::emitLLVMText(*m);
}

std::string errorOf(const plan::StepPlan& p) {
  llvm::LLVMContext ctx;
  std::string error;
  auto m = codegen::emitModule(p, ctx, error);
  CHECK(!m);
  return error;
}

plan::StepPlan oneCall(std::string callee, std::vector<plan::Arg> args) {
  plan::StepPlan p;
  p.programName = "t";
  p.setup.push_back(plan::Call{std::move(callee), std::move(args)});
  return p;
}

}  // namespace

TEST_CASE("a tiny MLP plan becomes the three step functions and main", "[emit]") {
  std::string ir = irOf(codegen::test::tinyMlpPlan("/data/x.npy", "/data/y.npy", 3));
  CHECK_THAT(ir, Catch::Contains("define void @dls_gen_setup(ptr %rt)"));
  CHECK_THAT(ir, Catch::Contains("define void @dls_gen_train_step(ptr %rt)"));
  CHECK_THAT(ir, Catch::Contains("define void @dls_gen_eval_step(ptr %rt)"));
  CHECK_THAT(ir, Catch::Contains("define i32 @main(i32 %argc, ptr %argv)"));
  CHECK_THAT(ir, Catch::Contains(
                     "call i32 @dls_rt_main(i32 %argc, ptr %argv, ptr @dls_gen_setup, ptr @dls_gen_train_step, "
                     "ptr @dls_gen_eval_step)"));
  // Declarations with runtime.h's C types.
  CHECK_THAT(ir, Catch::Contains("declare i32 @dls_rt_main(i32, ptr, ptr, ptr, ptr)"));
  CHECK_THAT(ir, Catch::Contains("declare i32 @dls_rt_tensor(ptr, i32, i32, i64, i64, i64, i64, i64)"));
  CHECK_THAT(ir, Catch::Contains("declare i32 @dls_rt_op(ptr, i32, ptr, i32, ptr, i32, i32, i32)"));
  CHECK_THAT(ir, Catch::Contains("declare void @dls_rt_program(ptr, ptr, ptr, i64)"));
  // Constants baked in: strings, the null checkpoint dir, arrays, doubles, u64.
  CHECK_THAT(ir, Catch::Contains("c\"/data/x.npy\\00\""));
  CHECK_THAT(ir, Catch::Contains("call void @dls_rt_checkpoint(ptr %rt, ptr null, i64 0, i64 0)"));
  CHECK_THAT(ir, Catch::Contains("private unnamed_addr constant [4 x i32] [i32 0, i32 2, i32 4, i32 10]"));
  CHECK_THAT(ir, Catch::Contains("call void @dls_rt_optimizer(ptr %rt, i32 0, double 1.000000e-01, double 9.000000e-01"));
  CHECK_THAT(ir, Catch::Contains("i64 24301)"));  // layout hash 0x5eed
  CHECK_THAT(ir, Catch::Contains("call void @dls_rt_fwd(ptr %rt, i32 3)"));
  CHECK_THAT(ir, Catch::Contains("call void @dls_rt_bwd(ptr %rt, i32 3)"));
  CHECK_THAT(ir, Catch::Contains("call void @dls_rt_update(ptr %rt)"));
  // An empty attribute array is passed as null with count 0.
  CHECK_THAT(ir, Catch::Contains("ptr null, i32 0, i32 1, i32 1)"));
  // Runtime functions the plan never calls are not declared.
  CHECK_THAT(ir, !Catch::Contains("@dls_rt_schedule"));
}

TEST_CASE("identical strings and arrays share one constant", "[emit]") {
  std::string ir = irOf(codegen::test::tinyMlpPlan("/same.npy", "/same.npy", 1));
  size_t first = ir.find("c\"/same.npy\\00\"");
  REQUIRE(first != std::string::npos);
  CHECK(ir.find("c\"/same.npy\\00\"", first + 1) == std::string::npos);
}

TEST_CASE("an empty plan still has the three functions and main", "[emit]") {
  plan::StepPlan p;
  std::string ir = irOf(p);
  CHECK_THAT(ir, Catch::Contains("define void @dls_gen_setup(ptr %rt)"));
  CHECK_THAT(ir, Catch::Contains("define i32 @main("));
}

TEST_CASE("int32 constants widen to int64 parameters and strings keep odd bytes", "[emit]") {
  std::string ir = irOf(oneCall("dls_rt_train_config", {plan::RtArg{}, int32_t{5}, int64_t{-1}, int32_t{7}}));
  CHECK_THAT(ir, Catch::Contains("call void @dls_rt_train_config(ptr %rt, i64 5, i64 -1, i64 7)"));
  std::string odd = irOf(oneCall("dls_rt_program", {plan::RtArg{}, std::string("a\"b\\c\n\xff"), std::string(""),
                                                    uint64_t{0xffffffffffffffffULL}}));
  CHECK_THAT(odd, Catch::Contains("c\"a\\22b\\\\c\\0A\\FF\\00\""));
  CHECK_THAT(odd, Catch::Contains("i64 -1)"));
}

TEST_CASE("plans that do not match runtime.h are internal errors", "[emit]") {
  using Catch::StartsWith;
  CHECK_THAT(errorOf(oneCall("dls_rt_nope", {plan::RtArg{}})), StartsWith("internal error: codegen: setup call 0 (dls_rt_nope)"));
  CHECK_THAT(errorOf(oneCall("dls_rt_fwd", {plan::RtArg{}})), Catch::Contains("expected 2 arguments, the plan has 1"));
  CHECK_THAT(errorOf(oneCall("dls_rt_fwd", {plan::RtArg{}, 1.5})),
             Catch::Contains("argument 1: expected int32_t, the plan has double"));
  CHECK_THAT(errorOf(oneCall("dls_rt_fwd", {int32_t{0}, int32_t{0}})), Catch::Contains("argument 0: expected dls_rt*"));
  CHECK_THAT(errorOf(oneCall("dls_rt_arena", {plan::RtArg{}, uint64_t{1}})), Catch::Contains("expected int64_t"));
  CHECK_THAT(errorOf(oneCall("dls_rt_main", {int32_t{0}, plan::NullPtr{}, plan::NullPtr{}, plan::NullPtr{}, plan::NullPtr{}})),
             Catch::Contains("cannot be called from a generated step"));
  CHECK_THAT(errorOf(oneCall("dls_rt_op", {plan::RtArg{}, int32_t{8}, plan::I32Array{{0, 1}}, int32_t{3},
                                           plan::F64Array{}, int32_t{0}, int32_t{1}, int32_t{1}})),
             Catch::Contains("argument 2: the array has 2 elements but its count (argument 3) is 3"));
  CHECK_THAT(errorOf(oneCall("dls_rt_program", {plan::RtArg{}, std::string("a\0b", 3), plan::NullPtr{}, uint64_t{0}})),
             Catch::Contains("NUL byte"));
  plan::StepPlan p;
  p.eval.push_back(plan::Call{"", {}});
  CHECK_THAT(errorOf(p), Catch::Contains("eval call 0 ()"));
}
