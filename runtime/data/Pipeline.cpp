#include "Pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "../core/Rng.h"

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

Augment apply_pipeline(Dataset& ds, const std::vector<PipeStep>& steps, bool training) {
  Augment a;
  for (const auto& s : steps) {
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
            fail(Diag::R0215, fmt::format("{}:record {}", ds.name, int64_t(i) / ds.sample_numel), ds.name,
                 int64_t(i) / ds.sample_numel, v);
        }
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
        for (int64_t i = 0; i < ds.n; ++i) {
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
      default: break;
    }
  }
  if (a.crop > 0 && (ds.rank != 3 || a.crop > ds.dims[1] + 2 * a.pad || a.crop_w > ds.dims[2] + 2 * a.pad))
    fail(Diag::R0205, ds.name, ds.name, fmt::format("{}x{}", ds.dims[1], ds.dims[2]),
         fmt::format("random_crop([{}, {}], pad: {}) of [C, H, W] samples, a window within the padded sample", a.crop,
                     a.crop_w, a.pad));
  if (a.crop > 0 && !training) {
    // Evaluation: the centre window, once (nothing to do when it is the sample itself).
    const int64_t C = ds.dims[0], H = ds.dims[1], W = ds.dims[2], h = a.crop, w = a.crop_w;
    if (h != H || w != W) {
      const int64_t oy = (H + 2 * a.pad - h) / 2 - a.pad, ox = (W + 2 * a.pad - w) / 2 - a.pad;
      std::vector<float> out(size_t(ds.n * C * h * w));
      for (int64_t i = 0; i < ds.n; ++i)
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

void augment_sample(const Dataset& ds, const Augment& a, int64_t index, uint64_t seed, int64_t epoch, float* out) {
  const float* src = ds.x.data() + index * ds.sample_numel;
  if (a.crop == 0 && a.flip == 0) {
    std::memcpy(out, src, size_t(ds.sample_numel) * 4);
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
}

}  // namespace dls
