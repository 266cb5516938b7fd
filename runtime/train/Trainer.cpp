// Trainer.cpp: the training loop, evaluation and prediction over the generated step functions.
#include "Trainer.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <tuple>

#include "../core/LossMath.h"
#include "../core/Memory.h"
#include "../core/Schedule.h"
#include "../data/Stream.h"
#include "../dist/Comm.h"
#include "../dist/GradReducer.h"
#include "Checkpoint.h"
#include "Guards.h"
#include "Metrics.h"
#include "RunDir.h"
#include "Text.h"  // data/formats: a text model's prompt

namespace dls {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void require_io(const dls_rt* rt) {
  if (rt->io_input < 0 || rt->io_labels < 0 || rt->io_output < 0 || rt->io_loss < 0)
    fail(Diag::R0504, rt->spec_path, "the program did not declare its input/label/output/loss tensors (dls_rt_io)");
  const auto& x = rt->tensors[rt->io_input].d;
  if (x.dims[0] != local_batch(rt))
    fail(Diag::R0504, rt->spec_path, fmt::format("input tensor {} does not have the batch size {}", shape_str(x), local_batch(rt)));
}

struct Splits {
  Dataset train, valid;
  bool has_valid = false;
  Augment train_aug, valid_aug;
};

// cosine_embedding's targets say whether a pair is alike (1) or not (-1): a loaded split whose targets hold another
// value is R0257 at its file's first such record (before split() reorders the samples).
void check_pair_targets(const dls_rt* rt, const Dataset& ds) {
  bool pair = false;
  for (const auto& op : rt->ops) pair |= op->d.opcode == DLS_OP_COSINE_EMBEDDING;
  if (!pair) return;
  const int64_t per = std::max<int64_t>(1, ds.target_numel);
  const std::string& file = ds.label_path.empty() ? ds.name : ds.label_path;
  for (size_t i = 0; i < ds.targets.size(); ++i)
    if (ds.targets[i] != 1.f && ds.targets[i] != -1.f)
      fail(Diag::R0257, fmt::format("{}:record {}", file, int64_t(i) / per), file, int64_t(i) / per, ds.targets[i]);
}

Splits load_splits(dls_rt* rt, bool need_train) {
  Splits s;
  if (need_train) {
    if (!rt->data[DLS_SPLIT_TRAIN].declared) fail(Diag::R0213, rt->spec_path, "the program declares no training data");
    s.train = load_dataset(rt->data[DLS_SPLIT_TRAIN], "train");
    check_pair_targets(rt, s.train);
    // onehot<C> rows become classes before split() reorders the samples: R0218 names the file's own record.
    for (const PipeStep& ps : rt->pipes[DLS_SPLIT_TRAIN])
      if (ps.op == (DLS_PIPE_ONEHOT | DLS_PIPE_LABELS)) apply_pipeline(s.train, {ps}, true);
  }
  // split(valid: f) holds out a seeded share of the training samples. Validation is on the data the train
  // block names (a validation or test split), or on the held-out samples when it names those.
  Dataset held_out;
  if (need_train && rt->split_fraction > 0) held_out = split_off(s.train, rt->split_fraction, uint64_t(rt->seed));
  // dls_rt_validate_split: the program names the data it validates on (a test split it declares may be for
  // `eval` only); without it, the first of the validation split, the test split, the held-out samples.
  const int32_t vs = rt->validate_split;
  if (vs == -1) {
    // training does not validate
  } else if (vs == DLS_SPLIT_VALID && !rt->data[DLS_SPLIT_VALID].declared) {
    if (held_out.n > 0) {
      s.valid = std::move(held_out);
      s.has_valid = true;
      s.valid_aug = apply_pipeline(s.valid, rt->pipes[DLS_SPLIT_TRAIN], false);
    }
  } else if (vs == DLS_SPLIT_TEST && rt->data[DLS_SPLIT_TEST].declared) {
    s.valid = load_dataset(rt->data[DLS_SPLIT_TEST], "test");
    check_pair_targets(rt, s.valid);
    s.has_valid = true;
    s.valid_aug = apply_pipeline(s.valid, rt->pipes[DLS_SPLIT_TEST], false);
  } else if (rt->data[DLS_SPLIT_VALID].declared) {
    s.valid = load_dataset(rt->data[DLS_SPLIT_VALID], "valid");
    check_pair_targets(rt, s.valid);
    s.has_valid = true;
    s.valid_aug = apply_pipeline(s.valid, rt->pipes[DLS_SPLIT_VALID], false);
  } else if (rt->data[DLS_SPLIT_TEST].declared) {
    s.valid = load_dataset(rt->data[DLS_SPLIT_TEST], "test");
    check_pair_targets(rt, s.valid);
    s.has_valid = true;
    s.valid_aug = apply_pipeline(s.valid, rt->pipes[DLS_SPLIT_TEST], false);
  } else if (held_out.n > 0) {
    s.valid = std::move(held_out);
    s.has_valid = true;
    // The held-out samples get the training pipeline's element-wise steps (no augmentation).
    s.valid_aug = apply_pipeline(s.valid, rt->pipes[DLS_SPLIT_TRAIN], false);
  }
  if (need_train) {
    s.train_aug = apply_pipeline(s.train, rt->pipes[DLS_SPLIT_TRAIN], true);
    // One optimizer step takes `accumulate` batches: the split must hold one such effective batch.
    const int64_t k = std::max<int64_t>(rt->accumulate, 1);
    if (s.train.n < rt->batch * k)
      fail(Diag::R0214, rt->data[DLS_SPLIT_TRAIN].path_a, "train", s.train.n,
           k > 1 ? fmt::format("{} ({} accumulated batches of {})", rt->batch * k, k, rt->batch) : std::to_string(rt->batch));
  }
  // The loaded data counts against the memory this process may use, as the plan's tensors do (R0505): a
  // run that cannot hold both stops here, before its first step touches the arena. It is host memory on
  // every backend (on CUDA, batches are copied to the device one at a time).
  // A split read per batch (data/Stream.h) holds its labels and index instead of its samples; the batches
  // prepared ahead (the loader's queue and, streamed, the samples being converted and the mapping's pages they
  // touch) count too.
  reserve_host(rt, held_bytes(s.train) + held_bytes(s.valid), "the loaded data", true);
  const int64_t rows = local_batch(rt);
  uint64_t ahead = 0;
  if (need_train) ahead += prefetch_bytes(s.train, s.train_aug.row_numel(s.train), rows);
  if (s.has_valid) ahead += prefetch_bytes(s.valid, s.valid_aug.row_numel(s.valid), rows);
  reserve_host(rt, ahead, "the batches prepared ahead", true);
  std::string source;
  const uint64_t budget = load_budget(&source);
  for (const Dataset* d : {&s.train, &s.valid})
    if (d->stream && rt->rank == 0)
      warn(Diag::R0263, d->stream->src->path, d->name, d->stream->src->path,
           load_policy().mode == LoadMode::Stream
               ? std::string("--load stream")
               : fmt::format("more than the {} the loaded data may use: {}", human_bytes(double(budget)), source),
           human_bytes(double(d->stream->decoded)),
           human_bytes(double(held_bytes(*d) + prefetch_bytes(*d, d == &s.train ? s.train_aug.row_numel(*d) : s.valid_aug.row_numel(*d), rows))));
  return s;
}

// Progress display: a redrawn bar on a terminal, nothing per step otherwise.
struct Progress {
  bool tty = ::isatty(STDOUT_FILENO) != 0;
  bool quiet = false;
  Clock::time_point last = Clock::now();
  void step(int64_t epoch, int64_t epochs, int64_t b, int64_t nb, double loss, double img_s, double eta) {
    if (quiet || !tty || since(last) < 0.2) return;
    last = Clock::now();
    const int width = 30;
    int filled = int(double(width) * double(b) / double(nb));
    std::printf("\r\x1b[Kepoch %lld/%lld [%s%s] %lld/%lld  loss %.4f  %.0f img/s  ETA %.0fs", (long long)epoch,
                (long long)epochs, std::string(size_t(filled), '#').c_str(), std::string(size_t(width - filled), '.').c_str(),
                (long long)b, (long long)nb, loss, img_s, eta);
    std::fflush(stdout);
  }
  void line(const std::string& s) {
    if (quiet) return;
    if (tty) std::printf("\r\x1b[K");
    std::printf("%s\n", s.c_str());
    std::fflush(stdout);
  }
};

// Classes per output row (a sequence's output has one row per step: labels_per_sample, Runtime.h).
int64_t classes_per_row(const dls_rt* rt) {
  const auto& out = rt->tensors[rt->io_output].d;
  return out.numel / (out.dims[0] * labels_per_sample(rt));
}

}  // namespace

void call(dls_rt* rt, dls_gen_fn f) {
  f(rt);
  raise_pending(rt);
}

StepRunner::StepRunner(dls_rt* rt, dls_gen_fn step, bool allow_graphs) : rt_(rt), step_(step) {
  const char* env = std::getenv("DLS_GRAPHS");
  graphs_ = allow_graphs && can_capture(rt) && !(env && std::string(env) == "0");
}

void StepRunner::run() {
  if (!captured_ && graphs_ && eager_ >= 2) {
    capture_step(rt_, step_);
    captured_ = true;
  }
  if (captured_) {
    replay_step(rt_);
    ++replays_;
  } else {
    call(rt_, step_);
    ++eager_;
  }
}

