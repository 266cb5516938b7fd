// Runtime.h: the dls_rt struct, the program a compiled spec declares through the C ABI: configuration,
// data declarations, tensors (arena-planned or persistent), parameters, forward ops and gradient ops,
// bound to one backend. Host-side logic shared by all backends lives here (shape/attr decoding in
// OpDecode, initialisers in Init, schedules in Schedule).
#ifndef DLSPEC_RUNTIME_CORE_RUNTIME_H
#define DLSPEC_RUNTIME_CORE_RUNTIME_H
#include <dlspec/runtime.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "Backend.h"
#include "Diagnostics.h"
#include "Memory.h"

namespace dls {
namespace dist {
class GradReducer;
}

struct Tensor {
  dls_tensor_desc d{};
  int64_t arena_offset = -1;  // -1: persistent, owned by the runtime
  size_t bytes = 0;
};

struct Param {
  int32_t value = -1, grad = -1;
  std::string name;
  int32_t init = 0;
  double a = 0, b = 0;
  int64_t fan_in = 0, fan_out = 0;
  bool trainable = true, decay = true;
  float* state0 = nullptr;  // optimizer state (device), numel floats each, trainable params only
  float* state1 = nullptr;
  float* state2 = nullptr;  // Adam/AdamW with amsgrad: max_exp_avg_sq
};

struct Op {
  int32_t opcode = -1;  // the spec's op (ops.def); d.opcode is the op whose backend kernel runs it
  dls_op_desc d{};
  std::vector<dls_tensor_desc> tensors;
  std::vector<double> attrs;
  void* state = nullptr;
  int32_t output = -1;  // tensor id of the op's main output (guards check it)
};

struct GradOp {
  dls_grad_op_desc d{};
  std::vector<dls_tensor_desc> dins;
  std::vector<dls_tensor_desc> dparam_of;  // d.dparam_of
  void* state = nullptr;
};

struct OptimizerConfig {
  int32_t kind = DLS_OPT_SGD;
  double lr = 0.01, momentum = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  int32_t nesterov = 0;
  int state_slots() const { return dls_optimizer_state_slots(kind, momentum, nesterov); }
};
struct ScheduleConfig {
  int32_t kind = DLS_SCHED_CONSTANT;
  double a = 0, b = 0, c = 0, d = 0;
};
struct DataDecl {
  bool declared = false;
  int32_t format = 0;
  std::string path_a, path_b;
  int32_t label_column = 0;
  int32_t sample_rank = 0;
  int64_t dims[4] = {1, 1, 1, 1};
  int64_t classes = 0;
  int64_t label_numel = 1;  // class labels per sample: T for per-step labels [N, T] (set by dls_rt_io)
  int32_t dtype = -1;       // declared sample element type (dls_dtype, dls_rt_sample_dtype); -1: not declared
  // DLS_DATA_IMAGES (dls_rt_images): the size every image is resized to (0: none), the channels it is
  // converted to (0: none), and how (dls::data::Resize).
  int64_t image_h = 0, image_w = 0;
  int32_t image_channels = 0, image_resize = 0;
  std::vector<std::string> class_names;  // dls_rt_class_names: the classes an image folder must have
  int32_t threads = 2;                   // threads that decode images (the program's --threads)
  // DLS_DATA_TEXT (dls_rt_text, dls_rt_vocabulary): window length, code points (1) or bytes (0), vocabulary.
  int64_t text_seq = 0;
  int32_t text_chars = 1;
  std::vector<uint32_t> vocab;
  // DLS_DATA_CSV (dls_rt_csv): the file's layout, and the label column by index when csv_label_by_index.
  bool csv_header = true;
  int64_t csv_skip = 0;
  char csv_sep = ',';
  bool csv_label_by_index = false;
  int64_t csv_label_index = 0;
  // dls_rt_csv_columns: several label columns ("#K" or a name each; empty: the one above), and the values that
  // fill missing cells of the feature columns (csv_impute).
  std::vector<std::string> csv_labels;
  bool csv_impute = false;
  std::vector<double> csv_fill;
  // dls_rt_csv_categories: the categorical columns ("#K" or a name each) and their values, sorted (the training
  // split's); a cell of such a column becomes its value's index.
  std::vector<std::string> csv_categorical;
  std::vector<std::vector<std::string>> csv_categories;
  // dls_rt_csv_label_file: the file whose records are the labels, row-aligned with path_a's (empty: none).
  std::string csv_label_file;
  // dls_rt_sample_field: the sample fields after the first, each from a file of its own.
  struct Field {
    std::string name, path;
    int32_t dtype = -1;
    int32_t rank = 0;
    int64_t dims[4] = {1, 1, 1, 1};
  };
  std::vector<Field> fields = {};
  std::string sample_name = {};  // the first sample field's name (dls_rt_sample_field 0)
  // dls_rt_csv_field: the columns [first, end) of the CSV file each sample field takes (empty: the first field takes
  // every column but the labels').
  std::vector<std::pair<int64_t, int64_t>> csv_field_columns = {};
};
struct PipeStep {
  int32_t op = 0;
  double a = 0, b = 0, c = 0, d = 0;
  std::vector<float> offset = {}, scale = {};  // DLS_PIPE_FEATURES: per element of the sample
  int32_t field = 0;  // dls_rt_pipe_field: the sample field it transforms (0: the first)
};

}  // namespace dls

