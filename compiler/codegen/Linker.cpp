// Linker: object + runtime → executable via the C++ compiler driver (see Linker.h).
#include "codegen/Linker.h"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>

#include "codegen/Subprocess.h"

namespace dls::codegen {
namespace {

// Configured by compiler/codegen/CMakeLists.txt from the runtime's build: the library file and the
// runtime's link line (`$<TARGET_FILE:dlspec_rt> -ldnnl ...`, as in its dlspec_rt_link.txt).
#ifdef DLSPEC_RT_LIB
constexpr const char* kRuntimeLib = DLSPEC_RT_LIB;
#else
constexpr const char* kRuntimeLib = "";
#endif
#ifdef DLSPEC_RT_LINK
constexpr const char* kRuntimeLink = DLSPEC_RT_LINK;
#else
constexpr const char* kRuntimeLink = "";
#endif
constexpr const char* kDefaultDeps = "-ldnnl -lz -lpng -ljpeg -lfmt -lgomp -lpthread -lm";

std::vector<std::string> splitWords(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

bool isRuntimeLibrary(const std::string& word) {
  std::string name = llvm::sys::path::filename(word).str();
  return name == "libdlspec_rt.a" || name == "libdlspec_rt.so";
}

// The runtime's dependencies from a link line, without the runtime library itself (given separately so
// that a path with spaces survives).
std::vector<std::string> dependencies(std::string line, const std::string& lib) {
  if (!lib.empty() && line.rfind(lib, 0) == 0) line.erase(0, lib.size());
  std::vector<std::string> deps;
  for (std::string& w : splitWords(line))
    if (!isRuntimeLibrary(w)) deps.push_back(std::move(w));
  return deps;
}

bool readFile(const std::string& path, std::string& text) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  return true;
}

std::vector<std::string> driverCommand() {
  const char* cxx = std::getenv("CXX");
  std::vector<std::string> words = cxx ? splitWords(cxx) : std::vector<std::string>{};
  if (words.empty()) words.push_back("c++");
  return words;
}

}  // namespace

bool linkCommand(const std::string& objectPath, const std::string& outputPath, std::vector<std::string>& argv,
                 std::string& error) {
  std::string lib;
  std::vector<std::string> deps;
  if (const char* dir = std::getenv("DLSPEC_RUNTIME_DIR"); dir && *dir) {
    std::string base(dir);
    for (const char* name : {"libdlspec_rt.a", "libdlspec_rt.so"}) {
      llvm::SmallString<256> candidate(base);
      llvm::sys::path::append(candidate, name);
      if (llvm::sys::fs::exists(candidate)) {
        lib = std::string(candidate);
        break;
      }
    }
    if (lib.empty()) {
      error = "DLSPEC_RUNTIME_DIR is '" + base + "', which holds no libdlspec_rt.a";
      return false;
    }
    llvm::SmallString<256> linkFile(base);
    llvm::sys::path::append(linkFile, "dlspec_rt_link.txt");
    std::string line;
    deps = readFile(std::string(linkFile), line) ? dependencies(line, "") : splitWords(kDefaultDeps);
  } else {
    lib = kRuntimeLib;
    if (lib.empty()) {
      error = "this dlspec was built without the runtime library (dlspec_rt); set DLSPEC_RUNTIME_DIR to the folder "
              "holding libdlspec_rt.a";
      return false;
    }
    deps = *kRuntimeLink ? dependencies(kRuntimeLink, lib) : splitWords(kDefaultDeps);
  }
  argv = driverCommand();
  argv.insert(argv.end(), {objectPath, "-o", outputPath, lib});
  if (llvm::StringRef(lib).ends_with(".so"))
    argv.push_back("-Wl,-rpath," + llvm::sys::path::parent_path(lib).str());
  argv.insert(argv.end(), deps.begin(), deps.end());
  return true;
}

bool linkExecutable(const std::string& objectPath, const std::string& outputPath, std::string& error) {
  static std::atomic<unsigned> counter{0};
  std::string temp = outputPath + ".link-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".tmp";
  std::vector<std::string> argv;
  if (!linkCommand(objectPath, temp, argv, error)) return false;
  SubprocessResult run = runSubprocess(argv);
  if (!run.started || run.exitCode != 0) {
    llvm::sys::fs::remove(temp);
    std::string status = !run.started ? "could not be run" : "failed with exit code " + std::to_string(run.exitCode);
    error = "linking '" + outputPath + "' " + status + "\n  command: " + commandLine(argv);
    if (!run.output.empty()) error += "\n" + run.output;
    return false;
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, outputPath)) {
    llvm::sys::fs::remove(temp);
    error = "cannot write '" + outputPath + "': " + ec.message();
    return false;
  }
  return true;
}

}  // namespace dls::codegen
