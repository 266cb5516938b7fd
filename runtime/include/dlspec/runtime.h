/* dlspec runtime: the C ABI that compiled training programs call.
 *
 * A program compiled by `dlspec build` is an object file that defines `main`, which calls
 * dls_rt_main() with three generated functions:
 *
 *   void dls_gen_setup(dls_rt* rt);       declares config, data, tensors, parameters and ops
 *   void dls_gen_train_step(dls_rt* rt);  forward, loss, backward, optimizer update: straight-line calls
 *   void dls_gen_eval_step(dls_rt* rt);   forward and loss in eval mode
 *
 * Every shape and constant is baked into those calls by the compiler. The runtime owns memory, data
 * loading, the training loop, checkpoints, guards and the command line of the built executable.
 * Each backend (CPU: oneDNN, CUDA: cuDNN/cuBLAS) is a table of function pointers behind this ABI.
 *
 * Conventions
 *  - Tensor and op ids are dense small integers returned by the create calls, in call order from 0.
 *  - Shapes are row-major, NCHW for images; rank <= 4 (unused dims are 1).
 *  - Dense weights are [out, in] and conv weights [K, C/groups, R, S], as in PyTorch.
 *  - A tensor with arena_offset >= 0 lives at that byte offset of the step arena (planned by the
 *    compiler's memory plan, lifetimes already resolved); arena_offset == -1 means persistent storage
 *    owned by the runtime (parameters, their gradients, optimizer state, running statistics).
 *  - Errors: every entry point below records the first fault (a diagnostic from
 *    runtime/core/RuntimeDiagnostics.def) in the dls_rt and turns every later call into a no-op;
 *    dls_rt_main reports it once the generated function returns. Nothing throws through generated code.
 *
 * Contract details (ids and enum values are ABI and never change):
 *  [1] dls_rt_grad_op: dins[] is indexed like the forward op's tensor list; entries for parameter tensors
 *      are ignored (parameter gradients always go to the grad tensor given in dls_rt_param and are
 *      OVERWRITTEN, so a parameter may feed only one op). Loss ops: dins = {d(input), -1}.
 *  [2] Every op documents what its gradient op reads ("bwd reads"), for the memory planner: those tensors
 *      must still hold their forward values when dls_rt_bwd runs.
 *  [3] Losses average over the valid rows (training: the whole batch, or the real rows of an epoch's
 *      final partial batch under drop_last: false; evaluation pads the last batch and counts only real rows); MSE/L1/BCE/BCE_WITH_LOGITS average over valid_rows * K elements.
 *  [4] BATCH_NORM momentum has PyTorch's meaning (running = (1 - m) running + m batch, running_var
 *      uses the unbiased batch variance); eval mode normalises with the running statistics.
 *  [5] dls_rt_update skips the update when the step's loss is not finite (the R0101 guard then
 *      re-runs the step's forward pass to locate the op that produced it).
 *  [6] Only f32 tensors (plus i32 labels and embedding indices) are supported; placement with
 *      device_count > 1 is refused with R0501 by the CPU backend.
 *  [7] Pipeline semantics: to_f32/to_i32/scale/normalize/reshape are applied once to the whole split at
 *      load time, in order (with DLS_PIPE_LABELS: to the targets); shuffle, random_crop (needs [C, H, W]
 *      samples, after any reshape; zero padding in the values of that point; evaluation takes the centre
 *      window, at load time) and random_flip run per batch, on the training split only; repeat(count) makes a
 *      training epoch count passes over the split. The augmentations 20..27 run per batch on the host (for every
 *      backend), training split only; mixup/cutmix make the labels tensor f32[N, C] class probabilities.
 *  [8] Schedules: STEP/MULTISTEP/COSINE/EXPONENTIAL decay per epoch (PyTorch's schedulers stepped once per epoch),
 *      WARMUP multiplies by (step + 1) / a for the first a steps.
 *  [9] dls_rt_main also accepts the developer command `step-check --weights DIR --batch X.npy Y.npy
 *      --out DIR` (one forward+backward, no update; writes loss.npy and <param>.grad.npy).
 */
#ifndef DLSPEC_RUNTIME_H
#define DLSPEC_RUNTIME_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct dls_rt dls_rt;
typedef void (*dls_gen_fn)(dls_rt*);

/* ---- entry point ---------------------------------------------------------------------------- */
/* Parses the executable's command line (train [--epochs N] [--threads N] [--resume DIR],
 * eval [--checkpoint DIR], predict FILE [--checkpoint DIR], --help; and step-check, see [9]),
 * runs it, and returns the process exit code (0 ok, 1 a reported fault, 2 a usage error). */
