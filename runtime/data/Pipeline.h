// Pipeline.h: the data pipeline of a split. Element-wise steps (to_f32, to_i32, scale, normalize; those
// marked DLS_PIPE_LABELS on the targets) and reshape are applied once to the whole split at load time, in
// order; shuffling and augmentation (random_crop, random_flip; training split only) run per batch on the
// sample shape the steps before left, from deterministic per-(seed, epoch, sample) random numbers.
#ifndef DLSPEC_RUNTIME_DATA_PIPELINE_H
#define DLSPEC_RUNTIME_DATA_PIPELINE_H
#include "Dataset.h"

namespace dls {
struct Augment {
  bool shuffle = false;
  int64_t shuffle_buffer = 0;  // shuffle(buffer: k): a window of k samples; 0 = all (the whole split)
  int64_t crop = 0, pad = 0;  // random_crop: window height and zero padding
  int64_t crop_w = 0;          // random_crop: window width
  double flip = 0;             // random_flip probability
  int32_t flip_axis = 0;       // random_flip: 0 mirrors the width (horizontal), 1 the height (vertical)
  int64_t repeat = 1;          // repeat(count): passes over the split per training epoch
  // Elements of one augmented sample: the crop window's [C, h, w], or the sample's own.
  int64_t row_numel(const Dataset& ds) const {
    return crop > 0 ? (ds.rank == 3 ? ds.dims[0] : 1) * crop * crop_w : ds.sample_numel;
  }
};
// Applies the element-wise steps in order and returns the per-batch part. random_crop to a window of another
// size than the sample: training cuts a random window per batch; evaluation (training = false) takes the
// centre window of the padded sample once, here, as Darknet's crop layer and torchvision's CenterCrop do.
Augment apply_pipeline(Dataset& ds, const std::vector<PipeStep>& steps, bool training);
// Sample order of `epoch`: identity, or a permutation that is a pure function of (seed, epoch). With a
// buffer of k < n samples the order is tf.data's shuffle(buffer_size = k): a window holds the next k samples
// of the split, each output is a random one of them and its slot takes the next sample, so a sample comes at
// most k - 1 places earlier than in the split (k = 1: the split's order). k = 0 or k >= n: uniform.
std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch, int64_t buffer = 0);
// Writes sample `index` of `ds` into `out`, augmented for (seed, epoch); `epoch` counts passes under repeat.
void augment_sample(const Dataset& ds, const Augment& a, int64_t index, uint64_t seed, int64_t epoch, float* out);
}  // namespace dls
#endif
