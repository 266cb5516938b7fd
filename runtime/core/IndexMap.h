// IndexMap.h: the element map of slice, pad and repeat (ops.def SLICE, PAD, REPEAT), shared by the backends:
// map[i] is the flat index in x of y's element i, or -1 where constant padding writes `value`. The forward
// gathers y[i] = x[map[i]]; the gradient scatters d(x)[map[i]] += d(y)[i] (reflect, replicate and repeat send
// several outputs to one input).
#ifndef DLSPEC_RUNTIME_CORE_INDEXMAP_H
#define DLSPEC_RUNTIME_CORE_INDEXMAP_H
#include <cstdint>
#include <vector>

#include <dlspec/runtime.h>

#include "Backend.h"

namespace dls {

inline std::vector<int32_t> index_map(const dls_op_desc& op) {
  const dls_tensor_desc &x = op.tensors[0], &y = op.tensors[1];
  const int r = x.rank;
  const double* a = op.attrs;
  std::vector<int32_t> map(size_t(y.numel));
  int64_t o[4] = {0, 0, 0, 0}, xs[4], src[4];
  xs[r - 1] = 1;
  for (int k = r - 2; k >= 0; --k) xs[k] = xs[k + 1] * x.dims[k + 1];
  for (int64_t i = 0; i < y.numel; ++i) {
    int64_t rest = i;
    for (int k = r - 1; k >= 0; --k) o[k] = rest % y.dims[k], rest /= y.dims[k];
    bool outside = false;
    for (int k = 0; k < r; ++k) {
      const int64_t n = x.dims[k];
      src[k] = o[k];
      if (op.opcode == DLS_OP_SLICE) {
        if (k == int(a[0])) src[k] = int64_t(a[1]) + o[k] * int64_t(a[3]);
      } else if (op.opcode == DLS_OP_PAD) {
        const int t = r - 1 - k;  // 0: the last axis
        if (t > 2) continue;
        const int64_t v = o[k] - int64_t(a[2 + 2 * t]);
        const int mode = int(a[0]);
        if (v >= 0 && v < n) src[k] = v;
        else if (mode == 0) outside = true;
        else if (mode == 1) src[k] = v < 0 ? -v : 2 * (n - 1) - v;
        else src[k] = v < 0 ? 0 : n - 1;
      } else {
        src[k] = o[k] % n;
      }
    }
    int64_t f = 0;
    for (int k = 0; k < r; ++k) f += src[k] * xs[k];
    map[size_t(i)] = outside ? -1 : int32_t(f);
  }
  return map;
}

}  // namespace dls
#endif
