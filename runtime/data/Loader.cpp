#include "Loader.h"

#include <algorithm>
#include <cstring>

#include "Stream.h"

namespace dls {

Loader::Loader(const Dataset& ds, const Augment& aug, int64_t batch, bool drop_last, uint64_t seed, int ranks, int rank)
    : ds_(ds), aug_(aug), batch_(batch), seed_(seed) {
  total_ = ds.n * std::max<int64_t>(1, aug.repeat);  // repeat(count): count passes over the split per epoch
  nbatches_ = drop_last ? total_ / batch : (total_ + batch - 1) / batch;
  rows_ = ranks > 1 ? batch / ranks : batch;
  first_row_ = ranks > 1 ? int64_t(rank) * rows_ : 0;
  const int depth = loader_depth(ds);
  buf_.resize(size_t(depth));
  ready_k_.assign(size_t(depth), -1);
  if (ds.stream) pool_ = std::make_unique<RowPool>(std::max(1, load_policy().threads));
  for (auto& b : buf_) {
    b.x.resize(size_t(rows_ * aug.row_numel(ds)));
    b.labels.resize(size_t(rows_ * ds.label_numel));
    b.targets.resize(size_t(rows_ * (ds.target_numel > 0 ? ds.target_numel : 1)));
    b.class_labels = !ds.labels.empty();
    for (const Dataset& f : ds.fields) b.fields.emplace_back(size_t(rows_ * f.sample_numel), 0.f);
  }
  th_ = std::thread([this] { worker(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  th_.join();
}

void Loader::fill(Batch& b, int64_t k) {
  // This rank's rows of global batch k start at `first` of the epoch's order.
  const int64_t global_first = k * batch_, first = global_first + first_row_;
  const int64_t valid = std::clamp<int64_t>(total_ - first, 0, rows_);
  b.valid = valid;
  b.global_valid = std::min(batch_, total_ - global_first);
  const int64_t row = aug_.row_numel(ds_);  // a random_crop window may be smaller than the sample
  if (ds_.stream) ds_.stream->src->check();
  for (const Dataset& f : ds_.fields)
    if (f.stream) f.stream->src->check();
  auto one_row = [&](int64_t r) {
    float* dst = b.x.data() + r * row;
    if (r >= valid) {
      std::memset(dst, 0, size_t(row) * 4);
      std::fill_n(b.labels.begin() + r * ds_.label_numel, ds_.label_numel, 0);
      for (size_t j = 0; j < ds_.fields.size(); ++j)
        std::memset(b.fields[j].data() + r * ds_.fields[j].sample_numel, 0, size_t(ds_.fields[j].sample_numel) * 4);
      return;
    }
    int64_t i = order_[size_t(first + r)];
    // The further sample fields: row r holds the same sample's (augmentations transform the first field only).
    for (size_t j = 0; j < ds_.fields.size(); ++j)
      read_sample(ds_.fields[j], i, b.fields[j].data() + r * ds_.fields[j].sample_numel);
    // Each pass of a repeated epoch draws its own augmentation.
    const int64_t pass = ds_.n > 0 ? (first + r) / ds_.n : 0;
    augment_sample(ds_, aug_, i, seed_, epoch_ * std::max<int64_t>(1, aug_.repeat) + pass, dst);
    if (!ds_.labels.empty())
      std::copy_n(ds_.labels.begin() + i * ds_.label_numel, ds_.label_numel, b.labels.begin() + r * ds_.label_numel);
    if (!ds_.targets.empty())
      std::memcpy(b.targets.data() + r * ds_.target_numel, ds_.targets.data() + i * ds_.target_numel,
                  size_t(ds_.target_numel) * 4);
  };
  if (pool_) pool_->run(rows_, one_row);
  else
    for (int64_t r = 0; r < rows_; ++r) one_row(r);
  b.lam = 1;
  b.partner_labels.assign(size_t(rows_), -1);
  if (aug_.mix == 0 || valid <= 0) return;
  // mixup / cutmix: each real row with the row before it in the global batch; a partner on another rank is
  // augmented here the same way (augment_sample is a pure function of seed, epoch and sample).
  const int64_t C = aug_.mix == DLS_PIPE_CUTMIX ? aug_.mix_C : 1;
  const int64_t Hc = aug_.mix != DLS_PIPE_CUTMIX ? 1 : aug_.crop > 0 ? aug_.crop : aug_.mix_H;
  const int64_t Wc = aug_.mix != DLS_PIPE_CUTMIX ? row : aug_.crop > 0 ? aug_.crop_w : aug_.mix_W;
  if (C * Hc * Wc != row) return;  // apply_pipeline refuses a cutmix of another shape (R0205)
  auto partner = [&](int64_t g, float* dst) {
    const int64_t pos = global_first + g, i = order_[size_t(pos)];
    const int64_t pass = ds_.n > 0 ? pos / ds_.n : 0;
    augment_sample(ds_, aug_, i, seed_, epoch_ * std::max<int64_t>(1, aug_.repeat) + pass, dst);
  };
  std::vector<int64_t> partner_of;
  b.lam = mix_rows(aug_, b.x.data(), row, first_row_, rows_, b.global_valid, C, Hc, Wc, seed_, epoch_, k, partner,
                   partner_of);
  for (int64_t r = 0; r < rows_; ++r)
    if (partner_of[size_t(r)] >= 0 && !ds_.labels.empty())
      b.partner_labels[size_t(r)] = ds_.labels[size_t(order_[size_t(global_first + partner_of[size_t(r)])] * ds_.label_numel)];
  // The further sample fields of each mixed row: mixed with its partner's with the same lam, as mixup mixes the
  // first field (cutmix's lam is the share of the image its box leaves).
  if (ds_.fields.empty()) return;
  const float l = float(b.lam), m = float(1.0 - b.lam);
  std::vector<float> other;
  for (size_t j = 0; j < ds_.fields.size(); ++j) {
    const Dataset& f = ds_.fields[j];
    other.resize(size_t(f.sample_numel));
    for (int64_t r = 0; r < rows_; ++r) {
      if (partner_of[size_t(r)] < 0) continue;
      read_sample(f, order_[size_t(global_first + partner_of[size_t(r)])], other.data());
      float* xr = b.fields[j].data() + r * f.sample_numel;
      for (int64_t e = 0; e < f.sample_numel; ++e) xr[e] = xr[e] * l + other[size_t(e)] * m;
    }
  }
}

void Loader::worker() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return stop_ || want_ >= 0; });
    if (stop_) return;
    int64_t k = want_;
    want_ = -1;
    busy_ = true;
    l.unlock();
    const size_t slot = size_t(k % int64_t(buf_.size()));
    std::exception_ptr err;
    try {
      fill(buf_[slot], k);
    } catch (...) {
      err = std::current_exception();
    }
    l.lock();
    busy_ = false;
    if (err) {
      err_ = err, err_k_ = k;  // next() rethrows it for batch k; nothing more is prepared this epoch
    } else {
      ready_k_[slot] = k;
      // The queue: the next batch too, while its buffer is not the one the caller holds.
      if (want_ < 0 && k + 1 < nbatches_ && k + 1 < cur_ + int64_t(buf_.size())) want_ = k + 1;
    }
    cv_.notify_all();
  }
}

