// Loader.h: assembles batches of one split on a background thread: while the caller trains on batch k,
// the worker prepares batch k+1 into the other of two buffers. The worker only copies/augments (cheap,
// memory-bound) and sleeps otherwise, so it does not compete with the step's compute threads for long.
// A streamed split (Stream.h) reads and converts its samples as a batch takes them: its worker prepares the
// next batches (a queue of loader_depth buffers) with a pool of --threads threads, a row each. A problem
// found while preparing a batch (a damaged file, a bad record) is rethrown by next() for that batch.
#ifndef DLSPEC_RUNTIME_DATA_LOADER_H
#define DLSPEC_RUNTIME_DATA_LOADER_H
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "Pipeline.h"

namespace dls {

class RowPool;  // Stream.h

struct Batch {
  std::vector<float> x;        // batch * sample_numel (padded rows are zero)
  std::vector<int32_t> labels; // batch * label_numel (classification)
  std::vector<float> targets;  // batch * target_numel (regression)
  bool class_labels = false;   // `labels` holds the split's class labels (else `targets` its targets)
  int64_t valid = 0;           // real rows
  int64_t global_valid = 0;    // real rows of the whole global batch, over every rank's share
  // mixup / cutmix: row r is lam of its own sample and 1 - lam of the sample whose class is partner_labels[r]
  // (-1: none; evaluation and batches without mixing), so its target is lam onehot(labels[r]) + (1 - lam)
  // onehot(partner_labels[r]).
  double lam = 1;
  std::vector<int32_t> partner_labels;
  // The further sample fields (Dataset::fields), each batch * its sample_numel floats (padded rows are zero).
  std::vector<std::vector<float>> fields = {};
};

class Loader {
 public:
  // drop_last: training drops the final partial batch; evaluation pads it. `batch` is the global batch; over
  // `ranks` data-parallel ranks this one's batches are rows [rank * batch / ranks, (rank + 1) * batch / ranks)
  // of each global batch, in the same order and with the same augmentation as one process's (batch must be a
  // multiple of ranks).
  Loader(const Dataset& ds, const Augment& aug, int64_t batch, bool drop_last, uint64_t seed, int ranks = 1, int rank = 0);
  ~Loader();
  int64_t batches() const { return nbatches_; }
  // Starts epoch `epoch` at batch `first`.
  void start_epoch(int64_t epoch, int64_t first = 0);
  // The next batch; valid until the following call.
  const Batch& next();

 private:
  void fill(Batch& b, int64_t k);
  void worker();
  const Dataset& ds_;
  Augment aug_;
  int64_t batch_, nbatches_;
  int64_t rows_, first_row_;  // this rank's rows of each global batch: [first_row_, first_row_ + rows_)
  int64_t total_ = 0;  // samples per epoch: the split's, times repeat(count)
  uint64_t seed_;
  int64_t epoch_ = 0, next_ = 0;
  std::vector<int64_t> order_;
  // Batch k is prepared in buf_[k % depth]; the caller holds batch cur_ (its buffer is not touched) and the
  // worker prepares batches up to cur_ + depth - 1, in order.
  std::vector<Batch> buf_;
  std::vector<int64_t> ready_k_;
  int64_t cur_ = -1;   // the batch the caller holds
  int64_t want_ = -1;  // batch the worker should fill next (-1: none)
  bool stop_ = false, busy_ = false;
  std::exception_ptr err_;  // the fault met preparing batch err_k_
  int64_t err_k_ = -1;
  std::unique_ptr<RowPool> pool_;  // a streamed split's readers
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread th_;
};

}  // namespace dls
#endif
