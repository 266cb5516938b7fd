#include "Pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "../core/Rng.h"
#include "Stream.h"

namespace dls {

namespace {
// onehot<C> targets, [n, C] rows, as the class labels they encode: cross-entropy on a one-hot row is
// cross-entropy on its class (PyTorch's class-probability targets, -sum(t * log_softmax(x))).
void onehot_to_classes(Dataset& ds, int64_t classes) {
  if (ds.targets.empty() || classes <= 0) return;
  if (ds.target_numel != classes)
    fail(Diag::R0205, ds.label_path, ds.label_path, fmt::format("labels [{}]", ds.target_numel),
         fmt::format("onehot<{}> labels [{}]", classes, classes));
  ds.labels.assign(size_t(ds.n), 0);
  for (int64_t i = 0; i < ds.n; ++i) {
    const float* row = ds.targets.data() + i * classes;
    int64_t hot = -1, ones = 0;
    bool other = false;
    for (int64_t c = 0; c < classes; ++c) {
      if (row[c] == 1.f) ++ones, hot = c;
      else if (row[c] != 0.f) other = true;
    }
    const std::string& file = ds.label_path.empty() ? ds.name : ds.label_path;
    if (ones != 1 || other) fail(Diag::R0218, fmt::format("{}:record {}", file, i), file, i, classes);
    ds.labels[size_t(i)] = int32_t(hot);
  }
  ds.label_numel = 1;
  ds.targets.clear();
  ds.target_numel = 0;
}
}  // namespace

void one_hot(Dataset& ds, int64_t classes, int64_t element) {
  const int64_t F = ds.sample_numel;
  if (classes < 1 || element >= F || (element < 0 && element != -1) || (element < 0 && ds.rank >= 4) ||
      (element >= 0 && ds.rank != 1))
    fail(Diag::R0205, ds.name, ds.name, fmt::format("{} elements of rank {}", F, ds.rank),
         element >= 0 ? fmt::format("one_hot({}) of element {} of a rank-1 sample", classes, element)
                      : fmt::format("one_hot({}) of a sample of rank 3 or less", classes));
  const int64_t per = element >= 0 ? F - 1 + classes : F * classes;
  // A streamed split's samples are encoded as each is read (read_sample replays this step on it).
  const int64_t held = ds.stream ? 0 : ds.n;
  std::vector<float> out(size_t(held * per), 0.f);
  for (int64_t i = 0; i < held; ++i) {
    const float* x = ds.x.data() + i * F;
    float* o = out.data() + i * per;
    for (int64_t k = element >= 0 ? element : 0; k < (element >= 0 ? element + 1 : F); ++k) {
      const float v = x[k];
      if (!(v == std::floor(v) && v >= 0.f && v < float(classes)))
        fail(Diag::R0251, fmt::format("{}:record {}", ds.name, stream_record_base() + i), ds.name, stream_record_base() + i, k, v, classes);
    }
    if (element >= 0) {
      std::copy(x, x + element, o);
      o[element + int64_t(x[element])] = 1.f;
      std::copy(x + element + 1, x + F, o + element + classes);
    } else {
      for (int64_t k = 0; k < F; ++k) o[k * classes + int64_t(x[k])] = 1.f;
    }
  }
  ds.x = std::move(out);
  ds.sample_numel = per;
  if (element >= 0) {
    ds.dims[0] = per;
  } else {
    ds.dims[ds.rank] = classes;
    ++ds.rank;
  }
}

Augment apply_pipeline(Dataset& ds, const std::vector<PipeStep>& steps, bool training) {
  // Steps of the further sample fields (dls_rt_pipe_field) transform those fields' samples, in order; the rest (the
  // first field's, the targets', shuffling and batching) apply to the split below.
  bool fieldSteps = false;
  for (const auto& s : steps) fieldSteps |= s.field != 0 && !(s.op & DLS_PIPE_LABELS);
  if (fieldSteps) {
    std::vector<PipeStep> first;
    for (size_t k = 0; k < ds.fields.size(); ++k) {
      std::vector<PipeStep> own;
      for (const auto& s : steps)
        if (s.field == int32_t(k + 1) && !(s.op & DLS_PIPE_LABELS)) own.push_back(s);
      for (auto& s : own) s.field = 0;
      if (!own.empty()) apply_pipeline(ds.fields[k], own, false);
    }
    for (const auto& s : steps)
      if (s.field == 0 || (s.op & DLS_PIPE_LABELS)) first.push_back(s);
    return apply_pipeline(ds, first, training);
  }
  Augment a;
  // Streamed (Stream.h): the element-wise steps below change the shape here and the samples as each is read.
  if (ds.stream) ds.stream->steps.emplace_back(steps, training);
  const int64_t held = ds.stream ? 0 : ds.n;  // samples held in ds.x
  bool deferring = false;  // training, after an augmentation of Augment::steps: scale / normalize / add / features per sample
  auto here = [&](Augment::Step& st) {
    st.C = ds.rank == 3 ? ds.dims[0] : 1, st.H = ds.rank == 3 ? ds.dims[1] : 1;
    st.W = ds.rank == 3 ? ds.dims[2] : ds.sample_numel;
  };
  for (const auto& s : steps) {
    if (deferring && (s.op == DLS_PIPE_SCALE || s.op == DLS_PIPE_NORMALIZE || s.op == DLS_PIPE_ADD ||
                      s.op == DLS_PIPE_FEATURES)) {
      Augment::Step st;
      st.op = s.op, st.a = s.a, st.b = s.b;
      if (s.op == DLS_PIPE_ADD) st.op = DLS_PIPE_NORMALIZE, st.a = -s.a, st.b = 1;  // x + b = (x - (-b)) / 1
      if (s.op == DLS_PIPE_FEATURES) {
        if (int64_t(s.offset.size()) != ds.sample_numel)
          fail(Diag::R0205, ds.name, ds.name, fmt::format("{} elements per sample", ds.sample_numel),
               fmt::format("per-feature statistics of {} elements (standardize, min_max)", s.offset.size()));
        st.offset = s.offset, st.scale = s.scale;
      }
      here(st);
      a.steps.push_back(st);
      continue;
    }
    if (s.op & DLS_PIPE_LABELS) {  // a step of the label field: the real-valued targets
      const int32_t base = s.op & ~int32_t{DLS_PIPE_LABELS};
      if (base == DLS_PIPE_SCALE) {
        const float k = float(s.a);
        for (auto& v : ds.targets) v *= k;
      } else if (base == DLS_PIPE_NORMALIZE) {
        const float m = float(s.a), inv = float(1.0 / s.b);
        for (auto& v : ds.targets) v = (v - m) * inv;
      } else if (base == DLS_PIPE_ADD) {
        const double b = s.a;
        for (auto& v : ds.targets) v = float(double(v) + b);
      } else if (base == DLS_PIPE_LOG1P) {
        const int64_t per = std::max<int64_t>(1, ds.target_numel);
        const std::string& file = ds.label_path.empty() ? ds.name : ds.label_path;
        for (size_t i = 0; i < ds.targets.size(); ++i) {
          if (!(ds.targets[i] > -1.f))
            fail(Diag::R0230, fmt::format("{}:record {}", file, int64_t(i) / per), file, int64_t(i) / per, ds.targets[i]);
          ds.targets[i] = float(std::log1p(double(ds.targets[i])));
        }
      } else if (base == DLS_PIPE_ONEHOT) {
        onehot_to_classes(ds, int64_t(s.a));
      }
      continue;
    }
    switch (s.op) {
      case DLS_PIPE_TO_F32: break;  // samples are held as float from loading on
      case DLS_PIPE_TO_I32:
        // Held as float too (exact up to 2^24); a network input of dtype i32 receives them as integers.
        for (size_t i = 0; i < ds.x.size(); ++i) {
          const float v = ds.x[i];
          if (!(v == std::floor(v) && v >= -2147483648.f && v < 2147483648.f))
            fail(Diag::R0215, fmt::format("{}:record {}", ds.name, stream_record_base() + int64_t(i) / ds.sample_numel), ds.name,
                 stream_record_base() + int64_t(i) / ds.sample_numel, v);
        }
        break;
      case DLS_PIPE_TO_I64:
        // Held as float too; the index tensors an i64 network input travels in hold i32.
        for (size_t i = 0; i < ds.x.size(); ++i) {
          const float v = ds.x[i];
          if (!(v == std::floor(v) && v >= -2147483648.f && v < 2147483648.f))
            fail(Diag::R0254, fmt::format("{}:record {}", ds.name, stream_record_base() + int64_t(i) / ds.sample_numel), ds.name,
                 stream_record_base() + int64_t(i) / ds.sample_numel, v);
        }
        break;
      case DLS_PIPE_ONE_HOT:
        one_hot(ds, int64_t(s.a), int64_t(s.b));
        break;
      case DLS_PIPE_RESHAPE: {
        // The per-sample shape from here on (the elements keep their order): later steps see it.
        const double d[4] = {s.a, s.b, s.c, s.d};
        int32_t rank = 0;
        int64_t dims[4] = {1, 1, 1, 1}, numel = 1;
        for (int i = 0; i < 4 && d[i] >= 1; ++i) dims[rank++] = int64_t(d[i]), numel *= int64_t(d[i]);
        if (rank == 0 || numel != ds.sample_numel)
          fail(Diag::R0205, ds.name, ds.name, fmt::format("{} elements", ds.sample_numel),
               fmt::format("a reshape to {} elements", numel));
        ds.rank = rank;
        std::copy(dims, dims + 4, ds.dims);
        break;
      }
      case DLS_PIPE_SCALE: {
        const float k = float(s.a);
        for (auto& v : ds.x) v *= k;
        break;
      }
      case DLS_PIPE_NORMALIZE: {
        const float m = float(s.a), inv = float(1.0 / s.b);
        for (auto& v : ds.x) v = (v - m) * inv;
        break;
      }
      case DLS_PIPE_ADD: {
        const double b = s.a;
        for (auto& v : ds.x) v = float(double(v) + b);
        break;
      }
      case DLS_PIPE_FEATURES: {
        // standardize / min_max: the program's per-feature statistics must fit this sample.
        const auto k = int64_t(s.offset.size());
        if (k != ds.sample_numel)
          fail(Diag::R0205, ds.name, ds.name, fmt::format("{} elements per sample", ds.sample_numel),
               fmt::format("per-feature statistics of {} elements (standardize, min_max)", k));
        for (int64_t i = 0; i < held; ++i) {
          float* x = ds.x.data() + i * k;
          for (int64_t j = 0; j < k; ++j) x[j] = (x[j] - s.offset[size_t(j)]) * s.scale[size_t(j)];
        }
        break;
      }
      case DLS_PIPE_SHUFFLE:
        a.shuffle = training, a.shuffle_buffer = s.a >= 1 ? int64_t(s.a) : 0;
        break;
      case DLS_PIPE_RANDOM_CROP:
        a.crop = int64_t(s.a), a.pad = int64_t(s.b), a.crop_w = s.c > 0 ? int64_t(s.c) : int64_t(s.a);
        break;
      case DLS_PIPE_RANDOM_FLIP:
        if (training) a.flip = s.a, a.flip_axis = s.b > 0 ? 1 : 0;
        break;
      case DLS_PIPE_REPEAT:
        if (training) a.repeat = std::max<int64_t>(1, int64_t(s.a));
        break;
      case DLS_PIPE_RANDOM_ROTATION:
      case DLS_PIPE_RANDOM_AFFINE:
      case DLS_PIPE_COLOR_JITTER:
      case DLS_PIPE_GAUSSIAN_NOISE:
      case DLS_PIPE_RANDOM_ERASING:
        // The images the geometric and colour steps work on: [C, H, W] samples (after any reshape).
        if (s.op != DLS_PIPE_GAUSSIAN_NOISE && ds.rank != 3)
          fail(Diag::R0205, ds.name, ds.name, fmt::format("{} elements", ds.sample_numel),
               "[C, H, W] samples for an image augmentation");
        if (training) {
          Augment::Step st;
          st.op = s.op, st.a = s.a, st.b = s.b, st.c = s.c, st.d = s.d;
          // Defaults of the parameters a DLS_PIPE_PARAMS step gives: affine's scale [1, 1], erasing's ratio.
          if (s.op == DLS_PIPE_RANDOM_AFFINE) st.e = st.f = 1;
          if (s.op == DLS_PIPE_RANDOM_ERASING) st.e = 0.3, st.f = 3.3;
          here(st);
          a.steps.push_back(st);
          deferring = true;
        }
        break;
      case DLS_PIPE_PARAMS:
        if (training && !a.steps.empty()) a.steps.back().e = s.a, a.steps.back().f = s.b;
        break;
      case DLS_PIPE_MIXUP:
      case DLS_PIPE_CUTMIX:
        if (s.op == DLS_PIPE_CUTMIX && ds.rank != 3)
          fail(Diag::R0205, ds.name, ds.name, fmt::format("{} elements", ds.sample_numel), "[C, H, W] samples for cutmix");
        if (training) {
          a.mix = s.op, a.mix_alpha = s.a;
          Augment::Step st;
          here(st);
          a.mix_C = st.C, a.mix_H = st.H, a.mix_W = st.W;
        }
        break;
      default: break;
    }
  }
  if (a.crop > 0 && (ds.rank != 3 || a.crop > ds.dims[1] + 2 * a.pad || a.crop_w > ds.dims[2] + 2 * a.pad))
    fail(Diag::R0205, ds.name, ds.name, fmt::format("{}x{}", ds.dims[1], ds.dims[2]),
         fmt::format("random_crop([{}, {}], pad: {}) of [C, H, W] samples, a window within the padded sample", a.crop,
                     a.crop_w, a.pad));
  // The image augmentations see the sample as [C, H, W] where they stand (random_crop's window when it crops).
  for (const Augment::Step& st : a.steps) {
    if (st.op == DLS_PIPE_SCALE || st.op == DLS_PIPE_NORMALIZE || st.op == DLS_PIPE_FEATURES ||
        st.op == DLS_PIPE_GAUSSIAN_NOISE)
      continue;
    const int64_t numel = st.C * (a.crop > 0 ? a.crop * a.crop_w : st.H * st.W);
    if (numel != a.row_numel(ds))
      fail(Diag::R0205, ds.name, ds.name, fmt::format("{} elements per augmented sample", a.row_numel(ds)),
           fmt::format("an image augmentation of [{}, {}, {}] samples", st.C, st.H, st.W));
  }
  if (a.mix == DLS_PIPE_CUTMIX && a.mix_C * (a.crop > 0 ? a.crop * a.crop_w : a.mix_H * a.mix_W) != a.row_numel(ds))
    fail(Diag::R0205, ds.name, ds.name, fmt::format("{} elements per augmented sample", a.row_numel(ds)),
         fmt::format("cutmix of [{}, {}, {}] samples", a.mix_C, a.mix_H, a.mix_W));
  if (a.crop > 0 && !training) {
    // Evaluation: the centre window, once (nothing to do when it is the sample itself).
    const int64_t C = ds.dims[0], H = ds.dims[1], W = ds.dims[2], h = a.crop, w = a.crop_w;
    if (h != H || w != W) {
      const int64_t oy = (H + 2 * a.pad - h) / 2 - a.pad, ox = (W + 2 * a.pad - w) / 2 - a.pad;
      std::vector<float> out(size_t(held * C * h * w));
      for (int64_t i = 0; i < held; ++i)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) {
              const int64_t sy = y + oy, sx = x + ox;
              out[size_t(((i * C + c) * h + y) * w + x)] =
                  sy < 0 || sy >= H || sx < 0 || sx >= W ? 0.f : ds.x[size_t(((i * C + c) * H + sy) * W + sx)];
            }
      ds.x = std::move(out);
      ds.dims[1] = h, ds.dims[2] = w, ds.sample_numel = C * h * w;
    }
    a.crop = a.pad = a.crop_w = 0;
  }
  return a;
}

