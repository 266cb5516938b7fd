#include "Guards.h"

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "dlspec/OpSchema.h"

namespace dls {

namespace {
const double kExplode = 1e4, kVanish = 1e-9;
const int64_t kReluSamples = 10;
const double kDeadShare = 0.5;
const int64_t kClipMinSteps = 5;  // an epoch of fewer steps says little about a threshold
const size_t kShown = 3;  // gradient-norm warnings named per kind and step
}  // namespace

Guards::Guards(dls_rt* rt, int64_t every) : rt_(rt), every_(every) {
  for (const auto& op : rt->ops)
    if (op->d.opcode == DLS_OP_RELU) {
      relu_ops_.push_back(op->d.id);
      relu_alive_.emplace_back(size_t(rt->tensors[op->output].d.numel / rt->tensors[op->output].d.dims[0]), 0);
    }
  // Parameters whose gradients come from bf16 products: the ones gradient underflow (R0411) can zero out.
  for (const auto& op : rt->ops)
    if (op->d.precision == DLS_BF16)
      if (const schema::OpRow* row = schema::find(op->opcode))
        for (size_t i = 0; i < row->tensors.size() && i < op->tensors.size(); ++i)
          if ((row->tensors[i] == 'p' || row->tensors[i] == 'q') && op->tensors[i].id >= 0) bf16_params_.insert(op->tensors[i].id);
}

void Guards::report_norms(Diag d, const std::vector<std::pair<std::string, double>>& found, int64_t epoch,
                          int64_t step) {
  const size_t shown = std::min(found.size(), kShown);
  for (size_t i = 0; i < shown; ++i) {
    Fault f = make_fault(d, rt_->spec_path, found[i].first, found[i].second, epoch + 1, step + 1);
    if (i + 1 == shown && found.size() > shown)
      f.notes.push_back(fmt::format("and {} more parameters at this step (first: '{}'); each is reported once",
                                    found.size() - shown, found[shown].first));
    emit(f);
  }
}

void Guards::after_step(const Program& p, int64_t epoch, int64_t step, float loss) {
  if (!std::isfinite(loss)) {
    // Re-run this step (same batch, same dropout masks) without updating, checking each op's output.
    rt_->check_outputs = true;
    rt_->first_nonfinite_op = -1;
    rt_->suppress_update = true;
    call(rt_, p.train_step);
    rt_->check_outputs = false;
    rt_->suppress_update = false;
    int32_t op = rt_->first_nonfinite_op;
    Fault f = make_fault(Diag::R0101, op >= 0 ? op_location(rt_, op) : rt_->spec_path,
                         std::isnan(loss) ? "NaN" : "infinite", epoch + 1, step + 1);
    if (op >= 0)
      f.notes.push_back(fmt::format(fmt::runtime(diag_info(Diag::R0107).message), opcode_name(rt_->ops[op]->opcode),
                                    rt_->ops[op]->output));
    throw f;
  }
  if (every_ <= 0 || step % every_ != 0) return;
  // Gradient norms per parameter: one warning per kind and parameter, at most kShown named per kind and
  // step; the rest of that step's are counted in one more warning (a deep network's thousands of parameters
  // would otherwise flood the terminal).
  std::vector<std::pair<std::string, double>> explode, vanish;
  std::vector<float> piece(size_t(1) << 18);
  for (const auto& prm : rt_->params) {
    if (!prm.trainable) continue;
    // Read in 1 MiB pieces: a whole copy of a large gradient would cost its size at every check.
    const Tensor& t = rt_->tensors[size_t(prm.grad)];
    const float* src = static_cast<const float*>(t.d.data);
    double s = 0;
    for (int64_t done = 0; done < t.d.numel;) {
      const size_t m = size_t(std::min<int64_t>(t.d.numel - done, int64_t(piece.size())));
      to_host(rt_, piece.data(), src + done, m * 4);
      for (size_t k = 0; k < m; ++k) s += double(piece[k]) * piece[k];
      done += int64_t(m);
    }
    double norm = std::sqrt(s);
    if ((norm > kExplode || !std::isfinite(norm)) && warned_.insert("explode:" + prm.name).second)
      explode.emplace_back(prm.name, norm);
    // A gradient that is exactly zero where bf16 products made it, while the loss is not: bf16 flushes values
    // below FLT_MIN (its smallest normal, as f32's) to zero, so gradients that small vanish entirely.
    if (norm == 0 && loss != 0 && bf16_params_.count(prm.value) && warned_.insert("underflow:" + prm.name).second)
      warn(Diag::R0411, rt_->spec_path, prm.name, epoch + 1, step + 1, double(loss), double(FLT_MIN));
    else if (norm < kVanish && warned_.insert("vanish:" + prm.name).second) vanish.emplace_back(prm.name, norm);
  }
  report_norms(Diag::R0102, explode, epoch, step);
  report_norms(Diag::R0103, vanish, epoch, step);
  // Dying ReLU: share of units never positive over the first kReluSamples sampled batches.
  if (relu_samples_ < kReluSamples && !relu_ops_.empty()) {
    for (size_t k = 0; k < relu_ops_.size(); ++k) {
      const Op& op = *rt_->ops[relu_ops_[k]];
      std::vector<float> y = read_tensor(rt_, op.output);
      auto& alive = relu_alive_[k];
      const int64_t rows = std::min<int64_t>(rt_->step.valid_rows, int64_t(y.size() / alive.size()));
      for (int64_t r = 0; r < rows; ++r)
        for (size_t u = 0; u < alive.size(); ++u)
          if (y[size_t(r) * alive.size() + u] > 0) alive[u] = 1;
    }
    if (++relu_samples_ == kReluSamples)
      for (size_t k = 0; k < relu_ops_.size(); ++k) {
        size_t dead = 0;
        for (auto a : relu_alive_[k]) dead += a == 0;
        double share = double(dead) / double(relu_alive_[k].size());
        if (share > kDeadShare) warn(Diag::R0104, op_location(rt_, relu_ops_[k]), share * 100, kReluSamples);
      }
  }
}

void Guards::after_first_epoch() {
  if (!rt_->clip_kind) return;
  const ClipStats c = read_clip_stats(rt_);
  if (c.steps < double(kClipMinSteps) || c.clipped < c.steps) return;
  const bool norm = rt_->clip_kind == DLS_CLIP_NORM;
  warn(Diag::R0112, rt_->spec_path, fmt::format("{}({:g})", norm ? "norm" : "value", rt_->clip_threshold),
       int64_t(c.steps), norm ? "global L2 norm" : "largest element", c.measure_sum / c.steps, rt_->clip_threshold);
}

void Guards::after_epoch(int64_t epoch, double train_loss, double val_loss) {
  if (train_losses_.empty()) first_epoch_ = epoch;
  train_losses_.push_back(train_loss);
  val_losses_.push_back(val_loss);
  const size_t n = train_losses_.size();
  if (n == 3 && train_losses_[2] >= train_losses_[0] && warned_.insert("flat").second)
    warn(Diag::R0105, rt_->spec_path, first_epoch_ + 1, first_epoch_ + 3, train_losses_[0], train_losses_[2]);
  // Overfitting: validation loss rose for 2+ consecutive epochs while training loss fell.
  if (n >= 3 && std::isfinite(val_loss)) {
    int rising = 0;
    for (size_t i = n - 1; i >= 1 && rising < 8; --i) {
      if (val_losses_[i] > val_losses_[i - 1] && train_losses_[i] < train_losses_[i - 1]) {
        ++rising;
      } else {
        break;
      }
    }
    if (rising >= 2 && warned_.insert("overfit").second)
      warn(Diag::R0106, rt_->spec_path, rising, val_losses_[n - 1 - size_t(rising)], val_losses_[n - 1]);
  }
}

}  // namespace dls