void bind_batch(dls_rt* rt, const Batch& b) {
  auto input = [&](int32_t tensor, const std::vector<float>& values) {
    const Tensor& x = rt->tensors[size_t(tensor)];
    if (tensor != rt->io_input && int64_t(values.size()) < x.d.numel)
      fail(Diag::R0504, rt->spec_path, fmt::format("a batch of {} values for input tensor {}", values.size(), shape_str(x.d)));
    if (x.d.dtype == DLS_I32) {
      // Integer samples (to_i32, checked at load time) for an i32 input such as embedding indices.
      std::vector<int32_t> idx(size_t(x.d.numel));
      for (size_t i = 0; i < idx.size() && i < values.size(); ++i) idx[i] = int32_t(values[i]);
      to_device(rt, x.d.data, idx.data(), x.bytes);
    } else {
      to_device(rt, x.d.data, values.data(), x.bytes);
    }
  };
  input(rt->io_input, b.x);
  // The further sample fields, each to the network input that takes it (dls_rt_input).
  for (size_t j = 0; j < rt->io_fields.size(); ++j) {
    if (rt->io_fields[j] < 0) continue;
    if (j >= b.fields.size())
      fail(Diag::R0504, rt->spec_path, fmt::format("the network takes sample field {}, but the data has {} fields", j + 1, b.fields.size() + 1));
    input(rt->io_fields[j], b.fields[j]);
  }
  const Tensor& y = rt->tensors[rt->io_labels];
  bool soft = false;  // mixup / cutmix: the loss takes class probabilities f32[N, C]
  for (const PipeStep& ps : rt->pipes[DLS_SPLIT_TRAIN]) soft |= ps.op == DLS_PIPE_MIXUP || ps.op == DLS_PIPE_CUTMIX;
  const int64_t rows = y.d.rank >= 1 ? y.d.dims[0] : 0;
  if (y.d.dtype == DLS_I32) {
    to_device(rt, y.d.data, b.labels.data(), y.bytes);
  } else if (soft && b.class_labels && y.d.rank == 2 && rows > 0 && int64_t(b.labels.size()) >= rows) {
    // Each row's target: lam onehot(label) + (1 - lam) onehot(partner's label); one-hot rows without mixing.
    const int64_t C = y.d.dims[1];
    std::vector<float> t(size_t(y.d.numel), 0.f);
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t own = b.labels[size_t(r)];
      const int32_t other = size_t(r) < b.partner_labels.size() ? b.partner_labels[size_t(r)] : -1;
      const float lam = other >= 0 ? float(b.lam) : 1.f;
      if (own >= 0 && own < C) t[size_t(r * C + own)] += lam;
      if (other >= 0 && other < C) t[size_t(r * C + other)] += 1.f - lam;
    }
    to_device(rt, y.d.data, t.data(), y.bytes);
  } else if (b.class_labels && b.labels.size() * 4 >= y.bytes) {
    // class<2> labels of a one-output binary classifier (bce_with_logits, bce): 0/1 as f32 targets [N, 1].
    std::vector<float> t(b.labels.begin(), b.labels.begin() + y.d.numel);
    to_device(rt, y.d.data, t.data(), y.bytes);
  } else if (b.targets.size() * 4 >= y.bytes) {
    to_device(rt, y.d.data, b.targets.data(), y.bytes);
  }
  rt->step.valid_rows = b.valid;
  rt->global_valid = b.global_valid;
}

std::string run_dir(const dls_rt* rt) { return rt->ckpt_dir.empty() ? "runs/" + rt->name : rt->ckpt_dir; }

int64_t local_batch(const dls_rt* rt) { return rt->ranks > 1 ? rt->batch / rt->ranks : rt->batch; }

void sync_state(dls_rt* rt) {
  dist::Comm& w = dist::Comm::world();
  if (!w.active()) return;
  // Parameters, running statistics and optimizer state as rank 0 has them (one host buffer at a time).
  std::vector<char> host;
  auto one = [&](void* dev, size_t bytes, const std::string& name) {
    host.resize(bytes);
    if (w.rank() == 0) to_host(rt, host.data(), dev, bytes);
    w.bcast(host.data(), bytes, "the broadcast of '" + name + "' from rank 0");
    if (w.rank() != 0) to_device(rt, dev, host.data(), bytes);
  };
  for (const Param& p : rt->params) {
    const Tensor& v = rt->tensors[size_t(p.value)];
    one(v.d.data, v.bytes, p.name);
    if (p.state0) one(p.state0, v.bytes, p.name + "#0");
    if (p.state1) one(p.state1, v.bytes, p.name + "#1");
    if (p.state2) one(p.state2, v.bytes, p.name + "#2");
  }
  w.bcast(&rt->updates, sizeof rt->updates, "the broadcast of the update count from rank 0");
}

void fail_path(const std::string& path, const std::string& option, bool file_ok) {
  struct stat st;
  const bool exists = ::stat(path.c_str(), &st) == 0;
  const std::string why = !exists ? std::strerror(errno)
                          : S_ISREG(st.st_mode) ? "it is a file, not a directory"
                                                : "it is neither a directory nor a file";
  Fault f = make_fault(Diag::R0405, "", path, why);
  if (option.empty()) {
    f.notes.push_back("no --checkpoint was given, so this is the run directory that `train` writes its checkpoints to "
                      "(the spec's `checkpoint = \"DIR\"`, else runs/NAME)");
    f.notes.push_back("train first, or name a checkpoint directory or one checkpoint file with --checkpoint");
  } else {
    f.notes.push_back(fmt::format("{} takes {}", option,
                                  option == "--weights" ? std::string("a directory of <parameter>.npy files")
                                  : file_ok ? std::string("a checkpoint directory (its newest valid checkpoint) or one checkpoint file (.dlsc)")
                                            : std::string("a directory")));
  }
  throw f;
}

namespace {
// confusion.csv in the run directory: the validation's confusion matrix, one row per true class (its counts per
// predicted class), replaced whole through a temporary (write_replace): never half a file.
void write_confusion(const std::string& dir, const EvalResult& r) {
  std::string text = "true\\predicted";
  for (int64_t c = 0; c < r.classes; ++c) text += fmt::format(",{}", c);
  text += "\n";
  for (int64_t t = 0; t < r.classes; ++t) {
    text += std::to_string(t);
    for (int64_t c = 0; c < r.classes; ++c) text += fmt::format(",{}", int64_t(r.confusion[size_t(t * r.classes + c)]));
    text += "\n";
  }
  const std::string path = dir + "/confusion.csv";
  if (!make_dirs(dir)) {
    warn(Diag::R0108, dir, dir, std::strerror(errno));
    return;
  }
  if (std::string why = write_replace(path, text, false); !why.empty()) warn(Diag::R0108, path, path, why);
}
}  // namespace

namespace {
// Regression outputs in the targets' own units: the label field's pipeline steps undone, last first.
void to_target_units(const std::vector<PipeStep>& steps, float* v, int64_t n) {
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (!(it->op & DLS_PIPE_LABELS)) continue;
    const int32_t base = it->op & ~int32_t{DLS_PIPE_LABELS};
    for (int64_t i = 0; i < n; ++i)
      if (base == DLS_PIPE_SCALE) v[i] = float(double(v[i]) / it->a);
      else if (base == DLS_PIPE_NORMALIZE) v[i] = float(double(v[i]) * it->b + it->a);
      else if (base == DLS_PIPE_ADD) v[i] = float(double(v[i]) - it->a);
      else if (base == DLS_PIPE_LOG1P) v[i] = float(std::expm1(double(v[i])));
  }
}
}  // namespace

namespace {
// Binary ROC AUC of `score` against `positive` (the Mann-Whitney statistic with average ranks for ties, as sklearn's
// roc_auc_score): NaN when either class is absent.
double binary_auc(const std::vector<double>& score, const std::vector<bool>& positive) {
  const size_t n = score.size();
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  double rank_sum = 0, pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && score[idx[j]] == score[idx[i]]) ++j;
    const double avg = (double(i) + double(j - 1)) / 2.0 + 1.0;  // 1-based average rank of the tie group
    for (size_t k = i; k < j; ++k)
      if (positive[idx[k]]) rank_sum += avg, pos += 1;
    i = j;
  }
  const double neg = double(n) - pos;
  if (pos == 0 || neg == 0) return NAN;
  return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg);
}
// AUC of rows of C scores (C = 1: one logit per sample) against class labels: binary for one output or two classes
// (the score of class 1), else one-vs-rest on the softmax probabilities (cross_entropy's logits; other losses' scores
// are already per-class monotone in their probabilities), the macro mean over the classes present.
double roc_auc(const std::vector<float>& rows, const std::vector<int32_t>& labels, int64_t C, int32_t loss) {
  const size_t n = labels.size();
  if (n == 0 || C < 1) return NAN;
  std::vector<double> score(n);
  std::vector<bool> positive(n);
  if (C <= 2) {
    for (size_t i = 0; i < n; ++i) {
      score[i] = C == 1 ? double(rows[i]) : double(rows[i * 2 + 1]) - double(rows[i * 2]);
      positive[i] = labels[i] == 1;
    }
    return binary_auc(score, positive);
  }
  std::vector<double> prob(rows.begin(), rows.end());
  if (loss == DLS_OP_CROSS_ENTROPY)
    for (size_t i = 0; i < n; ++i) {
      double* r = prob.data() + i * size_t(C);
      double mx = r[0], sum = 0;
      for (int64_t c = 1; c < C; ++c) mx = std::max(mx, r[c]);
      for (int64_t c = 0; c < C; ++c) sum += r[c] = std::exp(r[c] - mx);
      for (int64_t c = 0; c < C; ++c) r[c] /= sum;
    }
  double total = 0;
  int64_t present = 0;
  for (int64_t c = 0; c < C; ++c) {
    for (size_t i = 0; i < n; ++i) score[i] = prob[i * size_t(C) + size_t(c)], positive[i] = labels[i] == c;
    const double a = binary_auc(score, positive);
    if (std::isfinite(a)) total += a, ++present;
  }
  return present ? total / double(present) : NAN;
}
// Every rank's rows of `per` scores and their labels, on every rank, in rank order (sums of zero-padded slots).
void gather_rows(dist::Comm& w, std::vector<float>& rows, std::vector<int32_t>& labels, int64_t per) {
  std::vector<double> counts(size_t(w.size()), 0.0);
  counts[size_t(w.rank())] = double(labels.size());
  w.sum(counts.data(), int64_t(counts.size()), "the auc's row counts");
  size_t total = 0, before = 0;
  for (int k = 0; k < w.size(); ++k) {
    if (k < w.rank()) before += size_t(counts[size_t(k)]);
    total += size_t(counts[size_t(k)]);
  }
  std::vector<double> all(total * size_t(per + 1), 0.0);
  for (size_t i = 0; i < labels.size(); ++i) {
    double* slot = all.data() + (before + i) * size_t(per + 1);
    for (int64_t c = 0; c < per; ++c) slot[c] = rows[i * size_t(per) + size_t(c)];
    slot[per] = labels[i];
  }
  w.sum(all.data(), int64_t(all.size()), "the auc's rows");
  rows.assign(total * size_t(per), 0.f);
  labels.assign(total, 0);
  for (size_t i = 0; i < total; ++i) {
    const double* slot = all.data() + i * size_t(per + 1);
    for (int64_t c = 0; c < per; ++c) rows[i * size_t(per) + size_t(c)] = float(slot[c]);
    labels[i] = int32_t(slot[per]);
  }
}
}  // namespace

