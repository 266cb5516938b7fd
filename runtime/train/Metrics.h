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
};
void append_metrics(const std::string& dir, const EpochMetrics& m);
// Reads metrics.csv of `dir` (all epochs so far, resumed runs included).
std::vector<EpochMetrics> read_metrics(const std::string& dir);
void write_curves(const std::string& dir, const std::vector<EpochMetrics>& ms);
}  // namespace dls
#endif
