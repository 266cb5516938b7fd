// dlspec_augment_dump: runs one augmentation kernel (runtime/data/Pipeline.h) on a float image, for
// torchvision_augment_check.py to compare with torchvision 0.14's functional ops.
//
//   dlspec_augment_dump OP C H W IN.f32 OUT.f32 PARAM...
//     affine ANGLE TX TY SCALE SHEAR_X SHEAR_Y FILL | brightness F | contrast F | saturation F | hue F |
//     erase I J H W VALUE
// IN and OUT hold C * H * W little-endian float32 values.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/Pipeline.h"

int main(int argc, char** argv) {
  if (argc < 8) {
    std::fprintf(stderr, "usage: dlspec_augment_dump OP C H W IN.f32 OUT.f32 PARAM...\n");
    return 2;
  }
  const std::string op = argv[1];
  const int64_t C = std::atoll(argv[2]), H = std::atoll(argv[3]), W = std::atoll(argv[4]);
  std::vector<double> p;
  for (int i = 7; i < argc; ++i) p.push_back(std::atof(argv[i]));
  std::vector<float> x(size_t(C * H * W)), y(x.size());
  FILE* f = std::fopen(argv[5], "rb");
  if (!f || std::fread(x.data(), 4, x.size(), f) != x.size()) {
    std::fprintf(stderr, "cannot read %s\n", argv[5]);
    return 1;
  }
  std::fclose(f);
  auto need = [&](size_t n) {
    if (p.size() != n) {
      std::fprintf(stderr, "%s takes %zu parameters\n", op.c_str(), n);
      std::exit(2);
    }
  };
  y = x;
  if (op == "affine") {
    need(7);
    dls::affine_image(x.data(), C, H, W, p[0], p[1], p[2], p[3], p[4], p[5], float(p[6]), y.data());
  } else if (op == "brightness") {
    need(1), dls::adjust_brightness(y.data(), C, H, W, p[0]);
  } else if (op == "contrast") {
    need(1), dls::adjust_contrast(y.data(), C, H, W, p[0]);
  } else if (op == "saturation") {
    need(1), dls::adjust_saturation(y.data(), C, H, W, p[0]);
  } else if (op == "hue") {
    need(1), dls::adjust_hue(y.data(), C, H, W, p[0]);
  } else if (op == "erase") {
    need(5), dls::erase_image(y.data(), C, H, W, int64_t(p[0]), int64_t(p[1]), int64_t(p[2]), int64_t(p[3]), float(p[4]));
  } else {
    std::fprintf(stderr, "unknown op %s\n", op.c_str());
    return 2;
  }
  FILE* o = std::fopen(argv[6], "wb");
  if (!o || std::fwrite(y.data(), 4, y.size(), o) != y.size()) return 1;
  std::fclose(o);
  return 0;
}
