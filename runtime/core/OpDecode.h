// OpDecode.h: host-side validation and decoding of an op's tensors and attributes into the typed fields
// of dls_op_desc (window geometry, rows/cols). Shared by every backend.
#ifndef DLSPEC_RUNTIME_CORE_OPDECODE_H
#define DLSPEC_RUNTIME_CORE_OPDECODE_H
#include "RecurrentGeometry.h"
#include "Runtime.h"

namespace dls {
// Checks the tensor count and shapes of `op` against its opcode and fills op.d.win / rows / cols and
// op.output. Throws an R0504 fault located at the op on a malformed description.
void decode_op(const dls_rt* rt, Op& op);
}  // namespace dls
#endif
