// Runtime.cpp: the C entry points of runtime.h that declare and run a program, over the selected backend.
// Each entry point catches every fault: generated code has no unwind tables, so nothing may propagate
// through it. The first fault is stored in rt->error, later calls do nothing, and the driver
// (dls_rt_main, tests) reports it after the generated function returns.
#include "Runtime.h"

#include "Memory.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "../cuda/CudaExt.h"
#include "../dist/Comm.h"
#include "../dist/GradReducer.h"
#include "CsvTable.h"  // data/formats: the categories text (dls_rt_csv_categories)
#include "CpuFeatures.h"
#include "Init.h"
#include "OpDecode.h"
#include "dlspec/OpSchema.h"

using namespace dls;

namespace {

// Profiling clock: wall time, or this thread's CPU time with DLS_PROFILE=cpu (robust on a loaded machine
// when running with one thread).
std::chrono::steady_clock::time_point prof_now() {
  static const bool cpu = [] {
    const char* e = std::getenv("DLS_PROFILE");
    return e && std::string(e) == "cpu";
  }();
  if (!cpu) return std::chrono::steady_clock::now();
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec));
}

template <class R, class F>
R guarded(dls_rt* rt, R dflt, F&& f) {
  if (!rt || rt->error) return dflt;
  try {
    return f();
  } catch (const Fault& e) {
    rt->error = e;
  } catch (const std::bad_alloc&) {
    rt->error = make_fault(Diag::R0503, "", "host memory", "the program (an allocation of unknown size failed)");
  } catch (const std::exception& e) {
    rt->error = make_fault(Diag::R0001, "", e.what());
  }
  return dflt;
}

void check_be(const dls_rt* rt, int rc, const char* err, const std::string& where = "") {
  if (rc != 0) fail(Diag::R0502, where, rt->be ? rt->be->name : "?", err);
}

// Tests: DLS_REPLICA_BACKEND=cpu runs the replicas of a device list on the CPU backend (a machine without GPUs
// takes the same path as one with them: the threads, the shards and the host reduction of the gradients).
bool cpu_replicas(const dls_rt* rt) {
  const char* e = std::getenv("DLS_REPLICA_BACKEND");
  return rt->device_list && e && std::string(e) == "cpu";
}

void ensure_backend(dls_rt* rt) {
  if (rt->be) return;
  const dls_backend* be = rt->backend_override       ? rt->backend_override
                          : cpu_replicas(rt)                 ? dls_cpu_backend()
                          : rt->device_kind == DLS_DEVICE_CUDA ? dls_cuda_backend()
                                                               : dls_cpu_backend();
  if (!be)
    fail(Diag::R0501, "", rt->device_kind == DLS_DEVICE_CUDA ? "CUDA" : "CPU", rt->first_device,
         "this runtime was built without that backend");
  // The CPU backend starts its worker threads in init: their address space is checked first (R0505).
  if (std::string(be->name) == "cpu") rt->host_budget.reserve_threads(rt->threads, rt->spec_path);
  // Over MPI ranks on a GPU backend each rank drives its own device: the placement's plus its index among
  // the ranks on its machine (K ranks on one machine need K devices; a missing one is R0501).
  // With a device list each rank drives its `device_count` devices, one per replica.
  const dist::Comm& proc = dist::Comm::process();
  const int32_t per_rank = rt->device_list ? rt->device_count : 1;
  // The CPU backend is one device, whatever the placement (the replicas of DLS_REPLICA_BACKEND=cpu share it).
  const bool cpu = std::string(be->name) == "cpu";
  const int32_t device = cpu ? (rt->device_list ? 0 : rt->first_device)
                             : rt->first_device + (proc.size() > 1 ? int32_t(proc.local_rank()) * per_rank : 0) + rt->replica;
  char err[512] = "";
  void* ctx = be->init(device, rt->threads, err, sizeof err);
  if (!ctx) fail(Diag::R0501, "", be->name, device, err);
  rt->be = be;
  rt->ctx = ctx;
}

const Tensor& tensor_at(const dls_rt* rt, int32_t id, const char* what) {
  if (id < 0 || id >= (int32_t)rt->tensors.size())
    fail(Diag::R0504, "", fmt::format("{} refers to tensor {}, which was not declared", what, id));
  return rt->tensors[id];
}

dls_tensor_desc desc_or_none(const dls_rt* rt, int32_t id, const char* what) {
  if (id < 0) {
    dls_tensor_desc none{};
    none.id = -1;
    return none;
  }
  return tensor_at(rt, id, what).d;
}

}  // namespace

