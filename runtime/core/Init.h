// Init.h: parameter initialisers (host-side, deterministic from the seed and the parameter's index).
#ifndef DLSPEC_RUNTIME_CORE_INIT_H
#define DLSPEC_RUNTIME_CORE_INIT_H
#include <cstdint>
#include <vector>

#include "Runtime.h"

namespace dls {
// Fills `out` with the initial values of parameter `p` (index `index` in declaration order).
void init_values(const Param& p, int64_t index, uint64_t seed, std::vector<float>& out);
}  // namespace dls
#endif
