// RecurrentGeometry.h: the attributes of a recurrent op (dlspec/ops.def RNN, GRU, LSTM) as one struct, for
// decode_op and both backends. Header-only.
#ifndef DLSPEC_RUNTIME_CORE_RECURRENTGEOMETRY_H
#define DLSPEC_RUNTIME_CORE_RECURRENTGEOMETRY_H
#include <cstdint>

#include <dlspec/runtime.h>

namespace dls {

struct RecurrentGeometry {
  int G = 1;          // gate blocks: 1 RNN, 3 GRU, 4 LSTM
  int output = 0;     // index of the `output` attribute (layers and bidirectional follow it)
  bool last = false;  // output: last
  int64_t layers = 1;
  int64_t dirs = 1;   // 2 when bidirectional
  int64_t mask_token = 0;
};

// `attrs` as decode_op leaves them (every attribute present, defaults filled in); attributes past `nattrs`
// take ops.def's defaults.
inline RecurrentGeometry recurrent_geometry(int32_t opcode, const double* attrs, int nattrs) {
  RecurrentGeometry r;
  r.G = opcode == DLS_OP_RNN ? 1 : opcode == DLS_OP_GRU ? 3 : 4;
  r.output = opcode == DLS_OP_RNN ? 2 : opcode == DLS_OP_GRU ? 1 : 0;  // RNN: activation, alpha; GRU: reset_after
  auto at = [&](int i, double d) { return i < nattrs ? attrs[i] : d; };
  r.last = at(r.output, 0) != 0;
  r.layers = int64_t(at(r.output + 1, 1));
  r.dirs = at(r.output + 2, 0) != 0 ? 2 : 1;
  r.mask_token = int64_t(at(r.output + 3, 0));
  return r;
}

}  // namespace dls
#endif