std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch, int64_t buffer) {
  std::vector<int64_t> idx((size_t)n);
  std::iota(idx.begin(), idx.end(), 0);
  if (!shuffle) return idx;
  Rng rng(hash3(seed, 0x73687566ull /* "shuf" */, uint64_t(epoch)));
  if (buffer <= 0 || buffer >= n) {
    for (int64_t i = n - 1; i > 0; --i) std::swap(idx[size_t(i)], idx[size_t(rng.below(uint64_t(i + 1)))]);
    return idx;
  }
  // The window: the next `buffer` samples of the split; each output empties a random slot, which the next
  // sample refills until the split is exhausted.
  std::vector<int64_t> window(idx.begin(), idx.begin() + buffer), order;
  order.reserve(size_t(n));
  int64_t next = buffer;
  while (!window.empty()) {
    const size_t j = size_t(rng.below(uint64_t(window.size())));
    order.push_back(window[j]);
    if (next < n) {
      window[j] = next++;
    } else {
      window[j] = window.back();
      window.pop_back();
    }
  }
  return order;
}

namespace {
// The steps after random_crop / random_flip, on the [C, H, W] sample in `x`, in order.
void augment_steps(const Augment& a, float* x, int64_t numel, uint64_t seed, int64_t epoch, int64_t index) {
  if (a.steps.empty()) return;
  // A stream of its own, so that random_crop's and random_flip's draws stay what they are without these steps.
  Rng rng(hash3(seed, uint64_t(epoch) * 0x100000001ull + 0x61756701ull, uint64_t(index)));
  const int64_t n = numel;
  std::vector<float> tmp;
  for (const Augment::Step& s : a.steps) {
    // The sample's shape at the step; random_crop (which runs first) makes its window the image.
    const int64_t C = s.C, H = a.crop > 0 ? a.crop : s.H, W = a.crop > 0 ? a.crop_w : s.W;
    const bool image = s.op != DLS_PIPE_SCALE && s.op != DLS_PIPE_NORMALIZE && s.op != DLS_PIPE_FEATURES &&
                       s.op != DLS_PIPE_GAUSSIAN_NOISE;
    if (image && C * H * W != n) continue;  // apply_pipeline refuses such a shape (R0205)
    switch (s.op) {
      case DLS_PIPE_SCALE: {  // written after an augmentation: on the augmented sample, as at load time
        const float k = float(s.a);
        for (int64_t i = 0; i < n; ++i) x[i] *= k;
        break;
      }
      case DLS_PIPE_NORMALIZE: {
        const float m = float(s.a), inv = float(1.0 / s.b);
        for (int64_t i = 0; i < n; ++i) x[i] = (x[i] - m) * inv;
        break;
      }
      case DLS_PIPE_FEATURES:  // the same expression as at load time, per element of the sample
        if (int64_t(s.offset.size()) == n)
          for (int64_t i = 0; i < n; ++i) x[i] = (x[i] - s.offset[size_t(i)]) * s.scale[size_t(i)];
        break;
      case DLS_PIPE_RANDOM_ROTATION: {  // torchvision's RandomRotation: angle uniform in [-degrees, degrees]
        const double angle = -s.a + 2 * s.a * rng.uniform();
        tmp.assign(x, x + n);
        affine_image(tmp.data(), C, H, W, -angle, 0, 0, 1, 0, 0, float(s.b), x);
        break;
      }
      case DLS_PIPE_RANDOM_AFFINE: {  // torchvision's RandomAffine.get_params
        const double angle = -s.a + 2 * s.a * rng.uniform();
        const double mx = s.b * double(W), my = s.c * double(H);
        const double tx = std::nearbyint(-mx + 2 * mx * rng.uniform()), ty = std::nearbyint(-my + 2 * my * rng.uniform());
        const double scale = s.e + (s.f - s.e) * rng.uniform();
        const double shear = -s.d + 2 * s.d * rng.uniform();
        tmp.assign(x, x + n);
        affine_image(tmp.data(), C, H, W, angle, tx, ty, scale, shear, 0, 0.f, x);
        break;
      }
      case DLS_PIPE_COLOR_JITTER: {  // torchvision's ColorJitter: the four in a random order
        int order[4] = {0, 1, 2, 3};
        for (int i = 3; i > 0; --i) std::swap(order[i], order[rng.below(uint64_t(i + 1))]);
        const double v[4] = {s.a, s.b, s.c, s.d};
        double f[4];
        for (int i = 0; i < 3; ++i) {
          const double lo = std::max(0.0, 1 - v[i]), hi = 1 + v[i];
          f[i] = lo + (hi - lo) * rng.uniform();
        }
        f[3] = -v[3] + 2 * v[3] * rng.uniform();
        for (int i : order) {
          if (v[i] <= 0) continue;  // a factor of 0 leaves it out, as torchvision's None
          if (i == 0) adjust_brightness(x, C, H, W, f[0]);
          else if (i == 1) adjust_contrast(x, C, H, W, f[1]);
          else if (i == 2) adjust_saturation(x, C, H, W, f[2]);
          else adjust_hue(x, C, H, W, f[3]);
        }
        break;
      }
      case DLS_PIPE_GAUSSIAN_NOISE:
        for (int64_t i = 0; i < n; ++i) x[i] += float(s.a * rng.normal());
        break;
      case DLS_PIPE_RANDOM_ERASING: {  // torchvision's RandomErasing.get_params: ten tries at a box that fits
        if (!(rng.uniform() < s.a)) break;
        const double area = double(H * W), lr0 = std::log(s.e), lr1 = std::log(s.f);
        for (int attempt = 0; attempt < 10; ++attempt) {
          const double erase = area * (s.b + (s.c - s.b) * rng.uniform());
          const double ratio = std::exp(lr0 + (lr1 - lr0) * rng.uniform());
          const auto h = int64_t(std::nearbyint(std::sqrt(erase * ratio))), w = int64_t(std::nearbyint(std::sqrt(erase / ratio)));
          if (!(h < H && w < W)) continue;
          const auto i = int64_t(rng.below(uint64_t(H - h + 1))), j = int64_t(rng.below(uint64_t(W - w + 1)));
          erase_image(x, C, H, W, i, j, h, w, float(s.d));
          break;
        }
        break;
      }
      default: break;
    }
  }
}
}  // namespace