int dls_rt_main(int argc, char** argv, dls_gen_fn setup, dls_gen_fn train_step, dls_gen_fn eval_step);

/* ---- program description (called from dls_gen_setup) ------------------------------------------ */
enum dls_device_kind { DLS_DEVICE_CPU = 0, DLS_DEVICE_CUDA = 1 };

/* Identity of the program: its name, the spec it came from, and a hash of the spec's
 * network/parameter layout (checkpoints from another spec are refused with a diagnostic). */
void dls_rt_program(dls_rt* rt, const char* name, const char* spec_path, uint64_t layout_hash);
/* Placement: devices = first_device .. first_device + device_count - 1 of device_kind. */
void dls_rt_placement(dls_rt* rt, int32_t device_kind, int32_t first_device, int32_t device_count);
void dls_rt_train_config(dls_rt* rt, int64_t epochs, int64_t batch, int64_t seed);
/* Checkpoint directory (relative to the working directory), written every `every_epochs`,
 * keeping the newest `keep`. dir may be NULL: no checkpoints. */
void dls_rt_checkpoint(dls_rt* rt, const char* dir, int64_t every_epochs, int64_t keep);
/* The train block's `precision` (enum dls_dtype, declared below): DLS_F32 (the default, without this call) or
 * DLS_BF16, mixed precision: the ops of ops.def's DLS_OP_BF16 rows compute their products in bf16 with f32
 * accumulation; master weights, gradients, optimizer state, losses and every other op stay f32. Only the CPU
 * backend has bf16 kernels (a CUDA placement, or DLS_F16, is refused with R0410). Called before any op. */
void dls_rt_precision(dls_rt* rt, int32_t dtype);
/* The train block's `resume = "PATH"` (a checkpoint directory or file, already resolved against the spec's
 * directory): `train` continues from its newest valid checkpoint, as `train --resume PATH` does. */
void dls_rt_resume(dls_rt* rt, const char* path);
/* The training pipeline's batch(n, drop_last: ...): 0 trains on the final partial batch of each epoch (its
 * padded rows count for nothing), 1 leaves it out. Without this call the final partial batch is trained on. */
void dls_rt_batching(dls_rt* rt, int32_t drop_last);
/* Validation every `every_epochs` on split DLS_SPLIT_VALID if declared, else DLS_SPLIT_TEST; metrics_mask: the
 * validation metrics printed and written to the metrics files (the loss is computed anyway, for the guards). */
enum dls_metric {
  DLS_METRIC_LOSS = 1, DLS_METRIC_ACCURACY = 2,
  /* class labels: the share of labels among the k highest scores (dls_rt_metric_options' top_k); precision,
     recall and f1 over the classes (macro: the mean of the per-class values, micro: over all decisions, as
     sklearn's average='macro' / 'micro'); the confusion matrix (rows: true class, columns: predicted), written to
     confusion.csv in the run directory at each validation */
  DLS_METRIC_TOP_K = 4, DLS_METRIC_PRECISION = 8, DLS_METRIC_RECALL = 16, DLS_METRIC_F1 = 32, DLS_METRIC_CONFUSION = 64,
  /* real targets: mean absolute error, the root of the mean squared error (over every output element), and the
     coefficient of determination (sklearn's r2_score: the mean over the outputs of 1 - SS_res / SS_tot) */
  DLS_METRIC_MAE = 128, DLS_METRIC_RMSE = 256, DLS_METRIC_R2 = 512,
  /* class labels: the area under the ROC curve (sklearn's roc_auc_score; ties count one half): binary for two
     classes (the score of class 1; one output against class<2> labels: its logit), else one-vs-rest over the
     classes, the macro mean over the classes present among the targets */
  DLS_METRIC_AUC = 1024
};
void dls_rt_validate(dls_rt* rt, int64_t every_epochs, int32_t metrics_mask);
/* The metrics' settings: top_k's k (at least 1), and for precision, recall and f1 their average: 0 macro,
 * 1 micro. Without this call: k = 5, every average macro. */
void dls_rt_metric_options(dls_rt* rt, int32_t top_k, int32_t precision_average, int32_t recall_average,
                           int32_t f1_average);
/* The data training validates on: DLS_SPLIT_VALID (the declared validation split, else the samples
 * dls_rt_split holds out), DLS_SPLIT_TEST, or -1: training does not validate. Without this call: the
 * validation split if declared, else the test split, else the held-out samples. `eval` evaluates on the
 * test split whenever one is declared, so a program may declare one that training never reads. */
void dls_rt_validate_split(dls_rt* rt, int32_t split);