EvalResult evaluate(dls_rt* rt, const Program& p, const Dataset& ds) {
  // Over ranks, each evaluates its share of every batch and the sums are added up: the whole set's result.
  Loader loader(ds, Augment{}, rt->batch, false, uint64_t(rt->seed), rt->ranks, rt->rank);
  loader.start_epoch(0);
  const Tensor& out = rt->tensors[rt->io_output];
  const int64_t C = classes_per_row(rt), L = labels_per_sample(rt);
  // cosine_embedding compares two outputs with each other, its ±1 targets saying whether they should agree: its
  // accuracy is the share of pairs whose cosine lies on their target's side of (1 + margin) / 2, the middle of the
  // values the loss pushes the two kinds of pairs to; no other metric of the labels applies.
  const Op* pair = nullptr;
  for (const auto& op : rt->ops)
    if (op->d.opcode == DLS_OP_COSINE_EMBEDDING && op->output == label_loss(rt) && op->output >= 0) pair = op.get();
  const double pair_cut = pair ? (1.0 + (pair->attrs.empty() ? 0.0 : pair->attrs[0])) / 2.0 : 0.0;
  std::vector<float> pair_a, pair_b, pair_t;
  int64_t pair_correct = 0;
  // With loss terms (dls_rt_head), the labels' metrics need a term that compares io_output with the labels.
  const bool scored = (rt->heads.empty() || label_loss(rt) >= 0) && !pair;
  const bool classify = !ds.labels.empty() && scored;
  const float threshold = binary_threshold(rt);
  const int64_t ignored = ignored_label(rt);
  std::vector<float> o(size_t(out.d.numel));
  double loss_sum = 0;
  int64_t correct = 0, n = 0, counted = 0;
  // The other metrics' sums (runtime.h dls_metric), added up over ranks with the rest: the confusion matrix
  // (classes x classes; one output against class<2> labels is a binary classifier: 2 classes), the labels among
  // the k highest scores, and per output of real targets: sum |e|, sum e^2, sum t, sum t^2 (e = output - target).
  const int32_t mask = rt->metrics_mask;
  const bool class_metrics = classify && (mask & (DLS_METRIC_TOP_K | DLS_METRIC_PRECISION | DLS_METRIC_RECALL |
                                                  DLS_METRIC_F1 | DLS_METRIC_CONFUSION));
  const bool real_metrics = !classify && scored && (mask & (DLS_METRIC_MAE | DLS_METRIC_RMSE | DLS_METRIC_R2));
  // auc: every valid row's scores and label, ranked once at the end (gathered from every rank).
  const bool auc_metric = classify && (mask & DLS_METRIC_AUC);
  std::vector<float> auc_scores;
  std::vector<int32_t> auc_labels;
  // Per loss term: sum of its loss, and its metrics' sums: [loss, correct, counted, sum |e|, sum e^2, elements].
  const size_t H = rt->heads.size();
  std::vector<double> head_sums(H * 6, 0.0);
  std::vector<std::vector<float>> head_out(H), head_tgt(H);
  const int64_t K = classify ? std::max<int64_t>(C, 2) : 0, per = out.d.numel / std::max<int64_t>(1, out.d.dims[0]);
  std::vector<double> confusion(size_t(class_metrics ? K * K : 0), 0.0), reg(size_t(real_metrics ? 4 * per : 0), 0.0);
  double top_hits = 0;
  const int64_t topk = rt->metric_top_k;
  rt->step.training = 0;
  for (int64_t k = 0; k < loader.batches(); ++k) {
    const Batch& b = loader.next();
    if (b.valid == 0) continue;  // a rank's share past the end of the set
    bind_batch(rt, b);
    call(rt, p.eval_step);
    float loss = 0;
    to_host(rt, &loss, rt->tensors[rt->io_loss].d.data, 4);
    loss_sum += double(loss) * double(b.valid);
    for (size_t h = 0; h < H; ++h) {
      const auto& hd = rt->heads[h];
      float hl = 0;
      to_host(rt, &hl, rt->tensors[size_t(hd.loss)].d.data, 4);
      head_sums[h * 6] += double(hl) * double(b.valid);
      const Tensor& ho = rt->tensors[size_t(hd.output)];
      const Tensor& ht = rt->tensors[size_t(hd.target)];
      head_out[h].resize(size_t(ho.d.numel));
      to_host(rt, head_out[h].data(), ho.d.data, ho.bytes);
      const int64_t hper = ho.d.numel / std::max<int64_t>(1, ho.d.dims[0]);
      if (pair && hd.loss == pair->output) {
        // the pair loss's term: its accuracy is the pairs' (below), its output has no targets of its own shape
      } else if (ht.d.dtype == DLS_I32) {
        // class labels: the accuracy of this output's argmax (one row per label)
        const int64_t hc = ht.d.numel > 0 ? ho.d.numel / ht.d.numel : 1;
        const int64_t rows = ht.d.numel / std::max<int64_t>(1, ht.d.dims[0]);
        for (int64_t r = 0; r < b.valid * rows && size_t(r) < b.labels.size(); ++r) {
          const int32_t label = b.labels[size_t(r)];
          if (label == ignored) continue;
          head_sums[h * 6 + 1] += predicted_class(head_out[h].data() + r * hc, hc, threshold) == label;
          head_sums[h * 6 + 2] += 1;
        }
      } else {
        head_tgt[h].resize(size_t(ht.d.numel));
        to_host(rt, head_tgt[h].data(), ht.d.data, ht.bytes);
        const int64_t m = std::min<int64_t>(b.valid * hper, std::min(ho.d.numel, ht.d.numel));
        for (int64_t i = 0; i < m; ++i) {
          const double e = double(head_out[h][size_t(i)]) - double(head_tgt[h][size_t(i)]);
          head_sums[h * 6 + 3] += std::fabs(e), head_sums[h * 6 + 4] += e * e;
        }
        head_sums[h * 6 + 5] += double(m);
      }
    }
    if (pair) {
      const dls_tensor_desc &a = pair->tensors[0], &bt = pair->tensors[1], &t = pair->tensors[2];
      pair_a.resize(size_t(a.numel)), pair_b.resize(size_t(bt.numel)), pair_t.resize(size_t(t.numel));
      to_host(rt, pair_a.data(), a.data, size_t(a.numel) * 4);
      to_host(rt, pair_b.data(), bt.data, size_t(bt.numel) * 4);
      to_host(rt, pair_t.data(), t.data, size_t(t.numel) * 4);
      const int64_t D = pair->d.cols, rows = std::min<int64_t>(b.valid, t.numel);
      for (int64_t r = 0; r < rows; ++r) {
        const loss_math::CosRow cr = loss_math::cos_row(pair_a.data() + r * D, pair_b.data() + r * D, D);
        pair_correct += (cr.cos > pair_cut) == (pair_t[size_t(r)] == 1.f);
      }
    }
    if (classify || real_metrics) to_host(rt, o.data(), out.d.data, out.bytes);
    if (classify) {
      for (int64_t r = 0; r < b.valid * L; ++r) {
        const int32_t label = b.labels[size_t(r)];
        if (label == ignored) continue;
        const float* row = o.data() + r * C;
        const int64_t pred = predicted_class(row, C, threshold);
        correct += pred == label, ++counted;
        if (auc_metric && label >= 0 && label < std::max<int64_t>(C, 2)) {
          auc_scores.insert(auc_scores.end(), row, row + C);
          auc_labels.push_back(label);
        }
        if (!class_metrics || label < 0 || label >= K) continue;
        confusion[size_t(label * K + pred)] += 1;
        if (C == 1) {
          top_hits += topk >= 2 || pred == label;  // two classes: the top 2 hold every label
        } else {
          int64_t above = 0;  // classes scored strictly above the label's
          for (int64_t i = 0; i < C; ++i) above += row[i] > row[label];
          top_hits += above < topk;
        }
      }
    } else if (real_metrics) {
      // In the targets' own units: the training pipeline's steps of the label field undone on the outputs and
      // the targets alike (the loss stays in the transformed units it was trained on).
      std::vector<float> ty(o.begin(), o.begin() + b.valid * per), tt(b.targets.begin(), b.targets.begin() + b.valid * per);
      to_target_units(rt->pipes[DLS_SPLIT_TRAIN], ty.data(), b.valid * per);
      to_target_units(rt->pipes[DLS_SPLIT_TRAIN], tt.data(), b.valid * per);
      for (int64_t r = 0; r < b.valid; ++r)
        for (int64_t j = 0; j < per; ++j) {
          const double y = ty[size_t(r * per + j)], t = tt[size_t(r * per + j)], e = y - t;
          reg[size_t(j)] += std::fabs(e), reg[size_t(per + j)] += e * e;
          reg[size_t(2 * per + j)] += t, reg[size_t(3 * per + j)] += t * t;
        }
    }
    n += b.valid;
  }
  rt->step.training = 1;
  if (pair) correct = pair_correct, counted = n;
  std::vector<double> sums = {loss_sum, double(correct), double(n), double(counted), top_hits};
  sums.insert(sums.end(), confusion.begin(), confusion.end());
  sums.insert(sums.end(), reg.begin(), reg.end());
  const size_t head_at = sums.size();
  sums.insert(sums.end(), head_sums.begin(), head_sums.end());
  dist::Comm::world().sum(sums.data(), int(sums.size()), "the evaluation's sums");
  std::copy(sums.begin() + std::ptrdiff_t(head_at), sums.end(), head_sums.begin());
  sums.resize(head_at);
  loss_sum = sums[0], correct = int64_t(sums[1]), n = int64_t(sums[2]), counted = int64_t(sums[3]), top_hits = sums[4];
  std::copy(sums.begin() + 5, sums.begin() + 5 + std::ptrdiff_t(confusion.size()), confusion.begin());
  std::copy(sums.begin() + 5 + std::ptrdiff_t(confusion.size()), sums.end(), reg.begin());
  EvalResult r;
  r.samples = n;
  for (size_t h = 0; h < H; ++h) {
    EvalResult::Head hr;
    hr.name = rt->heads[h].name;
    const double* hs = head_sums.data() + h * 6;
    hr.loss = n ? hs[0] / double(n) : NAN;
    if (hs[2] > 0) hr.accuracy = hs[1] / hs[2];
    if (hs[5] > 0) hr.mae = hs[3] / hs[5], hr.rmse = std::sqrt(hs[4] / hs[5]);
    r.heads.push_back(std::move(hr));
  }
  if (auc_metric) {
    // Over ranks: every rank's rows, gathered (each rank's count first).
    dist::Comm& w = dist::Comm::world();
    if (w.active()) gather_rows(w, auc_scores, auc_labels, std::max<int64_t>(C, 1));
    int32_t loss_op = -1;
    for (const auto& op : rt->ops)
      if (op->output == label_loss(rt) && op->output >= 0) loss_op = op->d.opcode;
    r.auc = roc_auc(auc_scores, auc_labels, C, loss_op);
  }
  r.loss = n ? loss_sum / double(n) : NAN;
  r.accuracy = (classify || pair) && counted ? double(correct) / double(counted) : NAN;  // per step for sequences, ignored labels aside
  if (class_metrics && counted) {
    r.classes = K;
    r.confusion = confusion;
    r.top_k = top_hits / double(counted);
    // sklearn's precision/recall/f1_score: macro over the classes present among the labels or the predictions (a
    // class never predicted has precision 0), micro over every decision (for one label per sample: the accuracy).
    double tp_all = 0, pred_all = 0, true_all = 0, ps = 0, rs = 0, fs = 0;
    int64_t present = 0;
    for (int64_t c = 0; c < K; ++c) {
      double tp = confusion[size_t(c * K + c)], predicted = 0, truth = 0;
      for (int64_t i = 0; i < K; ++i) predicted += confusion[size_t(i * K + c)], truth += confusion[size_t(c * K + i)];
      tp_all += tp, pred_all += predicted, true_all += truth;
      if (predicted + truth == 0) continue;
      ++present;
      ps += predicted > 0 ? tp / predicted : 0.0;
      rs += truth > 0 ? tp / truth : 0.0;
      fs += 2 * tp / (predicted + truth);
    }
    const bool micro[3] = {rt->metric_average[0] != 0, rt->metric_average[1] != 0, rt->metric_average[2] != 0};
    const double mp = pred_all > 0 ? tp_all / pred_all : 0.0, mr = true_all > 0 ? tp_all / true_all : 0.0;
    r.precision = micro[0] ? mp : ps / double(std::max<int64_t>(present, 1));
    r.recall = micro[1] ? mr : rs / double(std::max<int64_t>(present, 1));
    r.f1 = micro[2] ? (pred_all + true_all > 0 ? 2 * tp_all / (pred_all + true_all) : 0.0) : fs / double(std::max<int64_t>(present, 1));
  }
  if (real_metrics && n) {
    double abs_sum = 0, sq_sum = 0, r2_sum = 0;
    for (int64_t j = 0; j < per; ++j) {
      abs_sum += reg[size_t(j)], sq_sum += reg[size_t(per + j)];
      const double ss_tot = reg[size_t(3 * per + j)] - reg[size_t(2 * per + j)] * reg[size_t(2 * per + j)] / double(n);
      // sklearn: a constant target scores 1 when predicted exactly, else 0
      r2_sum += ss_tot > 0 ? 1.0 - reg[size_t(per + j)] / ss_tot : reg[size_t(per + j)] == 0 ? 1.0 : 0.0;
    }
    r.mae = abs_sum / double(n * per);
    r.rmse = std::sqrt(sq_sum / double(n * per));
    r.r2 = r2_sum / double(per);
  }
  return r;
}

