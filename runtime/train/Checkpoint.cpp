#include "Checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "CheckpointFile.h"
#include "RunDir.h"

namespace dls {

namespace {

// The format is read by data/formats/CheckpointFile.h, shared with `dlspec export`; written here.
const char* const kMagic = data::kCheckpointMagic;
const uint32_t kVersion = data::kCheckpointVersion;
using Made = data::CheckpointMade;  // what made a checkpoint (version 2 on)
const size_t kMadeBytes = data::kCheckpointMadeBytes;

const char* schedule_name(int32_t k) {
  switch (k) {
    case DLS_SCHED_CONSTANT: return "constant";
    case DLS_SCHED_STEP: return "step";
    case DLS_SCHED_MULTISTEP: return "multistep";
    case DLS_SCHED_COSINE: return "cosine";
    case DLS_SCHED_WARMUP: return "warmup";
    case DLS_SCHED_EXPONENTIAL: return "exponential";
    case DLS_SCHED_TIME_DECAY: return "time_decay";
    case DLS_SCHED_ONECYCLE: return "onecycle";
    default: return "plateau";
  }
}

// Version 6's named settings: what else changes a run's meaning, as a resume compares them (check_made), and the
// metric each rule watches (restore_rules).
std::vector<std::pair<std::string, std::string>> settings_of(const dls_rt* rt) {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("accumulate", fmt::format("{} step{}", rt->accumulate, rt->accumulate == 1 ? "" : "s"));
  out.emplace_back("clip", rt->clip_kind == DLS_CLIP_NORM    ? fmt::format("norm({:g})", rt->clip_threshold)
                           : rt->clip_kind == DLS_CLIP_VALUE ? fmt::format("value({:g})", rt->clip_threshold)
                                                             : std::string("none"));
  std::string sched;
  for (const auto& c : rt->schedules)
    sched += fmt::format("{}{}({:g}, {:g}, {:g}, {:g})", sched.empty() ? "" : ", ", schedule_name(c.kind), c.a, c.b, c.c, c.d);
  out.emplace_back("schedule", sched.empty() ? std::string("none") : sched);
  if (rt->plateau_monitor)
    out.emplace_back("plateau", fmt::format("factor {:g}, patience {}, min_delta {:g}, cooldown {}, min_lr {:g}", rt->plateau_factor,
                                            rt->plateau_patience, rt->plateau_min_delta, rt->plateau_cooldown, rt->plateau_min_lr));
  if (rt->stop_kind)
    out.emplace_back("stop", fmt::format("patience {}, min_delta {:g}", rt->stop_patience, rt->stop_min_delta));
  if (rt->stop_kind) out.emplace_back("stop.monitor", monitor_name(rt->stop_output, rt->stop_monitor));
  if (rt->plateau_monitor) out.emplace_back("plateau.monitor", monitor_name(rt->plateau_output, rt->plateau_monitor));
  if (rt->ckpt_best_metric) out.emplace_back("best.monitor", monitor_name(rt->ckpt_best_output, rt->ckpt_best_metric));
  return out;
}

Made made_by(const dls_rt* rt) {
  Made m;
  m.kind = rt->opt.kind, m.lr = rt->opt.lr, m.momentum = rt->opt.momentum, m.beta1 = rt->opt.beta1;
  m.beta2 = rt->opt.beta2, m.eps = rt->opt.eps, m.weight_decay = rt->opt.weight_decay, m.nesterov = rt->opt.nesterov;
  m.batch = rt->batch, m.structure = structure_hash(rt), m.data = rt->data_fingerprint;
  m.precision = rt->precision;
  m.plateau = rt->plateau_monitor;
  m.plateau_lr = rt->plateau_lr, m.plateau_best = rt->plateau_best;
  m.plateau_bad = rt->plateau_bad, m.plateau_cooldown_left = rt->plateau_cooldown_left;
  m.val_loss = rt->last_val_loss, m.val_acc = rt->last_val_acc;
  m.stop = rt->stop_kind ? rt->stop_monitor : 0;
  m.stop_best = rt->stop_best, m.stop_best_epoch = rt->stop_best_epoch, m.stop_bad = rt->stop_bad;
  m.best_metric = rt->ckpt_best_metric, m.best_value = rt->ckpt_best_value, m.best_epoch = rt->ckpt_best_epoch;
  m.settings = settings_of(rt);
  return m;
}

const char* precision_name(int32_t p) { return p == DLS_BF16 ? "bf16" : p == DLS_F16 ? "f16" : "f32"; }

const char* optimizer_name(int32_t k) {
  switch (k) {
    case DLS_OPT_SGD: return "sgd";
    case DLS_OPT_ADAM: return "adam";
    case DLS_OPT_ADAMW: return "adamw";
    case DLS_OPT_RMSPROP: return "rmsprop";
    case DLS_OPT_ADADELTA: return "adadelta";
    case DLS_OPT_NADAM: return "nadam";
    case DLS_OPT_ADAGRAD: return "adagrad";
    case DLS_OPT_LAMB: return "lamb";
    default: return "an unknown optimizer";
  }
}

const size_t kChunk = size_t(1) << 20;  // the most of a checkpoint held in memory at once, either way

using FileReader = data::CheckpointReader;

// Buffered writes to a file descriptor with a running CRC: memory stays bounded by the buffer and the
// largest tensor, however large the checkpoint.
struct FileWriter {
  int fd;
  std::string buf, why;
  uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
  template <class T>
  void put(const T& v) { bytes(&v, sizeof v); }
  void bytes(const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      size_t take = std::min(n, kChunk);
      crc = (uint32_t)crc32(crc, reinterpret_cast<const Bytef*>(c), (uInt)take);
      buf.append(c, take);
      c += take, n -= take;
      if (buf.size() >= kChunk) flush();
    }
  }
  bool flush() {
    if (why.empty() && !buf.empty() && !write_all(fd, buf.data(), buf.size(), why)) return false;
    buf.clear();
    return why.empty();
  }
  static bool write_all(int fd, const char* p, size_t n, std::string& why) {
    while (n > 0) {
      ssize_t w = ::write(fd, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        why = std::strerror(errno);
        if (errno == ENOSPC) why += " (disk full)";
        if (errno == EFBIG) why += " (file size limit reached)";
        return false;
      }
      p += w, n -= size_t(w);
    }
    return true;
  }
};

struct Entry {
  std::string name;
  const Tensor* t = nullptr;  // value tensors
  float* state = nullptr;     // optimizer state
  int64_t numel = 0;
  dls_tensor_desc shape{};
};

std::vector<Entry> entries(dls_rt* rt) {
  std::vector<Entry> out;
  for (const auto& p : rt->params) {
    const Tensor& t = rt->tensors[p.value];
    out.push_back({p.name, &t, nullptr, t.d.numel, t.d});
    if (p.state0) out.push_back({p.name + "#0", nullptr, p.state0, t.d.numel, t.d});
    if (p.state1) out.push_back({p.name + "#1", nullptr, p.state1, t.d.numel, t.d});
    if (p.state2) out.push_back({p.name + "#2", nullptr, p.state2, t.d.numel, t.d});
  }
  return out;
}

std::vector<std::pair<int64_t, std::string>> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() == 16 && n.rfind("ckpt-", 0) == 0 && n.compare(11, 5, ".dlsc") == 0 &&
        n.find_first_not_of("0123456789", 5) == 11)
      out.push_back({std::atoll(n.substr(5, 6).c_str()), dir + "/" + n});
  }
  closedir(d);
  std::sort(out.begin(), out.end(), std::greater<>());
  return out;
}