enum dls_optimizer {
  DLS_OPT_SGD = 0, DLS_OPT_ADAM = 1, DLS_OPT_ADAMW = 2, DLS_OPT_RMSPROP = 3, DLS_OPT_ADADELTA = 4, DLS_OPT_NADAM = 5,
  DLS_OPT_ADAGRAD = 6, DLS_OPT_LAMB = 7
};
/* SGD: momentum, flag = nesterov; Adam/AdamW: beta1, beta2, eps, flag = amsgrad (torch's max_exp_avg_sq: the
 * running maximum of exp_avg_sq divides the step); RMSprop: alpha=beta2, eps, momentum; Adadelta: rho=beta2, eps;
 * NAdam: beta1, beta2, eps, momentum_decay=momentum (torch.optim.NAdam's mu_t = beta1 (1 - 0.5 * 0.96^(t
 * momentum_decay))); Adagrad: eps, initial_accumulator_value=momentum (torch.optim.Adagrad; its lr_decay is the
 * schedule DLS_SCHED_TIME_DECAY, whose lr / (1 + lr_decay (t - 1)) is Adagrad's own); LAMB: beta1, beta2, eps,
 * weight_decay (You et al. 2019, Algorithm 2 with Adam's bias corrections: r = m_hat / (sqrt(v_hat) + eps) + wd p,
 * p -= lr * (|p| / |r|) * r, the trust ratio |p| / |r| taken per parameter tensor, 1 when either norm is 0).
 * weight_decay is L2 (added to the gradient) except for AdamW, where it is decoupled, and LAMB (in r above). */
/* State buffers the runtime keeps per trainable parameter, as torch.optim does: SGD a momentum buffer only
 * with momentum; Adam/AdamW/NAdam exp_avg and exp_avg_sq, and with amsgrad max_exp_avg_sq; RMSprop square_avg,
 * and a momentum buffer with momentum; Adadelta square_avg and acc_delta; Adagrad sum; LAMB exp_avg and
 * exp_avg_sq. */
static inline int dls_optimizer_state_slots(int32_t kind, double momentum, int32_t flag) {
  if ((kind == DLS_OPT_ADAM || kind == DLS_OPT_ADAMW) && flag) return 3;
  if (kind == DLS_OPT_ADAM || kind == DLS_OPT_ADAMW || kind == DLS_OPT_NADAM || kind == DLS_OPT_ADADELTA ||
      kind == DLS_OPT_LAMB)
    return 2;
  if (kind == DLS_OPT_ADAGRAD) return 1;
  if (kind == DLS_OPT_RMSPROP) return momentum > 0 ? 2 : 1;
  return momentum != 0 ? 1 : 0;
}
void dls_rt_optimizer(dls_rt* rt, int32_t kind, double lr, double momentum, double beta1, double beta2,
                      double eps, double weight_decay, int32_t flag);

enum dls_schedule {
  DLS_SCHED_CONSTANT = 0,
  DLS_SCHED_STEP = 1,      /* a = every (epochs), b = gamma */
  DLS_SCHED_MULTISTEP = 2, /* a..c = milestones in epochs (negative = unused), d = gamma */
  DLS_SCHED_COSINE = 3,    /* a = T_max in epochs (0 = total epochs), b = eta_min */
  DLS_SCHED_WARMUP = 4,    /* linear warm-up over a steps, then the schedule set before it continues */
  DLS_SCHED_EXPONENTIAL = 5, /* a = gamma: the rate times gamma^epoch (ExponentialLR stepped once per epoch) */
  DLS_SCHED_TIME_DECAY = 6,  /* a = decay: the rate times 1 / (1 + decay * step), step the 0-based count of
                                updates (Keras' optimizer `decay`, its legacy time-based decay) */
  DLS_SCHED_ONECYCLE = 7,    /* a = max_lr, b = pct_start, c = div_factor, d = final_div_factor: OneCycleLR with
                                cosine annealing (anneal_strategy 'cos', three_phase False, cycle_momentum False)
                                stepped once per update over total_steps = epochs * updates per epoch; it sets
                                the rate itself (the optimizer's lr is not read) and chains with nothing */
  DLS_SCHED_PLATEAU = 8      /* set by dls_rt_plateau, never by dls_rt_schedule */
};
/* May be called several times: a warm-up and decay schedules, which chain as PyTorch's schedulers on one
 * optimizer do (their factors multiply). */
void dls_rt_schedule(dls_rt* rt, int32_t kind, double a, double b, double c, double d);
/* ReduceLROnPlateau on a validation metric (monitor: DLS_METRIC_LOSS, mode 'min', or DLS_METRIC_ACCURACY,
 * mode 'max'), stepped after each validation: a value that beats the best by more than min_delta (threshold_mode
 * 'abs') is an improvement; after more than `patience` validations in a row without one the rate becomes
 * max(rate * factor, min_lr) (unless that changes it by at most 1e-8, torch's eps), and `cooldown` validations
 * follow in which bad ones are not counted. The rate, the best value and both counts are kept in checkpoints and
 * restored by a resume. Chains with no other schedule; needs validation (dls_rt_validate). */
