// Linker: links a generated object with the dlspec runtime into an executable by running the system C++
// compiler driver (`c++` on PATH, or $CXX) with fork/exec.
#pragma once
#include <string>
#include <vector>

namespace dls::codegen {

// The full link command for `objectPath` → `outputPath`: the driver, the object, `-o outputPath`, the
// runtime library and its dependencies. The runtime comes from $DLSPEC_RUNTIME_DIR when set (a folder
// holding libdlspec_rt.a and, optionally, dlspec_rt_link.txt), else from the build tree this compiler was
// configured with. Returns false with `error` set when no runtime is known.
bool linkCommand(const std::string& objectPath, const std::string& outputPath, std::vector<std::string>& argv,
                 std::string& error);

// Links to a temporary name beside `outputPath` and renames it into place: a failed link leaves no file.
// On failure `error` holds the command line and the linker's output.
bool linkExecutable(const std::string& objectPath, const std::string& outputPath, std::string& error);

}  // namespace dls::codegen