void Loader::start_epoch(int64_t epoch, int64_t first) {
  std::unique_lock<std::mutex> l(mu_);
  // Wait until the worker is idle before replacing the order it reads.
  cv_.wait(l, [this] { return want_ < 0 && !busy_; });
  epoch_ = epoch, next_ = first;
  order_.clear();
  const int64_t passes = std::max<int64_t>(1, aug_.repeat);
  for (int64_t pass = 0; pass < passes; ++pass) {  // each pass of a repeated epoch in its own order
    std::vector<int64_t> o = epoch_order(ds_.n, aug_.shuffle, seed_, epoch * passes + pass, aug_.shuffle_buffer);
    order_.insert(order_.end(), o.begin(), o.end());
  }
  std::fill(ready_k_.begin(), ready_k_.end(), -1);
  err_ = nullptr, err_k_ = -1;
  cur_ = first - 1;
  if (first < nbatches_) want_ = first;  // the worker prepares the first batch of the epoch
  l.unlock();
  cv_.notify_all();
}

const Batch& Loader::next() {
  std::unique_lock<std::mutex> l(mu_);
  const int64_t k = next_++;
  const int64_t D = int64_t(buf_.size());
  cv_.wait(l, [&] { return ready_k_[size_t(k % D)] == k || (err_ && err_k_ <= k); });
  if (err_ && ready_k_[size_t(k % D)] != k) std::rethrow_exception(err_);
  cur_ = k;
  // The caller finished with batch k - 1 (it asked for batch k): its buffer may take batch k + D - 1. When
  // the worker is idle and the queue has room, it prepares the first batch not yet prepared.
  if (want_ < 0 && !busy_ && !err_) {
    int64_t n = k + 1;
    while (n < nbatches_ && n < k + D && ready_k_[size_t(n % D)] == n) ++n;
    if (n < nbatches_ && n < k + D) {
      want_ = n;
      cv_.notify_all();
    }
  }
  return buf_[size_t(k % D)];
}

}  // namespace dls