// The size of this program's checkpoint file, the most a reader accepts.
size_t expected_size(const dls_rt* rt, const std::vector<Entry>& es) {
  Made m;
  m.settings = settings_of(rt);
  size_t n = 8 + 4 + 8 + 8 + 8 + 8 + 8 + kMadeBytes + data::checkpointSettingsBytes(m) + 4 + 4;
  for (const auto& e : es) n += 4 + e.name.size() + 4 + 32 + 8 + size_t(e.numel) * 4;
  return n;
}

// Adam/AdamW with amsgrad keeps a third state buffer (max_exp_avg_sq): another optimizer to a resume.
std::string optimizer_desc(const Made& m) {
  const bool ams = (m.kind == DLS_OPT_ADAM || m.kind == DLS_OPT_ADAMW) && m.nesterov;
  return fmt::format("optimizer {}{}", optimizer_name(m.kind), ams ? "(amsgrad: true)" : "");
}
// sgd and rmsprop keep a momentum buffer only with momentum: one without it is another optimizer to a resume too.
std::string optimizer_state_desc(const Made& m) {
  const int slots = dls_optimizer_state_slots(m.kind, m.momentum, m.nesterov);
  if (m.kind != DLS_OPT_SGD && m.kind != DLS_OPT_RMSPROP) return optimizer_desc(m);
  return fmt::format("{}(momentum: {:g}), which keeps {} state tensor{} per parameter", optimizer_desc(m), m.momentum, slots,
                     slots == 1 ? "" : "s");
}
void refuse_other_optimizer(const std::string& path, const Made& m, const Made& now) {
  if (optimizer_desc(m) == optimizer_desc(now)) {
    const int a = dls_optimizer_state_slots(m.kind, m.momentum, m.nesterov);
    const int b = dls_optimizer_state_slots(now.kind, now.momentum, now.nesterov);
    if (a == b) return;
    Fault f = make_fault(Diag::R0307, path, path, optimizer_state_desc(m), optimizer_state_desc(now));
    f.notes.push_back("the momentum buffers cannot be made up or dropped without changing what the next steps do");
    f.notes.push_back("resume with the checkpoint's momentum, or train from scratch into another checkpoint directory");
    throw f;
  }
  Fault f = make_fault(Diag::R0307, path, path, optimizer_desc(m), optimizer_desc(now));
  f.notes.push_back("its saved state (momentum, moment estimates) means something else to another optimizer");
  f.notes.push_back("train from scratch into another checkpoint directory, or `train --overwrite` to replace this run");
  throw f;
}

