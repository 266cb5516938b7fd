// Checkpoint round trip, corruption fallback, layout-hash and shape checks, full-disk behaviour.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "SmallData.h"
#include "core/CpuFeatures.h"
#include "data/formats/CheckpointFile.h"
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

namespace {
// Peak resident memory since the last reset_peak(), and the resident memory now (bytes, /proc/self/status).
uint64_t status_kib(const char* key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  uint64_t v = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, key, std::strlen(key)) == 0) v = std::strtoull(line + std::strlen(key), nullptr, 10);
  std::fclose(f);
  return v;
}
// Resets VmHWM to the current VmRSS (Linux >= 4.0); false where the kernel does not allow it.
bool reset_peak() {
  FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}
// A runtime whose state is one 4096 x 6144 weight (96 MiB) and its SGD momentum buffer (96 MiB): a
// 192 MiB checkpoint.
std::unique_ptr<dls_rt> big_runtime(uint64_t seed) {
  auto rt = make_runtime(1);
  dls_rt_program(rt.get(), "big", "big.dls", 0xb16ull);
  dls_rt_placement(rt.get(), DLS_DEVICE_CPU, 0, 1);
  dls_rt_train_config(rt.get(), 1, 1, int64_t(seed));
  dls_rt_optimizer(rt.get(), DLS_OPT_SGD, 0.1, 0.9, 0.9, 0.999, 1e-8, 0, 0);
  dls_rt_arena(rt.get(), 64);
  int32_t w = dls_rt_tensor(rt.get(), DLS_F32, 2, 4096, 6144, 1, 1, -1);
  int32_t g = dls_rt_tensor(rt.get(), DLS_F32, 2, 4096, 6144, 1, 1, -1);
  dls_rt_param(rt.get(), w, g, "fc.weight", DLS_INIT_NORMAL, 0, 1, 6144, 4096, 1, 0);
  raise_pending(rt.get());
  std::fill_n(rt->params[0].state0, size_t(4096) * 6144, float(seed));  // touched: resident from here on
  return rt;
}
}  // namespace

TEST_CASE("saving and loading a 192 MiB checkpoint keeps at most a few MiB more in memory", "[checkpoint]") {
  if (!reset_peak()) {
    WARN("not measured: this kernel does not let a process reset its peak resident memory (/proc/self/clear_refs)");
    return;
  }
  std::string dir = dlt::temp_dir();
  const uint64_t mib = 1024;  // status values are KiB
  auto a = big_runtime(1);
  REQUIRE(reset_peak());
  uint64_t before = status_kib("VmRSS:");
  std::string path = save_checkpoint(a.get(), dir, 1, 1);
  uint64_t saved_peak = status_kib("VmHWM:");
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(st.st_size > 192 * 1024 * 1024);
  INFO("saving: resident " << before / mib << " MiB before, peak " << saved_peak / mib << " MiB");
  CHECK(saved_peak - before < 16 * mib);

  auto b = big_runtime(2);
  load_checkpoint(b.get(), dir);  // the first load may make pages of b resident that its setup did not touch
  REQUIRE(reset_peak());
  before = status_kib("VmRSS:");
  CheckpointInfo ci = load_checkpoint(b.get(), dir);
  uint64_t loaded_peak = status_kib("VmHWM:");
  INFO("loading: resident " << before / mib << " MiB before, peak " << loaded_peak / mib << " MiB");
  CHECK(loaded_peak - before < 16 * mib);
  CHECK(ci.epoch == 1);
  const size_t n = size_t(4096) * 6144;
  CHECK(std::memcmp(a->tensors[a->params[0].value].d.data, b->tensors[b->params[0].value].d.data, n * 4) == 0);
  CHECK(std::memcmp(a->params[0].state0, b->params[0].state0, n * 4) == 0);
  std::remove(path.c_str());
}