void dls_rt_plateau(dls_rt* rt, int32_t monitor, double factor, int64_t patience, double min_delta, int64_t cooldown,
                    double min_lr);

/* Gradient clipping, applied by dls_rt_update to every trainable parameter's gradient after the backward pass
 * and before the optimizer (its weight decay included), as a PyTorch loop calls torch.nn.utils' clipping
 * between loss.backward() and optimizer.step(). Without this call gradients are not clipped. */
enum dls_clip {
  DLS_CLIP_NORM = 1,  /* clip_grad_norm_(max_norm = threshold, norm_type 2): every gradient times
                         min(1, threshold / (total_norm + 1e-6)), total_norm the L2 norm over all of them */
  DLS_CLIP_VALUE = 2  /* clip_grad_value_(threshold): every element clamped to [-threshold, threshold] */
};
void dls_rt_clip(dls_rt* rt, int32_t kind, double threshold);

/* Stopping rules. DLS_STOP_EARLY: after each validation, the metric `monitor` (DLS_METRIC_LOSS: lower is
 * better, DLS_METRIC_ACCURACY: higher is) improves when it beats the best so far by more than min_delta;
 * training ends after `patience` validations in a row without an improvement, with the checkpoint of that
 * epoch written and a line saying where and what the best value was. The count, the best value and its epoch
 * are kept in checkpoints (format 5) and restored by a resume. */
enum dls_stop { DLS_STOP_EARLY = 1 };
void dls_rt_stop(dls_rt* rt, int32_t kind, int32_t monitor, int64_t patience, double min_delta);
/* Gradient accumulation (`accumulate = K steps`): the gradients of `micro_batches` consecutive batches of an
 * epoch make one optimizer step, as a PyTorch loop calling backward() on each and step() after the K-th does
 * with each loss scaled by its share of the group's real rows (1/K for equal batches; an epoch's final group may
 * hold fewer batches). dls_rt_update adds each batch's gradients into the group's and updates after the last one;
 * schedules, warm-up, clipping (of the summed gradient), the step count, checkpoints and stopping count
 * optimizer steps. Without this call (or with 1) every batch is a step. */
void dls_rt_accumulate(dls_rt* rt, int64_t micro_batches);
/* Besides the newest `keep` (dls_rt_checkpoint), the checkpoint with the best value of validation metric
 * `metric` (one enum dls_metric bit; maximize 1: higher is better) so far is kept as DIR/best.dlsc, replaced
 * (through a temporary renamed into place) after each validation that beats it; `keep` never removes it. Its
 * value and epoch are kept in checkpoints and restored by a resume. */
void dls_rt_checkpoint_best(dls_rt* rt, int32_t metric, int32_t maximize);

/* ---- data ---------------------------------------------------------------------------------------- */
enum dls_split { DLS_SPLIT_TRAIN = 0, DLS_SPLIT_VALID = 1, DLS_SPLIT_TEST = 2 };
enum dls_data_format {
  DLS_DATA_IDX = 0, /* path_a = images IDX (gzip or raw), path_b = labels IDX */
  DLS_DATA_CSV = 1, /* path_a = CSV file with a header row; label_column = index of the label column, or -2:
                       the column whose header name is path_b */
  DLS_DATA_NPY = 2, /* path_a = features .npy (f32/f64/u8), path_b = labels .npy (integer) */
  DLS_DATA_IMAGES = 3, /* path_a = a folder of class sub-folders of PNG/JPEG files (dls_rt_images) */
  DLS_DATA_TEXT = 4   /* path_a = a text file: windows of tokens, labelled with the next token at every step
                         (dls_rt_text, dls_rt_vocabulary) */
};
/* Declares the data of one split. sample_rank/dims: the declared per-sample shape (checked against the
 * file header); classes: the number of classes of the label kind (labels outside [0, classes) are a
 * diagnostic naming the file and the record). */
void dls_rt_dataset(dls_rt* rt, int32_t split, int32_t format, const char* path_a, const char* path_b,
                    int32_t label_column, int32_t sample_rank, int64_t d0, int64_t d1, int64_t d2,
                    int64_t d3, int64_t classes);
/* The element type the spec declares for a split's samples (enum dls_dtype): files of another type are a
 * diagnostic (R0216) instead of being converted. Without this call any numeric type is read as float. */