namespace dls {

size_t dtype_size(int32_t dtype) {
  switch (dtype) {
    case DLS_F32: case DLS_I32: return 4;
    case DLS_U8: return 1;
    case DLS_F16: case DLS_BF16: return 2;
    case DLS_I64: return 8;
    default: return 0;
  }
}

std::string shape_str(const dls_tensor_desc& d) {
  std::string s = "[";
  for (int i = 0; i < d.rank; ++i) s += (i ? ", " : "") + std::to_string(d.dims[i]);
  return s + "]";
}

const char* opcode_name(int32_t opcode) {
  const schema::OpRow* row = schema::find(opcode);
  return row ? row->name.data() : "unknown";
}

std::string op_location(const dls_rt* rt, int32_t op) {
  if (op < 0 || op >= (int32_t)rt->ops.size()) return rt->spec_path;
  const auto& d = rt->ops[op]->d;
  return fmt::format("{}:{}:{}", rt->spec_path, d.line, d.col);
}

void raise_pending(dls_rt* rt) {
  if (rt->error) {
    Fault f = *rt->error;
    rt->error.reset();
    throw f;
  }
}

void to_host(dls_rt* rt, void* host, const void* dev, size_t bytes) {
  char err[512] = "";
  check_be(rt, rt->be->copy_to_host(rt->ctx, host, dev, bytes, err, sizeof err), err);
}
void to_device(dls_rt* rt, void* dev, const void* host, size_t bytes) {
  char err[512] = "";
  check_be(rt, rt->be->copy_to_device(rt->ctx, dev, host, bytes, err, sizeof err), err);
}
int64_t labels_per_sample(const dls_rt* rt) {
  const dls_tensor_desc& y = rt->tensors[rt->io_labels].d;
  return y.dtype == DLS_I32 && y.dims[0] > 0 ? std::max<int64_t>(1, y.numel / y.dims[0]) : 1;
}
int64_t predicted_class(const float* row, int64_t c, float threshold) {
  if (c == 1) return row[0] > threshold ? 1 : 0;
  int64_t best = 0;
  for (int64_t i = 1; i < c; ++i)
    if (row[i] > row[best]) best = i;
  return best;
}
int32_t label_loss(const dls_rt* rt) {
  if (rt->heads.empty()) return rt->io_loss;
  for (const auto& h : rt->heads)
    if (h.target == rt->io_labels && h.output == rt->io_output) return h.loss;
  return -1;
}
float binary_threshold(const dls_rt* rt) {
  const int32_t loss = label_loss(rt);
  for (const auto& op : rt->ops)
    if (op->output == loss && op->output >= 0) return op->d.opcode == DLS_OP_BCE ? 0.5f : 0.f;
  return 0.f;
}
int64_t ignored_label(const dls_rt* rt) {
  const int32_t loss = label_loss(rt);
  for (const auto& op : rt->ops)
    if (op->output == loss && op->output >= 0) {
      // ops.def: cross_entropy's ignore_index is its second attribute, nll's its first.
      const size_t i = op->d.opcode == DLS_OP_CROSS_ENTROPY ? 1 : 0;
      if ((op->d.opcode == DLS_OP_CROSS_ENTROPY || op->d.opcode == DLS_OP_NLL) && op->attrs.size() > i)
        return int64_t(op->attrs[i]);
    }
  return -1;
}
bool can_capture(const dls_rt* rt) {
  return rt->be && rt->be->update_all && rt->be->begin_capture && rt->be->end_capture && rt->be->replay &&
         !rt->profile && !rt->check_outputs &&  // timing and output checks need each op to run as it is issued
         rt->ranks <= 1 && !rt->device_list;  // over ranks and replicas the update waits on collectives (GradReducer)
}
void capture_step(dls_rt* rt, dls_gen_fn step) {
  if (!can_capture(rt)) internal_error("capture_step: the backend has no step graphs");
  char err[512] = "";
  check_be(rt, rt->be->begin_capture(rt->ctx, err, sizeof err), err);
  rt->capturing = true;
  step(rt);
  rt->capturing = false;
  int rc = rt->be->end_capture(rt->ctx, err, sizeof err);  // ends the capture even after a fault in the step
  raise_pending(rt);
  check_be(rt, rc, err);
}
void replay_step(dls_rt* rt) {
  char err[512] = "";
  const int64_t t = rt->updates + 1;
  check_be(rt, rt->be->replay(rt->ctx, &rt->step, rt->lr_now, t, err, sizeof err), err);
  rt->updates = t;
}
void reset_clip_stats(dls_rt* rt) {
  if (!rt->clip_kind || !rt->be) return;
  const size_t bytes = kDlsClipStats * sizeof(double);
  if (!rt->clip_stats) {
    rt->clip_stats = static_cast<double*>(rt->be->alloc(rt->ctx, bytes));
    if (!rt->clip_stats) fail(Diag::R0503, rt->spec_path, bytes, "gradient clipping's counters");
  }
  char err[512] = "";
  check_be(rt, rt->be->zero(rt->ctx, rt->clip_stats, bytes, err, sizeof err), err);
}
ClipStats read_clip_stats(dls_rt* rt) {
  ClipStats c;
  if (!rt->clip_stats) return c;
  double v[3] = {0, 0, 0};
  to_host(rt, v, rt->clip_stats, sizeof v);
  c.clipped = v[0], c.measure_sum = v[1], c.steps = v[2];
  return c;
}
std::vector<float> read_tensor(dls_rt* rt, int32_t id) {
  const Tensor& t = tensor_at(rt, id, "read");
  std::vector<float> v(t.d.numel);
  if (t.d.dtype == DLS_F32) {
    to_host(rt, v.data(), t.d.data, t.bytes);
  } else if (t.d.dtype == DLS_I32) {
    std::vector<int32_t> iv(t.d.numel);
    to_host(rt, iv.data(), t.d.data, t.bytes);
    for (size_t i = 0; i < iv.size(); ++i) v[i] = float(iv[i]);
  } else {
    internal_error("read_tensor: unsupported dtype");
  }
  return v;
}
void write_tensor(dls_rt* rt, int32_t id, const void* host, size_t bytes) {
  const Tensor& t = tensor_at(rt, id, "write");
  if (bytes != t.bytes) internal_error(fmt::format("write_tensor {}: {} bytes for a {}-byte tensor", id, bytes, t.bytes));
  to_device(rt, t.d.data, host, bytes);
}

bool make_dirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    std::string prefix = path.substr(0, i);
    if (::mkdir(prefix.c_str(), 0777) != 0 && errno != EEXIST) return false;
  }
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::unique_ptr<dls_rt> make_runtime(int32_t threads) {
  auto rt = std::make_unique<dls_rt>();
  rt->threads = threads;
  return rt;
}

// The CPU backend's memory is the host's: each allocation is checked against what the process may use first.
void reserve_host(dls_rt* rt, uint64_t bytes, const std::string& what, bool on_host) {
  if (on_host || (rt->be && std::string(rt->be->name) == "cpu")) rt->host_budget.reserve(bytes, what, rt->spec_path);
}

}  // namespace dls

dls_rt::~dls_rt() {
  reducer.reset();
  if (!be) return;
  for (auto& g : gops)
    if (g->state) be->destroy_op(ctx, g->state);
  for (auto& o : ops)
    if (o->state) be->destroy_op(ctx, o->state);
  for (auto& p : params) {
    if (p.state0) be->free(ctx, p.state0);
    if (p.state1) be->free(ctx, p.state1);
    if (p.state2) be->free(ctx, p.state2);
  }
  for (auto& t : tensors)
    if (t.arena_offset < 0 && t.d.data) be->free(ctx, t.d.data);
  if (clip_stats) be->free(ctx, clip_stats);
  if (arena) be->free(ctx, arena);
  be->shutdown(ctx);
}

