// Helpers of the end-to-end tests that build a spec with `dlspec build` and run the executable on data the
// test writes: .npy and CSV writers, the metrics CSV reader, a shell runner and a scratch directory.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace dls::e2e {

namespace fs = std::filesystem;

inline void writeNpy(const fs::path& path, const std::string& descr, const std::vector<int64_t>& shape,
                     const void* data, size_t bytes) {
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i)
    dims += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  uint16_t len = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char*>(&len), 2);
  out << header;
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
}

// The rows of a run's metrics.csv, column name -> value.
inline std::vector<std::map<std::string, double>> readMetrics(const fs::path& csv) {
  std::ifstream in(csv);
  std::string line;
  std::vector<std::string> cols;
  std::vector<std::map<std::string, double>> rows;
  if (!std::getline(in, line)) return rows;
  std::stringstream hs(line);
  for (std::string c; std::getline(hs, c, ',');) cols.push_back(c);
  while (std::getline(in, line)) {
    std::stringstream ls(line);
    std::map<std::string, double> row;
    size_t i = 0;
    for (std::string v; std::getline(ls, v, ',') && i < cols.size(); ++i) row[cols[i]] = std::atof(v.c_str());
    rows.push_back(row);
  }
  return rows;
}

inline int run(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A fresh directory under the system's temporary directory, removed with its contents at the end.
struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const std::string& name)
      : path(fs::temp_directory_path() / ("dlspec-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() { fs::remove_all(path); }
  // Writes `text` to NAME in the directory.
  void write(const std::string& name, const std::string& text) const { std::ofstream(path / name) << text; }
  // `dlspec build NAME.dls -o NAME [--train T]` in the directory; 0 on success (output in NAME.build.log).
  int build(const std::string& name, const std::string& train = {}) const {
    return run(std::string(DLSPEC_BIN) + " build " + (path / (name + ".dls")).string() + " -o " + (path / name).string() +
               (train.empty() ? "" : " --train " + train) + " > " + (path / (name + ".build.log")).string() + " 2>&1");
  }
  // Runs `./ARGS` in the directory with stdout and stderr to LOG; returns the exit status.
  int exec(const std::string& args, const std::string& log) const {
    return run("cd " + path.string() + " && ./" + args + " > " + log + " 2>&1");
  }
  std::string read(const std::string& name) const { return slurp(path / name); }
};

}  // namespace dls::e2e