void augment_sample(const Dataset& ds, const Augment& a, int64_t index, uint64_t seed, int64_t epoch, float* out) {
  thread_local std::vector<float> read;  // a streamed sample, read and converted (Stream.h)
  const float* src = ds.x.data() + index * ds.sample_numel;
  if (ds.stream) {
    read.resize(size_t(ds.sample_numel));
    read_sample(ds, index, read.data());
    src = read.data();
  }
  if (a.crop == 0 && a.flip == 0) {
    std::memcpy(out, src, size_t(ds.sample_numel) * 4);
    augment_steps(a, out, ds.sample_numel, seed, epoch, index);
    return;
  }
  Rng rng(hash3(seed, uint64_t(epoch) * 0x100000001ull + 0x61756700ull, uint64_t(index)));
  const int64_t C = ds.rank == 3 ? ds.dims[0] : 1, H = ds.rank == 3 ? ds.dims[1] : ds.dims[0],
                W = ds.rank == 3 ? ds.dims[2] : ds.dims[1];
  // The window [oh, ow] at (dy, dx) of the sample padded by `pad` zeros: dy, dx in [-pad, H + pad - oh].
  const int64_t oh = a.crop > 0 ? a.crop : H, ow = a.crop > 0 ? a.crop_w : W;
  int64_t dy = 0, dx = 0;
  if (a.crop > 0) {
    dy = int64_t(rng.below(uint64_t(H + 2 * a.pad - oh + 1))) - a.pad;
    dx = int64_t(rng.below(uint64_t(W + 2 * a.pad - ow + 1))) - a.pad;
  }
  bool flip = a.flip > 0 && rng.uniform() < a.flip;
  const bool hflip = flip && a.flip_axis == 0, vflip = flip && a.flip_axis == 1;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x) {
        int64_t sy = (vflip ? oh - 1 - y : y) + dy, sx = (hflip ? ow - 1 - x : x) + dx;
        out[(c * oh + y) * ow + x] = (sy < 0 || sy >= H || sx < 0 || sx >= W) ? 0.f : src[(c * H + sy) * W + sx];
      }
  augment_steps(a, out, C * oh * ow, seed, epoch, index);
}