// Checks what made a checkpoint against this program when training continues from it.
void check_made(const dls_rt* rt, const std::string& path, const Made& m, uint32_t h_version) {
  const Made now = made_by(rt);
  if (m.structure != now.structure) {
    Fault f = make_fault(Diag::R0307, path, path, "another network structure", "this spec's network");
    f.notes.push_back(fmt::format("the ops, their attributes or the shapes differ (structure hash {:016x}, this program {:016x})",
                                  m.structure, now.structure));
    f.notes.push_back("train from scratch into another checkpoint directory, or `train --overwrite` to replace this run");
    throw f;
  }
  refuse_other_optimizer(path, m, now);
  // Every changed setting, old → new, in one warning.
  std::vector<std::string> list;
  auto changed = [&](const char* what, double a, double b) {
    if (a != b) list.push_back(fmt::format("{} {:g} → {:g}", what, a, b));
  };
  changed("lr", m.lr, now.lr);
  changed(m.kind == DLS_OPT_NADAM ? "momentum_decay" : "momentum", m.momentum, now.momentum);
  changed("beta1", m.beta1, now.beta1);
  changed(m.kind == DLS_OPT_RMSPROP ? "alpha" : m.kind == DLS_OPT_ADADELTA ? "rho" : "beta2", m.beta2, now.beta2);
  changed("eps", m.eps, now.eps);
  changed("weight_decay", m.weight_decay, now.weight_decay);
  if (m.kind == DLS_OPT_SGD) changed("nesterov", m.nesterov, now.nesterov);
  // Format 6 names the plateau's metric (restore_rules compares the names); up to 5 its code.
  if (h_version < 6 && now.plateau && m.plateau != now.plateau)
    list.push_back(fmt::format("{} → plateau (its rate, best value and counts start afresh from the optimizer's lr)",
                               m.plateau ? "plateau on another metric" : "no plateau schedule"));
  changed("batch size", double(m.batch), double(now.batch));
  // Format 6: accumulate, clip, the schedules, the plateau's and early stopping's settings.
  for (const auto& [key, value] : now.settings) {
    if (key.find('.') != std::string::npos) continue;  // the monitors: restore_rules
    bool had = false;
    const std::string was = m.setting(key, &had);
    if (h_version >= 6 && had && was != value) list.push_back(fmt::format("{} {} → {}", key, was, value));
  }
  // Another precision: the master weights and the optimizer state are f32 in every precision, so they carry over
  // exactly; only the products of the steps from here on are computed in this run's precision.
  if (m.precision != now.precision)
    list.push_back(fmt::format("precision {} → {} (its f32 master weights and optimizer state are restored exactly)",
                               precision_name(m.precision), precision_name(now.precision)));
  if (m.data != 0 && now.data != 0 && m.data != now.data)
    list.push_back(fmt::format("training data {:016x} → {:016x}", m.data, now.data));
  if (list.empty()) return;
  std::string all;
  for (const std::string& c : list) all += (all.empty() ? "" : "; ") + c;
  warn(Diag::R0308, path, path, all);
}

