// CheckpointFile.h: the reading of dlspec's checkpoint format (.dlsc, docs/checkpoint-format.md), in one place:
// the executable's loader (runtime/train/Checkpoint.cpp) and `dlspec export --checkpoint` (compiler/import)
// both read the file with these functions. Little-endian:
//   "DLSCKPT\0"  u32 version  u64 layout_hash  i64 epoch  i64 global_step  i64 updates  u64 rng_seed
//   version >= 2, what made it: i32 optimizer kind, f64 lr, momentum, beta1, beta2, eps, weight_decay,
//     i32 nesterov, i64 batch, u64 structure hash, u64 training-data fingerprint
//   version >= 3: i32 precision; version >= 4: i32 plateau, f64 plateau_lr, plateau_best, i64 plateau_bad,
//     plateau_cooldown_left, f64 val_loss, val_acc
//   version >= 5: i32 stop, f64 stop_best, i64 stop_best_epoch, stop_bad, i32 best_metric, f64 best_value,
//     i64 best_epoch
//   version >= 6: u32 n, then n settings (u32 key_len, key, u32 value_len, value; UTF-8): what else changes a run's
//     meaning (accumulate, clip, schedule) and the names of the metrics early stopping, the plateau schedule and the
//     best checkpoint watch (stop.monitor, plateau.monitor, best.monitor: val_loss, val_OUTPUT_acc, ...)
//   u32 count, then per tensor: u32 name_len, name, i32 rank, i64 dims[4], i64 numel, f32 data[numel]
//   u32 crc32 of every byte before it.
// No dependency on the compiler or the rest of the runtime; the functions return "" or why the file is damaged.
#ifndef DLSPEC_DATA_CHECKPOINT_FILE_H
#define DLSPEC_DATA_CHECKPOINT_FILE_H
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dls::data {

inline constexpr char kCheckpointMagic[8] = {'D', 'L', 'S', 'C', 'K', 'P', 'T', 0};
inline constexpr uint32_t kCheckpointVersion = 6;  // the version written; 1 to it are read

// What made a checkpoint (version 2 on).
struct CheckpointMade {
  int32_t kind = 0;
  double lr = 0, momentum = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;
  int32_t nesterov = 0;
  int64_t batch = 0;
  uint64_t structure = 0, data = 0;
  int32_t precision = 0;  // version 3: the run's `precision` (0: f32; its master weights and state are f32 in every one)
  // version 4: ReduceLROnPlateau's state (plateau 0: the run had none), and the validation metrics of the epoch
  // the checkpoint was written at (NaN: not validated then).
  int32_t plateau = 0;
  double plateau_lr = 0, plateau_best = 0;
  int64_t plateau_bad = 0, plateau_cooldown_left = 0;
  double val_loss = NAN, val_acc = NAN;
  // version 5: early stopping's state (stop 0: the run had none; else its monitored metric) and the best
  // checkpoint's (best_metric 0: none); NaN best values: no validation yet.
  int32_t stop = 0;
  double stop_best = NAN;
  int64_t stop_best_epoch = 0, stop_bad = 0;
  int32_t best_metric = 0;
  double best_value = NAN;
  int64_t best_epoch = 0;
  // version 6: named settings, in the order written. Keys: "accumulate", "clip", "schedule" (their values as a
  // resume compares them), "stop.monitor", "plateau.monitor", "best.monitor" (the full metric name each rule
  // watches; absent when the run has no such rule).
  std::vector<std::pair<std::string, std::string>> settings;
  // The value of `key` ("" when absent); `has` says whether it is there.
  std::string setting(const std::string& key, bool* has = nullptr) const {
    for (const auto& [k, v] : settings)
      if (k == key) {
        if (has) *has = true;
        return v;
      }
    if (has) *has = false;
    return "";
  }
};
// The fixed part of "made by" (versions 2 to 5's fields); version 6's settings follow it.
inline constexpr size_t kCheckpointMadeBytes =
    4 + 6 * 8 + 4 + 8 + 8 + 8 + 4 + 4 + 8 + 8 + 8 + 8 + 8 + 8 + 4 + 8 + 8 + 8 + 4 + 8 + 8;
// The bytes version 6's settings take in the file.
inline size_t checkpointSettingsBytes(const CheckpointMade& m) {
  size_t n = 4;
  for (const auto& [k, v] : m.settings) n += 8 + k.size() + v.size();
  return n;
}
inline constexpr uint32_t kCheckpointMaxSettings = 64, kCheckpointMaxSettingBytes = 4096;

struct CheckpointHeader {
  uint32_t version = 0;
  uint64_t layout_hash = 0;
  int64_t epoch = 0, global_step = 0, updates = 0;
  uint64_t seed = 0;
  CheckpointMade made;
  uint32_t count = 0;  // tensors that follow
};

struct CheckpointEntry {
  std::string name;  // "<param>", or "<param>#k" for optimizer state
  int32_t rank = 0;
  int64_t dims[4] = {0, 0, 0, 0};
  int64_t numel = 0;
};

// Sequential reads of bytes [pos, end) of an open file through a 1 MiB buffer, with a running CRC: a
// checkpoint is read without holding it in memory, however large it is.
struct CheckpointReader {
  int fd;
  uint64_t pos = 0, end = 0;
  std::vector<char> buf;
  size_t at = 0, len = 0;
  bool ok = true;
  std::string why;  // a read error (errno), "" when the file was only shorter than it said
  uint32_t crc;
  CheckpointReader(int fd, uint64_t end);
  bool fill();
  bool bytes(void* p, uint64_t n);  // n bytes into p (nullptr: through the CRC only)
  template <class T>
  T get() {
    T v{};
    if (!bytes(&v, sizeof v)) v = T{};
    return v;
  }
  bool done() const { return at == len && pos == end; }
};

// The CRC-32 of the first size - 4 bytes of `fd` against the one stored in its last 4; "" or why not.
std::string checkCheckpointCrc(int fd, uint64_t size, uint32_t& stored);
// The header from the file's start (magic included); "" or why it is damaged (a version outside 1 to
// kCheckpointVersion is damage too).
std::string readCheckpointHeader(CheckpointReader& r, CheckpointHeader& h);
// One tensor's name, rank, dims and element count; its values follow (numel f32).
std::string readCheckpointEntry(CheckpointReader& r, CheckpointEntry& e);

// A whole checkpoint file read into memory for tools (`dlspec export`): its CRC checked, its header, and every
// tensor with its values, in file order. "" or why it cannot be taken.
struct CheckpointTensor {
  CheckpointEntry entry;
  std::vector<float> values;
};
std::string readCheckpointFile(const std::string& path, CheckpointHeader& h, std::vector<CheckpointTensor>& tensors);

}  // namespace dls::data
#endif