void affine_image(const float* src, int64_t C, int64_t H, int64_t W, double angle, double tx, double ty, double scale,
                  double shear_x, double shear_y, float fill, float* out) {
  // torchvision's _get_inverse_affine_matrix with the centre at (0, 0) of centre-relative coordinates.
  constexpr double kRad = 3.14159265358979323846 / 180.0;
  const double rot = angle * kRad, sx = shear_x * kRad, sy = shear_y * kRad;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  double m[6] = {d / scale, -b / scale, 0, -c / scale, a / scale, 0};
  m[2] += m[0] * -tx + m[1] * -ty;
  m[5] += m[3] * -tx + m[4] * -ty;
  // _gen_affine_grid and grid_sample(bilinear, zeros, align_corners=False): output pixel (x, y) reads the
  // source at M (x - W/2 + 1/2, y - H/2 + 1/2, 1) + (W/2 - 1/2, H/2 - 1/2); a mask of ones sampled the same
  // way blends the area outside the image to `fill`.
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const double xb = double(x) - double(W) * 0.5 + 0.5, yb = double(y) - double(H) * 0.5 + 0.5;
      const double ix = m[0] * xb + m[1] * yb + m[2] + double(W) * 0.5 - 0.5;
      const double iy = m[3] * xb + m[4] * yb + m[5] + double(H) * 0.5 - 0.5;
      const double x0 = std::floor(ix), y0 = std::floor(iy), fx = ix - x0, fy = iy - y0;
      const int64_t xi = int64_t(x0), yi = int64_t(y0);
      const double w4[4] = {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
      const int64_t px[4] = {xi, xi + 1, xi, xi + 1}, py[4] = {yi, yi, yi + 1, yi + 1};
      double mask = 0;
      bool in[4];
      for (int k = 0; k < 4; ++k) {
        in[k] = px[k] >= 0 && px[k] < W && py[k] >= 0 && py[k] < H;
        if (in[k]) mask += w4[k];
      }
      for (int64_t ch = 0; ch < C; ++ch) {
        double v = 0;
        for (int k = 0; k < 4; ++k)
          if (in[k]) v += w4[k] * double(src[(ch * H + py[k]) * W + px[k]]);
        out[(ch * H + y) * W + x] = float(v * mask + (1.0 - mask) * double(fill));
      }
    }
}

