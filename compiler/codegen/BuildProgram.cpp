// BuildProgram: StepPlan → IR text / object / executable (see BuildProgram.h).
#include "codegen/BuildProgram.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/raw_ostream.h>

#include "codegen/LLVMEmitter.h"
#include "codegen/Linker.h"
#include "codegen/ObjectEmitter.h"

namespace dls::codegen {
namespace {

bool writeTextAtomically(const std::string& path, const std::string& text, std::string& error) {
  int fd = -1;
  llvm::SmallString<256> temp;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(path + ".%%%%%%.tmp", fd, temp)) {
    error = "cannot create a temporary file beside '" + path + "': " + ec.message();
    return false;
  }
  {
    llvm::raw_fd_ostream out(fd, /*shouldClose=*/true);
    out << text;
    out.close();
    if (out.has_error()) {
      error = "cannot write '" + path + "': " + out.error().message();
      out.clear_error();
      llvm::sys::fs::remove(temp);
      return false;
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, path)) {
    llvm::sys::fs::remove(temp);
    error = "cannot write '" + path + "': " + ec.message();
    return false;
  }
  return true;
}

}  // namespace

bool buildProgram(const plan::StepPlan& plan, EmitKind kind, const std::string& outputPath, std::string& error,
                  std::string* irText) {
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = emitModule(plan, context, error);
  if (!module) return false;
  switch (kind) {
    case EmitKind::LLVM: {
      std::string text = emitLLVMText(*module);
      if (outputPath == "-" && irText) {
        *irText = std::move(text);
        return true;
      }
      return writeTextAtomically(outputPath, text, error);
    }
    case EmitKind::Object:
      return emitObject(*module, outputPath, error);
    case EmitKind::Executable: {
      // The object goes to a private temporary file, removed whatever happens.
      llvm::SmallString<256> object;
      if (std::error_code ec = llvm::sys::fs::createTemporaryFile("dlspec-program", "o", object)) {
        error = "cannot create a temporary object file: " + ec.message();
        return false;
      }
      std::string objectPath(object);
      bool ok = emitObject(*module, objectPath, error) && linkExecutable(objectPath, outputPath, error);
      llvm::sys::fs::remove(objectPath);
      return ok;
    }
  }
  error = "internal error: codegen: unknown emit kind";
  return false;
}

}  // namespace dls::codegen