void dls_rt_sample_dtype(dls_rt* rt, int32_t split, int32_t dtype);
/* How a DLS_DATA_IMAGES split's images become samples of the declared shape (u8 [C, H, W] or [H, W] with
 * C = 1): height/width > 0 resize every image to that size (resize: 0 stretch, 1 crop, 2 pad; bilinear),
 * 0 = images must already have the declared size; channels 1 or 3 converts every image to that many (grey
 * to RGB repeats, RGB to grey is BT.601 luminance), 0 = images must already have the declared channels.
 * Without this call: neither. */
void dls_rt_images(dls_rt* rt, int32_t split, int64_t height, int64_t width, int32_t channels, int32_t resize);
/* How a DLS_DATA_CSV split's file is laid out: header 1 = the first line (after `skip` lines of preamble)
 * names the columns, 0 = every line is a record; sep = ',', ';', '\t', or ' ' for runs of spaces and tabs;
 * label_by_index 1 = the label column is label_index (0-based, negative from the last column), overriding
 * dls_rt_dataset's label column. Without this call: a header, no preamble, commas. */
void dls_rt_csv(dls_rt* rt, int32_t split, int32_t header, int64_t skip, int32_t sep, int32_t label_by_index,
                int64_t label_index);
/* The class names of the program's label (newline-separated, class 0 first), for `predict` to print and for
 * image folders, whose class sub-folders must be these (the names the program was built with). */
void dls_rt_class_names(dls_rt* rt, const char* names);
/* How a DLS_DATA_TEXT split becomes samples: tokens are code points of UTF-8 (chars = 1) or bytes (0); the
 * text is cut into windows of `seq` tokens (window i holds tokens [i*seq, (i+1)*seq)), each token as its id,
 * labelled with the token after it at every step (labels per step: class<V>[seq]). */
void dls_rt_text(dls_rt* rt, int32_t split, int64_t seq, int32_t chars);
/* The vocabulary of text splits, built from the training text when the program was built: the tokens
 * (code points or bytes) as decimal numbers separated by commas, in increasing order. Token id 0 is a token
 * not in it, token k (1-based place in the list) the k-th. */
void dls_rt_vocabulary(dls_rt* rt, const char* tokens);
/* More of a DLS_DATA_CSV split's columns (after dls_rt_dataset and dls_rt_csv). labels: the label columns, one
 * per line, each "#K" (index K, 0-based, negative from the last column) or a header name, in the order of the
 * targets (real[K] targets, one per column); NULL or empty = the one label column of dls_rt_dataset/dls_rt_csv.
 * impute: 0 = an empty cell, NA or nan is refused (R0207); 1 = such a cell of a feature column takes `fill`'s
 * value for that feature: decimal numbers separated by commas, one per feature column in the file's order (the
 * training split's mean, median or zero, computed when the program is built). */
void dls_rt_csv_columns(dls_rt* rt, int32_t split, const char* labels, int32_t impute, const char* fill);
/* The categorical columns of a DLS_DATA_CSV split (after dls_rt_dataset and dls_rt_csv): one line per column,
 * its reference ("#K" or a header name) and then its values, each after a tab, sorted (the training split's,
 * collected when the program is built); a backslash escapes a tab, a newline or a backslash in them. A cell of
 * such a column is the index of its value (a feature's value, or the class label); a value that is not among
 * them is R0250. */
void dls_rt_csv_categories(dls_rt* rt, int32_t split, const char* columns);
/* The labels of a DLS_DATA_CSV split come from a second file laid out as the first (header, skip, sep), one
 * record per record of the first, in the same order (R0252 when the counts differ): its columns are the label
 * (one: a class label or one target; K: real[K] targets), every column of the first file a feature. */
void dls_rt_csv_label_file(dls_rt* rt, int32_t split, const char* path);
/* Take `fraction` of the train split as the validation split (deterministic by seed), 0 = none. */
void dls_rt_split(dls_rt* rt, double fraction);