namespace {

// A cheap fingerprint of the training data a run trains on: sizes and a CRC of the values.
uint64_t data_fingerprint(const Dataset& ds) {
  uLong crc = crc32(0L, Z_NULL, 0);
  auto add = [&](const void* p, size_t n) {
    const Bytef* b = static_cast<const Bytef*>(p);
    while (n > 0) {
      uInt take = uInt(std::min(n, size_t(1) << 30));
      crc = crc32(crc, b, take);
      b += take, n -= take;
    }
  };
  if (ds.stream) {
    // The same bytes as the held split's ds.x, read one sample at a time.
    std::vector<float> one(size_t(ds.sample_numel));
    for (int64_t i = 0; i < ds.n; ++i) {
      if (i % 1024 == 0) ds.stream->src->check();  // releases the pages read so far (a whole file would stay resident)
      read_sample(ds, i, one.data());
      add(one.data(), one.size() * 4);
    }
  } else {
    add(ds.x.data(), ds.x.size() * 4);
  }
  add(ds.labels.data(), ds.labels.size() * 4);
  add(ds.targets.data(), ds.targets.size() * 4);
  for (const Dataset& f : ds.fields) {
    if (!f.stream) {
      add(f.x.data(), f.x.size() * 4);
      continue;
    }
    std::vector<float> one(size_t(f.sample_numel));  // a streamed field (CSV column groups): as ds's samples above
    for (int64_t i = 0; i < f.n; ++i) {
      read_sample(f, i, one.data());
      add(one.data(), one.size() * 4);
    }
  }
  return (uint64_t(ds.n) << 40) ^ (uint64_t(ds.sample_numel) << 32) ^ uint64_t(crc);
}

// Whether checkpoint path `resume` (a directory or one of its files) is in run directory `dir`.
bool same_dir(const std::string& resume, const std::string& dir) {
  struct stat a, b;
  std::string rdir = resume;
  if (::stat(resume.c_str(), &a) == 0 && !S_ISDIR(a.st_mode)) {
    size_t slash = resume.rfind('/');
    rdir = slash == std::string::npos ? "." : resume.substr(0, slash);
  }
  return ::stat(rdir.c_str(), &a) == 0 && ::stat(dir.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

int run_train(dls_rt* rt, const Program& p, const Options& o) {
  require_io(rt);
  const int64_t epochs = o.epochs > 0 ? o.epochs : rt->epochs;
  // The run directory: metrics, and checkpoints (the declared checkpoint directory, or runs/NAME, where the
  // final weights of a spec without `checkpoint =` are kept). It belongs to this run until it ends.
  const std::string dir = run_dir(rt);
  const std::string resume = !o.resume.empty() ? o.resume : rt->resume_path;
  // From here on, SIGINT/SIGTERM/SIGHUP end the run at a step boundary (the process's handlers: the first replica
  // of a device list installs and restores them, every replica reads them).
  const bool own_signals = rt->replica == 0;
  if (own_signals) install_stop_signals();
  struct Restore {
    bool own;
    ~Restore() {
      if (own) restore_stop_signals();
    }
  } restore{own_signals};
  // Over MPI ranks (mpirun), rank 0 alone owns the run directory: the lock, checkpoints, metrics and plot.
  dist::Comm& world = dist::Comm::world();
  const bool lead = rt->rank == 0;
  std::optional<RunLock> lock;
  if (lead) {
    lock.emplace(dir);
    remove_temporaries(dir);  // under the lock, every temporary is an earlier run's leftover
  }
  Splits s = load_splits(rt, true);
  rt->data_fingerprint = data_fingerprint(s.train);
  // After the data (its errors come first), before anything is written.
  const bool continues = !resume.empty() && same_dir(resume, dir);
  if (!lead) {
    // rank 0 decides (and ends every rank when it refuses)
  } else if (o.overwrite) {
    remove_checkpoints(dir);
  } else if (std::string newest = newest_checkpoint(dir); !newest.empty() && !continues) {
    Fault f = make_fault(Diag::R0310, dir, dir, newest);
    f.notes.push_back(fmt::format("`train --resume {}` continues that run", dir));
    f.notes.push_back("`train --overwrite` starts over here, deleting its checkpoints and metrics");
    f.notes.push_back("or train into another directory (the train block's `checkpoint =`)");
    throw f;
  }
  int64_t start_epoch = 0, global_step = 0;
  std::string last_good;  // the newest checkpoint with this run's good state
  if (!resume.empty()) {
    // Every rank resumes from the checkpoint rank 0 chose (the newest valid one of the directory).
    // The lead loads it once (its warnings, R0308 and R0266, said once); the other ranks load the file it chose.
    std::string file;
    CheckpointInfo ci;
    if (lead) {
      struct stat st;
      if (::stat(resume.c_str(), &st) != 0) fail_path(resume, "--resume", true);
      ci = load_checkpoint(rt, resume, true);
      file = ci.path;
    }
    world.bcast(file, "the checkpoint to resume from");
    if (!lead) ci = load_checkpoint(rt, file, true);
    start_epoch = ci.epoch, global_step = ci.global_step;
    last_good = ci.path;
    if (!o.quiet && lead)
      std::printf("resumed from %s (epoch %lld, step %lld)\n", ci.path.c_str(), (long long)ci.epoch, (long long)ci.global_step);
  }
  if (!o.weights.empty() && !resume.empty())
    fail(Diag::R0406, rt->spec_path, "--weights", "a run from scratch: the spec's `resume` continues from a checkpoint's own weights");
  if (!o.weights.empty()) load_weights_dir(rt, o.weights);  // a run from scratch, from these values
  sync_state(rt);  // over ranks: every rank starts from rank 0's state
  if (lead) trim_metrics(dir, continues ? start_epoch : 0);  // a new run starts its own metrics; a resumed one drops later rows
  // drop_last: false trains on each epoch's final partial batch: the losses average over its real rows and
  // batch normalization takes its statistics from them, as PyTorch does for a batch of that size.
  Loader loader(s.train, s.train_aug, rt->batch, rt->drop_last, uint64_t(rt->seed), rt->ranks, rt->rank);
  // Over ranks, and on a device list (a list of one too: the same path, a world of one), every step's gradients,
  // loss and stop signals are combined (GradReducer).
  if (world.active() || rt->device_list) rt->reducer = std::make_unique<dist::GradReducer>(rt, world);
  struct DropReducer {
    dls_rt* rt;
    ~DropReducer() { rt->reducer.reset(); }
  } drop_reducer{rt};
  // Over ranks a stop signal ends the run after the step in which any rank offered it (GradReducer), so
  // that every rank stops after the same step.
  auto stop_now = [&] { return rt->reducer ? rt->stop_agreed : stop_signal(); };
  reset_clip_stats(rt);  // before the first step, which may be captured into a step graph
  // Gradient accumulation: K batches per optimizer step (dls_rt_accumulate), run eagerly (never captured: the
  // update differs between a group's batches).
  const int64_t K = std::max<int64_t>(rt->accumulate, 1);
  if (K > 1 && rt->ranks > 1) fail(Diag::R0113, rt->spec_path, K, rt->ranks);
  StepRunner steps(rt, p.train_step, K == 1);
  Guards guards(rt);
  Progress prog;
  prog.quiet = o.quiet || !lead;
  const bool declared_ckpt = !rt->ckpt_dir.empty();
  int64_t ckpt_failures = 0;  // checkpoint writes that failed (R0301): training goes on, the exit status is 1
  bool metrics_written = false;
  auto where_good = [&] {
    return last_good.empty() ? std::string("no checkpoint of a good state was written")
                             : fmt::format("the last good checkpoint is '{}'", last_good);
  };
  auto save = [&](int64_t epoch_done) {
    if (!lead) {  // rank 0 writes; every rank refuses a non-finite state alike
      if (std::string bad = nonfinite_state(rt); !bad.empty())
        fail(Diag::R0110, rt->spec_path, fmt::format("'{}'", bad), epoch_done, global_step);
      return;
    }
    try {
      last_good = save_checkpoint(rt, dir, epoch_done, global_step);
    } catch (Fault& f) {
      if (f.code == Diag::R0110) throw;  // poisoned state: the run stops (below)
      emit(f);  // the run goes on; the previous checkpoint is intact
      ++ckpt_failures;
    }
  };
  int stopped = 0;
  int64_t stop_epoch = start_epoch + 1;
  // Early stopping (dls_rt_stop): the best validation value so far (NaN: none yet), its epoch, validations since
  // it improved; a resume restored them from the checkpoint (format 5).
  const bool maximize = rt->stop_monitor == DLS_METRIC_ACCURACY;
  // A metric of one loss term's output (dls_rt_watch_output): val_OUTPUT_loss, _acc, _mae or _rmse; NaN when this
  // validation has no such term.
  auto output_metric = [](const EvalResult& r, const std::string& output, int32_t metric) {
    for (const EvalResult::Head& h : r.heads)
      if (h.name == output)
        return metric == DLS_METRIC_ACCURACY ? h.accuracy : metric == DLS_METRIC_MAE ? h.mae : metric == DLS_METRIC_RMSE ? h.rmse : h.loss;
    return double(NAN);
  };
  const std::string stop_name = monitor_name(rt->stop_output, rt->stop_monitor);
  const std::string plateau_name = monitor_name(rt->plateau_output, rt->plateau_monitor);
  double& best = rt->stop_best;
  int64_t& best_epoch = rt->stop_best_epoch;
  int64_t& without_improvement = rt->stop_bad;
  bool stop_early = false;
  // The best checkpoint (dls_rt_checkpoint_best): written after each validation that beats the best so far.
  auto save_best = [&](int64_t epoch_done) {
    if (!lead) return;
    try {
      save_checkpoint(rt, dir, epoch_done, global_step, kBestCheckpoint);
    } catch (Fault& f) {
      if (f.code == Diag::R0110) throw;
      emit(f);
      ++ckpt_failures;
    }
  };
  const int64_t start_step = global_step;
  try {
    for (int64_t epoch = start_epoch; epoch < epochs && !stopped; ++epoch) {
      auto t0 = Clock::now();
      const int64_t nb = loader.batches();
      // Optimizer steps per epoch: groups of K batches, the last one possibly shorter.
      const int64_t ns = (nb + K - 1) / K;
      // A checkpoint saved mid-epoch (after a signal) continues at the batch after its last step.
      int64_t first = epoch == start_epoch ? global_step - start_epoch * ns : 0;
      if (first < 0 || first >= ns) first = 0;
      loader.start_epoch(epoch, first * K);
      double group_loss = 0, group_rows = 0;  // the current group's row-weighted loss (K > 1)
      // The epoch's loss is the mean of its steps' losses, each the mean over its batch's real rows: what a
      // PyTorch loop over a DataLoader reports (a final partial batch counts as one step).
      double loss_sum = 0;
      int64_t correct = 0, samples = 0, steps_done = 0, counted = 0;
      const int64_t ignored = ignored_label(rt);
      const Tensor& out = rt->tensors[rt->io_output];
      const int64_t C = classes_per_row(rt), L = labels_per_sample(rt);
      const bool classify = !s.train.labels.empty() && (rt->heads.empty() || label_loss(rt) >= 0);
      const float threshold = binary_threshold(rt);
      std::vector<float> logits(size_t(out.d.numel));
      rt->step.training = 1;
      for (int64_t k = first * K; k < nb; ++k) {
        // A run stops (and checkpoints) only between optimizer steps.
        const int64_t j = k % K;  // the batch's place in its group
        if (j == 0 && (stopped = stop_now()) != 0) break;
        const Batch& b = loader.next();
        bind_batch(rt, b);
        // Each batch of a group draws its own dropout masks.
        rt->step.step = K > 1 ? global_step * K + j : global_step;
        rt->accum_last = j == K - 1 || k == nb - 1;
        rt->stop_local = stop_signal();
        // ReduceLROnPlateau's rate moves only after a validation (below); every other schedule is a function of
        // the epoch and (optimizer) step.
        rt->lr_now = rt->plateau_monitor ? rt->plateau_lr : schedule_lr(rt->schedules, rt->opt.lr, epoch, global_step, epochs, ns);
        steps.run();
        float loss = 0;
        to_host(rt, &loss, rt->tensors[rt->io_loss].d.data, 4);
        guards.after_step(p, epoch, global_step, loss);
        if (K == 1) {
          loss_sum += double(loss);
          ++steps_done;
        } else {
          // A step's loss is its group's: each batch's mean weighted by its real rows, the mean over the K·B samples.
          group_loss += double(loss) * double(b.valid), group_rows += double(b.valid);
          if (rt->accum_last) {
            loss_sum += group_rows > 0 ? group_loss / group_rows : 0.0;
            ++steps_done;
            group_loss = group_rows = 0;
          }
        }
        samples += b.valid;
        if (classify) {  // training accuracy from this step's (training-mode) outputs: B (x T) x C floats
          to_host(rt, logits.data(), out.d.data, out.bytes);
          for (int64_t r = 0; r < b.valid * L; ++r)
            if (b.labels[size_t(r)] != ignored)
              correct += predicted_class(logits.data() + r * C, C, threshold) == b.labels[size_t(r)], ++counted;
        }
        if (rt->accum_last) ++global_step;
        double el = since(t0), img_s = double(samples) / el;
        prog.step(epoch + 1, epochs, k + 1, nb, steps_done ? loss_sum / double(steps_done) : double(loss), img_s,
                  el / double(k + 1 - first * K) * double(nb - k - 1));
      }
      if (stopped) {
        stop_epoch = epoch + 1;
        if (global_step > start_step) save(epoch);  // mid-epoch: `epoch` epochs are complete
        break;
      }
      if (epoch == start_epoch) guards.after_first_epoch();
      if (world.active()) {  // the accuracy and throughput of the global batches
        double sums[3] = {double(correct), double(samples), double(counted)};
        world.sum(sums, 3, fmt::format("the training accuracy of epoch {}", epoch + 1));
        correct = int64_t(sums[0]), samples = int64_t(sums[1]), counted = int64_t(sums[2]);
      }
      const double train_time = since(t0);
      constexpr double kMinTimedEpoch = 1.0;  // seconds
      EpochMetrics m;
      m.epoch = epoch + 1;
      m.train_loss = steps_done ? loss_sum / double(steps_done) : NAN;
      m.train_acc = classify && counted ? double(correct) / double(counted) : NAN;
      m.img_s = double(samples) / train_time;
      m.lr = rt->lr_now;
      m.val_loss = m.val_acc = NAN;
      bool validate = s.has_valid && rt->validate_every > 0 && ((epoch + 1) % rt->validate_every == 0 || epoch + 1 == epochs);
      int64_t val_samples = 0;
      double val_loss = NAN;  // computed whenever validating: a non-finite one stops the run (below)
      double r_acc = NAN;
      EvalResult best_r;  // this validation's metrics, for the best checkpoint
      if (validate) {
        EvalResult r = evaluate(rt, p, s.valid);
        best_r = r;
        val_loss = r.loss, val_samples = r.samples, r_acc = r.accuracy;
        // The validate clause's `metrics [...]` says which are reported (printed, in the metrics files).
        if (rt->metrics_mask & DLS_METRIC_LOSS) m.val_loss = r.loss;
        if (rt->metrics_mask & DLS_METRIC_ACCURACY) m.val_acc = r.accuracy;
        for (const auto& [bit, name, v] : {std::tuple{DLS_METRIC_TOP_K, "val_top_k", r.top_k},
                                           std::tuple{DLS_METRIC_PRECISION, "val_precision", r.precision},
                                           std::tuple{DLS_METRIC_RECALL, "val_recall", r.recall},
                                           std::tuple{DLS_METRIC_F1, "val_f1", r.f1}, std::tuple{DLS_METRIC_MAE, "val_mae", r.mae},
                                           std::tuple{DLS_METRIC_RMSE, "val_rmse", r.rmse}, std::tuple{DLS_METRIC_R2, "val_r2", r.r2},
                                           std::tuple{DLS_METRIC_AUC, "val_auc", r.auc}})
          if (rt->metrics_mask & bit) m.extra.emplace_back(name, v);
        // A loss of several terms: each term's loss and its output's metrics, under the output's name.
        for (const EvalResult::Head& h : r.heads)
          for (const auto& [suffix, v] : {std::pair{"loss", h.loss}, std::pair{"acc", h.accuracy}, std::pair{"mae", h.mae},
                                          std::pair{"rmse", h.rmse}})
            if (std::isfinite(v)) m.extra.emplace_back(fmt::format("val_{}_{}", h.name, suffix), v);
        if ((rt->metrics_mask & DLS_METRIC_CONFUSION) && lead && r.classes > 0) write_confusion(dir, r);
      }
      m.seconds = since(t0);
      std::string line = fmt::format("epoch {}/{}  loss {:.4f}", epoch + 1, epochs, m.train_loss);
      if (classify) line += fmt::format("  acc {:.2f}%", m.train_acc * 100);
      if (validate && (rt->metrics_mask & DLS_METRIC_LOSS)) line += fmt::format("  val_loss {:.4f}", m.val_loss);
      if (validate && std::isfinite(m.val_acc)) line += fmt::format("  val_acc {:.2f}%", m.val_acc * 100);
      for (const auto& [name, v] : m.extra)
        if (std::isfinite(v)) line += fmt::format("  {} {:.4f}", name, v);
      // Throughput means something only over an epoch long enough to time (metrics.csv keeps it always).
      if (train_time >= kMinTimedEpoch) line += fmt::format("  {:.0f} img/s", m.img_s);
      line += fmt::format("  {:.1f}s", m.seconds);
      prog.line(line);
      if (lead) metrics_written |= append_metrics(dir, m);
      guards.after_epoch(epoch, m.train_loss, val_loss);
      rt->last_val_loss = validate && val_samples > 0 ? val_loss : NAN;
      rt->last_val_acc = validate && val_samples > 0 ? r_acc : NAN;
      if (rt->plateau_monitor && validate && val_samples > 0 && std::isfinite(val_loss)) {
        const double v = !rt->plateau_output.empty() ? output_metric(best_r, rt->plateau_output, rt->plateau_monitor)
                         : rt->plateau_monitor == DLS_METRIC_ACCURACY ? r_acc : val_loss;
        if (!std::isnan(v) && plateau_step(rt, v) && !o.quiet && lead)
          std::printf("plateau: %s has not improved by more than %g for more than %lld validations; learning rate %g from "
                      "epoch %lld\n",
                      plateau_name.c_str(), rt->plateau_min_delta,
                      (long long)rt->plateau_patience, rt->plateau_lr, (long long)(epoch + 2));
      }
      if (rt->stop_kind == DLS_STOP_EARLY && validate && val_samples > 0) {
        const double v = !rt->stop_output.empty() ? output_metric(best_r, rt->stop_output, rt->stop_monitor) : maximize ? r_acc : val_loss;
        const bool better = !std::isnan(v) && (std::isnan(best) || (maximize ? v > best + rt->stop_min_delta : v < best - rt->stop_min_delta));
        if (better) {
          best = v, best_epoch = epoch + 1, without_improvement = 0;
        } else if (++without_improvement >= rt->stop_patience) {
          stop_early = true;
        }
      }
      // A model whose validation loss is not finite is not kept, even when its weights are finite numbers.
      if (val_samples > 0 && !std::isfinite(val_loss)) {
        // R0101, located by re-running the step (without an update) on the last validation batch, still bound.
        try {
          guards.after_step(p, epoch, global_step - 1, float(val_loss));
        } catch (Fault& f) {
          f.notes.insert(f.notes.begin(), "this is the validation loss, after the epoch's last training step");
          throw;
        }
        fail(Diag::R0110, rt->spec_path, "the validation loss", epoch + 1, global_step);
      }
      // The best checkpoint's metric: a better value than the best so far (NaN: none yet) makes this epoch the best.
      bool best_now = false;
      if (rt->ckpt_best_metric && validate && val_samples > 0) {
        double v = NAN;
        for (const auto& [bit, x] : {std::pair{DLS_METRIC_LOSS, val_loss}, std::pair{DLS_METRIC_ACCURACY, r_acc},
                                     std::pair{DLS_METRIC_TOP_K, best_r.top_k}, std::pair{DLS_METRIC_PRECISION, best_r.precision},
                                     std::pair{DLS_METRIC_RECALL, best_r.recall}, std::pair{DLS_METRIC_F1, best_r.f1},
                                     std::pair{DLS_METRIC_MAE, best_r.mae}, std::pair{DLS_METRIC_RMSE, best_r.rmse},
                                     std::pair{DLS_METRIC_R2, best_r.r2}, std::pair{DLS_METRIC_AUC, best_r.auc}})
          if (bit == rt->ckpt_best_metric) v = x;
        if (!rt->ckpt_best_output.empty()) v = output_metric(best_r, rt->ckpt_best_output, rt->ckpt_best_metric);
        const double was = rt->ckpt_best_value;
        if (std::isfinite(v) && (std::isnan(was) || (rt->ckpt_best_max ? v > was : v < was))) {
          rt->ckpt_best_value = v, rt->ckpt_best_epoch = epoch + 1;
          best_now = true;
        }
      }
      const bool last = epoch + 1 == epochs || stop_early;
      if ((declared_ckpt && (epoch + 1) % rt->ckpt_every == 0) || last) {
        save(epoch + 1);
      } else if (std::string bad = nonfinite_state(rt); !bad.empty()) {
        fail(Diag::R0110, rt->spec_path, fmt::format("'{}'", bad), epoch + 1, global_step);
      }
      if (best_now) save_best(epoch + 1);
      stop_epoch = epoch + 1;
      if (stop_early) {
        if (!o.quiet && lead)
          std::printf("early stopping at epoch %lld: %s has not improved by more than %g for %lld validations; best %.4f "
                      "at epoch %lld\n",
                      (long long)(epoch + 1), stop_name.c_str(), rt->stop_min_delta,
                      (long long)rt->stop_patience, best, (long long)best_epoch);
        break;
      }
      stopped = stop_now();
    }
  } catch (Fault& f) {
    if (f.code == Diag::R0101 || f.code == Diag::R0110) {
      f.notes.push_back(where_good());
      if (!last_good.empty()) f.notes.push_back(fmt::format("`train --resume {}` continues from it (with a lower learning rate, say)", last_good));
    }
    throw;
  }
  const bool curves = lead && write_curves(dir, read_metrics(dir));
  if (!o.quiet && metrics_written && curves)
    std::printf("metrics: %s/metrics.jsonl, %s/metrics.csv, %s/curves.svg\n", dir.c_str(), dir.c_str(), dir.c_str());
  if (!o.quiet && lead && !last_good.empty() && !stopped) std::printf("weights: %s\n", last_good.c_str());
  std::fflush(stdout);
  if (stopped) {
    std::string what = global_step > start_step && !last_good.empty()
                           ? fmt::format("saved '{}'; `train --resume {}` continues", last_good, dir)
                           : std::string("nothing was trained in this run, no checkpoint written");
    warn(Diag::R0111, dir, signal_name(stopped), stop_epoch, global_step, what);
    return 128 + stopped;
  }
  return ckpt_failures > 0 ? 1 : 0;  // errors were reported (R0301): the run's exit status must say so
}

void load_weights(dls_rt* rt, const Options& o) {
  if (!o.weights.empty()) return load_weights_dir(rt, o.weights);
  // The declared checkpoint directory, or runs/NAME where training keeps the weights otherwise.
  // --checkpoint names a directory (its newest valid checkpoint) or one checkpoint file (such as best.dlsc).
  std::string dir = !o.checkpoint.empty() ? o.checkpoint : run_dir(rt);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !(S_ISDIR(st.st_mode) || (!o.checkpoint.empty() && S_ISREG(st.st_mode))))
    fail_path(dir, o.checkpoint.empty() ? "" : "--checkpoint", true);
  load_checkpoint(rt, dir);
}

int run_eval(dls_rt* rt, const Program& p, const Options& o) {
  require_io(rt);
  load_weights(rt, o);
  sync_state(rt);  // over ranks: rank 0's weights; each rank evaluates its share of every batch
  const int split = rt->data[DLS_SPLIT_TEST].declared ? DLS_SPLIT_TEST : DLS_SPLIT_VALID;
  Dataset ds;
  if (rt->data[split].declared) {
    ds = load_dataset(rt->data[split], split == DLS_SPLIT_TEST ? "test" : "valid");
    check_pair_targets(rt, ds);
    apply_pipeline(ds, rt->pipes[split], false);
  } else if (rt->split_fraction > 0 && rt->data[DLS_SPLIT_TRAIN].declared) {
    ds = std::move(load_splits(rt, true).valid);  // the samples training holds out (split(valid: f))
  } else {
    fail(Diag::R0213, rt->spec_path, "the program declares no test or validation data");
  }
  EvalResult r = evaluate(rt, p, ds);
  if (rt->rank != 0) return 0;
  std::printf("%s: %lld samples  loss %.4f", ds.name.c_str(), (long long)r.samples, r.loss);
  if (std::isfinite(r.accuracy)) std::printf("  accuracy %.2f%%", r.accuracy * 100);
  // Every other metric of the validate clause's `metrics [...]`, as training prints them (4 decimals).
  for (const auto& [bit, name, v] : {std::tuple{DLS_METRIC_TOP_K, "top_k", r.top_k}, std::tuple{DLS_METRIC_PRECISION, "precision", r.precision},
                                     std::tuple{DLS_METRIC_RECALL, "recall", r.recall}, std::tuple{DLS_METRIC_F1, "f1", r.f1},
                                     std::tuple{DLS_METRIC_MAE, "mae", r.mae}, std::tuple{DLS_METRIC_RMSE, "rmse", r.rmse},
                                     std::tuple{DLS_METRIC_R2, "r2", r.r2}, std::tuple{DLS_METRIC_AUC, "auc", r.auc}})
    if ((rt->metrics_mask & bit) && std::isfinite(v)) std::printf("  %s %.4f", name, v);
  for (const EvalResult::Head& h : r.heads)
    for (const auto& [suffix, v] : {std::pair{"loss", h.loss}, std::pair{"acc", h.accuracy}, std::pair{"mae", h.mae},
                                    std::pair{"rmse", h.rmse}})
      if (std::isfinite(v)) std::printf("  %s_%s %.4f", h.name.c_str(), suffix, v);
  std::printf("\n");
  if ((rt->metrics_mask & DLS_METRIC_CONFUSION) && r.classes > 0) {
    // Where training writes it: the run directory.
    const std::string dir = run_dir(rt);
    write_confusion(dir, r);
    std::printf("confusion: %s/confusion.csv\n", dir.c_str());
  }
  return 0;
}

namespace {
// A text model's `predict`: the prompt's last T tokens (ids of the program's vocabulary, left-padded with the
// unknown id 0) go in as one window; the most likely token after the last step is appended, and the window
// slides on, o.tokens times (greedy decoding). Prints the prompt and what follows it.
int predict_text(dls_rt* rt, const Program& p, const Options& o, const DataDecl& decl) {
  std::vector<uint8_t> bytes = read_file(o.predict_file);
  std::vector<uint32_t> prompt;
  data::Error e;
  if (!data::decodeText(bytes, decl.text_chars != 0, prompt, e))
    fail(Diag::R0223, fmt::format("{}:byte {}", o.predict_file, e.offset), o.predict_file, e.offset, e.what);
  const std::vector<uint32_t>& vocab = rt->vocab.empty() ? decl.vocab : rt->vocab;
  if (vocab.empty()) fail(Diag::R0213, rt->spec_path, "the program has no vocabulary for its text (build it where the training text is)");
  std::vector<int32_t> ids = data::tokenIds(prompt, vocab);
  const int64_t T = decl.text_seq, C = classes_per_row(rt);
  const Tensor& out = rt->tensors[rt->io_output];
  std::vector<float> v(size_t(out.d.numel));
  Batch b;
  b.x.assign(size_t(local_batch(rt) * T), 0.0f);
  b.labels.assign(size_t(local_batch(rt) * T), 0);
  b.class_labels = true;
  b.valid = 1;
  rt->step.training = 0;
  std::string text(bytes.begin(), bytes.end());
  for (int64_t k = 0; k < o.tokens; ++k) {
    for (int64_t t = 0; t < T; ++t) {
      const int64_t at = int64_t(ids.size()) - T + t;
      b.x[size_t(t)] = at >= 0 ? float(ids[size_t(at)]) : 0.0f;
    }
    bind_batch(rt, b);
    call(rt, p.eval_step);
    to_host(rt, v.data(), out.d.data, out.bytes);
    const int64_t next = predicted_class(v.data() + (T - 1) * C, C, binary_threshold(rt));
    ids.push_back(int32_t(next));
    text += next >= 1 && size_t(next) <= vocab.size() ? data::tokenText(vocab[size_t(next - 1)], decl.text_chars != 0) : "?";
  }
  std::printf("%s\n", text.c_str());
  return 0;
}
}  // namespace

namespace {
// What a predicting network's outputs mean, from the loss it was trained with: class scores to turn into
// probabilities (softmax of logits, exp of log-probabilities, sigmoids), or regression values.
struct OutputMeaning {
  bool classes = false;  // integer labels: the outputs score classes
  int32_t loss = -1;     // the loss's opcode
};
OutputMeaning output_meaning(const dls_rt* rt) {
  OutputMeaning m;
  m.classes = rt->io_labels >= 0 && rt->tensors[rt->io_labels].d.dtype == DLS_I32;
  for (const auto& op : rt->ops)
    if (op->output == label_loss(rt) && op->output >= 0) m.loss = op->d.opcode;
  return m;
}
// Probability of each of C classes from one row of outputs.
void class_probabilities(const OutputMeaning& m, const float* row, int64_t C, std::vector<double>& p) {
  p.assign(size_t(C == 1 ? 2 : C), 0.0);
  if (C == 1) {  // one output per sample: the probability of class 1
    const double q = m.loss == DLS_OP_BCE ? double(row[0]) : 1.0 / (1.0 + std::exp(-double(row[0])));
    p[0] = 1.0 - q, p[1] = q;
    return;
  }
  // focal and hinge score independent classes as bce_with_logits does (hinge's scores through the sigmoid: an
  // order, not a calibrated probability); kl_div's outputs are log-probabilities, as nll's.
  if (m.loss == DLS_OP_NLL || m.loss == DLS_OP_KL_DIV) {
    for (int64_t c = 0; c < C; ++c) p[size_t(c)] = std::exp(double(row[c]));
  } else if (m.loss == DLS_OP_BCE || m.loss == DLS_OP_BCE_WITH_LOGITS || m.loss == DLS_OP_FOCAL ||
             m.loss == DLS_OP_HINGE) {  // independent classes (multi-label)
    for (int64_t c = 0; c < C; ++c)
      p[size_t(c)] = m.loss == DLS_OP_BCE ? double(row[c]) : 1.0 / (1.0 + std::exp(-double(row[c])));
  } else {
    double mx = row[0], sum = 0;
    for (int64_t c = 1; c < C; ++c) mx = std::max(mx, double(row[c]));
    for (int64_t c = 0; c < C; ++c) sum += p[size_t(c)] = std::exp(double(row[c]) - mx);
    for (double& v : p) v /= sum;
  }
}
std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') o += '\\', o += char(ch);
    else if (ch < 0x20) o += fmt::format("\\u{:04x}", ch);
    else o += char(ch);
  }
  return o + "\"";
}
std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string o = "\"";
  for (char ch : s) o += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return o + "\"";
}
}  // namespace

