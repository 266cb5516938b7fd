// Checkpoint.h: binary checkpoints. File layout (little-endian):
//   "DLSCKPT\0"  u32 version(2)  u64 layout_hash  i64 epoch  i64 global_step  i64 updates  u64 rng_seed
//   what made it (version 2): i32 optimizer kind, f64 lr, momentum, beta1, beta2, eps, weight_decay,
//     i32 nesterov, i64 batch, u64 structure hash (every op's opcode, attributes and per-sample shapes, and
//     every parameter's name and shape), u64 training-data fingerprint
//   u32 count, then per tensor: u32 name_len, name, i32 rank, i64 dims[4], i64 numel, f32 data[numel]
//   u32 crc32 of every byte before it.
//   (version 3: precision; version 4: plateau's state and the epoch's validation metrics; version 5: early
//   stopping's best value, its epoch and count, and the best checkpoint's value and epoch; version 6: named
//   settings (accumulate, clip, schedule, plateau, stop) and the full names of the metrics the rules watch:
//   docs/checkpoint-format.md)
// Version 1 files (without "what made it") and later ones up to 5 are still read.
// Tensor names: "<param>" for values (parameters and state such as running statistics), "<param>#0" and
// "<param>#1" for optimizer state. Streamed (1 MiB in memory at a time) to DIR/.tmp-* created
// O_EXCL|O_NOFOLLOW, fsync'd, renamed to DIR/ckpt-EEEEEE.dlsc, directory fsync'd. Of the checkpoints up to
// the one just written the newest `keep` are kept; newer ones (not this run's) are never removed. A state
// holding NaN or Inf is never written (R0110). Loading reads regular files only, of at most about twice
// the size this program's checkpoint has, streamed too (its CRC, then its header and tensors checked
// against this program, then the copy into the runtime; 1 MiB in memory at a time), and falls back to the
// previous checkpoint (warning R0304) when the newest is damaged.
#ifndef DLSPEC_RUNTIME_TRAIN_CHECKPOINT_H
#define DLSPEC_RUNTIME_TRAIN_CHECKPOINT_H
#include <string>

#include "../core/Runtime.h"

namespace dls {
struct CheckpointInfo {
  int64_t epoch = 0;        // epochs completed
  int64_t global_step = 0;  // steps completed
  std::string path;
};
// The best checkpoint's file name in the run directory (dls_rt_checkpoint_best): never pruned by `keep`, never
// taken for the newest by a resume or `eval` without --checkpoint.
inline constexpr const char* kBestCheckpoint = "best.dlsc";
// Returns the written path. On failure (ENOSPC, EFBIG, ...) throws R0301 and leaves earlier files intact;
// a non-finite value in the state throws R0110 naming the tensor (nothing is written). `name` empty: the
// epoch's DIR/ckpt-EEEEEE.dlsc, then pruning to the newest `keep`; else DIR/name (kBestCheckpoint), replaced
// through a temporary renamed into place, pruning nothing.
std::string save_checkpoint(dls_rt* rt, const std::string& dir, int64_t epoch, int64_t global_step,
                            const std::string& name = "");
// Loads the newest valid checkpoint of `dir` (or the file `dir` names) into rt. R0302, R0303, R0305, R0306;
// warns R0304. `resuming`: training continues from it, so what made it must match this program (R0307 for
// another network structure, optimizer kind or optimizer state; one R0308 warning listing every changed
// hyperparameter, the batch size, accumulate, clip, schedules, precision or data, old → new). Early stopping, the
// plateau schedule and the best checkpoint continue from their state when they watch the metric the checkpoint's
// run watched; another metric (format 6 names it) is R0266 and that rule starts afresh.
CheckpointInfo load_checkpoint(dls_rt* rt, const std::string& dir, bool resuming = false);
// The newest checkpoint file of `dir` ("" when there is none).
std::string newest_checkpoint(const std::string& dir);
// Removes every checkpoint of `dir`, the best one included (train --overwrite).
void remove_checkpoints(const std::string& dir);
// The first parameter or optimizer state holding a non-finite value ("" when all are finite).
std::string nonfinite_state(dls_rt* rt);
// The name of the validation metric a rule watches: val_loss, val_accuracy, ... (`output` empty), or one loss
// term's val_OUTPUT_loss, _acc, _mae, _rmse (dls_rt_watch_output).
std::string monitor_name(const std::string& output, int32_t metric);
// Hash of the network's ops (opcode, attributes, per-sample shapes) and parameters (names, shapes).
uint64_t structure_hash(const dls_rt* rt);
}  // namespace dls
#endif
