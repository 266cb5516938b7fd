// ObjectEmitterTest: the object file is an ELF relocatable defining the three step functions and main,
// written atomically; a LeNet-sized plan emits.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Object/ObjectFile.h>

#include "TempDir.h"
#include "TestPlans.h"
#include "codegen/LLVMEmitter.h"
#include "codegen/ObjectEmitter.h"

using namespace dls;

namespace {

struct Symbols {
  std::set<std::string> defined, undefined;
};

Symbols readSymbols(const std::string& path, bool& relocatableElf) {
  Symbols out;
  relocatableElf = false;
  auto binary = llvm::object::ObjectFile::createObjectFile(path);
  if (!binary) {
    llvm::consumeError(binary.takeError());
    return out;
  }
  llvm::object::ObjectFile& obj = *binary->getBinary();
  relocatableElf = obj.isELF() && obj.isRelocatableObject();
  for (const llvm::object::SymbolRef& sym : obj.symbols()) {
    auto name = sym.getName();
    auto flags = sym.getFlags();
    if (!name || !flags) {
      if (!name) llvm::consumeError(name.takeError());
      if (!flags) llvm::consumeError(flags.takeError());
      continue;
    }
    if (name->empty()) continue;
    if (*flags & llvm::object::SymbolRef::SF_Undefined) out.undefined.insert(name->str());
    else if (*flags & llvm::object::SymbolRef::SF_Global) out.defined.insert(name->str());
  }
  return out;
}

}  // namespace

TEST_CASE("the object file is an ELF relocatable with the step functions and main", "[object]") {
  codegen::test::TempDir dir;
  REQUIRE(dir.ok());
  llvm::LLVMContext ctx;
  std::string error;
  auto m = codegen::emitModule(codegen::test::tinyMlpPlan("x.npy", "y.npy", 2), ctx, error);
  REQUIRE(m);
  std::string path = dir.file("prog.o");
  INFO(error);
  REQUIRE(codegen::emitObject(*m, path, error));
  bool relocatableElf = false;
  Symbols s = readSymbols(path, relocatableElf);
  CHECK(relocatableElf);
  for (const char* name : {"dls_gen_setup", "dls_gen_train_step", "dls_gen_eval_step", "main"}) {
    INFO(name);
    CHECK(s.defined.count(name) == 1);
  }
  for (const char* name : {"dls_rt_main", "dls_rt_tensor", "dls_rt_op", "dls_rt_update"}) {
    INFO(name);
    CHECK(s.undefined.count(name) == 1);
  }
  // Only the object itself is left in the folder: no temporary files.
  size_t files = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir.path())) files += entry.is_regular_file();
  CHECK(files == 1);
}

TEST_CASE("an unwritable object path is an error and leaves nothing behind", "[object]") {
  llvm::LLVMContext ctx;
  std::string error;
  auto m = codegen::emitModule(plan::StepPlan{}, ctx, error);
  REQUIRE(m);
  CHECK_FALSE(codegen::emitObject(*m, "/nonexistent-dlspec-dir/prog.o", error));
  CHECK_THAT(error, Catch::Contains("/nonexistent-dlspec-dir/prog.o"));
}

TEST_CASE("a LeNet-sized plan emits to an object", "[object]") {
  codegen::test::TempDir dir;
  REQUIRE(dir.ok());
  plan::StepPlan p = codegen::test::lenetSizedPlan();
  llvm::LLVMContext ctx;
  std::string error;
  auto m = codegen::emitModule(p, ctx, error);
  INFO(error);
  REQUIRE(m);
  REQUIRE(codegen::emitObject(*m, dir.file("lenet.o"), error));
  CHECK(std::filesystem::file_size(dir.file("lenet.o")) > 0);
}