// predict's samples: FILE, or with several sample fields one file per field (--input NAME=FILE; FILE, when given,
// is the first field's). Every field needs its file, and every --input names a field (R0256).
static Dataset load_predict_samples(const Options& o, const DataDecl& decl) {
  if (decl.fields.empty()) {
    if (!o.inputs.empty())
      fail(Diag::R0256, o.inputs[0].second, fmt::format("--input {}={}: the program's data has one sample field; give its file "
                                                        "alone (`predict FILE`)", o.inputs[0].first, o.inputs[0].second));
    return load_samples(o.predict_file, decl);
  }
  std::vector<std::string> names = {decl.sample_name};
  for (const DataDecl::Field& f : decl.fields) names.push_back(f.name);
  std::vector<std::string> files(names.size());
  files[0] = o.predict_file;
  for (const auto& [name, file] : o.inputs) {
    const auto at = std::find(names.begin(), names.end(), name);
    if (at == names.end())
      fail(Diag::R0256, file, fmt::format("--input {}={}: the data has no sample field `{}` (its fields: {})", name, file, name,
                                          fmt::join(names, ", ")));
    std::string& slot = files[size_t(at - names.begin())];
    if (!slot.empty()) fail(Diag::R0256, file, fmt::format("sample field `{}` is given two files, '{}' and '{}'", name, slot, file));
    slot = file;
  }
  for (size_t k = 0; k < names.size(); ++k)
    if (files[k].empty())
      fail(Diag::R0256, "", fmt::format("the network takes sample field `{}`: give its file with --input {}=FILE (one per field: {})",
                                        names[k], names[k], fmt::join(names, ", ")));
  Dataset ds = load_samples(files[0], decl);
  load_field_samples(ds, std::vector<std::string>(files.begin() + 1, files.end()), decl, files[0]);
  return ds;
}

