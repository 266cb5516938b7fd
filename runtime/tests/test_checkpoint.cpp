// Checkpoint round trip, corruption fallback, layout-hash and shape checks, full-disk behaviour.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "SmallData.h"
#include "train/Checkpoint.h"
#include "train/Trainer.h"

using namespace dls;

namespace {
std::unique_ptr<dls_rt> mlp_runtime(uint64_t seed) {
  mlp_config() = ProgramConfig{};
  mlp_config().data = false, mlp_config().seed = int64_t(seed), mlp_config().batch = 8;
  auto rt = make_runtime(1);
  call(rt.get(), mlp_setup);
  return rt;
}
std::vector<float> all_params(dls_rt* rt) {
  std::vector<float> out;
  for (auto& p : rt->params) {
    auto v = read_tensor(rt, p.value);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}
}  // namespace

TEST_CASE("checkpoint round trip and keep-newest-K", "[checkpoint]") {
  std::string dir = dlt::temp_dir();
  auto a = mlp_runtime(1);
  a->ckpt_keep = 2;
  a->updates = 17;
  save_checkpoint(a.get(), dir, 1, 10);
  save_checkpoint(a.get(), dir, 2, 20);
  save_checkpoint(a.get(), dir, 3, 30);
  CHECK(access((dir + "/ckpt-000001.dlsc").c_str(), F_OK) != 0);  // only the newest 2 kept
  auto b = mlp_runtime(2);
  CHECK(all_params(a.get()) != all_params(b.get()));
  CheckpointInfo ci = load_checkpoint(b.get(), dir);
  CHECK(ci.epoch == 3);
  CHECK(ci.global_step == 30);
  CHECK(b->updates == 17);
  CHECK(all_params(a.get()) == all_params(b.get()));
}

TEST_CASE("a damaged newest checkpoint falls back to the previous one", "[checkpoint]") {
  std::string dir = dlt::temp_dir();
  auto a = mlp_runtime(1);
  save_checkpoint(a.get(), dir, 1, 10);
  save_checkpoint(a.get(), dir, 2, 20);
  {  // flip a byte in the middle of the newest file
    FILE* f = std::fopen((dir + "/ckpt-000002.dlsc").c_str(), "r+b");
    std::fseek(f, 5000, SEEK_SET);
    int c = std::fgetc(f);
    std::fseek(f, 5000, SEEK_SET);
    std::fputc(c ^ 0xff, f);
    std::fclose(f);
  }
  std::vector<std::string> seen;
  set_diagnostic_capture(&seen);
  auto b = mlp_runtime(2);
  CheckpointInfo ci = load_checkpoint(b.get(), dir);
  set_diagnostic_capture(nullptr);
  CHECK(ci.epoch == 1);
  REQUIRE(seen.size() == 1);
  CHECK_THAT(seen[0], Catch::Contains("warning[R0304]") && Catch::Contains("CRC"));
  // Only damaged files: an error.
  truncate((dir + "/ckpt-000001.dlsc").c_str(), 100);
  auto c = mlp_runtime(3);
  CHECK_THAT(dlt::fault_of([&] { load_checkpoint(c.get(), dir); }, Diag::R0303), Catch::StartsWith("R0303"));
}

TEST_CASE("checkpoints of another spec or layout are refused", "[checkpoint]") {
  std::string dir = dlt::temp_dir();
  auto a = mlp_runtime(1);
  save_checkpoint(a.get(), dir, 1, 10);
  lenet_config() = ProgramConfig{};
  lenet_config().data = false;
  auto l = make_runtime(1);
  call(l.get(), lenet_setup);
  CHECK_THAT(dlt::fault_of([&] { load_checkpoint(l.get(), dir); }, Diag::R0305), Catch::Contains("different spec"));
  l->layout_hash = a->layout_hash;  // same hash but different tensors: names/shapes are still checked
  CHECK_THAT(dlt::fault_of([&] { load_checkpoint(l.get(), dir); }, Diag::R0306), Catch::StartsWith("R0306"));
  CHECK_THAT(dlt::fault_of([&] { load_checkpoint(l.get(), dir + "/empty"); }, Diag::R0302), Catch::StartsWith("R0302"));
}

TEST_CASE("a full disk (RLIMIT_FSIZE) leaves the previous checkpoint intact", "[checkpoint]") {
  std::string dir = dlt::temp_dir();
  auto a = mlp_runtime(1);
  save_checkpoint(a.get(), dir, 1, 10);
  pid_t pid = fork();
  if (pid == 0) {
    rlimit lim{100000, 100000};
    setrlimit(RLIMIT_FSIZE, &lim);
    try {
      save_checkpoint(a.get(), dir, 2, 20);
    } catch (const Fault& f) {
      _exit(f.code == Diag::R0301 && f.message.find("intact") != std::string::npos ? 42 : 1);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 42);
  CHECK(access((dir + "/ckpt-000002.dlsc").c_str(), F_OK) != 0);
  auto b = mlp_runtime(2);
  CHECK(load_checkpoint(b.get(), dir).epoch == 1);
  CHECK(all_params(a.get()) == all_params(b.get()));
}

TEST_CASE("optimizer state buffers follow the optimizer, and checkpoints carry exactly those", "[checkpoint]") {
  // SGD keeps a momentum buffer only with momentum (torch.optim.SGD): none is allocated or saved without.
  std::string dir = dlt::temp_dir();
  mlp_config() = ProgramConfig{};
  mlp_config().data = false, mlp_config().seed = 1, mlp_config().batch = 8, mlp_config().momentum = 0;
  auto a = make_runtime(1);
  call(a.get(), mlp_setup);
  REQUIRE(!a->params.empty());
  for (auto& p : a->params) CHECK((p.state0 == nullptr && p.state1 == nullptr));
  save_checkpoint(a.get(), dir, 1, 10);
  auto b = mlp_runtime(2);  // momentum 0.9: one buffer per trainable parameter
  for (auto& p : b->params) CHECK((p.trainable == (p.state0 != nullptr) && p.state1 == nullptr));
  // A checkpoint of SGD without momentum lacks the momentum buffers this program expects: refused, by name.
  CHECK_THAT(dlt::fault_of([&] { load_checkpoint(b.get(), dir); }, Diag::R0306),
             Catch::Contains("holds 6 tensors, this program has 12") && Catch::Contains("another optimizer"));
  mlp_config().momentum = 0, mlp_config().seed = 3;
  auto c = make_runtime(1);
  call(c.get(), mlp_setup);
  CheckpointInfo ci = load_checkpoint(c.get(), dir);
  CHECK(ci.epoch == 1);
  CHECK(all_params(a.get()) == all_params(c.get()));
}