enum dls_pipe_op {
  DLS_PIPE_TO_F32 = 0,     /* u8/int samples to float */
  DLS_PIPE_SCALE = 1,      /* x *= a */
  DLS_PIPE_NORMALIZE = 2,  /* x = (x - a) / b */
  DLS_PIPE_SHUFFLE = 3,    /* a = buffer size, 0 = whole split; reshuffled each epoch from the seed */
  DLS_PIPE_RANDOM_CROP = 4,/* a = height, b = pad (zero padding), c = width (0: = a): a random window of the
                              padded sample per sample in training; evaluation takes the centre window */
  DLS_PIPE_RANDOM_FLIP = 5,/* a = probability of a flip, b = axis (0 horizontal: mirrors W, 1 vertical: mirrors H),
                              training only */
  DLS_PIPE_TO_I32 = 6,     /* integer samples as i32 (embedding indices): every value must be an integer in
                              i32's range; a network input of dtype i32 receives them as integers */
  DLS_PIPE_RESHAPE = 7,    /* the per-sample shape from here on: a..d = dims (0 = unused), same element count */
  DLS_PIPE_REPEAT = 8,     /* a = count: a training epoch goes over the split count times, each pass in its own
                              order (training split only) */
  DLS_PIPE_ONEHOT = 9,     /* with DLS_PIPE_LABELS: the targets are one-hot rows of a classes: each becomes its
                              class label (a row that is not one-hot is R0218) */
  DLS_PIPE_FEATURES = 10,  /* x[k] = (x[k] - offset[k]) * scale[k] per element k of the sample (dls_rt_pipe_features) */
  /* Augmentation of [C, H, W] samples, training split only (evaluation, `eval` and `predict` skip them), per
     batch from per-(seed, epoch, sample) random numbers, after random_crop / random_flip, in pipeline order;
     values in the units of that point of the pipeline. Geometric steps are torchvision 0.14's functional affine
     (bilinear, the image centre as the centre, the area outside the sample at `fill`). */
  DLS_PIPE_RANDOM_ROTATION = 20, /* a = degrees (the angle is uniform in [-a, a], counter-clockwise), b = fill */
  DLS_PIPE_RANDOM_AFFINE = 21,   /* a = degrees, b, c = translate (the largest shift as a fraction of the width,
                                    height: a whole number of pixels, uniform), d = shear (x shear in degrees,
                                    uniform in [-d, d]); its scale range follows in a DLS_PIPE_PARAMS step */
  DLS_PIPE_PARAMS = 22,          /* parameters 5..8 (a..d) of the step before: random_affine: a, b = scale range;
                                    random_erasing: a, b = aspect-ratio range */
  DLS_PIPE_COLOR_JITTER = 23,    /* a = brightness, b = contrast, c = saturation, d = hue (torchvision's
                                    ColorJitter: factors uniform in [max(0, 1 - v), 1 + v], hue in [-d, d], the four
                                    in a random order, values clamped to [0, 1]); saturation and hue need C = 3 */
  DLS_PIPE_GAUSSIAN_NOISE = 24,  /* a = std: x += N(0, a^2) per element */
  DLS_PIPE_RANDOM_ERASING = 25,  /* a = p, b, c = the erased share of H * W (range), d = value (torchvision's
                                    RandomErasing); its aspect-ratio range follows in a DLS_PIPE_PARAMS step */
  DLS_PIPE_MIXUP = 26,           /* a = alpha: per batch lam ~ Beta(a, a); row r becomes lam x_r + (1 - lam) x_r'
                                    with r' the row before it in the global batch (the first: the last real row),
                                    its target lam onehot(y_r) + (1 - lam) onehot(y_r'): the labels tensor is then
                                    f32[N, C] class probabilities (evaluation: one-hot rows) */
  DLS_PIPE_CUTMIX = 27,          /* a = alpha: as DLS_PIPE_MIXUP, but a box of about (1 - lam) H W of row r' is
                                    pasted into row r and lam is 1 - the box's share of H W */
  DLS_PIPE_LABELS = 256,   /* added to SCALE or NORMALIZE (or TO_F32): the step transforms the split's
                              real-valued targets (the label field) instead of its samples */
  DLS_PIPE_ADD = 11,       /* x += a (with DLS_PIPE_LABELS: the targets) */
  DLS_PIPE_LOG1P = 12,     /* x = log(1 + x) (with DLS_PIPE_LABELS: the targets; a value <= -1 is R0230) */
  DLS_PIPE_TO_I64 = 30,    /* integer samples as i64 (embedding indices): every value must be an integer in the
                              range of the index tensors, which hold i32 (R0254) */
  DLS_PIPE_ONE_HOT = 31    /* a = classes C, b = the element of a rank-1 sample to encode (0-based), or -1: every
                              element. Each encoded value must be an integer in [0, C) (R0251); it becomes C values
                              (1 at its index, 0 elsewhere): b >= 0 replaces element b by them ([F] -> [F - 1 + C]),
                              b = -1 appends an axis ([...] -> [..., C], torch.nn.functional.one_hot) */
};
/* Appends a pipeline step to a split, in order. */
void dls_rt_pipe(dls_rt* rt, int32_t split, int32_t op, double a, double b, double c, double d);
/* Appends a DLS_PIPE_FEATURES step: offsets and scales are decimal numbers separated by commas, one per element
 * of the sample at this point of the pipeline (standardize, min_max: the training split's statistics). */
