// The layout hash of a network's parameters, which a checkpoint carries (docs/checkpoint-format.md): the
// lowering gives it to the program, which refuses a checkpoint of another layout; the export checks it.
#pragma once
#include <cstdint>

#include "sema/Program.h"

namespace dls::sema {

// FNV-1a over each parameter's `name + shape` (`conv2d_1.weight[20, 1, 5, 5]`), each followed by the byte
// 0xff, in declaration order.
uint64_t layoutHash(const Network& net);

}  // namespace dls::sema
