// Main.cpp: dls_rt_main, the command line of a built executable.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "../core/Rng.h"
#include "../data/Stream.h"
#include "../dist/Comm.h"
#include "../dist/GradReducer.h"
#include "../dist/Replicas.h"
#include "RunDir.h"
#include "Trainer.h"

namespace dls {

namespace {

const char* kUsage =
    "usage: %s <command> [options]\n"
    "\n"
    "commands:\n"
    "  train [--epochs N] [--threads N] [--resume DIR] [--overwrite] [--weights DIR]\n"
    "                                                   train the network (resume from DIR's newest checkpoint;\n"
    "                                                   --overwrite: start over where an earlier run's checkpoints are;\n"
    "                                                   --weights: start from DIR/<parameter>.npy, e.g. an import's)\n"
    "  eval [--checkpoint DIR|FILE | --weights DIR] [--threads N]\n"
    "                                                   evaluate on the test split (DIR's newest checkpoint, or\n"
    "                                                   one file such as DIR/best.dlsc); every validation metric\n"
    "  predict FILE [--checkpoint DIR|FILE | --weights DIR] [--top K] [--output OUT.csv|OUT.json] [--outputs OUT.npy]\n"
    "                                                   print the predicted class of each sample in FILE (.npy, IDX or\n"
    "                                                   CSV; an image file or folder: its file and class name each), or\n"
    "                                                   a regression's values in the targets' own units;\n"
    "                                                   --top: the K likeliest classes with their probabilities;\n"
    "                                                   --output: the same as CSV or JSON in OUT instead of printed;\n"
    "                                                   --outputs: write the network's raw outputs to OUT.npy instead\n"
    "  predict --input NAME=FILE --input NAME=FILE ... [options as above]\n"
    "                                                   a data set with several sample fields: each field's samples\n"
    "                                                   from its own file (.npy or IDX), one record per sample\n"
    "  predict PROMPT-FILE [--tokens N]                 a text model: the prompt and N generated tokens (default 200)\n"
    "  export [--onnx MODEL.onnx] [--npz FILE.npz] [--safetensors FILE] [--checkpoint DIR|FILE | --weights DIR] [--batch N]\n"
    "                                                   the trained network as an ONNX model in inference form (the\n"
    "                                                   model this program was built with, filled with the weights of\n"
    "                                                   DIR's newest checkpoint, or one file such as DIR/best.dlsc), and/or\n"
    "                                                   every parameter by name as .npz (numpy.load) or safetensors;\n"
    "                                                   --batch: the model's batch axis fixed to N (default: a symbol);\n"
    "                                                   each file replaced atomically\n"
    "  bench [--steps N] [--warmup N] [--threads N]     training throughput on synthetic in-memory batches (no data\n"
    "                                                   loading, validation or checkpoints); prints one JSON line\n"
    "                                                   (DLS_PROFILE=1 or =cpu: a per-op table on stderr)\n"
    "\n"
    "options:\n"
    "  --epochs N      number of epochs (default: the spec's)\n"
    "  --threads N     compute threads (default 2); a split read per batch is prepared by as many threads\n"
    "  --load MODE     train, eval: auto (default), memory or stream: hold each split's decoded samples in memory,\n"
    "                  or read them per batch (uncompressed IDX/.npy mapped, image files decoded, CSV records\n"
    "                  parsed as each batch takes them); auto streams a split whose samples exceed --data-memory\n"
    "  --data-memory SIZE  train, eval: bytes of decoded samples a split may hold (512M, 4G; default: half of\n"
    "                  the memory this process may use)\n"
    "  --help          this text\n"
    "\n"
    "data parallelism: mpirun -np K %s train|eval|predict|bench ... runs K ranks (Open MPI); each trains on its\n"
    "share of every batch of the spec's global batch(N) and the gradients are averaged; rank 0 writes the\n"
    "checkpoints, metrics and plot. A rank that does not reach a step within DLS_RANK_TIMEOUT seconds (300)\n"
    "is named and the job ends. A spec placed on a device list (on [cuda:0, cuda:1]) trains one replica per\n"
    "device in this process the same way; under mpirun each rank drives its own devices of the list.\n";

// bench options (only the bench command reads them).
struct BenchArgs {
  int64_t steps = 100, warmup = 10;
};
BenchArgs g_bench;

int64_t parse_count(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  // Digits only: strtoll alone would also take " 3" and "+3".
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || *end || n <= 0 || n > 1000000)
    fail(Diag::R0404, "", flag, v);
  return n;
}

// --data-memory: bytes, or a count of KiB, MiB, GiB (K, M, G).
uint64_t parse_size(const std::string& flag, const std::string& v) {
  size_t digits = 0;
  while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
  const std::string unit = v.substr(digits);
  uint64_t scale = 0;
  if (unit.empty()) scale = 1;
  else if (unit == "K" || unit == "KiB") scale = uint64_t(1) << 10;
  else if (unit == "M" || unit == "MiB") scale = uint64_t(1) << 20;
  else if (unit == "G" || unit == "GiB") scale = uint64_t(1) << 30;
  if (digits == 0 || digits > 12 || scale == 0)
    fail(Diag::R0406, "", flag, fmt::format("a size such as 512M or 4G (bytes, or K, M, G: KiB, MiB, GiB), not '{}'", v));
  const uint64_t n = std::stoull(v.substr(0, digits));
  if (n == 0) fail(Diag::R0406, "", flag, "a size above zero");
  return n * scale;
}

Options parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.empty()) fail(Diag::R0406, "", argv[0], "a command (train, eval, predict; see --help)");
  size_t i = 0;
  if (a[0] == "--help" || a[0] == "-h" || a[0] == "help") {
    o.command = "help";
    return o;
  }
  o.command = a[i++];
  if (o.command != "train" && o.command != "eval" && o.command != "predict" && o.command != "step-check" &&
      o.command != "bench" && o.command != "export")
    fail(Diag::R0401, "", o.command);
  auto value = [&](const std::string& flag) -> std::string {
    if (i >= a.size() || a[i].rfind("--", 0) == 0) fail(Diag::R0403, "", flag);
    return a[i++];
  };
  while (i < a.size()) {
    std::string f = a[i++];
    if (f == "--help" || f == "-h") {
      o.command = "help";
      return o;
    } else if (f == "--epochs" && o.command == "train") {
      o.epochs = parse_count(f, value(f));
    } else if (f == "--threads") {
      o.threads = int32_t(parse_count(f, value(f)));
    } else if (f == "--load" && (o.command == "train" || o.command == "eval")) {
      o.load = value(f);
      if (o.load != "auto" && o.load != "memory" && o.load != "stream")
        fail(Diag::R0406, "", "--load", fmt::format("auto, memory or stream, not '{}'", o.load));
    } else if (f == "--data-memory" && (o.command == "train" || o.command == "eval")) {
      o.data_memory = parse_size(f, value(f));
    } else if (f == "--resume" && o.command == "train") {
      o.resume = value(f);  // a checkpoint directory (its newest valid checkpoint) or one checkpoint file
      struct stat st;
      if (::stat(o.resume.c_str(), &st) != 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) fail_path(o.resume, f, true);
    } else if (f == "--overwrite" && o.command == "train") {
      o.overwrite = true;
    } else if (f == "--checkpoint" && (o.command == "eval" || o.command == "predict" || o.command == "export")) {
      o.checkpoint = value(f);
      struct stat st;
      // A checkpoint directory (its newest valid checkpoint) or one checkpoint file (DIR/best.dlsc).
      if (::stat(o.checkpoint.c_str(), &st) != 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
        fail_path(o.checkpoint, f, true);
    } else if (f == "--tokens" && o.command == "predict") {
      o.tokens = parse_count(f, value(f));
    } else if (o.command == "bench" && f == "--steps") {
      g_bench.steps = parse_count(f, value(f));
    } else if (o.command == "bench" && f == "--warmup") {
      std::string v = value(f);
      g_bench.warmup = v == "0" ? 0 : parse_count(f, v);
    } else if (f == "--weights" && o.command != "bench") {
      o.weights = value(f);  // a directory of <parameter>.npy files
      struct stat st;
      if (::stat(o.weights.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) fail_path(o.weights, f, false);
    } else if (o.command == "predict" && f == "--outputs") {
      o.outputs = value(f);
    } else if (o.command == "predict" && f == "--top") {
      o.top = parse_count(f, value(f));
    } else if (o.command == "predict" && f == "--output") {
      o.output = value(f);
      const auto ends = [&](const char* e) { return o.output.size() > std::strlen(e) && o.output.ends_with(e); };
      if (!ends(".csv") && !ends(".json")) fail(Diag::R0406, "", "--output", "a file name ending in .csv or .json");
    } else if (o.command == "export" && (f == "--onnx" || f == "--npz" || f == "--safetensors")) {
      (f == "--onnx" ? o.onnx_out : f == "--npz" ? o.npz_out : o.safetensors_out) = value(f);
    } else if (o.command == "export" && f == "--batch") {
      o.export_batch = parse_count(f, value(f));
    } else if (o.command == "step-check" && f == "--batch") {
      o.batch_x = value(f);
      o.batch_y = value(f);
    } else if (o.command == "step-check" && f == "--out") {
      o.out = value(f);
    } else if ((o.command == "predict" || o.command == "step-check") && f == "--input") {
      // NAME=FILE: the file of sample field NAME (a data set with several sample fields)
      const std::string v = value(f);
      const size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
        fail(Diag::R0406, "", "--input", "NAME=FILE: a sample field's name and its file");
      o.inputs.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (o.command == "predict" && f.rfind("--", 0) != 0 && o.predict_file.empty()) {
      o.predict_file = f;
    } else {
      fail(Diag::R0402, "", f, o.command);
    }
  }
  if (!o.weights.empty() && !o.resume.empty())
    fail(Diag::R0406, "", "--weights", "a run from scratch: --resume continues from the checkpoint's own weights");
  if (!o.weights.empty() && !o.checkpoint.empty())
    fail(Diag::R0406, "", "--weights", "no --checkpoint: both say where the weights come from");
  if (o.command == "predict" && o.predict_file.empty() && o.inputs.empty()) fail(Diag::R0406, "", "predict", "a FILE of samples (.npy, IDX or CSV)");
  if (o.command == "export" && o.onnx_out.empty() && o.npz_out.empty() && o.safetensors_out.empty())
    fail(Diag::R0406, "", "export", "a file to write: --onnx MODEL.onnx, --npz FILE.npz and/or --safetensors FILE");
  if (!o.outputs.empty() && (o.top > 0 || !o.output.empty()))
    fail(Diag::R0406, "", "--outputs", "neither --top nor --output: it writes the raw outputs instead of predictions");
  return o;
}

// bench: `steps` training steps (after `warmup` untimed ones) on 8 random batches already in memory
// (inputs ~ N(0, 1) of the declared input shape, or for an i32 input, token indices uniform over the rows of the
// smallest embedding table that reads it; class labels uniform in [0, C) or targets ~ U(0, 1)), as
// bench/cpu/torch_cpu_anchor.py measures PyTorch. Prints {"program", "precision", "batch", "steps", "img_per_s"}.
int run_bench(dls_rt* rt, const Program& p, const BenchArgs& a) {
  if (rt->io_input < 0 || rt->io_labels < 0 || rt->io_output < 0 || rt->io_loss < 0)
    fail(Diag::R0504, rt->spec_path, "the program did not declare its input/label/output/loss tensors (dls_rt_io)");
  const Tensor& x = rt->tensors[rt->io_input];
  const Tensor& y = rt->tensors[rt->io_labels];
  const Tensor& out = rt->tensors[rt->io_output];
  const int64_t B = x.d.dims[0];
  const int64_t C = std::max<int64_t>(1, out.d.numel / std::max<int64_t>(1, y.d.dtype == DLS_I32 ? y.d.numel : out.d.dims[0]));
  std::vector<Batch> batches(8);
  Rng rng(uint64_t(rt->seed) ^ 0x5eedull);
  int64_t vocab = 0;  // an i32 input: the rows of the embedding tables that read it
  for (const auto& op : rt->ops)
    if (op->opcode == DLS_OP_EMBEDDING && op->tensors[0].id == rt->io_input)
      vocab = vocab ? std::min(vocab, op->tensors[1].dims[0]) : op->tensors[1].dims[0];
  for (auto& b : batches) {
    b.x.resize(size_t(x.d.numel));
    for (auto& v : b.x) v = x.d.dtype == DLS_I32 ? float(rng.below(uint64_t(std::max<int64_t>(1, vocab)))) : float(rng.normal());
    if (y.d.dtype == DLS_I32) {
      b.labels.resize(size_t(y.d.numel));  // B, or B x T per-step labels
      for (auto& l : b.labels) l = int32_t(rng.below(uint64_t(C)));
    } else {
      b.targets.resize(size_t(y.d.numel));
      for (auto& t : b.targets) t = u01(rng.next());
    }
    // The further inputs (dls_rt_input): N(0, 1) of their shapes.
    b.fields.resize(rt->io_fields.size());
    for (size_t j = 0; j < rt->io_fields.size(); ++j)
      if (rt->io_fields[j] >= 0) {
        b.fields[j].resize(size_t(rt->tensors[size_t(rt->io_fields[j])].d.numel));
        for (auto& v : b.fields[j]) v = float(rng.normal());
      }
    b.valid = B;
  }
  rt->step.training = 1;
  rt->lr_now = rt->opt.lr;
  dist::Comm& world = dist::Comm::world();
  if (world.active() || rt->device_list) rt->reducer = std::make_unique<dist::GradReducer>(rt, world);
  int64_t k = 0;
  // Profiling times each op as it is issued: no step graph then.
  const char* prof = std::getenv("DLS_PROFILE");
  const bool profile = prof && *prof && std::strcmp(prof, "0") != 0;
  StepRunner runner(rt, p.train_step, !profile);
  auto step = [&] {
    bind_batch(rt, batches[size_t(k % 8)]);
    rt->step.step = k++;
    runner.run();
  };
  for (int64_t i = 0; i < a.warmup; ++i) step();
  rt->profile = profile;
  const double wait0 = rt->reducer ? rt->reducer->wait_seconds() : 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < a.steps; ++i) step();
  char err[512] = "";
  if (rt->be->synchronize(rt->ctx, err, sizeof err) != 0) fail(Diag::R0502, "", rt->be->name, err);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (rt->profile) {
    const double n = double(a.steps);
    std::fprintf(stderr, "%s: %.3f ms/step\n", rt->name.c_str(), 1e3 * s / n);
    for (size_t i = 0; i < rt->op_seconds.size(); ++i)
      std::fprintf(stderr, "  fwd %3zu %-16s %8.3f ms\n", i, opcode_name(rt->ops[i]->opcode), 1e3 * rt->op_seconds[i] / n);
    for (size_t i = 0; i < rt->gop_seconds.size(); ++i)
      std::fprintf(stderr, "  bwd %3zu %-16s %8.3f ms\n", i, opcode_name(rt->ops[rt->gops[i]->d.fwd->id]->opcode), 1e3 * rt->gop_seconds[i] / n);
    std::fprintf(stderr, "  update               %8.3f ms\n", 1e3 * rt->update_seconds / n);
  }
  if (rt->reducer) {
    // Over ranks: the global batch's throughput, and per step the time the update waited for the
    // all-reduce (what the backward pass did not hide) and the bytes each rank reduced.
    const double wait = rt->reducer->wait_seconds() - wait0;
    if (world.rank() == 0)
      std::printf("{\"program\":\"%s\",\"batch\":%lld,\"ranks\":%d,\"rank_batch\":%lld,\"steps\":%lld,\"threads\":%d,"
                  "\"img_per_s\":%.1f,\"step_ms\":%.3f,\"allreduce_wait_ms\":%.3f,\"grad_bytes\":%lld,\"buckets\":%d}\n",
                  rt->name.c_str(), (long long)(B * world.size()), world.size(), (long long)B, (long long)a.steps,
                  rt->threads, double(a.steps) * double(B * world.size()) / s, 1e3 * s / double(a.steps),
                  1e3 * wait / double(a.steps), (long long)rt->reducer->bytes_per_step(), rt->reducer->buckets());
    rt->reducer.reset();
    std::fflush(stdout);
    return 0;
  }
  std::printf("{\"program\":\"%s\",\"precision\":\"%s\",\"batch\":%lld,\"steps\":%lld,\"threads\":%d,\"img_per_s\":%.1f,"
              "\"step_ms\":%.3f,\"graph_replays\":%lld}\n",
              rt->name.c_str(), rt->precision == DLS_BF16 ? "bf16" : "f32", (long long)B, (long long)a.steps, rt->threads,
              double(a.steps) * double(B) / s, 1e3 * s / double(a.steps), (long long)runner.replays());
  std::fflush(stdout);
  return 0;
}

}  // namespace

