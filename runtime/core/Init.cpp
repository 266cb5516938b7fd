#include "Init.h"

#include <cmath>

#include "Rng.h"

namespace dls {

void init_values(const Param& p, int64_t index, uint64_t seed, std::vector<float>& out) {
  Rng rng(hash3(seed, 0x696e6974ull /* "init" */, (uint64_t)index));
  auto uniform = [&](double lo, double hi) {
    for (auto& v : out) v = float(lo + (hi - lo) * rng.uniform());
  };
  const double fan_in = double(p.fan_in > 0 ? p.fan_in : 1), fan_out = double(p.fan_out > 0 ? p.fan_out : 1);
  switch (p.init) {
    case DLS_INIT_ZEROS: std::fill(out.begin(), out.end(), 0.f); break;
    case DLS_INIT_ONES: std::fill(out.begin(), out.end(), 1.f); break;
    case DLS_INIT_CONSTANT: std::fill(out.begin(), out.end(), float(p.a)); break;
    case DLS_INIT_NORMAL:
      for (auto& v : out) v = float(p.a + p.b * rng.normal());
      break;
    case DLS_INIT_UNIFORM: uniform(p.a, p.b); break;
    case DLS_INIT_HE: {  // kaiming_uniform_(nonlinearity='relu'): bound = sqrt(2) * sqrt(3 / fan_in)
      double bound = std::sqrt(6.0 / fan_in);
      uniform(-bound, bound);
      break;
    }
    case DLS_INIT_GLOROT: {  // xavier_uniform_: bound = sqrt(6 / (fan_in + fan_out))
      double bound = std::sqrt(6.0 / (fan_in + fan_out));
      uniform(-bound, bound);
      break;
    }
    case DLS_INIT_TORCH_DEFAULT: {
      // nn.Linear / nn.Conv2d reset_parameters(): weight kaiming_uniform_(a=sqrt(5)) gives
      // bound = sqrt(6 / ((1 + 5) * fan_in)) = 1/sqrt(fan_in); bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
      double bound = 1.0 / std::sqrt(fan_in);
      uniform(-bound, bound);
      break;
    }
    default: fail(Diag::R0504, "", fmt::format("parameter '{}': unknown initialiser {}", p.name, p.init));
  }
}

}  // namespace dls