using Header = data::CheckpointHeader;

// A resume continues each rule that watches a validation metric (ReduceLROnPlateau, early stopping, the best
// checkpoint) where the checkpoint's run left it, when that run watched the same metric. Format 6 names it
// (val_loss, val_OUTPUT_acc, ...): another name is R0266 and the rule's state starts afresh. Formats 4 and 5 keep
// only the metric's code, compared as such; a format without a rule's state is R0311.
void restore_rules(dls_rt* rt, const std::string& path, const Header& h) {
  const Made& m = h.made;
  // Whether the rule `key` of the checkpoint's run watched `now`; warns R0266 when it watched another metric.
  auto same = [&](const char* key, const std::string& now, const char* state, const char* fresh) {
    bool had = false;
    const std::string was = m.setting(key, &had);
    if (had && was != now) warn(Diag::R0266, path, path, state, was, now, fresh);
    return had && was == now;
  };
  if (rt->plateau_monitor) {
    const std::string now = monitor_name(rt->plateau_output, rt->plateau_monitor);
    const char* fresh = "the plateau's state";
    bool restore = false;
    if (h.version >= 6) {
      bool had = false;
      m.setting("plateau.monitor", &had);
      restore = same("plateau.monitor", now, "the plateau schedule's rate, best value and counts", fresh);
      if (!had) warn(Diag::R0311, path, path, h.version, "plateau state", fresh);
    } else {
      restore = h.version >= 4 && m.plateau == rt->plateau_monitor;  // else R0308 (check_made) says so
    }
    if (restore) {
      rt->plateau_lr = m.plateau_lr, rt->plateau_best = m.plateau_best;
      rt->plateau_bad = m.plateau_bad, rt->plateau_cooldown_left = m.plateau_cooldown_left;
    }
  }
  if (rt->stop_kind) {
    const std::string now = monitor_name(rt->stop_output, rt->stop_monitor);
    bool restore = false, had = h.version >= 5 && m.stop != 0;
    if (h.version >= 6) {
      m.setting("stop.monitor", &had);
      restore = same("stop.monitor", now, "early stopping's best value and count", "its patience count");
    } else {
      restore = h.version >= 5 && m.stop == rt->stop_monitor;
    }
    if (restore) rt->stop_best = m.stop_best, rt->stop_best_epoch = m.stop_best_epoch, rt->stop_bad = m.stop_bad;
    else if (!had || h.version < 6) warn(Diag::R0311, path, path, h.version, "early-stopping state for this monitor", "the patience count");
  }
  if (rt->ckpt_best_metric) {
    const std::string now = monitor_name(rt->ckpt_best_output, rt->ckpt_best_metric);
    bool restore = false, had = h.version >= 5 && m.best_metric != 0;
    if (h.version >= 6) {
      m.setting("best.monitor", &had);
      restore = same("best.monitor", now, "the best checkpoint's value", "the choice of best.dlsc");
    } else {
      restore = h.version >= 5 && m.best_metric == rt->ckpt_best_metric;
    }
    if (restore) rt->ckpt_best_value = m.best_value, rt->ckpt_best_epoch = m.best_epoch;
    else if (!had || h.version < 6) warn(Diag::R0311, path, path, h.version, "best-checkpoint value for this metric", "the choice of best.dlsc");
  }
}