void dls_rt_pipe_features(dls_rt* rt, int32_t split, const char* offsets, const char* scales);

/* ---- tensors, parameters, ops ----------------------------------------------------------------- */
enum dls_dtype { DLS_F32 = 0, DLS_I32 = 1, DLS_U8 = 2, DLS_F16 = 3, DLS_BF16 = 4, DLS_I64 = 5 };
/* Size in bytes of the step arena (the memory plan's peak). Called before any tensor. */
void dls_rt_arena(dls_rt* rt, int64_t bytes);
/* Declares a tensor; returns its id. */
int32_t dls_rt_tensor(dls_rt* rt, int32_t dtype, int32_t rank, int64_t d0, int64_t d1, int64_t d2,
                      int64_t d3, int64_t arena_offset);

enum dls_init {
  DLS_INIT_ZEROS = 0, DLS_INIT_CONSTANT = 1 /* a */, DLS_INIT_NORMAL = 2 /* mean a, std b */,
  DLS_INIT_UNIFORM = 3 /* [a, b) */, DLS_INIT_HE = 4 /* kaiming uniform, gain sqrt(2), fan_in */,
  DLS_INIT_GLOROT = 5 /* xavier uniform */, DLS_INIT_TORCH_DEFAULT = 6 /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */,
  DLS_INIT_ONES = 7
};
/* Data parallelism over MPI ranks (`mpirun -np K ./PROGRAM train`): the spec's batch(N) is the global batch;
 * each of K ranks holds N / K rows of it. Bit i of `axes` says that dimension i of `tensor` is the batch N
 * (a sample's row index), so that under K ranks it holds N / K (R0510 when K does not divide N). Called right
 * after the tensor's dls_rt_tensor, before any op uses it. Without ranks it changes nothing. A program that
 * never calls it cannot train over ranks (R0511). */
void dls_rt_batch_axes(dls_rt* rt, int32_t tensor, int32_t axes);
/* Where the training pipeline's batch(N) is in the spec (for R0510). */
void dls_rt_batch_origin(dls_rt* rt, int32_t line, int32_t col);

/* Marks tensor `value` as a trainable parameter (or, with trainable = 0, persistent state such as
 * running statistics) with gradient tensor `grad` (-1 when not trainable). `name` is its stable name
 * in checkpoints ("conv1.weight"). decay = 1 if weight decay applies. */
void dls_rt_param(dls_rt* rt, int32_t value, int32_t grad, const char* name, int32_t init, double a,
                  double b, int64_t fan_in, int64_t fan_out, int32_t trainable, int32_t decay);

/* Op codes: one per row of dlspec/ops.def, which documents each op's tensors (in order), attributes (in
 * order, with defaults and ranges) and formulas. */
enum dls_opcode {
#define DLS_OP(ID, CODE, NAME, TENSORS, KERNEL) DLS_OP_##ID = CODE,
#include "ops.def"
};
/* Creates a forward op over the given tensors with the given attributes. line/col: the op's location in
 * the spec, used by runtime guards. Backends create their primitives here, once, for the static shapes. */
int32_t dls_rt_op(dls_rt* rt, int32_t opcode, const int32_t* tensors, int32_t ntensors,
                  const double* attrs, int32_t nattrs, int32_t line, int32_t col);
/* Creates the gradient op of forward op `fwd_op`: reads d(out) from `dout`, writes d(input i) to
 * dins[i] (-1: not needed) and the gradients of the op's parameters to the grad tensors given in
 * dls_rt_param. Bit i of accumulate_mask: add into dins[i] instead of overwriting it (a value used by
 * several ops). Loss ops take dout = -1 (the seed gradient 1/valid_rows is implied).
 * dins[i] corresponds to the forward op's tensor i; entries at parameter positions are ignored and
 * parameter gradients are overwritten, never accumulated [1]. */
int32_t dls_rt_grad_op(dls_rt* rt, int32_t fwd_op, int32_t dout, const int32_t* dins, int32_t nins,
                       int32_t accumulate_mask);

/* Which tensors carry the batch: input x, labels (i32[N] for class labels, f32[N,K] otherwise), the
 * network output (for accuracy and predict) and the scalar loss. */
void dls_rt_io(dls_rt* rt, int32_t input, int32_t labels, int32_t output, int32_t loss);
/* A loss of weighted terms (a network with several outputs, or a target other than the labels): one call per term,
 * in order, after dls_rt_io (whose output is then the output of the first term compared with the labels, and whose
 * loss the weighted sum): `output` the term's output tensor, `target` the tensor it is compared with (the labels, or
 * the input for a target that is the sample field), `name` the output's name in the spec, `weight` the term's weight
 * and `loss` the term's scalar. Validation and `eval` report each term's loss and its output's metrics (accuracy
 * against class labels; mae and rmse against real targets) as val_NAME_loss, val_NAME_acc, val_NAME_mae,
 * val_NAME_rmse; `predict` prints every output under its name. Without these calls the program's loss is one op. */