// Sets up replica `replica` of the program (0 without a device list) and runs the command on it.
static int run_one(dls_rt* rt, const Options& o, const Program& p) {
  if (rt->ranks > 1) {
    // What data parallelism over MPI ranks and devices needs of a program, before any step.
    auto refuse = [&](const std::string& why) { fail(Diag::R0511, rt->spec_path, rt->ranks, why); };
    if (!rt->be) refuse("it declares no placement, so no backend runs it");
    if (!rt->batch_axes) refuse("it does not declare its batch axes (dls_rt_batch_axes): build it again with this dlspec");
    if (o.command == "step-check") refuse("step-check runs one given batch in one process; start it without mpirun");
    for (const auto& op : rt->ops)
      if (op->opcode == DLS_OP_BATCH_NORM && (o.command == "train" || o.command == "bench")) {
        warn(Diag::R0514, op_location(rt, op->d.id), opcode_name(op->opcode), rt->batch / rt->ranks, rt->batch);
        break;
      }
  }
  if (o.command == "train") return run_train(rt, p, o);
  if (o.command == "eval") return run_eval(rt, p, o);
  if (o.command == "predict") return run_predict(rt, p, o);
  if (o.command == "export") return run_export(rt, p, o);
  if (o.command == "bench") return run_bench(rt, p, g_bench);
  return run_step_check(rt, p, o);
}

