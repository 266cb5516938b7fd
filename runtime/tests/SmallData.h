// SmallData.h: a small learnable 28x28 IDX dataset written by the tests (class = brightest quadrant-ish
// pattern), and a program configuration that uses it.
#ifndef DLSPEC_RUNTIME_TESTS_SMALLDATA_H
#define DLSPEC_RUNTIME_TESTS_SMALLDATA_H
#include "TestUtil.h"
#include "core/Rng.h"
#include "programs/Programs.h"

namespace dlt {

inline void write_small_mnist(const std::string& dir, int n_train = 768, int n_test = 200) {
  auto make = [&](const std::string& name, int n, uint64_t seed) {
    dls::Rng rng(seed);
    std::vector<uint8_t> img((size_t)n * 784), lab((size_t)n);
    for (int i = 0; i < n; ++i) {
      int c = int(rng.below(10));
      lab[size_t(i)] = uint8_t(c);
      for (int p = 0; p < 784; ++p) {
        int row = p / 28, band = row * 10 / 28;
        double v = (band == c ? 180 : 30) + 40 * rng.uniform();
        img[size_t(i) * 784 + size_t(p)] = uint8_t(v);
      }
    }
    write_bytes(dir + "/" + name + "-images.gz", idx_bytes(0x08, {n, 28, 28}, img), true);
    write_bytes(dir + "/" + name + "-labels.gz", idx_bytes(0x08, {n}, lab), true);
  };
  make("train", n_train, 1);
  make("test", n_test, 2);
}

inline ProgramConfig small_config(const std::string& dir) {
  ProgramConfig c;
  c.train_images = dir + "/train-images.gz", c.train_labels = dir + "/train-labels.gz";
  c.test_images = dir + "/test-images.gz", c.test_labels = dir + "/test-labels.gz";
  c.epochs = 3, c.lr = 0.01;
  return c;
}

}  // namespace dlt
#endif