struct dls_rt {
  // identity and configuration
  std::string name = "program", spec_path = "spec.dls";
  uint64_t layout_hash = 0;
  int32_t device_kind = DLS_DEVICE_CPU, first_device = 0, device_count = 1;
  int64_t epochs = 1, batch = 1, seed = 0;
  std::string ckpt_dir;
  int64_t ckpt_every = 1, ckpt_keep = 3;
  std::string resume_path;  // the train block's `resume = "PATH"` (dls_rt_resume)
  bool drop_last = false;   // the training pipeline's batch(n, drop_last: ...) (dls_rt_batching)
  int32_t precision = DLS_F32;  // the train block's `precision` (dls_rt_precision): DLS_F32 or DLS_BF16
  uint64_t data_fingerprint = 0;  // of the training data this run loaded (0: none), recorded in checkpoints
  int64_t validate_every = 1;
  int32_t metrics_mask = DLS_METRIC_LOSS | DLS_METRIC_ACCURACY;
  int32_t metric_top_k = 5;                   // dls_rt_metric_options
  int32_t metric_average[3] = {0, 0, 0};      // precision, recall, f1: 0 macro, 1 micro
  dls::OptimizerConfig opt;
  std::vector<dls::ScheduleConfig> schedules;
  // Gradient clipping (dls_rt_clip): kind 0 = none. clip_stats: the backend's device buffer of kDlsClipStats
  // doubles counting clipped steps since reset_clip_stats (Backend.h, clip).
  int32_t clip_kind = 0;
  double clip_threshold = 0;
  double* clip_stats = nullptr;
  std::vector<float*> clip_grads;      // rebuilt by each dls_rt_update, as update_descs
  // Early stopping (dls_rt_stop): kind 0 = none; monitor a dls_metric.
  int32_t stop_kind = 0, stop_monitor = DLS_METRIC_LOSS;
  // ReduceLROnPlateau (dls_rt_plateau): plateau_monitor 0 = none. Its state (the rate it sets, the best value,
  // validations without an improvement, cooldown left) is saved in checkpoints and restored on resume.
  int32_t plateau_monitor = 0;
  double plateau_factor = 0.1, plateau_min_delta = 0, plateau_min_lr = 0;
  int64_t plateau_patience = 10, plateau_cooldown = 0;
  double plateau_lr = 0, plateau_best = 0;
  int64_t plateau_bad = 0, plateau_cooldown_left = 0;
  // The validation metrics of the epoch a checkpoint is written at (NaN when it did not validate), kept in it.
  double last_val_loss = NAN, last_val_acc = NAN;
  int64_t stop_patience = 1;
  double stop_min_delta = 0;
  // Early stopping's state: the best value so far (NaN: none yet), its epoch, validations since it improved;
  // kept in checkpoints (format 5) and restored by a resume.
  double stop_best = NAN;
  int64_t stop_best_epoch = 0, stop_bad = 0;
  // The best checkpoint (dls_rt_checkpoint_best): metric 0 = none; the best value so far (NaN: none) and its epoch.
  int32_t ckpt_best_metric = 0, ckpt_best_max = 0;
  double ckpt_best_value = NAN;
  int64_t ckpt_best_epoch = 0;
  // dls_rt_watch_output: the loss term (its name; empty: the whole validation) whose metric the best checkpoint
  // (ckpt_best_output) and early stopping (stop_output) watch.
  std::string ckpt_best_output, stop_output;
  // dls_rt_watch_output rule 3: the loss term whose metric the plateau schedule watches (empty: the whole validation).
  std::string plateau_output;
  // Gradient accumulation (dls_rt_accumulate): micro-batches per optimizer step. accum_last: the current batch
  // is its group's last (the trainer sets it); accum: the group's gradients so far, each batch's weighted by its
  // real rows (host floats, one vector per trainable parameter); accum_rows: the group's real rows so far.
  int64_t accumulate = 1;
  bool accum_last = true;
  std::vector<std::vector<double>> accum;
  double accum_rows = 0;
  std::vector<int64_t> clip_numels;
  dls::DataDecl data[3];
  double split_fraction = 0;
  int32_t validate_split = -2;  // dls_rt_validate_split: a split, -1 none, -2 not given (runtime.h)
  std::vector<dls::PipeStep> pipes[3];
  int32_t pipe_field[3] = {0, 0, 0};  // dls_rt_pipe_field: the field each split's next steps transform
  std::vector<std::string> class_names;  // dls_rt_class_names (empty: the program has none)
  std::vector<uint32_t> vocab;           // dls_rt_vocabulary (empty: the program has none)

