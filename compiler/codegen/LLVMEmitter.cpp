// LLVMEmitter: StepPlan → LLVM module (see LLVMEmitter.h).
#include "codegen/LLVMEmitter.h"

#include <exception>
#include <bit>
#include <map>
#include <variant>

#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Host.h>

#include "codegen/RuntimeAbi.h"

namespace dls::codegen {
namespace {

constexpr std::string_view kInternal = "internal error: codegen: ";

const char* argKindName(const plan::Arg& arg) {
  static constexpr const char* names[] = {"rt",     "int32_t",  "int64_t",  "uint64_t", "double",
                                          "string", "I32Array", "F64Array", "NullPtr"};
  return names[arg.index()];
}

class Emitter {
 public:
  Emitter(const plan::StepPlan& plan, llvm::LLVMContext& ctx)
      : plan_(plan), ctx_(ctx), module_(std::make_unique<llvm::Module>(moduleName(plan), ctx)) {}

  std::unique_ptr<llvm::Module> run(std::string& error) {
    module_->setTargetTriple(llvm::sys::getDefaultTargetTriple());
    llvm::Function* setup = emitStep("dls_gen_setup", plan_.setup, "setup", error);
    if (!setup) return nullptr;
    llvm::Function* train = emitStep("dls_gen_train_step", plan_.train, "train", error);
    if (!train) return nullptr;
    llvm::Function* eval = emitStep("dls_gen_eval_step", plan_.eval, "eval", error);
    if (!eval) return nullptr;
    if (!emitMain(setup, train, eval, error)) return nullptr;
    emitOnnx();

    std::string problems;
    llvm::raw_string_ostream os(problems);
    if (llvm::verifyModule(*module_, &os)) {
      os.flush();
      error = std::string(kInternal) + "the generated module does not verify: " + problems;
      return nullptr;
    }
    return std::move(module_);
  }

 private:
  static std::string moduleName(const plan::StepPlan& plan) {
    return plan.programName.empty() ? std::string("dlspec_program") : plan.programName;
  }

  llvm::Type* llvmType(CType t) {
    switch (t) {
      case CType::Void: return llvm::Type::getVoidTy(ctx_);
      case CType::Int:
      case CType::Int32: return llvm::Type::getInt32Ty(ctx_);
      case CType::Int64:
      case CType::UInt64: return llvm::Type::getInt64Ty(ctx_);
      case CType::Double: return llvm::Type::getDoubleTy(ctx_);
      case CType::RtPtr:
      case CType::CString:
      case CType::Argv:
      case CType::GenFn:
      case CType::Int32Array:
      case CType::DoubleArray: return llvm::PointerType::getUnqual(ctx_);
    }
    return nullptr;
  }

  llvm::FunctionCallee declare(const RuntimeFunction& f) {
    std::vector<llvm::Type*> params;
    params.reserve(f.params.size());
    for (CType p : f.params) params.push_back(llvmType(p));
    auto* type = llvm::FunctionType::get(llvmType(f.result), params, /*isVarArg=*/false);
    llvm::FunctionCallee callee = module_->getOrInsertFunction(f.name, type);
    if (auto* fn = llvm::dyn_cast<llvm::Function>(callee.getCallee())) fn->addFnAttr(llvm::Attribute::NoUnwind);
    return callee;
  }

  // Private constant globals, shared by content.
  llvm::Constant* cString(const std::string& s) {
    auto [it, fresh] = strings_.try_emplace(s, nullptr);
    if (fresh) it->second = constantGlobal(llvm::ConstantDataArray::getString(ctx_, s, /*AddNull=*/true), ".str", 1);
    return it->second;
  }
  llvm::Constant* i32Array(const std::vector<int32_t>& v) {
    auto [it, fresh] = i32Arrays_.try_emplace(v, nullptr);
    if (fresh) it->second = constantGlobal(llvm::ConstantDataArray::get(ctx_, llvm::ArrayRef<int32_t>(v)), ".i32s", 4);
    return it->second;
  }
  llvm::Constant* f64Array(const std::vector<double>& v) {
    // Keyed by bit pattern so that -0.0 and NaNs stay exact.
    std::vector<uint64_t> bits(v.size());
    for (size_t i = 0; i < v.size(); ++i) bits[i] = std::bit_cast<uint64_t>(v[i]);
    auto [it, fresh] = f64Arrays_.try_emplace(bits, nullptr);
    if (fresh) it->second = constantGlobal(llvm::ConstantDataArray::get(ctx_, llvm::ArrayRef<double>(v)), ".f64s", 8);
    return it->second;
  }
  llvm::Constant* constantGlobal(llvm::Constant* init, const char* name, unsigned align) {
    auto* g = new llvm::GlobalVariable(*module_, init->getType(), /*isConstant=*/true,
                                       llvm::GlobalValue::PrivateLinkage, init, name);
    g->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
    g->setAlignment(llvm::Align(align));
    return g;
  }

