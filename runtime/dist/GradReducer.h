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
//   - On a GPU backend (one rank per device) the buckets are summed where the gradients are: with NCCL, its
//     communicator made from rank 0's unique id broadcast over MPI, after the loss and stop signals went
//     over MPI (a bounded wait that names a lost rank); the NCCL wait is bounded too (CudaExt nccl_wait).
//     Without NCCL in the build the buckets go through host memory and MPI, as on the CPU.
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
    std::vector<float> buf;  // the bucket's host copy (not with NCCL)
    int64_t floats = 0;
    int ready = 0;
    bool started = false;
  };
  enum class Mode { host, staged, nccl };  // CPU memory; device memory through host copies; NCCL on devices
  void plan();
  void start(Bucket& b);
  void reduce_nccl();
  void start_loss_and_stop();
  void finish_loss_and_stop();
  float weight() const;
  dls_rt* rt_;
  Comm& comm_;
  Mode mode_ = Mode::host;
  std::vector<float> stage_;  // Mode::staged: one gradient's host copy
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