extern "C" {

void dls_rt_program(dls_rt* rt, const char* name, const char* spec_path, uint64_t layout_hash) {
  guarded(rt, 0, [&] {
    if (name) rt->name = name;
    if (spec_path) rt->spec_path = spec_path;
    rt->layout_hash = layout_hash;
    return 0;
  });
}

void dls_rt_placement(dls_rt* rt, int32_t device_kind, int32_t first_device, int32_t device_count) {
  guarded(rt, 0, [&] {
    if (rt->be) fail(Diag::R0504, "", "placement declared after tensors");
    if (device_kind != DLS_DEVICE_CPU && device_kind != DLS_DEVICE_CUDA)
      fail(Diag::R0504, "", fmt::format("unknown device kind {}", device_kind));
    if (device_count < 1) fail(Diag::R0504, "", fmt::format("a placement on {} devices", device_count));
    // Several devices are a device list's (dls_rt_device_list), which follows this call.
    rt->device_kind = device_kind, rt->first_device = first_device, rt->device_count = device_count;
    return 0;
  });
}

void dls_rt_train_config(dls_rt* rt, int64_t epochs, int64_t batch, int64_t seed) {
  guarded(rt, 0, [&] {
    if (epochs < 1 || batch < 1) fail(Diag::R0504, "", "epochs and batch must be >= 1");
    rt->epochs = epochs, rt->batch = batch, rt->seed = seed;
    rt->step.seed = (uint64_t)seed;
    return 0;
  });
}

void dls_rt_precision(dls_rt* rt, int32_t dtype) {
  guarded(rt, 0, [&] {
    if (!rt->ops.empty()) fail(Diag::R0504, "", "precision declared after ops");
    const char* name = dtype == DLS_F32 ? "f32" : dtype == DLS_BF16 ? "bf16" : dtype == DLS_F16 ? "f16" : nullptr;
    if (!name) fail(Diag::R0504, "", fmt::format("unknown precision {}", dtype));
    if (dtype == DLS_F16 || (dtype == DLS_BF16 && rt->device_kind != DLS_DEVICE_CPU))
      fail(Diag::R0410, "", name, rt->device_kind == DLS_DEVICE_CPU ? "CPU" : "CUDA",
           "only the CPU backend has reduced-precision (bf16) kernels");
    if (dtype == DLS_BF16 && !cpu_has_bf16_kernels())
      fail(Diag::R0410, "", name, "CPU",
           "this processor has no AVX-512, and oneDNN's bf16 kernels need it (avx512_core; `precision = f32` runs here)");
    rt->precision = dtype;
    if (dtype == DLS_BF16 && !cpu_has_native_bf16()) warn(Diag::R0412, "");
    return 0;
  });
}

void dls_rt_checkpoint(dls_rt* rt, const char* dir, int64_t every_epochs, int64_t keep) {
  guarded(rt, 0, [&] {
    rt->ckpt_dir = dir ? dir : "";
    rt->ckpt_every = every_epochs > 0 ? every_epochs : 1;
    rt->ckpt_keep = keep > 0 ? keep : 1;
    return 0;
  });
}

void dls_rt_validate(dls_rt* rt, int64_t every_epochs, int32_t metrics_mask) {
  guarded(rt, 0, [&] {
    rt->validate_every = every_epochs, rt->metrics_mask = metrics_mask;
    return 0;
  });
}

void dls_rt_metric_options(dls_rt* rt, int32_t top_k, int32_t precision_average, int32_t recall_average,
                           int32_t f1_average) {
  guarded(rt, 0, [&] {
    if (top_k < 1) fail(Diag::R0504, "", fmt::format("top_k's k is {}: it must be at least 1", top_k));
    const int32_t avg[3] = {precision_average, recall_average, f1_average};
    for (int i = 0; i < 3; ++i) {
      if (avg[i] != 0 && avg[i] != 1) fail(Diag::R0504, "", fmt::format("metric average {} is neither macro (0) nor micro (1)", avg[i]));
      rt->metric_average[i] = avg[i];
    }
    rt->metric_top_k = top_k;
    return 0;
  });
}

void dls_rt_validate_split(dls_rt* rt, int32_t split) {
  guarded(rt, 0, [&] {
    if (split != -1 && split != DLS_SPLIT_VALID && split != DLS_SPLIT_TEST)
      fail(Diag::R0504, "", fmt::format("validation split {} is neither valid (1), test (2) nor none (-1)", split));
    rt->validate_split = split;
    return 0;
  });
}

void dls_rt_optimizer(dls_rt* rt, int32_t kind, double lr, double momentum, double beta1, double beta2,
                      double eps, double weight_decay, int32_t flag) {
  guarded(rt, 0, [&] {
    if (kind < DLS_OPT_SGD || kind > DLS_OPT_LAMB) fail(Diag::R0504, "", fmt::format("unknown optimizer {}", kind));
    // The parameters' state buffers are sized by the optimizer (OptimizerConfig::state_slots).
    if (!rt->params.empty()) fail(Diag::R0504, "", "the optimizer must be set before the parameters are declared");
    rt->opt = {kind, lr, momentum, beta1, beta2, eps, weight_decay, flag};
    rt->lr_now = lr;
    return 0;
  });
}

void dls_rt_schedule(dls_rt* rt, int32_t kind, double a, double b, double c, double d) {
  guarded(rt, 0, [&] {
    if (kind < DLS_SCHED_CONSTANT || kind > DLS_SCHED_ONECYCLE) fail(Diag::R0504, "", fmt::format("unknown schedule {}", kind));
    if (kind == DLS_SCHED_ONECYCLE && !(a > 0 && b > 0 && b < 1 && c > 0 && d > 0))
      fail(Diag::R0504, "", fmt::format("onecycle needs max_lr > 0, 0 < pct_start < 1, div_factor > 0 and final_div_factor > 0, "
                                        "not {}, {}, {} and {}", a, b, c, d));
    rt->schedules.push_back({kind, a, b, c, d});
    return 0;
  });
}

void dls_rt_plateau(dls_rt* rt, int32_t monitor, double factor, int64_t patience, double min_delta, int64_t cooldown,
                    double min_lr) {
  guarded(rt, 0, [&] {
    if (monitor != DLS_METRIC_LOSS && monitor != DLS_METRIC_ACCURACY)
      fail(Diag::R0504, "", fmt::format("plateau monitors an unknown metric {}", monitor));
    if (!(factor > 0 && factor < 1) || patience < 0 || cooldown < 0 || !(min_delta >= 0) || !std::isfinite(min_delta) ||
        !(min_lr >= 0) || !std::isfinite(min_lr))
      fail(Diag::R0504, "", fmt::format("plateau needs 0 < factor < 1, patience, cooldown, min_delta and min_lr >= 0, not "
                                        "{}, {}, {}, {} and {}", factor, patience, cooldown, min_delta, min_lr));
    rt->plateau_monitor = monitor, rt->plateau_factor = factor, rt->plateau_patience = patience;
    rt->plateau_min_delta = min_delta, rt->plateau_cooldown = cooldown, rt->plateau_min_lr = min_lr;
    rt->plateau_best = monitor == DLS_METRIC_ACCURACY ? -INFINITY : INFINITY;
    rt->plateau_lr = rt->opt.lr, rt->plateau_bad = 0, rt->plateau_cooldown_left = 0;
    return 0;
  });
}

void dls_rt_clip(dls_rt* rt, int32_t kind, double threshold) {
  guarded(rt, 0, [&] {
    if (kind != DLS_CLIP_NORM && kind != DLS_CLIP_VALUE) fail(Diag::R0504, "", fmt::format("unknown gradient clipping {}", kind));
    if (!(threshold > 0) || !std::isfinite(threshold))
      fail(Diag::R0504, "", fmt::format("the gradient clipping threshold must be a positive number, not {}", threshold));
    rt->clip_kind = kind, rt->clip_threshold = threshold;
    return 0;
  });
}

void dls_rt_stop(dls_rt* rt, int32_t kind, int32_t monitor, int64_t patience, double min_delta) {
  guarded(rt, 0, [&] {
    if (kind != DLS_STOP_EARLY) fail(Diag::R0504, "", fmt::format("unknown stopping rule {}", kind));
    if (monitor != DLS_METRIC_LOSS && monitor != DLS_METRIC_ACCURACY)
      fail(Diag::R0504, "", fmt::format("early stopping monitors an unknown metric {}", monitor));
    if (patience < 1 || !(min_delta >= 0) || !std::isfinite(min_delta))
      fail(Diag::R0504, "", fmt::format("early stopping needs patience >= 1 and min_delta >= 0, not {} and {}", patience, min_delta));
    rt->stop_kind = kind, rt->stop_monitor = monitor, rt->stop_patience = patience, rt->stop_min_delta = min_delta;
    return 0;
  });
}

void dls_rt_accumulate(dls_rt* rt, int64_t micro_batches) {
  guarded(rt, 0, [&] {
    if (micro_batches < 1) fail(Diag::R0504, "", fmt::format("gradient accumulation needs at least 1 batch per step, not {}", micro_batches));
    rt->accumulate = micro_batches;
    return 0;
  });
}

void dls_rt_checkpoint_best(dls_rt* rt, int32_t metric, int32_t maximize) {
  guarded(rt, 0, [&] {
    const int32_t known = DLS_METRIC_LOSS | DLS_METRIC_ACCURACY | DLS_METRIC_TOP_K | DLS_METRIC_PRECISION | DLS_METRIC_RECALL |
                          DLS_METRIC_F1 | DLS_METRIC_MAE | DLS_METRIC_RMSE | DLS_METRIC_R2 | DLS_METRIC_AUC;
    if (metric <= 0 || (metric & (metric - 1)) != 0 || !(metric & known))
      fail(Diag::R0504, "", fmt::format("the best checkpoint watches an unknown metric {}", metric));
    rt->ckpt_best_metric = metric, rt->ckpt_best_max = maximize ? 1 : 0;
    return 0;
  });
}

void dls_rt_dataset(dls_rt* rt, int32_t split, int32_t format, const char* path_a, const char* path_b,
                    int32_t label_column, int32_t sample_rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                    int64_t classes) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    if (format < 0 || format > 4) fail(Diag::R0504, "", fmt::format("unknown data format {}", format));
    if (sample_rank < 1 || sample_rank > 4) fail(Diag::R0504, "", "sample rank must be 1..4");
    auto& dd = rt->data[split];
    dd.declared = true, dd.format = format;
    dd.path_a = path_a ? path_a : "", dd.path_b = path_b ? path_b : "";
    dd.label_column = label_column, dd.sample_rank = sample_rank;
    int64_t dims[4] = {d0, d1, d2, d3};
    for (int i = 0; i < 4; ++i) dd.dims[i] = i < sample_rank ? dims[i] : 1;
    dd.classes = classes;
    dd.threads = std::max<int32_t>(1, rt->threads);
    return 0;
  });
}

