// The executable's command line: every mistake is a diagnostic with exit code 2 (usage) or 1 (fault).
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <iterator>

#include "SmallData.h"
#include "train/Trainer.h"

namespace {
int main_with(std::vector<std::string> args, std::vector<std::string>* seen = nullptr) {
  ::setenv("DLS_NO_REEXEC", "1", 1);  // in-process: never re-execute the test binary
  static char prog[] = "prog";
  std::vector<char*> argv = {prog};
  for (auto& a : args) argv.push_back(a.data());
  std::vector<std::string> sink;
  dls::set_diagnostic_capture(seen ? seen : &sink);
  int rc = dls_rt_main(int(argv.size()), argv.data(), mlp_setup, mlp_train_step, mlp_eval_step);
  dls::set_diagnostic_capture(nullptr);
  return rc;
}
}  // namespace

TEST_CASE("command-line errors are diagnostics", "[cli]") {
  mlp_config() = ProgramConfig{};
  mlp_config().data = false;
  std::vector<std::string> seen;
  CHECK(main_with({"--help"}) == 0);
  CHECK(main_with({}, &seen) == 2);
  CHECK(main_with({"fly"}, &seen) == 2);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0401]"));
  CHECK(main_with({"train", "--bogus"}, &seen) == 2);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0402]") && Catch::Contains("--bogus"));
  CHECK(main_with({"train", "--epochs"}, &seen) == 2);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0403]"));
  CHECK(main_with({"train", "--epochs", "x1"}, &seen) == 2);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0404]"));
  CHECK(main_with({"train", "--resume", "/nonexistent/dir"}, &seen) == 2);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0405]: cannot use '/nonexistent/dir': No such file or directory") &&
                              Catch::Contains("--resume takes a checkpoint directory"));
  CHECK(main_with({"predict", "x.npy", "--weights", "/etc/hostname"}, &seen) == 2);
  CHECK_THAT(seen.back(), Catch::Contains("cannot use '/etc/hostname': it is a file, not a directory") &&
                              Catch::Contains("--weights takes a directory of <parameter>.npy files"));
  CHECK(main_with({"predict"}, &seen) == 2);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0406]"));
  CHECK(main_with({"eval", "--checkpoint", "/tmp"}, &seen) == 1);  // no checkpoint in /tmp
  CHECK_THAT(seen.back(), Catch::Contains("error[R0302]"));
  CHECK(main_with({"train"}, &seen) == 1);  // the program declares no data
  CHECK_THAT(seen.back(), Catch::Contains("error[R0213]"));
}

TEST_CASE("resume from a checkpoint of another spec is refused", "[cli]") {
  std::string data = dlt::temp_dir();
  dlt::write_small_mnist(data, 128, 64);
  lenet_config() = dlt::small_config(data);
  lenet_config().checkpoint_dir = data + "/lenet";
  dls::Options o;
  o.command = "train", o.epochs = 1, o.quiet = true;
  REQUIRE(dls::run(o, {lenet_setup, lenet_train_step, lenet_eval_step}) == 0);
  mlp_config() = dlt::small_config(data);
  std::vector<std::string> seen;
  CHECK(main_with({"train", "--resume", data + "/lenet"}, &seen) == 1);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0305]"));
}

TEST_CASE("export: the weights as .npz and safetensors from a checkpoint, and its refusals as diagnostics", "[cli]") {
  std::string data = dlt::temp_dir();
  dlt::write_small_mnist(data, 128, 64);
  lenet_config() = dlt::small_config(data);
  lenet_config().checkpoint_dir = data + "/lenet";
  dls::Options o;
  o.command = "train", o.epochs = 1, o.quiet = true;
  REQUIRE(dls::run(o, {lenet_setup, lenet_train_step, lenet_eval_step}) == 0);
  auto export_with = [&](std::vector<std::string> args, std::vector<std::string>* seen) {
    ::setenv("DLS_NO_REEXEC", "1", 1);
    static char prog[] = "prog";
    std::vector<char*> argv = {prog};
    for (auto& a : args) argv.push_back(a.data());
    dls::set_diagnostic_capture(seen);
    int rc = dls_rt_main(int(argv.size()), argv.data(), lenet_setup, lenet_train_step, lenet_eval_step);
    dls::set_diagnostic_capture(nullptr);
    return rc;
  };
  std::vector<std::string> seen;
  CHECK(export_with({"export", "--checkpoint", data + "/lenet"}, &seen) == 2);  // nothing to write
  CHECK_THAT(seen.back(), Catch::Contains("error[R0406]"));
  // This test program was not built by `dlspec build`: it carries no ONNX model.
  CHECK(export_with({"export", "--onnx", data + "/m.onnx", "--checkpoint", data + "/lenet"}, &seen) == 1);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0520]"));
  CHECK(export_with({"export", "--npz", data + "/missing/w.npz", "--checkpoint", data + "/lenet"}, &seen) == 1);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0521]"));
  CHECK(export_with({"export", "--npz", data + "/w.npz", "--checkpoint", data}, &seen) == 1);  // no checkpoint there
  CHECK_THAT(seen.back(), Catch::Contains("error[R0302]"));
  seen.clear();
  REQUIRE(export_with({"export", "--npz", data + "/w.npz", "--safetensors", data + "/w.safetensors", "--checkpoint", data + "/lenet"},
                      &seen) == 0);
  CHECK(seen.empty());
  auto read = [](const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  const std::string npz = read(data + "/w.npz"), st = read(data + "/w.safetensors");
  REQUIRE(npz.size() > 4);
  CHECK(npz.substr(0, 4) == std::string("PK\x03\x04", 4));
  CHECK(npz.find("conv1.weight.npy") != std::string::npos);
  REQUIRE(st.size() > 8);
  uint64_t header = 0;
  std::memcpy(&header, st.data(), 8);
  REQUIRE(header + 8 <= st.size());
  CHECK(st.substr(8, header).find("\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[20,1,5,5]") != std::string::npos);
}

TEST_CASE("command line: the values of --load and --data-memory are checked", "[cli][stream]") {
  mlp_config() = ProgramConfig{};
  mlp_config().data = false;
  std::vector<std::string> seen;
  CHECK(main_with({"train", "--load", "disk"}, &seen) == 2);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0406]") && Catch::Contains("auto, memory or stream, not 'disk'"));
  CHECK(main_with({"train", "--data-memory", "12X"}, &seen) == 2);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0406]") && Catch::Contains("a size such as 512M or 4G"));
  CHECK(main_with({"train", "--data-memory", "0"}, &seen) == 2);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0406]") && Catch::Contains("a size above zero"));
  CHECK(main_with({"predict", "x.npy", "--load", "stream"}, &seen) == 2);  // train and eval only
  CHECK_THAT(seen.back(), Catch::Contains("error[R0402]"));
  // Valid values parse: the run goes on to the program's missing data.
  CHECK(main_with({"train", "--load", "stream", "--data-memory", "512M"}, &seen) == 1);
  CHECK_THAT(seen.back(), Catch::Contains("error[R0213]"));
}