namespace {
// torchvision's _blend: (ratio a + (1 - ratio) b) clamped to [0, 1].
inline float blend(float a, float b, float ratio) { return std::clamp(ratio * a + (1.f - ratio) * b, 0.f, 1.f); }
inline float grey(const float* x, int64_t n, int64_t i) { return 0.2989f * x[i] + 0.587f * x[n + i] + 0.114f * x[2 * n + i]; }
}  // namespace

void adjust_brightness(float* x, int64_t C, int64_t H, int64_t W, double factor) {
  const float r = float(factor);
  for (int64_t i = 0, n = C * H * W; i < n; ++i) x[i] = blend(x[i], 0.f, r);
}

void adjust_contrast(float* x, int64_t C, int64_t H, int64_t W, double factor) {
  const int64_t n = H * W;
  double sum = 0;
  if (C == 3)
    for (int64_t i = 0; i < n; ++i) sum += double(grey(x, n, i));
  else
    for (int64_t i = 0; i < C * n; ++i) sum += double(x[i]);
  const float mean = float(sum / double(C == 3 ? n : C * n)), r = float(factor);
  for (int64_t i = 0; i < C * n; ++i) x[i] = blend(x[i], mean, r);
}

void adjust_saturation(float* x, int64_t C, int64_t H, int64_t W, double factor) {
  if (C != 3) return;
  const int64_t n = H * W;
  const float r = float(factor);
  for (int64_t i = 0; i < n; ++i) {
    const float g = grey(x, n, i);
    for (int64_t c = 0; c < 3; ++c) x[c * n + i] = blend(x[c * n + i], g, r);
  }
}

