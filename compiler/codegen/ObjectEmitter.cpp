// ObjectEmitter: LLVM module → host object file / textual IR (see ObjectEmitter.h).
#include "codegen/ObjectEmitter.h"

#include <memory>
#include <mutex>
#include <optional>

#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/SubtargetFeature.h>

namespace dls::codegen {
namespace {

void initializeNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
}

std::unique_ptr<llvm::TargetMachine> hostTargetMachine(std::string& error) {
  initializeNativeTarget();
  std::string triple = llvm::sys::getDefaultTargetTriple();
  std::string lookupError;
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(triple, lookupError);
  if (!target) {
    error = "internal error: codegen: no LLVM target for host triple " + triple + ": " + lookupError;
    return nullptr;
  }
  llvm::SubtargetFeatures features;
  for (const auto& feature : llvm::sys::getHostCPUFeatures()) features.AddFeature(feature.getKey(), feature.getValue());
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, llvm::sys::getHostCPUName(), features.getString(), options, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Default));
  if (!tm) error = "internal error: codegen: cannot create an LLVM target machine for " + triple;
  return tm;
}

}  // namespace

bool emitObject(llvm::Module& module, const std::string& path, std::string& error) {
  std::unique_ptr<llvm::TargetMachine> tm = hostTargetMachine(error);
  if (!tm) return false;
  module.setTargetTriple(tm->getTargetTriple().str());
  module.setDataLayout(tm->createDataLayout());

  int fd = -1;
  llvm::SmallString<256> tempPath;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(path + ".%%%%%%.tmp", fd, tempPath)) {
    error = "cannot create a temporary file beside '" + path + "': " + ec.message();
    return false;
  }
  auto discard = [&] { llvm::sys::fs::remove(tempPath); };
  {
    llvm::raw_fd_ostream out(fd, /*shouldClose=*/true);
    llvm::legacy::PassManager passes;
    if (tm->addPassesToEmitFile(passes, out, nullptr, llvm::CodeGenFileType::ObjectFile)) {
      out.close();
      out.clear_error();
      discard();
      error = "internal error: codegen: the host target cannot emit object files";
      return false;
    }
    passes.run(module);
    out.close();
    if (out.has_error()) {
      error = "cannot write '" + std::string(tempPath) + "': " + out.error().message();
      out.clear_error();
      discard();
      return false;
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(tempPath, path)) {
    discard();
    error = "cannot write '" + path + "': " + ec.message();
    return false;
  }
  return true;
}

std::string emitLLVMText(const llvm::Module& module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os, nullptr);
  os.flush();
  return text;
}

}  // namespace dls::codegen