void dls_rt_images(dls_rt* rt, int32_t split, int64_t height, int64_t width, int32_t channels, int32_t resize) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    if (height < 0 || width < 0 || (height == 0) != (width == 0) || height > 65536 || width > 65536)
      fail(Diag::R0504, "", fmt::format("image size {}x{} is not one", height, width));
    if (channels != 0 && channels != 1 && channels != 3) fail(Diag::R0504, "", fmt::format("images have 1 or 3 channels, not {}", channels));
    if (resize < 0 || resize > 2) fail(Diag::R0504, "", fmt::format("unknown resize mode {}", resize));
    auto& dd = rt->data[split];
    dd.image_h = height, dd.image_w = width, dd.image_channels = channels, dd.image_resize = resize;
    return 0;
  });
}

void dls_rt_csv(dls_rt* rt, int32_t split, int32_t header, int64_t skip, int32_t sep, int32_t label_by_index,
                int64_t label_index) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    if (sep != ',' && sep != ';' && sep != '\t' && sep != ' ') fail(Diag::R0504, "", fmt::format("unknown CSV separator {}", sep));
    if (skip < 0) fail(Diag::R0504, "", fmt::format("{} preamble lines", skip));
    auto& dd = rt->data[split];
    dd.csv_header = header != 0, dd.csv_skip = skip, dd.csv_sep = static_cast<char>(sep);
    dd.csv_label_by_index = label_by_index != 0, dd.csv_label_index = label_index;
    return 0;
  });
}

void dls_rt_csv_columns(dls_rt* rt, int32_t split, const char* labels, int32_t impute, const char* fill) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    if (impute != 0 && impute != 1) fail(Diag::R0504, "", fmt::format("unknown CSV impute mode {}", impute));
    auto& dd = rt->data[split];
    dd.csv_labels.clear();
    std::string line;
    for (const char* p = labels ? labels : "";; ++p) {
      if (*p == '\n' || *p == 0) {
        if (!line.empty()) dd.csv_labels.push_back(line);
        line.clear();
        if (*p == 0) break;
      } else {
        line += *p;
      }
    }
    dd.csv_impute = impute != 0;
    dd.csv_fill.clear();
    for (const char* p = fill ? fill : ""; *p;) {
      char* end = nullptr;
      const double v = std::strtod(p, &end);
      if (end == p || !std::isfinite(v)) fail(Diag::R0504, "", "CSV fill values: not a list of finite numbers");
      dd.csv_fill.push_back(v);
      p = *end == ',' ? end + 1 : end;
      if (*end != ',' && *end != 0) fail(Diag::R0504, "", "CSV fill values: not a list of finite numbers");
    }
    if (dd.csv_impute && dd.csv_fill.empty()) fail(Diag::R0504, "", "CSV imputation without fill values");
    return 0;
  });
}

void dls_rt_csv_categories(dls_rt* rt, int32_t split, const char* columns) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    auto& dd = rt->data[split];
    if (!dls::csv::parse_categories(columns ? columns : "", dd.csv_categorical, dd.csv_categories))
      fail(Diag::R0504, "", "CSV categories: not lines of a column and its sorted, distinct values");
    return 0;
  });
}

void dls_rt_csv_label_file(dls_rt* rt, int32_t split, const char* path) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    if (!path || !*path) fail(Diag::R0504, "", "CSV label file: no path");
    rt->data[split].csv_label_file = path;
    return 0;
  });
}

void dls_rt_text(dls_rt* rt, int32_t split, int64_t seq, int32_t chars) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    if (seq < 1) fail(Diag::R0504, "", fmt::format("text windows of {} tokens", seq));
    rt->data[split].text_seq = seq, rt->data[split].text_chars = chars != 0;
    return 0;
  });
}

void dls_rt_vocabulary(dls_rt* rt, const char* tokens) {
  guarded(rt, 0, [&] {
    rt->vocab.clear();
    for (const char* p = tokens ? tokens : ""; *p;) {
      char* end = nullptr;
      const unsigned long v = std::strtoul(p, &end, 10);
      if (end == p || v > 0x10ffff || (!rt->vocab.empty() && v <= rt->vocab.back()))
        fail(Diag::R0504, "", "the vocabulary is not increasing token numbers");
      rt->vocab.push_back(uint32_t(v));
      p = *end == ',' ? end + 1 : end;
    }
    for (auto& dd : rt->data) dd.vocab = rt->vocab;
    return 0;
  });
}

void dls_rt_class_names(dls_rt* rt, const char* names) {
  guarded(rt, 0, [&] {
    rt->class_names.clear();
    std::string all = names ? names : "";
    size_t at = 0;
    while (at < all.size()) {
      size_t end = all.find('\n', at);
      if (end == std::string::npos) end = all.size();
      rt->class_names.push_back(all.substr(at, end - at));
      at = end + 1;
    }
    for (auto& dd : rt->data) dd.class_names = rt->class_names;
    return 0;
  });
}

void dls_rt_resume(dls_rt* rt, const char* path) {
  guarded(rt, 0, [&] {
    rt->resume_path = path ? path : "";
    return 0;
  });
}

void dls_rt_batching(dls_rt* rt, int32_t drop_last) {
  guarded(rt, 0, [&] {
    rt->drop_last = drop_last != 0;
    return 0;
  });
}

void dls_rt_sample_dtype(dls_rt* rt, int32_t split, int32_t dtype) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    if (dtype < DLS_F32 || dtype > DLS_I64) fail(Diag::R0504, "", fmt::format("unknown sample dtype {}", dtype));
    rt->data[split].dtype = dtype;
    return 0;
  });
}

void dls_rt_split(dls_rt* rt, double fraction) {
  guarded(rt, 0, [&] {
    if (fraction < 0 || fraction >= 1) fail(Diag::R0504, "", "split fraction must be in [0, 1)");
    rt->split_fraction = fraction;
    return 0;
  });
}

void dls_rt_pipe(dls_rt* rt, int32_t split, int32_t op, double a, double b, double c, double d) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    const int32_t base = op & ~int32_t{DLS_PIPE_LABELS};
    const bool augmentation = base >= DLS_PIPE_RANDOM_ROTATION && base <= DLS_PIPE_CUTMIX;
    const bool indices = base == DLS_PIPE_TO_I64 || base == DLS_PIPE_ONE_HOT;
    if ((base < DLS_PIPE_TO_F32 || base > DLS_PIPE_ONEHOT) && base != DLS_PIPE_ADD && base != DLS_PIPE_LOG1P && !augmentation && !indices)
      fail(Diag::R0504, "", fmt::format("unknown pipeline op {}", op));
    if (indices && (op & DLS_PIPE_LABELS))
      fail(Diag::R0504, "", fmt::format("pipeline op {} does not apply to the targets", base));
    if (base == DLS_PIPE_ONE_HOT && !(a >= 1 && b >= -1 && b == std::floor(b)))
      fail(Diag::R0504, "", "one_hot: the number of classes, and the element (-1: every one)");
    if (augmentation && (op & DLS_PIPE_LABELS))
      fail(Diag::R0504, "", fmt::format("pipeline op {} does not apply to the targets", base));
    // The augmentations' parameters (sema's ranges, checked again for a hand-written program).
    const auto& prev = rt->pipes[split];
    const bool ok = base == DLS_PIPE_RANDOM_ROTATION   ? a >= 0 && a <= 180
                    : base == DLS_PIPE_RANDOM_AFFINE   ? a >= 0 && a <= 180 && b >= 0 && b <= 1 && c >= 0 && c <= 1 && d >= 0 && d <= 60
                    : base == DLS_PIPE_PARAMS          ? !prev.empty() && (prev.back().op == DLS_PIPE_RANDOM_AFFINE ||
                                                                           prev.back().op == DLS_PIPE_RANDOM_ERASING) &&
                                                             a > 0 && a <= b
                    : base == DLS_PIPE_COLOR_JITTER    ? a >= 0 && b >= 0 && c >= 0 && d >= 0 && d <= 0.5
                    : base == DLS_PIPE_GAUSSIAN_NOISE  ? a >= 0
                    : base == DLS_PIPE_RANDOM_ERASING  ? a >= 0 && a <= 1 && b > 0 && b <= c && c <= 1
                    : base == DLS_PIPE_MIXUP || base == DLS_PIPE_CUTMIX ? a > 0
                                                        : true;
    if (!ok) fail(Diag::R0504, "", fmt::format("pipeline op {}: parameters {}, {}, {}, {} out of range", base, a, b, c, d));
    if ((op & DLS_PIPE_LABELS) && base != DLS_PIPE_TO_F32 && base != DLS_PIPE_SCALE && base != DLS_PIPE_NORMALIZE &&
        base != DLS_PIPE_ONEHOT && base != DLS_PIPE_ADD && base != DLS_PIPE_LOG1P)
      fail(Diag::R0504, "", fmt::format("pipeline op {} does not apply to the targets", base));
    if (base == DLS_PIPE_ONEHOT && (!(op & DLS_PIPE_LABELS) || !(a >= 1)))
      fail(Diag::R0504, "", "onehot: a step of the targets, with the number of classes");
    if (base == DLS_PIPE_RESHAPE && !(a >= 1))
      fail(Diag::R0504, "", "reshape: the sample shape needs at least one dimension");
    if (base == DLS_PIPE_NORMALIZE && b == 0) fail(Diag::R0504, "", "normalize: std must not be 0");
    rt->pipes[split].push_back({op, a, b, c, d});
    rt->pipes[split].back().field = rt->pipe_field[split];
    return 0;
  });
}