// Runs one command line with already-parsed options; shared by dls_rt_main and the tests.
int run(const Options& o, const Program& p) {
  auto rt = make_runtime(o.threads);
  // How the splits are held: in memory, or read per batch by a pool of --threads threads (data/Stream.h).
  set_load_policy(LoadPolicy{.mode = o.load == "memory" ? LoadMode::Memory : o.load == "stream" ? LoadMode::Stream : LoadMode::Auto,
                             .budget = o.data_memory,
                             .threads = std::max<int32_t>(1, o.threads)});
  rt->backend_override = o.backend;
  const dist::Comm& world = dist::Comm::process();
  rt->rank = world.rank(), rt->ranks = world.size();  // before the setup: batch tensors take their share
  // A device list trains (and benchmarks) one replica per device (dist/Replicas.h); eval, predict, export and
  // step-check run on its first device.
  rt->replicate = o.command == "train" || o.command == "bench";
  call(rt.get(), p.setup);
  if (!rt->device_list || !rt->replicate) return run_one(rt.get(), o, p);
  const int D = rt->device_count;
  std::vector<std::string> names;
  for (int d = 0; d < D; ++d)
    names.push_back(fmt::format("replica {} ({}:{})", d, rt->device_kind == DLS_DEVICE_CUDA ? "cuda" : "cpu",
                                rt->first_device + (world.size() > 1 ? world.local_rank() * D : 0) + d));
  dist::Replicas group(D, names);
  std::unique_ptr<dls_rt> first = std::move(rt);
  return group.run([&](int d) {
    if (d == 0) return run_one(first.get(), o, p);
    // Every other replica: its own runtime, set up on its own thread (its device is current there).
    auto r = make_runtime(o.threads);
    r->backend_override = o.backend;
    r->rank = world.rank(), r->ranks = world.size();
    r->replica = d;
    {
      static std::mutex setting_up;  // one set-up at a time (a hand-written program may keep state while it sets up)
      std::lock_guard<std::mutex> lk(setting_up);
      call(r.get(), p.setup);
    }
    return run_one(r.get(), o, p);
  });
}

}  // namespace dls