TEST_CASE("a checkpoint resumes exactly across precisions: f32 master weights and state, R0308 says so", "[checkpoint]") {
  std::string dir = dlt::temp_dir();
  mlp_config() = ProgramConfig{};
  mlp_config().data = false, mlp_config().seed = 1, mlp_config().batch = 8;
  auto a = make_runtime(1);
  dls_rt_precision(a.get(), DLS_BF16);
  if (!cpu_has_bf16_kernels()) {  // the refusal is what there is to test on this processor
    CHECK_THAT(dlt::fault_of([&] { raise_pending(a.get()); }, Diag::R0410), Catch::Contains("has no AVX-512"));
    std::printf("[skipped: this processor has no AVX-512, so no bf16 kernels; R0410 refuses bf16 as it must]\n");
    return;
  }
  call(a.get(), mlp_setup);
  REQUIRE(a->precision == DLS_BF16);
  int bf16_ops = 0;
  for (auto& op : a->ops) bf16_ops += op->d.precision == DLS_BF16;
  CHECK(bf16_ops == 3);  // the three dense layers; relu and the loss stay f32
  float v = 0.25f;
  for (auto& p : a->params)
    if (p.state0) std::fill_n(p.state0, size_t(a->tensors[p.value].d.numel), v += 0.5f);  // momentum buffers
  a->updates = 5;
  save_checkpoint(a.get(), dir, 1, 10);
  std::vector<float> state_a;
  for (auto& p : a->params)
    if (p.state0) state_a.insert(state_a.end(), p.state0, p.state0 + a->tensors[p.value].d.numel);

  auto b = mlp_runtime(2);  // f32
  REQUIRE(b->precision == DLS_F32);
  std::vector<std::string> seen;
  set_diagnostic_capture(&seen);
  load_checkpoint(b.get(), dir, true);
  set_diagnostic_capture(nullptr);
  CHECK(all_params(a.get()) == all_params(b.get()));
  std::vector<float> state_b;
  for (auto& p : b->params)
    if (p.state0) state_b.insert(state_b.end(), p.state0, p.state0 + b->tensors[p.value].d.numel);
  CHECK(state_a == state_b);
  CHECK(b->updates == 5);
  std::string all;
  for (auto& s : seen) all += s;
  CHECK_THAT(all, Catch::Contains("R0308") && Catch::Contains("precision bf16 → f32"));
}

TEST_CASE("resuming with amsgrad switched is R0307; plateau's state goes through the checkpoint", "[checkpoint]") {
  std::string dir = dlt::temp_dir();
  auto adam = [](int32_t amsgrad) {
    mlp_config() = ProgramConfig{};
    mlp_config().data = false, mlp_config().seed = 1, mlp_config().batch = 8;
    mlp_config().optimizer = DLS_OPT_ADAM, mlp_config().optimizer_flag = amsgrad, mlp_config().momentum = 0;
    auto rt = make_runtime(1);
    call(rt.get(), mlp_setup);
    return rt;
  };
  auto a = adam(1);
  REQUIRE(a->params[0].state2);  // max_exp_avg_sq
  dls_rt_plateau(a.get(), DLS_METRIC_LOSS, 0.5, 2, 0.01, 1, 0.001);
  a->plateau_lr = 0.005, a->plateau_best = 0.731, a->plateau_bad = 2, a->plateau_cooldown_left = 1;
  std::fill_n(a->params[0].state2, size_t(a->tensors[a->params[0].value].d.numel), 0.125f);
  save_checkpoint(a.get(), dir, 1, 10);

  auto b = adam(1);
  dls_rt_plateau(b.get(), DLS_METRIC_LOSS, 0.5, 2, 0.01, 1, 0.001);
  REQUIRE(b->plateau_lr == Approx(0.02));  // mlp_config().lr: the optimizer's rate before any validation
  load_checkpoint(b.get(), dir, true);
  CHECK((b->plateau_lr == 0.005 && b->plateau_best == 0.731 && b->plateau_bad == 2 && b->plateau_cooldown_left == 1));
  CHECK(read_tensor(b.get(), b->params[0].value) == read_tensor(a.get(), a->params[0].value));
  CHECK(std::all_of(b->params[0].state2, b->params[0].state2 + b->tensors[b->params[0].value].d.numel,
                    [](float x) { return x == 0.125f; }));

  auto c = adam(0);  // the same optimizer without amsgrad: its state means something else
  CHECK_THAT(dlt::fault_of([&] { load_checkpoint(c.get(), dir, true); }, Diag::R0307),
             Catch::StartsWith("R0307") && Catch::Contains("optimizer adam(amsgrad: true)") &&
                 Catch::Contains("this program uses optimizer adam:"));
}