void dls_rt_pipe_features(dls_rt* rt, int32_t split, const char* offsets, const char* scales) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    auto numbers = [](const char* text, const char* what) {
      std::vector<float> out;
      for (const char* p = text ? text : ""; *p;) {
        char* end = nullptr;
        const double v = std::strtod(p, &end);
        if (end == p || !std::isfinite(v)) fail(Diag::R0504, "", fmt::format("per-feature {}: not a list of numbers", what));
        out.push_back(float(v));
        p = *end == ',' ? end + 1 : end;
      }
      return out;
    };
    PipeStep st;
    st.op = DLS_PIPE_FEATURES;
    st.offset = numbers(offsets, "offsets"), st.scale = numbers(scales, "scales");
    if (st.offset.empty() || st.offset.size() != st.scale.size())
      fail(Diag::R0504, "", fmt::format("per-feature step with {} offsets and {} scales", st.offset.size(), st.scale.size()));
    st.field = rt->pipe_field[split];
    rt->pipes[split].push_back(std::move(st));
    return 0;
  });
}

void dls_rt_arena(dls_rt* rt, int64_t bytes) {
  guarded(rt, 0, [&] {
    if (!rt->tensors.empty() || rt->arena) fail(Diag::R0504, "", "dls_rt_arena must come before any tensor, once");
    if (bytes < 0) fail(Diag::R0504, "", "negative arena size");
    ensure_backend(rt);
    rt->arena_bytes = bytes;
    if (bytes > 0) {
      reserve_host(rt, uint64_t(bytes), "the step's activations and gradients (the arena)");
      rt->arena = rt->be->alloc(rt->ctx, (size_t)bytes);
      if (!rt->arena) fail(Diag::R0503, "", human_bytes(double(bytes)), "the step arena");
    }
    return 0;
  });
}

int32_t dls_rt_tensor(dls_rt* rt, int32_t dtype, int32_t rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                      int64_t arena_offset) {
  return guarded(rt, (int32_t)-1, [&] {
    ensure_backend(rt);
    int32_t id = (int32_t)rt->tensors.size();
    if (rank < 0 || rank > 4 || dtype_size(dtype) == 0)
      fail(Diag::R0504, "", fmt::format("tensor {}: bad rank {} or dtype {}", id, rank, dtype));
    Tensor t;
    t.d.id = id, t.d.dtype = dtype, t.d.rank = rank;
    int64_t dims[4] = {d0, d1, d2, d3};
    t.d.numel = 1;
    for (int i = 0; i < 4; ++i) {
      t.d.dims[i] = i < rank ? dims[i] : 1;
      if (t.d.dims[i] < 1) fail(Diag::R0504, "", fmt::format("tensor {}: dimension {} is {}", id, i, t.d.dims[i]));
      t.d.numel *= t.d.dims[i];
    }
    t.bytes = (size_t)t.d.numel * dtype_size(dtype);
    t.arena_offset = arena_offset;
    if (arena_offset >= 0) {
      if (arena_offset + (int64_t)t.bytes > rt->arena_bytes || arena_offset % 4)
        fail(Diag::R0504, "", fmt::format("tensor {}: [{}, {}) is outside the {}-byte arena or misaligned", id,
                                          arena_offset, arena_offset + (int64_t)t.bytes, rt->arena_bytes));
      t.d.data = static_cast<char*>(rt->arena) + arena_offset;
    } else {
      reserve_host(rt, t.bytes, fmt::format("tensor {}", id));
      t.d.data = rt->be->alloc(rt->ctx, t.bytes);
      if (!t.d.data) fail(Diag::R0503, "", human_bytes(double(t.bytes)), fmt::format("tensor {}", id));
    }
    rt->tensors.push_back(t);
    return id;
  });
}

void dls_rt_device_list(dls_rt* rt, int32_t count, int32_t line, int32_t col) {
  guarded(rt, 0, [&] {
    if (rt->be) fail(Diag::R0504, "", "device list declared after tensors");
    if (count < 1 || count != rt->device_count)
      fail(Diag::R0504, "", fmt::format("a device list of {} devices after a placement on {}", count, rt->device_count));
    rt->device_list = true;
    rt->placement_where = fmt::format("{}:{}:{}", rt->spec_path, line, col);
    const dist::Comm& proc = dist::Comm::process();
    // Each rank on a machine drives its own `count` devices: rank i (among the ranks on this machine) the i-th group.
    const int32_t base = rt->first_device + (proc.size() > 1 ? int32_t(proc.local_rank()) * count : 0);
    if (rt->device_kind == DLS_DEVICE_CUDA && !rt->backend_override && !cpu_replicas(rt)) {
      const dls_backend_ext* ext = dls_cuda_backend_ext();
      if (ext && ext->version >= 4 && ext->device_count) {
        const int32_t have = ext->device_count();
        const int32_t used = rt->replicate ? count : 1;
        for (int32_t d = 0; d < used; ++d)
          if (base + d >= have)
            fail(Diag::R0515, rt->placement_where, fmt::format("cuda:{}", base + d), have,
                 proc.size() > 1 ? fmt::format(" (rank {} of {}, local rank {} on this machine, drives cuda:{} to cuda:{})", proc.rank(),
                                               proc.size(), proc.local_rank(), base, base + count - 1)
                                 : std::string());
      }
    }
    // Every replica of every process is a rank of the training (batch tensors take batch / ranks rows).
    if (rt->replicate) rt->ranks = proc.size() * count, rt->rank = proc.rank() * count + rt->replica;
    return 0;
  });
}

void dls_rt_batch_origin(dls_rt* rt, int32_t line, int32_t col) {
  guarded(rt, 0, [&] {
    rt->batch_where = fmt::format("{}:{}:{}", rt->spec_path, line, col);
    return 0;
  });
}