extern "C" int dls_rt_main(int argc, char** argv, dls_gen_fn setup, dls_gen_fn train_step, dls_gen_fn eval_step) {
  using namespace dls;
  Options o;
  try {
    o = parse(argc, argv);
  } catch (const Fault& f) {
    emit(f);
    return 2;
  }
  if (o.command == "help") {
    const char* self = argc > 0 ? argv[0] : "program";
    std::printf(kUsage, self, self);
    return 0;
  }
  // OpenMP waiting: libgomp spins by default, which collapses throughput (10x and more) when the cores
  // are shared with other processes, and it reads its settings only at load time. Unless the user chose
  // a policy, re-execute once with OMP_WAIT_POLICY=PASSIVE (threads sleep at barriers). DLS_NO_REEXEC=1
  // disables this (tests that call dls_rt_main in-process set it).
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT") && !std::getenv("DLS_NO_REEXEC")) {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    ::setenv("DLS_NO_REEXEC", "1", 1);
    ::execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
  }
  // A signal while the program sets up or loads data ends training at its first step boundary, as later.
  if (o.command == "train") install_stop_signals();
  // Under mpirun, MPI (after the re-execution above: the same process); without it nothing changes.
  dist::Comm& world = dist::Comm::world();
  dist::set_interrupt_probe(&stop_signal);
  try {
    world.init_from_environment();
  } catch (const Fault& f) {
    emit(f);
    return 1;
  }
  set_diagnostic_rank(world.rank(), world.size());
  std::optional<Fault> fault;
  int rc = 0;
  try {
    rc = run(o, Program{setup, train_step, eval_step});
  } catch (const Fault& f) {
    fault = f;
  } catch (const std::bad_alloc&) {
    fault = make_fault(Diag::R0503, "", "host memory", "the program (an allocation of unknown size failed)");
  } catch (const std::exception& e) {
    fault = make_fault(Diag::R0001, "", e.what());
  }
  if (!fault) {
    world.finalize();
    return rc;
  }
  if (world.active()) {
    // Every rank usually meets the same fault (they run the same program on the same data): rank 0 reports
    // it and ends the job; another rank reports its own a few seconds later, in case rank 0 did not fail (a fault
    // of its own, or a lost rank, is reported at once).
    const bool own = fault->code == Diag::R0512 || fault->code == Diag::R0513;
    if (world.rank() != 0 && !own) std::this_thread::sleep_for(std::chrono::seconds(3));
    emit(*fault);
    world.abort(1);
  }
  emit(*fault);
  world.finalize();
  return 1;
}