// One pass over a checkpoint whose CRC is known to be good: the header, then every tensor checked against
// this program's (name, shape, finite values). With `commit`, each tensor's values go into rt as they are
// read, kChunk bytes at a time. Returns "" or why the file is damaged; throws R0305/R0306 for a checkpoint
// of another program.
std::string parse(dls_rt* rt, const std::string& path, FileReader& r, const std::vector<Entry>& want, Header& h, bool commit,
                  bool resuming) {
  if (std::string bad = data::readCheckpointHeader(r, h); !bad.empty()) return bad;
  if (h.layout_hash != rt->layout_hash) fail(Diag::R0305, path, path, h.layout_hash, rt->layout_hash);
  const Made& made = h.made;
  const uint32_t count = h.count;
  // Another optimizer (or amsgrad on or off) keeps another number of state tensors: say so (R0307) rather than
  // only that the counts differ.
  if (count != want.size() && h.version >= 2 && resuming) refuse_other_optimizer(path, made, made_by(rt));
  if (count != want.size())
    fail(Diag::R0306, path, path, fmt::format("it holds {} tensors, this program has {} (parameters and their optimizer state: "
                                              "was it saved with another optimizer or momentum?)", count, want.size()));
  std::vector<float> chunk(kChunk / 4);
  for (size_t i = 0; i < want.size(); ++i) {
    data::CheckpointEntry e;
    if (std::string bad = data::readCheckpointEntry(r, e); !bad.empty()) return bad;
    const std::string& name = e.name;
    const int32_t rank = e.rank;
    const int64_t* dims = e.dims;
    const int64_t numel = e.numel;
    if (name != want[i].name)
      fail(Diag::R0306, path, path, fmt::format("tensor {} is '{}', this program expects '{}'", i, name, want[i].name));
    bool same = rank == want[i].shape.rank && numel == want[i].numel;
    for (int k = 0; k < 4 && same; ++k) same = dims[k] == want[i].shape.dims[k];
    if (!same) {
      dls_tensor_desc got{};
      got.rank = rank;
      for (int k = 0; k < 4; ++k) got.dims[k] = dims[k];
      fail(Diag::R0306, path, path, fmt::format("'{}' has shape {}, this program expects {}", name, shape_str(got), shape_str(want[i].shape)));
    }
    float* dst = want[i].t ? static_cast<float*>(want[i].t->d.data) : want[i].state;
    for (int64_t done = 0; done < numel;) {
      const size_t m = size_t(std::min<int64_t>(numel - done, int64_t(chunk.size())));
      if (!r.bytes(chunk.data(), m * 4)) return "truncated tensor data";
      for (size_t k = 0; k < m; ++k)
        if (!std::isfinite(chunk[k])) return fmt::format("'{}' holds a non-finite value", name);
      if (commit) to_device(rt, dst + done, chunk.data(), m * 4);
      done += int64_t(m);
    }
  }
  if (!r.done()) return "trailing bytes";
  return "";
}