void adjust_hue(float* x, int64_t C, int64_t H, int64_t W, double hue) {
  if (C != 3) return;
  const int64_t n = H * W;
  const float hf = float(hue);
  for (int64_t i = 0; i < n; ++i) {
    // _rgb2hsv
    const float r = x[i], g = x[n + i], b = x[2 * n + i];
    const float maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
    const bool eqc = maxc == minc;
    const float cr = maxc - minc;
    const float s = cr / (eqc ? 1.f : maxc);
    const float crd = eqc ? 1.f : cr;
    const float rc = (maxc - r) / crd, gc = (maxc - g) / crd, bc = (maxc - b) / crd;
    const float hr = maxc == r ? bc - gc : 0.f;
    const float hg = maxc == g && maxc != r ? 2.f + rc - bc : 0.f;
    const float hb = maxc != g && maxc != r ? 4.f + gc - rc : 0.f;
    float h = std::fmod((hr + hg + hb) / 6.f + 1.f, 1.f);
    // (h + hue) % 1.0, Python's modulo
    h = std::fmod(h + hf, 1.f);
    if (h < 0) h += 1.f;
    // _hsv2rgb
    const float v = maxc;
    const float fi = std::floor(h * 6.f), f = h * 6.f - fi;
    int k = int(fi) % 6;
    if (k < 0) k += 6;
    const float p = std::clamp(v * (1.f - s), 0.f, 1.f), q = std::clamp(v * (1.f - s * f), 0.f, 1.f),
                t = std::clamp(v * (1.f - s * (1.f - f)), 0.f, 1.f);
    const float R[6] = {v, q, p, p, t, v}, G[6] = {t, v, v, q, p, p}, B[6] = {p, p, t, v, v, q};
    x[i] = R[k], x[n + i] = G[k], x[2 * n + i] = B[k];
  }
}

