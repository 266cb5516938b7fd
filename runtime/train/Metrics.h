// Metrics.h: per-epoch metrics appended to <run dir>/metrics.jsonl and metrics.csv, and the hand-written
// SVG plot curves.svg (train/validation loss and accuracy per epoch).
#ifndef DLSPEC_RUNTIME_TRAIN_METRICS_H
#define DLSPEC_RUNTIME_TRAIN_METRICS_H
#include <cstdint>
#include <string>
#include <vector>

namespace dls {
struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, val_loss = 0, val_acc = 0, img_s = 0, seconds = 0, lr = 0, train_acc = 0;
  // The other validation metrics the program reports (val_top_k, val_precision, ... val_r2), in runtime.h's
  // dls_metric order: the columns after train_accuracy in metrics.csv, the keys after it in metrics.jsonl.
  std::vector<std::pair<std::string, double>> extra = {};
};
// Appends one record to each file, whole or not at all: one write(2) per record, a file that does not end
// with a newline (torn by an earlier full disk) is first cut back to its last whole record, and a failed
// write is undone. Links are not followed. Returns false (after warning R0108) when nothing was written.
bool append_metrics(const std::string& dir, const EpochMetrics& m);
// Keeps the records of epochs 1..last_epoch (a resumed run continues after them); 0 removes both files.
void trim_metrics(const std::string& dir, int64_t last_epoch);
// Reads metrics.csv of `dir` (all epochs so far, resumed runs included).
std::vector<EpochMetrics> read_metrics(const std::string& dir);
// An axis through [lo, hi] with ticks at round values (1, 2 or 5 times a power of ten, about `target` of
// them): the ticks from the first at or below lo to the last at or above hi, kept inside [0, 1] when `unit`
// (accuracies). `decimals` is how many digits after the point the step needs.
struct Axis {
  std::vector<double> ticks;
  int decimals = 0;
};
Axis nice_axis(double lo, double hi, int target, bool unit);
// Written to a temporary and renamed over curves.svg. Returns false (after warning R0108) on failure.
bool write_curves(const std::string& dir, const std::vector<EpochMetrics>& ms);
}  // namespace dls
#endif