// Validates one file in full, then copies it into rt: three sequential reads of the file (its CRC; its
// header and tensors against this program; the copy), with kChunk bytes in memory at a time. rt is
// changed only when everything checked out. Returns "" or why the file is damaged.
std::string try_load(dls_rt* rt, const std::string& path, CheckpointInfo& info, bool resuming) {
  std::vector<Entry> want = entries(rt);
  std::string why;
  int fd = open_regular(path, why);
  if (fd < 0) return why;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) return std::strerror(errno);
  const uint64_t size = uint64_t(st.st_size);
  char head[20];
  const bool has_head = ::pread(fd, head, sizeof head, 0) == ssize_t(sizeof head);
  if (!has_head || std::memcmp(head, kMagic, 8) != 0) return "not a dlspec checkpoint (bad magic)";
  // This program's checkpoint has expected_size bytes; one of another layout is parsed far enough to say
  // what differs (R0305, R0306) when it is at most about twice as large; anything larger is not read.
  const uint64_t limit = 2 * expected_size(rt, want) + (uint64_t(1) << 20);
  if (size > limit) {
    uint64_t h;
    std::memcpy(&h, head + 12, 8);
    if (h != rt->layout_hash) fail(Diag::R0305, path, path, h, rt->layout_hash);
    return fmt::format("{} bytes, far more than this program's checkpoint ({} bytes)", size, expected_size(rt, want));
  }
  uint32_t stored = 0;
  if (std::string bad = data::checkCheckpointCrc(fd, size, stored); !bad.empty()) return bad;
  Header h;
  {
    FileReader r(fd, size - 4);
    if (std::string bad = parse(rt, path, r, want, h, false, resuming); !bad.empty()) return bad;
  }
  if (h.version >= 2 && resuming) check_made(rt, path, h.made, h.version);
  if (h.version >= 2 && !resuming && h.made.structure != structure_hash(rt)) {
    Fault f = make_fault(Diag::R0307, path, path, "another network structure", "this spec's network");
    f.notes.push_back(fmt::format("the ops, their attributes or the shapes differ (structure hash {:016x}, this program {:016x})",
                                  h.made.structure, structure_hash(rt)));
    throw f;
  }
  FileReader r(fd, size - 4);
  std::string bad = parse(rt, path, r, want, h, true, resuming);
  // The file was checked a moment ago: if it changed since, part of rt holds its new bytes, and no
  // other checkpoint may be tried over them.
  if (!bad.empty() || r.crc != stored)
    fail(Diag::R0303, path, path, "it changed while it was being loaded" + (bad.empty() ? std::string() : " (" + bad + ")"));
  rt->updates = h.updates;
  if (resuming) restore_rules(rt, path, h);
  info.epoch = h.epoch;
  info.global_step = h.global_step;
  info.path = path;
  return "";
}

}  // namespace

std::string monitor_name(const std::string& output, int32_t metric) {
  if (!output.empty())
    return fmt::format("val_{}_{}", output, metric == DLS_METRIC_ACCURACY ? "acc" : metric == DLS_METRIC_MAE ? "mae"
                                            : metric == DLS_METRIC_RMSE ? "rmse" : "loss");
  switch (metric) {
    case DLS_METRIC_LOSS: return "val_loss";
    case DLS_METRIC_ACCURACY: return "val_accuracy";
    case DLS_METRIC_TOP_K: return "val_top_k";
    case DLS_METRIC_PRECISION: return "val_precision";
    case DLS_METRIC_RECALL: return "val_recall";
    case DLS_METRIC_F1: return "val_f1";
    case DLS_METRIC_MAE: return "val_mae";
    case DLS_METRIC_RMSE: return "val_rmse";
    case DLS_METRIC_R2: return "val_r2";
    case DLS_METRIC_AUC: return "val_auc";
    default: return fmt::format("metric {}", metric);
  }
}