void dls_rt_batch_axes(dls_rt* rt, int32_t tensor, int32_t axes) {
  guarded(rt, 0, [&] {
    Tensor& t = const_cast<Tensor&>(tensor_at(rt, tensor, "batch axes"));
    rt->batch_axes = true;
    if (rt->ranks <= 1 || axes == 0) return 0;
    if (rt->batch % rt->ranks != 0) fail(Diag::R0510, rt->batch_where.empty() ? rt->spec_path : rt->batch_where, rt->batch, rt->ranks);
    for (const auto& o : rt->ops)
      for (const auto& d : o->tensors)
        if (d.id == tensor) fail(Diag::R0504, "", fmt::format("tensor {}: batch axes declared after an op uses it", tensor));
    // The tensor shrinks to this rank's share: within its arena slot, or a smaller persistent buffer.
    int64_t numel = 1;
    for (int i = 0; i < 4; ++i) {
      if ((axes >> i) & 1) {
        if (i >= t.d.rank || t.d.dims[i] != rt->batch)
          fail(Diag::R0504, "", fmt::format("tensor {}: dimension {} of {} is not the batch {}", tensor, i, shape_str(t.d), rt->batch));
        t.d.dims[i] = rt->batch / rt->ranks;
      }
      numel *= t.d.dims[i];
    }
    t.d.numel = numel;
    t.bytes = size_t(numel) * dtype_size(t.d.dtype);
    return 0;
  });
}

void dls_rt_param(dls_rt* rt, int32_t value, int32_t grad, const char* name, int32_t init, double a, double b,
                  int64_t fan_in, int64_t fan_out, int32_t trainable, int32_t decay) {
  guarded(rt, 0, [&] {
    const Tensor& v = tensor_at(rt, value, "parameter");
    Param p;
    p.value = value, p.grad = grad, p.name = name ? name : fmt::format("param{}", rt->params.size());
    p.init = init, p.a = a, p.b = b, p.fan_in = fan_in, p.fan_out = fan_out;
    p.trainable = trainable != 0, p.decay = decay != 0;
    if (v.arena_offset >= 0 || v.d.dtype != DLS_F32)
      fail(Diag::R0504, "", fmt::format("parameter '{}' must be a persistent f32 tensor", p.name));
    for (const auto& q : rt->params)
      if (q.name == p.name) fail(Diag::R0504, "", fmt::format("parameter name '{}' declared twice", p.name));
    if (p.trainable) {
      const Tensor& g = tensor_at(rt, grad, "parameter gradient");
      if (g.d.numel != v.d.numel || g.d.dtype != DLS_F32)
        fail(Diag::R0504, "", fmt::format("gradient of '{}' has a different shape", p.name));
      size_t bytes = (size_t)v.d.numel * 4;
      const int slots = rt->opt.state_slots();  // the update never reads a slot its optimizer does not keep
      reserve_host(rt, uint64_t(slots) * bytes, "the optimizer state of " + p.name);
      if (slots > 0) p.state0 = static_cast<float*>(rt->be->alloc(rt->ctx, bytes));
      if (slots > 1) p.state1 = static_cast<float*>(rt->be->alloc(rt->ctx, bytes));
      if (slots > 2) p.state2 = static_cast<float*>(rt->be->alloc(rt->ctx, bytes));
      if ((slots > 0 && !p.state0) || (slots > 1 && !p.state1) || (slots > 2 && !p.state2))
        fail(Diag::R0503, "", human_bytes(double(size_t(slots) * bytes)), "optimizer state of " + p.name);
    }
    std::vector<float> host((size_t)v.d.numel);
    init_values(p, (int64_t)rt->params.size(), (uint64_t)rt->seed, host);
    to_device(rt, v.d.data, host.data(), v.bytes);
    rt->params.push_back(p);
    return 0;
  });
}

int32_t dls_rt_op(dls_rt* rt, int32_t opcode, const int32_t* tensors, int32_t ntensors, const double* attrs,
                  int32_t nattrs, int32_t line, int32_t col) {
  return guarded(rt, (int32_t)-1, [&] {
    auto op = std::make_unique<Op>();
    op->d.id = (int32_t)rt->ops.size();
    op->opcode = op->d.opcode = opcode, op->d.line = line, op->d.col = col;
    rt->ops.push_back(std::move(op));  // pushed first so op_location() works in decode errors
    Op& o = *rt->ops.back();
    for (int i = 0; i < ntensors; ++i) o.tensors.push_back(desc_or_none(rt, tensors[i], "op"));
    o.attrs.assign(attrs, attrs + (nattrs > 0 ? nattrs : 0));
    try {
      decode_op(rt, o);
    } catch (...) {
      rt->ops.pop_back();
      throw;
    }
    o.d.ntensors = (int32_t)o.tensors.size(), o.d.tensors = o.tensors.data();
    o.d.nattrs = (int32_t)o.attrs.size(), o.d.attrs = o.attrs.data();
    // Class-probability targets of cross_entropy (mixup, cutmix) have a CPU kernel only.
    if (opcode == DLS_OP_CROSS_ENTROPY && o.tensors.size() > 1 && o.tensors[1].dtype == DLS_F32 &&
        rt->device_kind != DLS_DEVICE_CPU) {
      std::string where = op_location(rt, o.d.id);
      rt->ops.pop_back();
      fail(Diag::R0240, where, "cross_entropy", "CUDA");
    }
    o.d.precision = rt->precision == DLS_BF16 && schema::bf16Kernel(opcode) ? DLS_BF16 : DLS_F32;
    if (o.d.precision == DLS_BF16) {
      // The bf16 copies the backend keeps for the op's products (OpSchema.h bf16CopyBytes).
      int64_t in = 0, w = 0, out = 0;
      if (const schema::OpRow* row = schema::find(opcode))
        for (size_t i = 0; i < row->tensors.size() && i < o.tensors.size(); ++i) {
          const char l = row->tensors[i];
          const int64_t n = o.tensors[i].id >= 0 ? o.tensors[i].numel : 0;
          if (l == 'x' && !in) in = n;
          if (l == 'p' || l == 'q') w += l == 'p' ? n : 0;
          if (l == 'y') out = n;
        }
      reserve_host(rt, uint64_t(schema::bf16CopyBytes(opcode, in, w, out, true)),
                   fmt::format("the bf16 copies of op {} ({})", o.d.id, opcode_name(opcode)));
    }
    char err[512] = "";
    int rc = rt->be->create_op(rt->ctx, &o.d, &o.state, err, sizeof err);
    if (rc) {
      std::string where = op_location(rt, o.d.id);
      rt->ops.pop_back();
      check_be(rt, rc, err, where);
    }
    return o.d.id;
  });
}