int run_predict(dls_rt* rt, const Program& p, const Options& o) {
  require_io(rt);
  // Over ranks, rank 0 predicts (in batches of its share) and prints; the others have nothing to do.
  if (rt->rank != 0) return 0;
  load_weights(rt, o);
  const int split = rt->data[DLS_SPLIT_TEST].declared ? DLS_SPLIT_TEST : DLS_SPLIT_TRAIN;
  if (rt->data[split].format == DLS_DATA_TEXT) return predict_text(rt, p, o, rt->data[split]);
  const OutputMeaning meaning = output_meaning(rt);
  if (o.top > 0 && !meaning.classes) fail(Diag::R0406, "", "--top", "a classifier (this program's targets are real values)");
  Dataset ds = load_predict_samples(o, rt->data[split]);
  apply_pipeline(ds, rt->pipes[split], false);
  // The class names the program was built with, or an image folder's class folders.
  std::vector<std::string> names = rt->class_names;
  if (names.empty() && rt->data[DLS_SPLIT_TRAIN].format == DLS_DATA_IMAGES) names = image_classes(rt->data[DLS_SPLIT_TRAIN].path_a);
  const int64_t rows = local_batch(rt);
  Loader loader(ds, Augment{}, rows, false, uint64_t(rt->seed));
  loader.start_epoch(0);
  const Tensor& out = rt->tensors[rt->io_output];
  const int64_t C = classes_per_row(rt), L = labels_per_sample(rt), per = out.d.numel / out.d.dims[0];
  const float threshold = binary_threshold(rt);
  const bool json = o.output.ends_with(".json");
  auto class_name = [&](int64_t c) { return size_t(c) < names.size() ? names[size_t(c)] : std::to_string(c); };
  // A loss of several terms (dls_rt_head): the outputs besides io_output are printed after it, each under its
  // name (its class against class labels, else its values); io_output itself only when a term scores it against the
  // labels (an autoencoder's one output is a head of its own).
  const bool main_scored = rt->heads.empty() || label_loss(rt) >= 0;
  std::vector<size_t> shown;
  for (size_t h = 0; h < rt->heads.size(); ++h) {
    bool dup = !main_scored ? false : rt->heads[h].output == rt->io_output;
    for (size_t j : shown) dup |= rt->heads[j].output == rt->heads[h].output;
    if (!dup) shown.push_back(h);
  }
  std::vector<std::vector<float>> head_v(shown.size());
  auto head_per = [&](size_t k) {
    const dls_tensor_desc& d = rt->tensors[size_t(rt->heads[shown[k]].output)].d;
    return d.numel / std::max<int64_t>(1, d.dims[0]);
  };
  auto head_classes = [&](size_t k) { return rt->tensors[size_t(rt->heads[shown[k]].target)].d.dtype == DLS_I32; };
  // One record per sample: its file (image files), then its class (a sequence: its classes per step), its top K
  // classes with their probabilities, or its regression values.
  std::string text;  // --output's contents
  if (!o.output.empty() && !json) {
    text = "sample";
    if (!ds.files.empty()) text += ",file";
    if (!meaning.classes) for (int64_t j = 0; j < per; ++j) text += per == 1 ? ",value" : fmt::format(",value{}", j);
    else if (o.top > 0) for (int64_t k = 1; k <= o.top; ++k) text += fmt::format(",class{0},probability{0}", k);
    else for (int64_t s = 0; s < L; ++s) text += L == 1 ? ",class" : fmt::format(",class{}", s);
    if (!main_scored) text = ds.files.empty() ? "sample" : "sample,file";
    for (size_t k = 0; k < shown.size(); ++k) {
      const std::string& n = rt->heads[shown[k]].name;
      if (head_classes(k)) text += "," + n;
      else for (int64_t j = 0; j < head_per(k); ++j) text += head_per(k) == 1 ? "," + n : fmt::format(",{}{}", n, j);
    }
    text += "\n";
  } else if (json) {
    text = "[";
  }
  std::vector<float> v(size_t(out.d.numel)), outputs;
  std::vector<double> prob;
  rt->step.training = 0;
  for (int64_t k = 0; k < loader.batches(); ++k) {
    const Batch& b = loader.next();
    bind_batch(rt, b);
    call(rt, p.eval_step);
    to_host(rt, v.data(), out.d.data, out.bytes);
    for (size_t k = 0; k < shown.size(); ++k) {
      const Tensor& ht = rt->tensors[size_t(rt->heads[shown[k]].output)];
      head_v[k].resize(size_t(ht.d.numel));
      to_host(rt, head_v[k].data(), ht.d.data, ht.bytes);
    }
    if (!o.outputs.empty()) {  // the valid rows' outputs, in the file's order
      outputs.insert(outputs.end(), v.begin(), v.begin() + b.valid * per);
      continue;
    }
    for (int64_t r = 0; r < b.valid; ++r) {
      const int64_t i = k * rows + r;
      const std::string file = size_t(i) < ds.files.size() ? ds.files[size_t(i)] : "";
      std::vector<std::string> cells;  // printed separated by spaces (plain), or as CSV cells / JSON fields
      std::string fields;              // JSON
      if (!meaning.classes) {
        float* row = v.data() + r * per;
        to_target_units(rt->pipes[split], row, per);
        std::vector<std::string> vals;
        for (int64_t j = 0; j < per; ++j) vals.push_back(fmt::format("{:.7g}", row[j]));
        cells = vals;
        fields = fmt::format("\"value\": {}", per == 1 ? vals[0] : fmt::format("[{}]", fmt::join(vals, ", ")));
      } else if (o.top > 0) {
        class_probabilities(meaning, v.data() + r * C * L, C, prob);  // the first step's classes of a sequence
        std::vector<int64_t> order(prob.size());
        for (size_t c = 0; c < order.size(); ++c) order[c] = int64_t(c);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b2) { return prob[size_t(a)] > prob[size_t(b2)]; });
        std::vector<std::string> items;
        for (int64_t t = 0; t < std::min<int64_t>(o.top, int64_t(order.size())); ++t) {
          const int64_t c = order[size_t(t)];
          if (o.output.empty()) cells.push_back(fmt::format("{} {:.4f}", class_name(c), prob[size_t(c)]));
          else cells.push_back(csv_cell(class_name(c))), cells.push_back(fmt::format("{:.6g}", prob[size_t(c)]));
          items.push_back(fmt::format("{{\"class\": {}, \"probability\": {:.6g}}}", json_string(class_name(c)), prob[size_t(c)]));
        }
        fields = fmt::format("\"top\": [{}]", fmt::join(items, ", "));
      } else {
        std::vector<std::string> cls;
        for (int64_t s = 0; s < L; ++s) {
          const std::string n = class_name(predicted_class(v.data() + (r * L + s) * C, C, threshold));
          cells.push_back(o.output.empty() ? n : csv_cell(n));
          cls.push_back(json_string(n));
        }
        fields = fmt::format("\"class\": {}", L == 1 ? cls[0] : fmt::format("[{}]", fmt::join(cls, ", ")));
      }
      if (!main_scored) cells.clear(), fields.clear();
      for (size_t k = 0; k < shown.size(); ++k) {
        const std::string& n = rt->heads[shown[k]].name;
        const int64_t hp = head_per(k);
        const float* row = head_v[k].data() + r * hp;
        std::string field;
        if (head_classes(k)) {
          const std::string c = class_name(predicted_class(row, hp, 0.f));
          cells.push_back(o.output.empty() ? n + ": " + c : csv_cell(c));
          field = json_string(c);
        } else {
          std::vector<std::string> vals;
          for (int64_t j = 0; j < hp; ++j) vals.push_back(fmt::format("{:.7g}", row[j]));
          if (o.output.empty()) cells.push_back(fmt::format("{}: {}", n, fmt::join(vals, " ")));
          else cells.insert(cells.end(), vals.begin(), vals.end());
          field = hp == 1 ? vals[0] : fmt::format("[{}]", fmt::join(vals, ", "));
        }
        fields += fmt::format("{}{}: {}", fields.empty() ? "" : ", ", json_string(n), field);
      }
      if (o.output.empty()) {
        std::printf("%s%s\n", file.empty() ? "" : (file + ": ").c_str(), fmt::format("{}", fmt::join(cells, o.top > 0 ? ", " : " ")).c_str());
      } else if (json) {
        text += fmt::format("{}\n  {{\"sample\": {}{}, {}}}", i ? "," : "", i, file.empty() ? "" : ", \"file\": " + json_string(file), fields);
      } else {
        text += fmt::format("{}{},{}\n", i, file.empty() ? "" : "," + csv_cell(file), fmt::join(cells, ","));
      }
    }
  }
  if (!o.outputs.empty()) {
    dls_tensor_desc d = out.d;
    d.dims[0] = ds.n;
    write_npy(o.outputs, outputs, d);
  }
  if (!o.output.empty()) {
    if (json) text += "\n]\n";
    // Through a temporary beside it, renamed into place: a full disk leaves the old file, never half of one.
    const std::string why = write_replace(o.output, text, false);
    if (!why.empty()) fail(Diag::R0407, o.output, o.output, why);
  }
  return 0;
}

}  // namespace dls