uint64_t structure_hash(const dls_rt* rt) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* p, size_t n) {
    const unsigned char* c = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ c[i]) * 1099511628211ull;
  };
  auto mix64 = [&](int64_t v) { mix(&v, sizeof v); };
  for (const auto& op : rt->ops) {
    mix64(op->opcode);
    for (double a : op->attrs) mix(&a, sizeof a);
    mix64(int64_t(op->tensors.size()));
    for (const auto& t : op->tensors) {  // per-sample shapes: the batch size is not the structure
      mix64(t.dtype), mix64(t.rank);
      for (int k = 1; k < t.rank; ++k) mix64(t.dims[k]);
    }
  }
  for (const auto& p : rt->params) {
    mix(p.name.data(), p.name.size());
    const auto& d = rt->tensors[p.value].d;
    for (int k = 0; k < d.rank; ++k) mix64(d.dims[k]);
    mix64(p.trainable);
  }
  return h;
}

std::string nonfinite_state(dls_rt* rt) {
  std::vector<float> host(kChunk / 4);
  for (const auto& e : entries(rt)) {
    const float* src = e.t ? static_cast<const float*>(e.t->d.data) : e.state;
    for (int64_t done = 0; done < e.numel;) {
      const size_t m = size_t(std::min<int64_t>(e.numel - done, int64_t(host.size())));
      to_host(rt, host.data(), src + done, m * 4);
      for (size_t k = 0; k < m; ++k)
        if (!std::isfinite(host[k])) return e.name;
      done += int64_t(m);
    }
  }
  return "";
}

std::string newest_checkpoint(const std::string& dir) {
  auto all = list_checkpoints(dir);
  return all.empty() ? std::string() : all.front().second;
}

void remove_checkpoints(const std::string& dir) {
  for (const auto& c : list_checkpoints(dir)) ::unlink(c.second.c_str());
  ::unlink((dir + "/" + kBestCheckpoint).c_str());
}

