// GradReducer.h: the gradient all-reduce of data parallelism over MPI ranks (CPU backend). Each rank's loss
// averages over its own real rows of the global batch; its gradients are scaled by its share of the batch's
// real rows (valid_rank / valid_global) and summed over the ranks, which gives the gradient of the mean over
// the whole global batch, as one process with that batch computes it.
//   - Buckets: the gradients are packed, in the order the backward pass finishes them, into buckets of at
//     most 1 MiB (a larger gradient is a bucket of its own); a bucket's all-reduce starts (MPI_Iallreduce) as
//     soon as the backward pass has written all its gradients and every earlier bucket has started, and is
//     driven by MPI_Testall after each gradient op. Open MPI progresses a non-blocking collective only inside
//     MPI calls, so the overlap with the backward pass is partial: what is left is finished in the update.
//     The first step records the order; buckets are planned from it (the same on every rank).
//   - With the last bucket go the step's loss (each rank's mean times its share: their sum is the global
//     mean) and the ranks' stop signals (the largest), so every rank sees the same loss, skips the same
//     non-finite steps and stops after the same step.
#ifndef DLSPEC_RUNTIME_DIST_GRADREDUCER_H
#define DLSPEC_RUNTIME_DIST_GRADREDUCER_H
#include <cstdint>
#include <vector>

#include <dlspec/runtime.h>

#include "../core/Backend.h"

namespace dls::dist {

class Comm;

class GradReducer {
 public:
  GradReducer(dls_rt* rt, Comm& comm);
  // After gradient op `g` of a training step: its parameters' gradients are final.
  void after_bwd(const dls_grad_op_desc& g);
  // In dls_rt_update, before clipping and the optimizer: every gradient summed over the ranks, the loss
  // tensor set to the global loss, rt->stop_agreed set.
  void reduce();
  // Seconds reduce() waited for the ranks (the communication the backward pass did not hide), bytes reduced
  // per step, buckets per step.
  double wait_seconds() const { return wait_seconds_; }
  int64_t bytes_per_step() const { return bytes_; }
  int buckets() const { return int(buckets_.size()); }

 private:
  struct Bucket {
    std::vector<int> params;  // indices into rt->params
    std::vector<int64_t> offsets;
    std::vector<float> buf;
    int ready = 0;
    bool started = false;
  };
  void plan();
  void start(Bucket& b);
  float weight() const;
  dls_rt* rt_;
  Comm& comm_;
  std::vector<int> param_of_grad_;  // tensor id -> param index (-1: not a trainable parameter's gradient)
  std::vector<int> order_;          // first step: the order gradients became final
  std::vector<char> seen_;
  std::vector<int> bucket_of_;
  std::vector<Bucket> buckets_;
  size_t next_ = 0;  // the next bucket to start
  bool planned_ = false;
  double loss_ = 0;
  int32_t stop_ = 0;
  double wait_seconds_ = 0;
  int64_t bytes_ = 0;
};

}  // namespace dls::dist
#endif
