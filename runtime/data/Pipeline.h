// Pipeline.h: the data pipeline of a split. Element-wise steps (to_f32, to_i32, scale, normalize; those
// marked DLS_PIPE_LABELS on the targets) and reshape are applied once to the whole split at load time, in
// order; shuffling and augmentation (random_crop, random_flip, then random_rotation, random_affine,
// color_jitter, gaussian_noise, random_erasing in pipeline order, and mixup / cutmix over the batch; training
// split only) run per batch on the sample shape the steps before left, from deterministic per-(seed, epoch,
// sample) random numbers.
#ifndef DLSPEC_RUNTIME_DATA_PIPELINE_H
#define DLSPEC_RUNTIME_DATA_PIPELINE_H
#include <functional>

#include "../core/Rng.h"
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
  // The per-sample augmentations after random_crop / random_flip (DLS_PIPE_RANDOM_ROTATION ..
  // DLS_PIPE_RANDOM_ERASING), in pipeline order: op and parameters a..d, e..f (from a DLS_PIPE_PARAMS step).
  // In training, a scale, normalize, add or per-feature step (standardize, min_max) written after one of them
  // applies to the augmented sample (here, per sample) instead of to the split at load time. C, H, W: the
  // sample's shape at the step; offset, scale: a DLS_PIPE_FEATURES step's per-element statistics.
  struct Step {
    int32_t op = 0;
    double a = 0, b = 0, c = 0, d = 0, e = 0, f = 0;
    int64_t C = 1, H = 1, W = 1;
    std::vector<float> offset, scale;
  };
  std::vector<Step> steps;
  int32_t mix = 0;             // DLS_PIPE_MIXUP or DLS_PIPE_CUTMIX (0: none), per batch
  double mix_alpha = 0;        // its Beta(alpha, alpha)
  int64_t mix_C = 1, mix_H = 1, mix_W = 1;  // cutmix: the [C, H, W] sample the box is cut from
  // Elements of one augmented sample: the crop window's [C, h, w], or the sample's own.
  int64_t row_numel(const Dataset& ds) const {
    return crop > 0 ? (ds.rank == 3 ? ds.dims[0] : 1) * crop * crop_w : ds.sample_numel;
  }
};
// Applies the element-wise steps in order and returns the per-batch part. random_crop to a window of another
// size than the sample: training cuts a random window per batch; evaluation (training = false) takes the
// centre window of the padded sample once, here, as Darknet's crop layer and torchvision's CenterCrop do.
Augment apply_pipeline(Dataset& ds, const std::vector<PipeStep>& steps, bool training);
// one_hot(classes) of every element (element -1: [...] -> [..., classes]) or of one element of a rank-1 sample
// ([F] -> [F - 1 + classes], its C values in its place); a value that is not an index in [0, classes) is R0251.
void one_hot(Dataset& ds, int64_t classes, int64_t element);
// Sample order of `epoch`: identity, or a permutation that is a pure function of (seed, epoch). With a
// buffer of k < n samples the order is tf.data's shuffle(buffer_size = k): a window holds the next k samples
// of the split, each output is a random one of them and its slot takes the next sample, so a sample comes at
// most k - 1 places earlier than in the split (k = 1: the split's order). k = 0 or k >= n: uniform.
std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch, int64_t buffer = 0);
// Writes sample `index` of `ds` into `out`, augmented for (seed, epoch); `epoch` counts passes under repeat.
void augment_sample(const Dataset& ds, const Augment& a, int64_t index, uint64_t seed, int64_t epoch, float* out);

// The augmentations' kernels on one float image [C, H, W], as torchvision 0.14's functional ops on float
// tensors (exposed for the tests that compare them with torchvision).
// F.affine(img, angle, [tx, ty], scale, [shear_x, shear_y], InterpolationMode.BILINEAR, fill=[fill] * C): angle
// and shears in degrees (clockwise), the image centre as the centre; F.rotate(img, angle) is affine(-angle).
void affine_image(const float* src, int64_t C, int64_t H, int64_t W, double angle, double tx, double ty, double scale,
                  double shear_x, double shear_y, float fill, float* out);
// F.adjust_brightness / adjust_contrast / adjust_saturation / adjust_hue, in place (values clamped to [0, 1];
// saturation and hue change only 3-channel images; contrast's mean is the grey image's for C = 3, else all values').
void adjust_brightness(float* x, int64_t C, int64_t H, int64_t W, double factor);
void adjust_contrast(float* x, int64_t C, int64_t H, int64_t W, double factor);
void adjust_saturation(float* x, int64_t C, int64_t H, int64_t W, double factor);
void adjust_hue(float* x, int64_t C, int64_t H, int64_t W, double hue);
// F.erase(img, i, j, h, w, value), in place.
void erase_image(float* x, int64_t C, int64_t H, int64_t W, int64_t i, int64_t j, int64_t h, int64_t w, float value);
// A Beta(alpha, alpha) draw (mixup's and cutmix's lam).
double beta_sample(Rng& rng, double alpha);
// Mixes rows [first, first + rows) of global batch `k` in place (mixup, cutmix): `x` holds those rows (`row`
// floats each), `global_rows` the real rows of the global batch, and partner(g, dst) writes the augmented sample
// at global row g. Returns lam; partner_of[r] receives the global row mixed into row r.
double mix_rows(const Augment& a, float* x, int64_t row, int64_t first, int64_t rows, int64_t global_rows, int64_t C,
                int64_t H, int64_t W, uint64_t seed, int64_t epoch, int64_t k,
                const std::function<void(int64_t, float*)>& partner, std::vector<int64_t>& partner_of);
}  // namespace dls
#endif