  // backend and memory
  int32_t threads = 2;  // set by dls_rt_main before setup
  const dls_backend* be = nullptr;
  void* ctx = nullptr;
  const dls_backend* backend_override = nullptr;  // tests: this table instead of the placement's backend
  void* arena = nullptr;
  int64_t arena_bytes = 0;
  dls::HostBudget host_budget;  // host memory planned so far (Memory.h): checked before each allocation

  std::vector<dls::Tensor> tensors;
  std::vector<dls::Param> params;
  std::vector<std::unique_ptr<dls::Op>> ops;
  std::vector<std::unique_ptr<dls::GradOp>> gops;
  int32_t io_input = -1, io_labels = -1, io_output = -1, io_loss = -1;
  std::vector<int32_t> io_fields;  // dls_rt_input: the input tensor of sample field k + 1 (-1: none)
  // dls_rt_head: the terms of a loss over several outputs (or with a target other than the labels), in order.
  struct Head {
    int32_t output = -1, target = -1, loss = -1;
    std::string name;
    double weight = 1;
  };
  std::vector<Head> heads;

  // step state
  dls_step_ctx step{1, 1, 0, 0, 0};
  int64_t updates = 0;     // optimizer updates done (Adam's t)
  double lr_now = 0;       // learning rate of the current step
  // Guard mode: after each forward op, check its output; the first op with a non-finite output is kept.
  bool check_outputs = false;
  int32_t first_nonfinite_op = -1;
  // dls_rt_update does nothing when suppress_update is set (step-check, guard re-runs); the backend leaves
  // the parameters as they were when this step's loss is not finite (dls_backend::update_all).
  bool suppress_update = false;
  // Whole-step graphs (backends with begin_capture): while `capturing`, the generated step is recorded, not
  // run, and dls_rt_update counts no update (replay does).
  bool capturing = false;
  std::vector<dls_update_desc> update_descs;  // one per trainable parameter, rebuilt by each dls_rt_update
  // Profiling (bench, DLS_PROFILE=1): accumulated seconds per forward op, gradient op and update.
  bool profile = false;
  std::vector<double> op_seconds, gop_seconds;
  double update_seconds = 0;

