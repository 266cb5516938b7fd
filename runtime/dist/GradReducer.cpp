// GradReducer.cpp: bucketed gradient all-reduce over MPI ranks (GradReducer.h).
#include "GradReducer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "../core/Runtime.h"
#include "Comm.h"

namespace dls::dist {

namespace {
constexpr int64_t kBucketFloats = (int64_t(1) << 20) / 4;  // 1 MiB
}

GradReducer::GradReducer(dls_rt* rt, Comm& comm) : rt_(rt), comm_(comm) {
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
    Bucket& b = buckets_[size_t(bucket_of_[size_t(p)])];
    ++b.ready;
  }
  if (!planned_) return;
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
    if (buckets_.empty() || (!buckets_.back().params.empty() && int64_t(buckets_.back().buf.size()) + n > kBucketFloats))
      buckets_.emplace_back();
    Bucket& b = buckets_.back();
    b.params.push_back(p);
    b.offsets.push_back(int64_t(b.buf.size()));
    b.buf.resize(b.buf.size() + size_t(n));
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
  while (next_ < buckets_.size()) start(buckets_[next_++]);
  // The loss goes with the last bucket: each rank's mean over its rows times its share sums to the global mean.
  float local = 0;
  Tensor& lt = rt_->tensors[size_t(rt_->io_loss)];
  if (rt_->io_loss >= 0) local = *static_cast<const float*>(lt.d.data);
  const float w = weight();
  loss_ = w == 0.f ? 0.0 : double(local) * double(w);
  stop_ = rt_->stop_local;
  comm_.start_sum(&loss_, 1);
  comm_.start_max(&stop_, 1);
  const auto t0 = std::chrono::steady_clock::now();
  comm_.wait_all(fmt::format("the gradient all-reduce of step {}", rt_->step.step));
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (Bucket& b : buckets_) {
    for (size_t i = 0; i < b.params.size(); ++i) {
      const Tensor& g = rt_->tensors[size_t(rt_->params[size_t(b.params[i])].grad)];
      std::copy_n(b.buf.data() + b.offsets[i], g.d.numel, static_cast<float*>(g.d.data));
    }
    b.ready = 0;
    b.started = false;
  }
  next_ = 0;
  if (rt_->io_loss >= 0) *static_cast<float*>(lt.d.data) = float(loss_);
  rt_->stop_agreed = stop_;
}

}  // namespace dls::dist