  // Converts one plan argument for parameter type `t`; nullptr (and `why`) when they do not match.
  llvm::Value* convertArg(const plan::Arg& arg, CType t, llvm::Value* rt, std::string& why) {
    auto* nullPtr = llvm::ConstantPointerNull::get(llvm::PointerType::getUnqual(ctx_));
    switch (t) {
      case CType::RtPtr:
        if (std::holds_alternative<plan::RtArg>(arg)) return rt;
        break;
      case CType::Int:
      case CType::Int32:
        if (auto* v = std::get_if<int32_t>(&arg)) return llvm::ConstantInt::get(llvm::Type::getInt32Ty(ctx_), *v, true);
        break;
      case CType::Int64:
        if (auto* v = std::get_if<int64_t>(&arg)) return llvm::ConstantInt::get(llvm::Type::getInt64Ty(ctx_), *v, true);
        if (auto* v = std::get_if<int32_t>(&arg)) return llvm::ConstantInt::get(llvm::Type::getInt64Ty(ctx_), *v, true);
        break;
      case CType::UInt64:
        if (auto* v = std::get_if<uint64_t>(&arg)) return llvm::ConstantInt::get(llvm::Type::getInt64Ty(ctx_), *v, false);
        break;
      case CType::Double:
        if (auto* v = std::get_if<double>(&arg)) return llvm::ConstantFP::get(llvm::Type::getDoubleTy(ctx_), *v);
        break;
      case CType::CString:
        if (auto* v = std::get_if<std::string>(&arg)) {
          if (v->find('\0') != std::string::npos) {
            why = "a C string argument contains a NUL byte";
            return nullptr;
          }
          return cString(*v);
        }
        if (std::holds_alternative<plan::NullPtr>(arg)) return nullPtr;
        break;
      case CType::Int32Array:
        if (auto* v = std::get_if<plan::I32Array>(&arg)) return v->values.empty() ? nullPtr : i32Array(v->values);
        if (std::holds_alternative<plan::NullPtr>(arg)) return nullPtr;
        break;
      case CType::DoubleArray:
        if (auto* v = std::get_if<plan::F64Array>(&arg)) return v->values.empty() ? nullPtr : f64Array(v->values);
        if (std::holds_alternative<plan::NullPtr>(arg)) return nullPtr;
        break;
      case CType::Void:
      case CType::Argv:
      case CType::GenFn:
        why = std::string("parameter type ") + std::string(cSpelling(t)) + " cannot be passed from a step plan";
        return nullptr;
    }
    why = std::string("expected ") + std::string(cSpelling(t)) + ", the plan has " + argKindName(arg);
    return nullptr;
  }

  // An array parameter followed by an int32 parameter is (pointer, count): the count must match.
  static bool countMismatch(const RuntimeFunction& f, const std::vector<plan::Arg>& args, size_t i, std::string& why) {
    bool array = f.params[i] == CType::Int32Array || f.params[i] == CType::DoubleArray;
    if (!array || i + 1 >= f.params.size() || f.params[i + 1] != CType::Int32) return false;
    size_t size = 0;
    if (auto* a = std::get_if<plan::I32Array>(&args[i])) size = a->values.size();
    else if (auto* d = std::get_if<plan::F64Array>(&args[i])) size = d->values.size();
    auto* count = std::get_if<int32_t>(&args[i + 1]);
    if (!count || static_cast<int64_t>(*count) == static_cast<int64_t>(size)) return false;
    why = "the array has " + std::to_string(size) + " elements but its count (argument " + std::to_string(i + 1) +
          ") is " + std::to_string(*count);
    return true;
  }