  // Data parallelism over MPI ranks (runtime/dist): this process is rank `rank` of `ranks` (set before the
  // setup runs); tensors with a batch axis (dls_rt_batch_axes) hold batch / ranks rows of the global batch.
  int32_t rank = 0, ranks = 1;
  bool batch_axes = false;   // the program declared its batch axes
  std::string batch_where;   // "spec.dls:LINE:COL" of the training pipeline's batch(N) (dls_rt_batch_origin)
  int64_t global_valid = 0;  // real rows of the current global batch over every rank (0: not sharded)
  int32_t stop_local = 0;    // this rank's stop signal, offered to the step's reduction
  int32_t stop_agreed = 0;   // the largest stop signal of any rank in the last step's reduction
  std::unique_ptr<dls::dist::GradReducer> reducer;  // while training over ranks
  // A device list (dls_rt_device_list): this process drives `device_count` devices, one replica each (a thread
  // with its own runtime); this runtime is replica `replica` of them, on device first_device + replica (plus the
  // devices of the ranks before it on this machine). Its rank above counts every replica of every process.
  bool device_list = false;
  int32_t replica = 0;
  std::string placement_where;  // "spec.dls:LINE:COL" of the device list (R0515)
  bool replicate = true;  // false: the command (eval, predict, export, step-check) runs on the list's first device alone

  // The first fault raised inside a C entry point; later calls are no-ops until it is reported.
  std::optional<dls::Fault> error;

  ~dls_rt();
};

namespace dls {
// Creates an empty runtime bound to no backend yet (the backend is chosen by dls_rt_placement or, by
// default, the CPU backend at the first dls_rt_arena/dls_rt_tensor call).
std::unique_ptr<dls_rt> make_runtime(int32_t threads);
// Throws the pending fault, if any (used after running generated code).
void raise_pending(dls_rt* rt);
// Adds `bytes` for `what` to the host memory planned so far (R0505 when it would exceed what this process
// may use). Device allocations are host memory on the CPU backend only; `on_host` buffers (the loaded data)
// are host memory on every backend.
void reserve_host(dls_rt* rt, uint64_t bytes, const std::string& what, bool on_host = false);
// Host <-> device helpers that throw an R0502 fault on failure.
void to_host(dls_rt* rt, void* host, const void* dev, size_t bytes);
void to_device(dls_rt* rt, void* dev, const void* host, size_t bytes);
// Whole-step graphs (dls_backend::begin_capture): whether this runtime's backend has them; records the
// generated training step `step` without running it; runs the recorded step with the current step context,
// learning rate and the next update count (Adam's t).
bool can_capture(const dls_rt* rt);
// Class labels per sample of the program's label tensor: 1, or T for per-step labels i32[N, T].
int64_t labels_per_sample(const dls_rt* rt);
// The class an output row of `c` scores predicts: the argmax or, for one output (a binary classifier trained
// with bce_with_logits or bce on class<2> labels), 1 when the output exceeds binary_threshold(rt): 0 for a
// logit, 0.5 for a sigmoid probability (the loss is bce).
int64_t predicted_class(const float* row, int64_t c, float threshold);
// The scalar of the loss term that compares the labels with io_output: io_loss without heads (-1: no such term).
int32_t label_loss(const dls_rt* rt);
float binary_threshold(const dls_rt* rt);
// The label the loss skips (cross_entropy's and nll's ignore_index; torch's default -100 when not given), or -1
// for the other losses: the accuracy skips it too.
int64_t ignored_label(const dls_rt* rt);
void capture_step(dls_rt* rt, dls_gen_fn step);
void replay_step(dls_rt* rt);
// Gradient clipping's counters (dls_rt_clip): reset_clip_stats allocates (once) and zeroes them; read_clip_stats
// returns {clipped steps, sum of the steps' measures (norms, or largest elements), steps}.
void reset_clip_stats(dls_rt* rt);
struct ClipStats {
  double clipped = 0, measure_sum = 0, steps = 0;
};
ClipStats read_clip_stats(dls_rt* rt);
// Reads tensor `id` to host floats (f32 tensors only).
std::vector<float> read_tensor(dls_rt* rt, int32_t id);
void write_tensor(dls_rt* rt, int32_t id, const void* host, size_t bytes);
size_t dtype_size(int32_t dtype);
std::string shape_str(const dls_tensor_desc& d);
// "spec.dls:LINE:COL" for an op.
std::string op_location(const dls_rt* rt, int32_t op);
const char* opcode_name(int32_t opcode);
// mkdir -p; returns false (errno set) on failure.
bool make_dirs(const std::string& path);
}  // namespace dls
#endif