void erase_image(float* x, int64_t C, int64_t H, int64_t W, int64_t i, int64_t j, int64_t h, int64_t w, float value) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = i; y < i + h && y < H; ++y)
      for (int64_t xx = j; xx < j + w && xx < W; ++xx) x[(c * H + y) * W + xx] = value;
}

namespace {
// Gamma(shape, 1) by Marsaglia and Tsang (shape < 1: Gamma(shape + 1) U^(1/shape)).
double gamma_sample(Rng& rng, double shape) {
  if (shape < 1) {
    double u = rng.uniform();
    if (u < 1e-300) u = 1e-300;
    return gamma_sample(rng, shape + 1) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double z, v;
    do {
      z = rng.normal();
      v = 1 + c * z;
    } while (v <= 0);
    v = v * v * v;
    const double u = rng.uniform();
    if (u < 1 - 0.0331 * z * z * z * z) return d * v;
    if (u > 0 && std::log(u) < 0.5 * z * z + d * (1 - v + std::log(v))) return d * v;
  }
}
}  // namespace

double beta_sample(Rng& rng, double alpha) {
  const double g1 = gamma_sample(rng, alpha), g2 = gamma_sample(rng, alpha);
  return g1 + g2 > 0 ? g1 / (g1 + g2) : 0.5;
}