  llvm::Function* emitStep(const char* name, const std::vector<plan::Call>& calls, const char* list,
                           std::string& error) {
    auto* type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx_), {llvm::PointerType::getUnqual(ctx_)}, false);
    auto* fn = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, name, *module_);
    fn->addFnAttr(llvm::Attribute::NoUnwind);
    llvm::Value* rt = fn->getArg(0);
    rt->setName("rt");
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx_, "entry", fn));
    std::vector<llvm::Value*> values;
    for (size_t c = 0; c < calls.size(); ++c) {
      const plan::Call& call = calls[c];
      auto where = [&] { return std::string(list) + " call " + std::to_string(c) + " (" + call.callee + "): "; };
      const RuntimeFunction* f = findRuntimeFunction(call.callee);
      if (!f) {
        error = std::string(kInternal) + where() + "runtime.h has no such function";
        return nullptr;
      }
      if (f->name == "dls_rt_main") {
        error = std::string(kInternal) + where() + "dls_rt_main cannot be called from a generated step";
        return nullptr;
      }
      if (call.args.size() != f->params.size()) {
        error = std::string(kInternal) + where() + "expected " + std::to_string(f->params.size()) + " arguments, the plan has " +
                std::to_string(call.args.size());
        return nullptr;
      }
      values.clear();
      for (size_t i = 0; i < call.args.size(); ++i) {
        std::string why;
        llvm::Value* v = convertArg(call.args[i], f->params[i], rt, why);
        if (!v || countMismatch(*f, call.args, i, why)) {
          error = std::string(kInternal) + where() + "argument " + std::to_string(i) + ": " + why;
          return nullptr;
        }
        values.push_back(v);
      }
      b.CreateCall(declare(*f), values);
    }
    b.CreateRetVoid();
    return fn;
  }

  bool emitMain(llvm::Function* setup, llvm::Function* train, llvm::Function* eval, std::string& error) {
    const RuntimeFunction* rtMain = findRuntimeFunction("dls_rt_main");
    if (!rtMain) {
      error = std::string(kInternal) + "dls_rt_main is missing from the runtime table";
      return false;
    }
    llvm::Type* i32 = llvm::Type::getInt32Ty(ctx_);
    auto* type = llvm::FunctionType::get(i32, {i32, llvm::PointerType::getUnqual(ctx_)}, false);
    auto* fn = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, "main", *module_);
    fn->getArg(0)->setName("argc");
    fn->getArg(1)->setName("argv");
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx_, "entry", fn));
    llvm::Value* code = b.CreateCall(declare(*rtMain), {fn->getArg(0), fn->getArg(1), setup, train, eval});
    b.CreateRet(code);
    return true;
  }

  // The network's ONNX model for the program's `export` (runtime/train/Export.cpp reads these symbols, weakly):
  // dls_onnx_model[dls_onnx_model_size], a serialised ModelProto without its weights; or dls_onnx_unavailable,
  // why the network has no ONNX form.
  void emitOnnx() {
    auto external = [&](llvm::Constant* init, const char* name, unsigned align) {
      auto* g = new llvm::GlobalVariable(*module_, init->getType(), /*isConstant=*/true, llvm::GlobalValue::ExternalLinkage,
                                         init, name);
      g->setAlignment(llvm::Align(align));
    };
    if (!plan_.onnxTemplate.empty()) {
      external(llvm::ConstantDataArray::getString(ctx_, plan_.onnxTemplate, /*AddNull=*/false), "dls_onnx_model", 8);
      external(llvm::ConstantInt::get(llvm::Type::getInt64Ty(ctx_), plan_.onnxTemplate.size()), "dls_onnx_model_size", 8);
    } else if (!plan_.onnxUnavailable.empty()) {
      external(llvm::ConstantDataArray::getString(ctx_, plan_.onnxUnavailable, /*AddNull=*/true), "dls_onnx_unavailable", 1);
    }
  }

  const plan::StepPlan& plan_;
  llvm::LLVMContext& ctx_;
  std::unique_ptr<llvm::Module> module_;
  std::map<std::string, llvm::Constant*> strings_;
  std::map<std::vector<int32_t>, llvm::Constant*> i32Arrays_;
  std::map<std::vector<uint64_t>, llvm::Constant*> f64Arrays_;
};

}  // namespace

std::unique_ptr<llvm::Module> emitModule(const plan::StepPlan& plan, llvm::LLVMContext& context, std::string& error) {
  try {
    return Emitter(plan, context).run(error);
  } catch (const std::exception& e) {
    error = std::string(kInternal) + e.what();
  } catch (...) {
    error = std::string(kInternal) + "unknown exception while emitting the module";
  }
  return nullptr;
}

}  // namespace dls::codegen