TEST_CASE("format 6 names the metric each rule watches: another one on resume is R0266 and that rule starts afresh", "[checkpoint]") {
  std::string dir = dlt::temp_dir();
  // A run watching one output's loss (val_cls_loss) with early stopping, the plateau schedule and the best checkpoint.
  auto watching = [](const std::string& output, int32_t metric) {
    auto rt = mlp_runtime(1);
    dls_rt_stop(rt.get(), DLS_STOP_EARLY, DLS_METRIC_LOSS, 5, 0);
    dls_rt_plateau(rt.get(), DLS_METRIC_LOSS, 0.5, 2, 0.01, 0, 0);
    dls_rt_checkpoint_best(rt.get(), DLS_METRIC_LOSS, 0);
    rt->stop_monitor = metric, rt->plateau_monitor = metric, rt->ckpt_best_metric = metric;
    rt->stop_output = output, rt->plateau_output = output, rt->ckpt_best_output = output;
    return rt;
  };
  auto a = watching("cls", DLS_METRIC_LOSS);
  a->stop_best = 0.25, a->stop_best_epoch = 2, a->stop_bad = 3;
  a->plateau_lr = 0.005, a->plateau_best = 0.3, a->plateau_bad = 1;
  a->ckpt_best_value = 0.2, a->ckpt_best_epoch = 2;
  save_checkpoint(a.get(), dir, 4, 40);
  std::vector<std::string> seen;
  {  // The same metric: every rule continues, without a word.
    auto b = watching("cls", DLS_METRIC_LOSS);
    set_diagnostic_capture(&seen);
    load_checkpoint(b.get(), dir, true);
    set_diagnostic_capture(nullptr);
    CHECK(seen.empty());
    CHECK((b->stop_best == 0.25 && b->stop_best_epoch == 2 && b->stop_bad == 3));
    CHECK((b->plateau_lr == 0.005 && b->plateau_best == 0.3 && b->plateau_bad == 1));
    CHECK((b->ckpt_best_value == 0.2 && b->ckpt_best_epoch == 2));
  }
  {  // val_loss: the same metric code (loss), another metric: R0266 for each rule, and each starts afresh.
    auto c = watching("", DLS_METRIC_LOSS);
    seen.clear();
    set_diagnostic_capture(&seen);
    load_checkpoint(c.get(), dir, true);
    set_diagnostic_capture(nullptr);
    std::string all;
    for (auto& s : seen) all += s + "\n";
    INFO(all);
    CHECK(seen.size() == 3);
    CHECK_THAT(all, Catch::Contains("warning[R0266]") &&
                        Catch::Contains("holds early stopping's best value and count for val_cls_loss, this run watches val_loss") &&
                        Catch::Contains("holds the plateau schedule's rate, best value and counts for val_cls_loss, this run watches val_loss") &&
                        Catch::Contains("holds the best checkpoint's value for val_cls_loss, this run watches val_loss"));
    CHECK((std::isnan(c->stop_best) && c->stop_bad == 0 && c->stop_best_epoch == 0));
    CHECK((c->plateau_lr == Approx(0.02) && c->plateau_best == INFINITY && c->plateau_bad == 0));
    CHECK((std::isnan(c->ckpt_best_value) && c->ckpt_best_epoch == 0));
  }
  {  // Another output's accuracy (val_cls_acc): likewise, and the plateau's best starts at -inf (mode max).
    auto d = watching("cls", DLS_METRIC_ACCURACY);
    d->plateau_best = -INFINITY;
    seen.clear();
    set_diagnostic_capture(&seen);
    load_checkpoint(d.get(), dir, true);
    set_diagnostic_capture(nullptr);
    std::string all;
    for (auto& s : seen) all += s + "\n";
    CHECK_THAT(all, Catch::Contains("this run watches val_cls_acc"));
    CHECK((d->plateau_best == -INFINITY && std::isnan(d->stop_best)));
  }
}