void dls_rt_head(dls_rt* rt, int32_t output, int32_t target, const char* name, double weight, int32_t loss);
/* The placement is a device list (`on [cuda:0, cuda:1, ...]`, a list of one too) of `count` consecutive devices
 * starting at dls_rt_placement's first_device, written in the spec at line:col: data parallelism in one
 * process, one replica per device, each training on its share of the global batch (batch / count rows, with
 * the tensors of dls_rt_batch_axes), their gradients all-reduced every step (NCCL where it is built in). Under
 * mpirun each of K ranks drives its own `count` devices and the replicas are the K * count of them. Called
 * after dls_rt_placement; a device the machine does not have is R0515, located here. */
void dls_rt_device_list(dls_rt* rt, int32_t count, int32_t line, int32_t col);

/* ---- step execution (called from dls_gen_train_step / dls_gen_eval_step) -------------------------- */
void dls_rt_fwd(dls_rt* rt, int32_t op);
void dls_rt_bwd(dls_rt* rt, int32_t grad_op);
/* Zero-fills a tensor (gradient accumulators). */
void dls_rt_zero(dls_rt* rt, int32_t tensor);
/* One optimizer update of every trainable parameter, at the current learning rate (PyTorch's formulas;
 * skipped when this step's loss is not finite [5]). */
void dls_rt_update(dls_rt* rt);

/* ---- several sample fields, per-output metrics ------------------------------------------------- */
/* A data set with several sample fields (`sample img: u8[28, 28]`, `sample meta: f32[4]`): field `field` (1, 2, …
 * in the declared order; field 0 is the samples dls_rt_dataset declares) of a split, read from a file of its own,
 * `path` (IDX or .npy, as the split's samples), holding one record per sample of the split, in the same order (R0255
 * otherwise). rank/d0..d3: its declared per-sample shape (R0205 for a file of another); dtype: its declared element
 * type (enum dls_dtype, R0216 for a file of another; -1: any numeric type, read as float). `name` is the field's
 * name in the spec (messages, `predict --input NAME=FILE`). Called after the split's dls_rt_dataset; shuffling and
 * batching keep the fields of a sample together. Field 0 gives only the first field's name (path NULL). */
void dls_rt_sample_field(dls_rt* rt, int32_t split, int32_t field, const char* name, const char* path, int32_t dtype,
                         int32_t rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
/* The element-wise pipeline steps of `split` appended after this call (dls_rt_pipe, dls_rt_pipe_features) transform
 * sample field `field` (0: the first, the default until this is called) instead. */
void dls_rt_pipe_field(dls_rt* rt, int32_t split, int32_t field);
/* Network input `tensor` takes sample field `field` (1, 2, …) of each batch; dls_rt_io's input takes field 0.
 * Called after dls_rt_io, once per further field. */
void dls_rt_input(dls_rt* rt, int32_t field, int32_t tensor);
/* The validation metric a rule watches is the one of the loss term named `output` (dls_rt_head) instead of the
 * whole validation's: rule 1 the best checkpoint (dls_rt_checkpoint_best: its metric, DLS_METRIC_LOSS,
 * DLS_METRIC_ACCURACY, DLS_METRIC_MAE or DLS_METRIC_RMSE, is then the term's val_OUTPUT_loss, _acc, _mae or _rmse),
 * rule 2 early stopping (dls_rt_stop's monitor, likewise), rule 3 the plateau schedule (dls_rt_plateau's monitor,
 * likewise: mode max for _acc, min for the others). Called after that rule's own call. */
void dls_rt_watch_output(dls_rt* rt, int32_t rule, const char* output, int32_t metric);
/* A CSV split whose sample fields are groups of its columns (`csv("f.csv", img: columns(0, 784), meta: columns(784,
 * 788), kind: column(788))`): sample field `field` (0: the first, as dls_rt_sample_field numbers them) takes the
 * file's columns [first, end) (0-based, counting every column of a record, the label's too), in order. Every field
 * of the split names its columns; together they take every column but the labels' (R0260 otherwise). The further
 * fields are declared by dls_rt_sample_field with an empty path. */
void dls_rt_csv_field(dls_rt* rt, int32_t split, int32_t field, int64_t first, int64_t end);

#ifdef __cplusplus
}
#endif
#endif