int32_t dls_rt_grad_op(dls_rt* rt, int32_t fwd_op, int32_t dout, const int32_t* dins, int32_t nins,
                       int32_t accumulate_mask) {
  return guarded(rt, (int32_t)-1, [&] {
    if (fwd_op < 0 || fwd_op >= (int32_t)rt->ops.size())
      fail(Diag::R0504, "", fmt::format("gradient op of undeclared op {}", fwd_op));
    Op& f = *rt->ops[fwd_op];
    auto g = std::make_unique<GradOp>();
    g->d.id = (int32_t)rt->gops.size();
    g->d.fwd = &f.d, g->d.fwd_state = f.state;
    g->d.dout = desc_or_none(rt, dout, "gradient op");
    bool loss = schema::isLoss(f.d.opcode);
    if (!loss && dout < 0) fail(Diag::R0504, op_location(rt, fwd_op), "gradient op needs d(output)");
    if (!loss && g->d.dout.numel != rt->tensors[f.output].d.numel)
      fail(Diag::R0504, op_location(rt, fwd_op), "d(output) has a different size than the output");
    for (int i = 0; i < nins; ++i) {
      g->dins.push_back(desc_or_none(rt, dins[i], "gradient op"));
      if (dins[i] >= 0 && i < f.d.ntensors && g->dins.back().numel != f.tensors[i].numel)
        fail(Diag::R0504, op_location(rt, fwd_op), fmt::format("d(input {}) has a different size than input {}", i, i));
    }
    g->d.nins = nins, g->d.dins = g->dins.data();
    g->d.accumulate_mask = (uint32_t)accumulate_mask;
    int np = 0;
    for (int i = 0; i < f.d.ntensors && np < 4; ++i)
      for (const auto& p : rt->params)
        if (p.value == f.tensors[i].id && f.tensors[i].id >= 0 && p.trainable) g->d.dparams[np++] = rt->tensors[p.grad].d;
    for (int i = np; i < 4; ++i) g->d.dparams[i].id = -1;
    g->dparam_of.assign(size_t(f.d.ntensors), dls_tensor_desc{});
    for (int i = 0; i < f.d.ntensors; ++i) {
      g->dparam_of[size_t(i)].id = -1;
      for (const auto& p : rt->params)
        if (p.value == f.tensors[i].id && f.tensors[i].id >= 0 && p.trainable) g->dparam_of[size_t(i)] = rt->tensors[p.grad].d;
    }
    g->d.dparam_of = g->dparam_of.data();
    char err[512] = "";
    check_be(rt, rt->be->create_grad_op(rt->ctx, &g->d, &g->state, err, sizeof err), err, op_location(rt, fwd_op));
    rt->gops.push_back(std::move(g));
    return rt->gops.back()->d.id;
  });
}

void dls_rt_io(dls_rt* rt, int32_t input, int32_t labels, int32_t output, int32_t loss) {
  guarded(rt, 0, [&] {
    tensor_at(rt, input, "io input"), tensor_at(rt, labels, "io labels");
    tensor_at(rt, output, "io output"), tensor_at(rt, loss, "io loss");
    rt->io_input = input, rt->io_labels = labels, rt->io_output = output, rt->io_loss = loss;
    for (auto& d : rt->data) d.label_numel = labels_per_sample(rt);
    return 0;
  });
}

void dls_rt_head(dls_rt* rt, int32_t output, int32_t target, const char* name, double weight, int32_t loss) {
  guarded(rt, 0, [&] {
    tensor_at(rt, output, "head output"), tensor_at(rt, target, "head target"), tensor_at(rt, loss, "head loss");
    if (!name || !*name) internal_error("dls_rt_head: an output without a name");
    dls_rt::Head h;
    h.output = output, h.target = target, h.loss = loss, h.name = name, h.weight = weight;
    rt->heads.push_back(std::move(h));
    return 0;
  });
}

void dls_rt_fwd(dls_rt* rt, int32_t op) {
  guarded(rt, 0, [&] {
    if (op < 0 || op >= (int32_t)rt->ops.size()) internal_error(fmt::format("dls_rt_fwd: no op {}", op));
    Op& o = *rt->ops[op];
    char err[512] = "";
    auto t0 = prof_now();
    check_be(rt, rt->be->fwd(rt->ctx, &o.d, o.state, &rt->step, err, sizeof err), err, op_location(rt, op));
    if (rt->profile) {
      rt->op_seconds.resize(rt->ops.size());
      rt->op_seconds[op] += std::chrono::duration<double>(prof_now() - t0).count();
    }
    if (rt->check_outputs && rt->first_nonfinite_op < 0) {
      std::vector<float> out = read_tensor(rt, o.output);
      for (float v : out)
        if (!std::isfinite(v)) {
          rt->first_nonfinite_op = op;
          break;
        }
    }
    return 0;
  });
}

void dls_rt_bwd(dls_rt* rt, int32_t grad_op) {
  guarded(rt, 0, [&] {
    if (grad_op < 0 || grad_op >= (int32_t)rt->gops.size()) internal_error(fmt::format("dls_rt_bwd: no gradient op {}", grad_op));
    GradOp& g = *rt->gops[grad_op];
    char err[512] = "";
    auto t0 = prof_now();
    check_be(rt, rt->be->bwd(rt->ctx, &g.d, g.state, &rt->step, err, sizeof err), err, op_location(rt, g.d.fwd->id));
    if (rt->profile) {
      rt->gop_seconds.resize(rt->gops.size());
      rt->gop_seconds[grad_op] += std::chrono::duration<double>(prof_now() - t0).count();
    }
    // Over MPI ranks: the gradients this op finished start their all-reduce (not in a re-run without update).
    if (rt->reducer && !rt->suppress_update) rt->reducer->after_bwd(g.d);
    return 0;
  });
}

void dls_rt_zero(dls_rt* rt, int32_t tensor) {
  guarded(rt, 0, [&] {
    const Tensor& t = tensor_at(rt, tensor, "zero");
    char err[512] = "";
    check_be(rt, rt->be->zero(rt->ctx, t.d.data, t.bytes, err, sizeof err), err);
    return 0;
  });
}

void dls_rt_update(dls_rt* rt) {
  guarded(rt, 0, [&] {
    if (rt->suppress_update) return 0;
    auto t0 = prof_now();
    const OptimizerConfig& o = rt->opt;
    if (rt->accumulate > 1) {
      // Gradient accumulation: this batch's gradients, weighted by its real rows, join its group's; the group's
      // last batch updates with their row-weighted mean (each batch's loss scaled by its share of the group's
      // rows, as loss * rows / group_rows before backward() in PyTorch). Steps with accumulation are never
      // captured (StepRunner), so this runs eagerly on every backend, through host copies.
      if (rt->capturing) internal_error("a step with gradient accumulation cannot be captured");
      const double w = double(rt->step.valid_rows);
      size_t k = 0;
      std::vector<float> host;
      for (auto& p : rt->params) {
        if (!p.trainable) continue;
        const Tensor& g = rt->tensors[p.grad];
        if (rt->accum.size() <= k) rt->accum.emplace_back();
        auto& a = rt->accum[k++];
        host.resize(size_t(g.d.numel));
        to_host(rt, host.data(), g.d.data, g.bytes);
        if (a.size() != host.size()) {
          reserve_host(rt, uint64_t(host.size()) * 8, fmt::format("the accumulated gradient of '{}'", p.name), true);
          a.assign(host.size(), 0.0);
        }
        for (size_t i = 0; i < host.size(); ++i) a[i] += w * double(host[i]);
      }
      rt->accum_rows += w;
      if (!rt->accum_last) return 0;
      k = 0;
      for (auto& p : rt->params) {
        if (!p.trainable) continue;
        const Tensor& g = rt->tensors[p.grad];
        auto& a = rt->accum[k++];
        host.resize(a.size());
        for (size_t i = 0; i < a.size(); ++i) host[i] = float(a[i] / rt->accum_rows), a[i] = 0.0;
        to_device(rt, g.d.data, host.data(), g.bytes);
      }
      rt->accum_rows = 0;
    }
    // While a step graph is captured, nothing runs: replay counts the update and passes its t.
    const int64_t t = rt->capturing ? rt->updates + 1 : ++rt->updates;
    auto& us = rt->update_descs;
    us.clear();
    for (auto& p : rt->params) {
      if (!p.trainable) continue;
      const Tensor& v = rt->tensors[p.value];
      dls_update_desc u{};
      u.kind = o.kind;
      u.param = static_cast<float*>(v.d.data);
      u.grad = static_cast<const float*>(rt->tensors[p.grad].d.data);
      u.state0 = p.state0, u.state1 = p.state1, u.numel = v.d.numel;
      u.lr = rt->lr_now, u.momentum = o.momentum, u.beta1 = o.beta1, u.beta2 = o.beta2, u.eps = o.eps;
      u.weight_decay = p.decay ? o.weight_decay : 0.0;
      u.nesterov = o.nesterov, u.t = t, u.state2 = p.state2;
      us.push_back(u);
    }
    // Over MPI ranks: every gradient summed over the ranks, and the loss made the global batch's, before
    // clipping and the optimizer read them.
    if (rt->reducer) rt->reducer->reduce();
    const float* loss = rt->io_loss >= 0 ? static_cast<const float*>(rt->tensors[rt->io_loss].d.data) : nullptr;
    char err[512] = "";
    if (rt->clip_kind && !us.empty()) {
      // Clipping: after the backward pass, before the optimizer (and its weight decay) reads the gradients.
      if (!rt->be->clip) fail(Diag::R0504, rt->spec_path, fmt::format("backend '{}' cannot clip gradients", rt->be->name));
      if (!rt->clip_stats) {
        if (rt->capturing) internal_error("gradient clipping's counters must exist before a step is captured");
        reset_clip_stats(rt);
      }
      auto& gs = rt->clip_grads;
      auto& ns = rt->clip_numels;
      gs.clear(), ns.clear();
      for (const dls_update_desc& u : us) gs.push_back(const_cast<float*>(u.grad)), ns.push_back(u.numel);
      check_be(rt, rt->be->clip(rt->ctx, rt->clip_kind, rt->clip_threshold, gs.data(), ns.data(), int32_t(gs.size()),
                                loss, rt->clip_stats, err, sizeof err), err);
    }
    if (rt->be->update_all) {
      // One call; a non-finite loss is detected where it lives (on a GPU without a host round trip).
      if (!us.empty()) check_be(rt, rt->be->update_all(rt->ctx, us.data(), int32_t(us.size()), loss, err, sizeof err), err);
    } else {
      if (rt->capturing) internal_error("step capture needs a backend with update_all");
      float host_loss = 0;
      if (loss) to_host(rt, &host_loss, loss, 4);
      if (!loss || std::isfinite(host_loss))
        for (const dls_update_desc& u : us) check_be(rt, rt->be->update(rt->ctx, &u, err, sizeof err), err);
    }
    if (rt->profile) rt->update_seconds += std::chrono::duration<double>(prof_now() - t0).count();
    return 0;
  });
}

}  // extern "C"

