// GradReducer.cpp: bucketed gradient all-reduce over MPI ranks (GradReducer.h).
#include "GradReducer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>

#include "../core/Runtime.h"
#include "../cuda/CudaExt.h"
#include "Comm.h"

namespace dls::dist {

namespace {
constexpr int64_t kBucketFloats = (int64_t(1) << 20) / 4;  // 1 MiB
}

GradReducer::GradReducer(dls_rt* rt, Comm& comm) : rt_(rt), comm_(comm) {
  // DLS_DIST_STAGED=1 sends a CPU run through the host copies a GPU run without NCCL takes (tests/dist).
  const char* staged = std::getenv("DLS_DIST_STAGED");
  if (rt->be && (std::string(rt->be->name) != "cpu" || (staged && std::string(staged) == "1"))) {
    mode_ = Mode::staged;
    const dls_backend_ext* ext = std::string(rt->be->name) == "cuda" ? dls_cuda_backend_ext() : nullptr;
    if (const char* n = std::getenv("DLS_NCCL"); n && std::string(n) == "0") ext = nullptr;  // host copies, MPI
    if (ext && ext->version >= 3 && ext->nccl_unique_id) {
      // Rank 0 makes the id; every rank must learn whether it could before any of them joins.
      char id[DLS_NCCL_ID_BYTES] = {};
      char err[512] = "";
      double ok = comm.rank() == 0 ? (ext->nccl_unique_id(id, sizeof id, err, sizeof err) == 0 ? 1.0 : 0.0) : 0.0;
      comm.sum(&ok, 1, "the NCCL set-up");
      if (ok > 0) {
        comm.bcast(id, sizeof id, "the broadcast of the NCCL unique id from rank 0");
        if (ext->nccl_init_rank(rt->ctx, comm.size(), comm.rank(), id, err, sizeof err) != 0)
          fail(Diag::R0502, rt->spec_path, rt->be->name, err);
        mode_ = Mode::nccl;
      }
    }
  }
  param_of_grad_.assign(rt->tensors.size(), -1);
  for (size_t p = 0; p < rt->params.size(); ++p)
    if (rt->params[p].trainable && rt->params[p].grad >= 0) param_of_grad_[size_t(rt->params[p].grad)] = int(p);
  seen_.assign(rt->params.size(), 0);
  bucket_of_.assign(rt->params.size(), -1);
}

// This rank's share of the step: its real rows over the global batch's (the loss averages over its own).
float GradReducer::weight() const {
  const int64_t mine = rt_->step.valid_rows;
  if (rt_->global_valid <= 0) return 1.f / float(comm_.size());  // every rank a full share (bench)
  return float(double(std::max<int64_t>(0, mine)) / double(rt_->global_valid));
}

void GradReducer::after_bwd(const dls_grad_op_desc& g) {
  for (const dls_tensor_desc& d : g.dparams) {
    if (d.id < 0 || size_t(d.id) >= param_of_grad_.size()) continue;
    const int p = param_of_grad_[size_t(d.id)];
    if (p < 0) continue;
    if (!planned_) {
      if (!seen_[size_t(p)]) seen_[size_t(p)] = 1, order_.push_back(p);
      continue;
    }
    if (mode_ == Mode::nccl) continue;  // NCCL: every bucket in reduce(), on the compute stream
    Bucket& b = buckets_[size_t(bucket_of_[size_t(p)])];
    ++b.ready;
  }
  if (!planned_ || mode_ == Mode::nccl) return;
  // Buckets start in order (every rank issues the same collectives in the same order).
  while (next_ < buckets_.size() && buckets_[next_].ready == int(buckets_[next_].params.size())) start(buckets_[next_++]);
  comm_.progress();
}

void GradReducer::plan() {
  for (size_t p = 0; p < rt_->params.size(); ++p)  // gradients no gradient op wrote last, in declaration order
    if (rt_->params[p].trainable && rt_->params[p].grad >= 0 && !seen_[p]) order_.push_back(int(p));
  bytes_ = 0;
  for (int p : order_) {
    const int64_t n = rt_->tensors[size_t(rt_->params[size_t(p)].grad)].d.numel;
    if (buckets_.empty() || (!buckets_.back().params.empty() && buckets_.back().floats + n > kBucketFloats))
      buckets_.emplace_back();
    Bucket& b = buckets_.back();
    b.params.push_back(p);
    b.offsets.push_back(b.floats);
    b.floats += n;
    if (mode_ != Mode::nccl) b.buf.resize(size_t(b.floats));
    bucket_of_[size_t(p)] = int(buckets_.size() - 1);
    bytes_ += n * 4;
  }
  planned_ = true;
}

void GradReducer::start(Bucket& b) {
  const float w = weight();
  for (size_t i = 0; i < b.params.size(); ++i) {
    const Tensor& g = rt_->tensors[size_t(rt_->params[size_t(b.params[i])].grad)];
    const float* src = static_cast<const float*>(g.d.data);  // CPU backend: host memory
    if (mode_ == Mode::staged) {
      stage_.resize(size_t(g.d.numel));
      to_host(rt_, stage_.data(), g.d.data, size_t(g.d.numel) * 4);
      src = stage_.data();
    }
    float* dst = b.buf.data() + b.offsets[i];
    // A rank without real rows in this batch (the last, partial one) contributes nothing, not 0 * its values.
    if (w == 0.f) std::fill_n(dst, g.d.numel, 0.f);
    else for (int64_t k = 0; k < g.d.numel; ++k) dst[k] = w * src[k];
  }
  comm_.start_sum(b.buf.data(), int64_t(b.buf.size()));
  b.started = true;
}

void GradReducer::reduce() {
  if (!planned_) plan();
  if (mode_ == Mode::nccl) return reduce_nccl();
  while (next_ < buckets_.size()) start(buckets_[next_++]);
  start_loss_and_stop();  // with the last bucket
  const auto t0 = std::chrono::steady_clock::now();
  comm_.wait_all(fmt::format("the gradient all-reduce of step {}", rt_->step.step));
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (Bucket& b : buckets_) {
    for (size_t i = 0; i < b.params.size(); ++i) {
      const Tensor& g = rt_->tensors[size_t(rt_->params[size_t(b.params[i])].grad)];
      if (mode_ == Mode::staged) to_device(rt_, g.d.data, b.buf.data() + b.offsets[i], size_t(g.d.numel) * 4);
      else std::copy_n(b.buf.data() + b.offsets[i], g.d.numel, static_cast<float*>(g.d.data));
    }
    b.ready = 0;
    b.started = false;
  }
  next_ = 0;
  finish_loss_and_stop();
}

// NCCL: the loss and the stop signals first, over MPI (a bounded wait that names a rank that is gone), then
// every bucket's gradients, each pre-scaled by this rank's share, summed on the compute stream.
void GradReducer::reduce_nccl() {
  start_loss_and_stop();  // reading the loss waits for the backward pass
  const float w = weight();
  const auto t0 = std::chrono::steady_clock::now();
  comm_.wait_all(fmt::format("the gradient all-reduce of step {}", rt_->step.step));
  const dls_backend_ext* ext = dls_cuda_backend_ext();
  char err[512] = "";
  std::vector<float*> grads;
  std::vector<int64_t> numels;
  for (const Bucket& b : buckets_) {
    grads.clear(), numels.clear();
    for (int p : b.params) {
      const Tensor& g = rt_->tensors[size_t(rt_->params[size_t(p)].grad)];
      grads.push_back(static_cast<float*>(g.d.data));
      numels.push_back(g.d.numel);
    }
    // A rank without real rows in this batch contributes zeros: its share is 0.
    float* const* row = grads.data();
    void* ctx = rt_->ctx;
    if (ext->allreduce(&ctx, 1, &row, numels.data(), int32_t(grads.size()), &w, err, sizeof err) != 0)
      fail(Diag::R0502, rt_->spec_path, rt_->be->name, err);
  }
  if (ext->nccl_wait(rt_->ctx, comm_.timeout(), err, sizeof err) != 0)
    fail(Diag::R0512, rt_->spec_path, "some rank", fmt::format("the gradient all-reduce of step {} ({})", rt_->step.step, err),
         comm_.timeout());
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  finish_loss_and_stop();
}

// Each rank's mean loss over its rows times its share of the batch's rows sums to the global mean; the stop
// signals go as their largest.
void GradReducer::start_loss_and_stop() {
  float local = 0;
  if (rt_->io_loss >= 0) to_host(rt_, &local, rt_->tensors[size_t(rt_->io_loss)].d.data, 4);
  const float w = weight();
  loss_ = w == 0.f ? 0.0 : double(local) * double(w);
  stop_ = rt_->stop_local;
  comm_.start_sum(&loss_, 1);
  comm_.start_max(&stop_, 1);
}

// After the wait: the loss tensor holds the global loss, and every rank sees the same stop signal.
void GradReducer::finish_loss_and_stop() {
  if (rt_->io_loss >= 0) {
    const float global = float(loss_);
    to_device(rt_, rt_->tensors[size_t(rt_->io_loss)].d.data, &global, 4);
  }
  rt_->stop_agreed = stop_;
}

}  // namespace dls::dist