double mix_rows(const Augment& a, float* x, int64_t row, int64_t first, int64_t rows, int64_t global_rows, int64_t C,
                int64_t H, int64_t W, uint64_t seed, int64_t epoch, int64_t k,
                const std::function<void(int64_t, float*)>& partner, std::vector<int64_t>& partner_of) {
  partner_of.assign(size_t(rows), -1);
  if (a.mix == 0 || global_rows < 1) return 1.0;
  // One lam (and one cutmix box) per global batch, the same on every rank.
  Rng rng(hash3(seed, uint64_t(epoch) * 0x100000001ull + 0x6d697800ull, uint64_t(k)));
  double lam = beta_sample(rng, a.mix_alpha);
  int64_t x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  if (a.mix == DLS_PIPE_CUTMIX) {  // torchvision's references/classification RandomCutmix
    const auto rx = int64_t(rng.below(uint64_t(W))), ry = int64_t(rng.below(uint64_t(H)));
    const double r = 0.5 * std::sqrt(1.0 - lam);
    const auto rw = int64_t(r * double(W)), rh = int64_t(r * double(H));
    x1 = std::max<int64_t>(rx - rw, 0), y1 = std::max<int64_t>(ry - rh, 0);
    x2 = std::min<int64_t>(rx + rw, W), y2 = std::min<int64_t>(ry + rh, H);
    lam = 1.0 - double((x2 - x1) * (y2 - y1)) / double(W * H);
  }
  const float l = float(lam), m = float(1.0 - lam);
  std::vector<float> other(static_cast<size_t>(row));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t g = first + r;
    if (g >= global_rows) break;
    const int64_t pg = (g + global_rows - 1) % global_rows;  // batch.roll(1, 0): the row before
    partner_of[size_t(r)] = pg;
    partner(pg, other.data());
    float* xr = x + r * row;
    if (a.mix == DLS_PIPE_MIXUP) {
      for (int64_t i = 0; i < row; ++i) xr[i] = xr[i] * l + other[size_t(i)] * m;
    } else {
      for (int64_t c = 0; c < C; ++c)
        for (int64_t yy = y1; yy < y2; ++yy)
          for (int64_t xx = x1; xx < x2; ++xx) xr[(c * H + yy) * W + xx] = other[size_t((c * H + yy) * W + xx)];
    }
  }
  return lam;
}

}  // namespace dls
