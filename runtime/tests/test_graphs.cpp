// Whole-step graphs as the core drives them (dls_backend::begin_capture / end_capture / replay, used by the
// CUDA backend), tested here without a GPU: a recording backend wraps the CPU backend's table. While
// capturing it records each zero / fwd / bwd / update_all call instead of running it, and refuses host
// copies (a real graph cannot contain them); replay() runs the recording with the step scalars it is given,
// read through one "device" step context as the CUDA kernels read theirs. A training run on it must match
// the eager CPU run exactly, with every step after the first two replayed.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <functional>
#include <stdexcept>

#include "SmallData.h"
#include "TrainRuns.h"
#include "train/Metrics.h"
#include "train/Trainer.h"

using namespace dls;

namespace {

struct Recorder {
  const dls_backend* cpu = dls_cpu_backend();
  bool capturing = false, captured = false;
  std::vector<std::function<int(char*, size_t)>> calls;
  dls_step_ctx dev_step{};  // the scalars a replay passes in, read by the recorded calls
  double dev_lr = 0;
  int64_t dev_t = 0;
  int64_t replays = 0, captures = 0, recorded_updates = 0;
  std::vector<int64_t> replay_ts;
};
Recorder g;

int r_copy_to_device(void* ctx, void* dst, const void* src, size_t n, char* err, size_t len) {
  if (g.capturing) return dls_put_error(err, len, "copy_to_device during capture"), 1;
  return g.cpu->copy_to_device(ctx, dst, src, n, err, len);
}
int r_copy_to_host(void* ctx, void* dst, const void* src, size_t n, char* err, size_t len) {
  if (g.capturing) return dls_put_error(err, len, "copy_to_host during capture"), 1;
  return g.cpu->copy_to_host(ctx, dst, src, n, err, len);
}
int r_zero(void* ctx, void* p, size_t n, char* err, size_t len) {
  if (!g.capturing) return g.cpu->zero(ctx, p, n, err, len);
  g.calls.push_back([=](char* e, size_t l) { return g.cpu->zero(ctx, p, n, e, l); });
  return 0;
}
int r_fwd(void* ctx, const dls_op_desc* op, void* st, const dls_step_ctx* s, char* err, size_t len) {
  if (!g.capturing) return g.cpu->fwd(ctx, op, st, s, err, len);
  g.calls.push_back([=](char* e, size_t l) { return g.cpu->fwd(ctx, op, st, &g.dev_step, e, l); });
  return 0;
}
int r_bwd(void* ctx, const dls_grad_op_desc* gop, void* st, const dls_step_ctx* s, char* err, size_t len) {
  if (!g.capturing) return g.cpu->bwd(ctx, gop, st, s, err, len);
  g.calls.push_back([=](char* e, size_t l) { return g.cpu->bwd(ctx, gop, st, &g.dev_step, e, l); });
  return 0;
}
int r_update_all(void* ctx, const dls_update_desc* us, int32_t n, const float* loss, char* err, size_t len) {
  if (!g.capturing) return g.cpu->update_all(ctx, us, n, loss, err, len);
  ++g.recorded_updates;
  std::vector<dls_update_desc> copy(us, us + n);
  g.calls.push_back([=](char* e, size_t l) mutable {
    copy[0].lr = g.dev_lr, copy[0].t = g.dev_t;
    return g.cpu->update_all(ctx, copy.data(), n, loss, e, l);
  });
  return 0;
}
int r_begin(void*, char* err, size_t len) {
  if (g.capturing) return dls_put_error(err, len, "already capturing"), 1;
  g.capturing = true, g.captured = false;
  g.calls.clear();
  return 0;
}
int r_end(void*, char* err, size_t len) {
  if (!g.capturing) return dls_put_error(err, len, "end_capture without begin_capture"), 1;
  g.capturing = false, g.captured = true;
  ++g.captures;
  return 0;
}
int r_replay(void*, const dls_step_ctx* s, double lr, int64_t t, char* err, size_t len) {
  if (!g.captured) return dls_put_error(err, len, "replay: nothing captured"), 1;
  g.dev_step = *s, g.dev_lr = lr, g.dev_t = t;
  g.replay_ts.push_back(t);
  for (auto& c : g.calls)
    if (int rc = c(err, len)) return rc;
  ++g.replays;
  return 0;
}

dls_backend recording_backend() {
  dls_backend b = *dls_cpu_backend();
  b.name = "recording";
  b.copy_to_device = r_copy_to_device, b.copy_to_host = r_copy_to_host, b.zero = r_zero;
  b.fwd = r_fwd, b.bwd = r_bwd, b.update_all = r_update_all;
  b.begin_capture = r_begin, b.end_capture = r_end, b.replay = r_replay;
  return b;
}

}  // namespace