std::string save_checkpoint(dls_rt* rt, const std::string& dir, int64_t epoch, int64_t global_step, const std::string& name) {
  ::signal(SIGXFSZ, SIG_IGN);  // exceeding RLIMIT_FSIZE then fails write() with EFBIG instead of killing us
  std::string final_path = name.empty() ? fmt::format("{}/ckpt-{:06d}.dlsc", dir, epoch) : dir + "/" + name;
  auto before = list_checkpoints(dir);
  auto previous = [&] {
    for (const auto& c : before)
      if (c.first <= epoch) return fmt::format("the previous checkpoint '{}' is intact", c.second);
    return std::string("no earlier checkpoint exists");
  };
  if (!make_dirs(dir))
    fail(Diag::R0301, dir, final_path, fmt::format("cannot create directory: {}", std::strerror(errno)), previous());
  std::vector<Entry> es = entries(rt);
  // Never write poisoned state: check everything before the file exists (one tensor in memory at a time).
  if (std::string bad = nonfinite_state(rt); !bad.empty()) {
    Fault f = make_fault(Diag::R0110, rt->spec_path, fmt::format("'{}'", bad), epoch, global_step);
    f.notes.push_back(previous());
    throw f;
  }
  std::string tmp = name.empty() ? fmt::format("{}/.tmp-ckpt-{:06d}-{}", dir, epoch, ::getpid())
                                 : fmt::format("{}/.tmp-{}-{}", dir, name, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {  // a link or a file planted under our name: never written through
    ::unlink(tmp.c_str());
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  }
  if (fd < 0) fail(Diag::R0301, final_path, final_path, std::strerror(errno), previous());
  FileWriter w{fd, {}, {}};
  w.bytes(kMagic, 8);
  w.put(kVersion);
  w.put(rt->layout_hash);
  w.put(epoch);
  w.put(global_step);
  w.put(rt->updates);
  w.put(uint64_t(rt->seed));
  const Made m = made_by(rt);
  w.put(m.kind), w.put(m.lr), w.put(m.momentum), w.put(m.beta1), w.put(m.beta2), w.put(m.eps), w.put(m.weight_decay);
  w.put(m.nesterov), w.put(m.batch), w.put(m.structure), w.put(m.data), w.put(m.precision);
  w.put(m.plateau), w.put(m.plateau_lr), w.put(m.plateau_best), w.put(m.plateau_bad), w.put(m.plateau_cooldown_left);
  w.put(m.val_loss), w.put(m.val_acc);
  w.put(m.stop), w.put(m.stop_best), w.put(m.stop_best_epoch), w.put(m.stop_bad);
  w.put(m.best_metric), w.put(m.best_value), w.put(m.best_epoch);
  w.put(uint32_t(m.settings.size()));
  for (const auto& [k, v] : m.settings) {
    w.put(uint32_t(k.size())), w.bytes(k.data(), k.size());
    w.put(uint32_t(v.size())), w.bytes(v.data(), v.size());
  }
  w.put(uint32_t(es.size()));
  std::vector<float> host(kChunk / 4);
  for (const auto& e : es) {
    w.put(uint32_t(e.name.size()));
    w.bytes(e.name.data(), e.name.size());
    w.put(int32_t(e.shape.rank));
    for (int k = 0; k < 4; ++k) w.put(int64_t(e.shape.dims[k]));
    w.put(int64_t(e.numel));
    const float* src = e.t ? static_cast<const float*>(e.t->d.data) : e.state;
    for (int64_t done = 0; done < e.numel && w.why.empty();) {
      const size_t m = size_t(std::min<int64_t>(e.numel - done, int64_t(host.size())));
      to_host(rt, host.data(), src + done, m * 4);
      w.bytes(host.data(), m * 4);
      done += int64_t(m);
    }
    if (!w.why.empty()) break;
  }
  const uint32_t crc = w.crc;
  w.buf.append(reinterpret_cast<const char*>(&crc), 4);
  bool ok = w.flush();
  std::string why = w.why;
  if (ok && ::fsync(fd) != 0) ok = false, why = std::strerror(errno);
  if (::close(fd) != 0 && ok) ok = false, why = std::strerror(errno);
  if (ok && ::rename(tmp.c_str(), final_path.c_str()) != 0) ok = false, why = std::strerror(errno);
  if (!ok) {
    ::unlink(tmp.c_str());
    fail(Diag::R0301, final_path, final_path, why, previous());
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  if (!name.empty()) return final_path;  // best.dlsc: never pruned, never pruning
  // Prune: of the checkpoints up to this one, keep the newest `keep`; never touch newer ones.
  size_t kept = 0;
  for (const auto& c : list_checkpoints(dir)) {
    if (c.first > epoch) continue;
    if (++kept > size_t(std::max<int64_t>(rt->ckpt_keep, 1))) ::unlink(c.second.c_str());
  }
  return final_path;
}

CheckpointInfo load_checkpoint(dls_rt* rt, const std::string& dir, bool resuming) {
  struct stat st;
  std::vector<std::pair<int64_t, std::string>> all;
  if (::stat(dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) all.push_back({0, dir});  // one named file
  else all = list_checkpoints(dir);
  if (all.empty()) fail(Diag::R0302, dir, dir);
  std::string first_reason, first_path;
  for (size_t i = 0; i < all.size(); ++i) {
    CheckpointInfo info;
    std::string why = try_load(rt, all[i].second, info, resuming);
    if (why.empty()) {
      if (i > 0) warn(Diag::R0304, first_path, first_path, first_reason, all[i].second);
      return info;
    }
    if (i == 0) first_reason = why, first_path = all[i].second;
  }
  fail(Diag::R0303, first_path, first_path, first_reason + (all.size() > 1 ? " (and no older checkpoint is valid)" : ""));
}

}  // namespace dls