void dls_rt_sample_field(dls_rt* rt, int32_t split, int32_t field, const char* name, const char* path, int32_t dtype,
                         int32_t rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    auto& dd = rt->data[split];
    if (!dd.declared) fail(Diag::R0504, "", fmt::format("sample field {} of split {} before its dls_rt_dataset", field, split));
    if (dd.format != DLS_DATA_NPY && dd.format != DLS_DATA_IDX && dd.format != DLS_DATA_CSV)
      fail(Diag::R0504, "", "several sample fields are read from IDX, .npy or CSV files only");
    if (field == 0) {
      if (!name || !*name) fail(Diag::R0504, "", "sample field 0 without a name");
      dd.sample_name = name;
      return 0;
    }
    if (field != int32_t(dd.fields.size()) + 1) fail(Diag::R0504, "", fmt::format("sample field {} out of order", field));
    if (rank < 1 || rank > 4) fail(Diag::R0504, "", "sample rank must be 1..4");
    if (dtype < -1 || dtype > DLS_I64) fail(Diag::R0504, "", fmt::format("unknown sample dtype {}", dtype));
    DataDecl::Field f;
    f.name = name ? name : "", f.path = path ? path : "", f.dtype = dtype, f.rank = rank;
    const int64_t dims[4] = {d0, d1, d2, d3};
    for (int i = 0; i < 4; ++i) f.dims[i] = i < rank ? dims[i] : 1;
    // A CSV split's further fields are groups of its columns (dls_rt_csv_field), not files.
    if (f.name.empty() || (f.path.empty() != (dd.format == DLS_DATA_CSV)))
      fail(Diag::R0504, "", dd.format == DLS_DATA_CSV ? "a CSV split's sample field needs a name and no file"
                                                     : "a sample field needs a name and a file");
    dd.fields.push_back(std::move(f));
    return 0;
  });
}

void dls_rt_pipe_field(dls_rt* rt, int32_t split, int32_t field) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    if (field < 0 || field > int32_t(rt->data[split].fields.size()))
      fail(Diag::R0504, "", fmt::format("split {} has no sample field {}", split, field));
    rt->pipe_field[split] = field;
    return 0;
  });
}

void dls_rt_input(dls_rt* rt, int32_t field, int32_t tensor) {
  guarded(rt, 0, [&] {
    tensor_at(rt, tensor, "field input");
    if (rt->io_input < 0) fail(Diag::R0504, "", "dls_rt_input before dls_rt_io");
    if (field < 1 || field > 64) fail(Diag::R0504, "", fmt::format("unknown sample field {}", field));
    if (rt->tensors[size_t(tensor)].d.dims[0] != rt->tensors[size_t(rt->io_input)].d.dims[0])
      fail(Diag::R0504, "", fmt::format("the input of sample field {} does not have the batch size", field));
    if (rt->io_fields.size() < size_t(field)) rt->io_fields.resize(size_t(field), -1);
    rt->io_fields[size_t(field - 1)] = tensor;
    return 0;
  });
}

void dls_rt_watch_output(dls_rt* rt, int32_t rule, const char* output, int32_t metric) {
  guarded(rt, 0, [&] {
    if (!output || !*output) fail(Diag::R0504, "", "dls_rt_watch_output: an output without a name");
    const bool named = std::any_of(rt->heads.begin(), rt->heads.end(), [&](const dls_rt::Head& h) { return h.name == output; });
    if (!named) fail(Diag::R0504, "", fmt::format("dls_rt_watch_output: no loss term names output `{}`", output));
    if (metric != DLS_METRIC_LOSS && metric != DLS_METRIC_ACCURACY && metric != DLS_METRIC_MAE && metric != DLS_METRIC_RMSE)
      fail(Diag::R0504, "", fmt::format("an output's metric {} is not reported (loss, accuracy, mae, rmse)", metric));
    if (rule == 1) {
      if (rt->ckpt_best_metric != metric) fail(Diag::R0504, "", "dls_rt_watch_output: not the best checkpoint's metric");
      rt->ckpt_best_output = output;
    } else if (rule == 2) {
      if (rt->stop_kind == 0) fail(Diag::R0504, "", "dls_rt_watch_output: no stopping rule");
      rt->stop_monitor = metric;
      rt->stop_output = output;
    } else if (rule == 3) {
      if (rt->plateau_monitor == 0) fail(Diag::R0504, "", "dls_rt_watch_output: no plateau schedule");
      rt->plateau_monitor = metric;
      rt->plateau_output = output;
      rt->plateau_best = metric == DLS_METRIC_ACCURACY ? -INFINITY : INFINITY;  // mode max for _acc, min for the others
    } else {
      fail(Diag::R0504, "", fmt::format("dls_rt_watch_output: unknown rule {}", rule));
    }
    return 0;
  });
}

void dls_rt_csv_field(dls_rt* rt, int32_t split, int32_t field, int64_t first, int64_t end) {
  guarded(rt, 0, [&] {
    if (split < 0 || split > 2) fail(Diag::R0504, "", fmt::format("unknown split {}", split));
    auto& dd = rt->data[split];
    if (!dd.declared || dd.format != DLS_DATA_CSV)
      fail(Diag::R0504, "", fmt::format("column group of split {}, which is not a declared CSV split", split));
    if (field != int32_t(dd.csv_field_columns.size()) || field > int32_t(dd.fields.size()))
      fail(Diag::R0504, "", fmt::format("column group of sample field {} out of order", field));
    if (first < 0 || end <= first) fail(Diag::R0504, "", fmt::format("column group [{}, {}) is empty", first, end));
    dd.csv_field_columns.emplace_back(first, end);
    return 0;
  });
}

