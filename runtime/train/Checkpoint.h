// Checkpoint.h: binary checkpoints. File layout (little-endian):
//   "DLSCKPT\0"  u32 version(1)  u64 layout_hash  i64 epoch  i64 global_step  i64 updates  u64 rng_seed
//   u32 count, then per tensor: u32 name_len, name, i32 rank, i64 dims[4], i64 numel, f32 data[numel]
//   u32 crc32 of every byte before it.
// Tensor names: "<param>" for values (parameters and state such as running statistics), "<param>#0" and
// "<param>#1" for optimizer state. Written to DIR/.tmp-*, fsync'd, renamed to DIR/ckpt-EEEEEE.dlsc,
// directory fsync'd; the newest `keep` are kept. Loading validates everything and falls back to the
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
// Returns the written path. On failure (ENOSPC, EFBIG, ...) throws R0301 and leaves earlier files intact.
std::string save_checkpoint(dls_rt* rt, const std::string& dir, int64_t epoch, int64_t global_step);
// Loads the newest valid checkpoint of `dir` into rt. R0302, R0303, R0305, R0306; warns R0304.
CheckpointInfo load_checkpoint(dls_rt* rt, const std::string& dir);
}  // namespace dls
#endif
