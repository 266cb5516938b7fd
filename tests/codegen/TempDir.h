// TempDir: a fresh temporary folder for one test, removed with everything in it at scope exit.
#pragma once
#include <filesystem>
#include <string>

#include <llvm/Support/FileSystem.h>

namespace dls::codegen::test {

class TempDir {
 public:
  TempDir() {
    llvm::SmallString<128> path;
    if (!llvm::sys::fs::createUniqueDirectory("dlspec-codegen-test", path)) path_ = std::string(path);
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace dls::codegen::test