TEST_CASE("a resume with other settings: one R0308 lists each, old → new; another momentum buffer is R0307", "[checkpoint]") {
  std::string dir = dlt::temp_dir();
  auto a = mlp_runtime(1);
  save_checkpoint(a.get(), dir, 1, 10);
  {
    std::vector<std::string> seen;
    auto b = mlp_runtime(2);
    dls_rt_accumulate(b.get(), 4);
    dls_rt_clip(b.get(), DLS_CLIP_NORM, 1.5);
    b->opt.lr = 0.05, b->batch = 8;
    set_diagnostic_capture(&seen);
    load_checkpoint(b.get(), dir, true);
    set_diagnostic_capture(nullptr);
    REQUIRE(seen.size() == 1);
    INFO(seen[0]);
    CHECK_THAT(seen[0], Catch::Contains("warning[R0308]") && Catch::Contains("lr 0.02 → 0.05") &&
                            Catch::Contains("accumulate 1 step → 4 steps") && Catch::Contains("clip none → norm(1.5)"));
    CHECK(b->accumulate == 4);  // this run's setting goes on
  }
  // sgd without momentum keeps no momentum buffer: the checkpoint's buffers cannot go anywhere.
  mlp_config() = ProgramConfig{};
  mlp_config().data = false, mlp_config().seed = 1, mlp_config().batch = 8, mlp_config().momentum = 0;
  auto c = make_runtime(1);
  call(c.get(), mlp_setup);
  CHECK_THAT(dlt::fault_of([&] { load_checkpoint(c.get(), dir, true); }, Diag::R0307),
             Catch::StartsWith("R0307") && Catch::Contains("sgd(momentum: 0.9), which keeps 1 state tensor per parameter") &&
                 Catch::Contains("sgd(momentum: 0), which keeps 0 state tensors per parameter"));
  // `eval` (no resume) reads the values whatever the optimizer.
}

TEST_CASE("format 5 checkpoints still load: their rules' state is matched by the metric's code", "[checkpoint]") {
  std::string dir = dlt::temp_dir();
  auto a = mlp_runtime(1);
  dls_rt_stop(a.get(), DLS_STOP_EARLY, DLS_METRIC_LOSS, 5, 0);
  a->stop_best = 0.5, a->stop_best_epoch = 1, a->stop_bad = 2;
  save_checkpoint(a.get(), dir, 2, 20);
  // Rewrite the file as format 5: version 5, without the settings block, CRC recomputed.
  const std::string path = dir + "/ckpt-000002.dlsc";
  std::string bytes;
  {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) bytes.append(buf, n);
    std::fclose(f);
  }
  const size_t made = 8 + 4 + 8 * 5, settings_at = made + data::kCheckpointMadeBytes;
  uint32_t count = 0;
  std::memcpy(&count, bytes.data() + settings_at, 4);
  size_t end = settings_at + 4;
  for (uint32_t i = 0; i < 2 * count; ++i) {
    uint32_t len = 0;
    std::memcpy(&len, bytes.data() + end, 4);
    end += 4 + len;
  }
  REQUIRE(count >= 4);  // accumulate, clip, schedule, stop, stop.monitor
  std::string v5 = bytes.substr(0, settings_at) + bytes.substr(end, bytes.size() - 4 - end);
  const uint32_t five = 5;
  std::memcpy(v5.data() + 8, &five, 4);
  const uint32_t crc = uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(v5.data()), uInt(v5.size())));
  v5.append(reinterpret_cast<const char*>(&crc), 4);
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite(v5.data(), 1, v5.size(), f);
    std::fclose(f);
  }
  std::vector<std::string> seen;
  auto b = mlp_runtime(2);
  dls_rt_stop(b.get(), DLS_STOP_EARLY, DLS_METRIC_LOSS, 5, 0);
  set_diagnostic_capture(&seen);
  CheckpointInfo ci = load_checkpoint(b.get(), dir, true);
  set_diagnostic_capture(nullptr);
  CHECK(seen.empty());
  CHECK(ci.epoch == 2);
  CHECK(all_params(a.get()) == all_params(b.get()));
  CHECK((b->stop_best == 0.5 && b->stop_best_epoch == 1 && b->stop_bad == 2));
}