using dlt::mlp_program;
using dlt::train_opts;

TEST_CASE("a replayed step graph trains exactly as the eager steps do", "[graphs]") {
  std::string data = dlt::temp_dir(), eager = dlt::temp_dir(), graph = dlt::temp_dir();
  dlt::write_small_mnist(data, 320, 96);  // 320 / 32 = 10 steps per epoch
  mlp_config() = dlt::small_config(data);
  mlp_config().batch = 32;
  mlp_config().dropout = true;  // masks depend on the step: the replay must pass each step's number
  mlp_config().checkpoint_dir = eager;
  REQUIRE(run(train_opts(3), mlp_program()) == 0);
  auto want = read_metrics(eager);

  const dls_backend rec = recording_backend();
  g = Recorder{};
  mlp_config().checkpoint_dir = graph;
  REQUIRE(run(train_opts(3, &rec), mlp_program()) == 0);
  auto got = read_metrics(graph);
  CHECK(g.captures == 1);
  CHECK(g.recorded_updates == 1);       // the update is part of the recording, issued once
  CHECK(g.calls.size() > 10);          // zero, forward, loss, backward and update calls
  CHECK(g.replays == 3 * 10 - 2);       // every step after the first two
  REQUIRE(g.replay_ts.size() == 28);
  CHECK(g.replay_ts.front() == 3);      // Adam's / momentum's t continues from the eager steps
  CHECK(g.replay_ts.back() == 30);
  REQUIRE(got.size() == want.size());
  for (size_t e = 0; e < want.size(); ++e) {
    CHECK(got[e].train_loss == want[e].train_loss);
    CHECK(got[e].val_loss == want[e].val_loss);
    CHECK(got[e].val_acc == want[e].val_acc);
  }
  // The checkpoint after the replayed steps holds what the eager run's does: resume from either agrees.
  Options r = train_opts(4);
  r.resume = graph;
  mlp_config().checkpoint_dir = graph;
  REQUIRE(run(r, mlp_program()) == 0);
  Options r2 = train_opts(4);
  r2.resume = eager;
  mlp_config().checkpoint_dir = eager;
  REQUIRE(run(r2, mlp_program()) == 0);
  CHECK(read_metrics(graph).back().train_loss == read_metrics(eager).back().train_loss);
}

TEST_CASE("DLS_GRAPHS=0 keeps every step eager on a backend with graphs", "[graphs]") {
  std::string data = dlt::temp_dir();
  dlt::write_small_mnist(data, 128, 32);
  mlp_config() = dlt::small_config(data);
  mlp_config().batch = 32;
  mlp_config().checkpoint_dir = data + "/ck";
  const dls_backend rec = recording_backend();
  g = Recorder{};
  ::setenv("DLS_GRAPHS", "0", 1);
  int rc = run(train_opts(2, &rec), mlp_program());
  ::unsetenv("DLS_GRAPHS");
  CHECK(rc == 0);
  CHECK(g.captures == 0);
  CHECK(g.replays == 0);
}
