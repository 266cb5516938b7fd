// Guards.h: runtime checks during training. Cheap per step (the scalar loss is already on the host);
// gradient norms and ReLU activity are sampled every `every` steps; epoch-level trends once per epoch.
#ifndef DLSPEC_RUNTIME_TRAIN_GUARDS_H
#define DLSPEC_RUNTIME_TRAIN_GUARDS_H
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "Trainer.h"

namespace dls {

class Guards {
 public:
  explicit Guards(dls_rt* rt, int64_t every = 50);
  // After a training step with loss `loss`. On a non-finite loss re-runs the step's forward pass (no update)
  // checking every op's output and throws R0101 located at the first op producing a non-finite value.
  void after_step(const Program& p, int64_t epoch, int64_t step, float loss);
  // After the run's first epoch of training steps: gradient clipping that clipped every step (R0112).
  void after_first_epoch();
  // After an epoch (val_loss NaN when there is no validation).
  void after_epoch(int64_t epoch, double train_loss, double val_loss);

 private:
  void report_norms(Diag d, const std::vector<std::pair<std::string, double>>& found, int64_t epoch, int64_t step);
  dls_rt* rt_;
  int64_t every_;
  std::set<std::string> warned_;
  std::vector<std::vector<uint8_t>> relu_alive_;  // per relu op: unit ever positive
  std::vector<int32_t> relu_ops_;
  std::set<int32_t> bf16_params_;  // tensor ids of the parameters of ops with bf16 products (precision bf16)
  int64_t relu_samples_ = 0;
  std::vector<double> train_losses_, val_losses_;  // of the epochs this run trained (from first_epoch_)
  int64_t first_epoch_ = 0;                        // 0-based; later after a resume
};

}  // namespace dls
#endif
