// AttentionOperands.h: where DLS_OP_CROSS_ATTENTION finds its parameters among its operands (ops.def
// CROSS_ATTENTION: x, memory, the parameters P, y). torch.nn.MultiheadAttention's layout follows the memory's width K:
// K = D (the queries' width) packs the three input projections in in_proj_weight [3D, D]; another K has
// q_proj_weight [D, D], k_proj_weight [D, K], v_proj_weight [D, K]. Then out_proj.weight [D, D], and the biases
// in_proj_bias [3D], out_proj.bias [D] (both, both -1, or neither given). The decode (OpDecode.cpp) checks the
// shapes; the CPU and CUDA kernels read the operands through this one map.
#pragma once

#include <cstdint>

#include "Backend.h"

namespace dls {

struct CrossAttentionOperands {
  bool split = false;          // K != D: q_proj_weight, k_proj_weight, v_proj_weight
  int64_t K = 0;               // the memory's width (kdim = vdim)
  int nparams = 0;             // the P entries given (2, 4 or 6)
  int wq = -1, wk = -1, wv = -1;  // operand indices; packed: all three in_proj_weight's (rows 0, D, 2D)
  int wo = -1, bi = -1, bo = -1;  // bi, bo: -1 when the op has no biases (absent or -1 entries)
  int y = -1;
};

// The operand map of a CROSS_ATTENTION op with `ntensors` operands; valid once the decode accepted the op (ranks and
// counts are not checked here beyond what indexing needs).
inline CrossAttentionOperands cross_attention_operands(const dls_tensor_desc* T, int ntensors) {
  CrossAttentionOperands o;
  o.nparams = ntensors - 3;
  o.y = ntensors - 1;
  const int64_t D = T[0].rank == 3 ? T[0].dims[2] : 0;
  o.K = T[1].rank == 3 ? T[1].dims[2] : D;
  o.split = o.K != D;
  const int w = o.split ? 4 : 2;  // the weights given before the biases
  if (o.split)
    o.wq = 2, o.wk = 3, o.wv = 4, o.wo = 5;
  else
    o.wq = o.wk = o.wv = 2, o.wo = 3;
  if (o.nparams >= w + 2 && T[2 + w].id >= 0) o.bi = 2 + w;
  if (o.nparams >= w + 2 && T[3 + w].id >= 0) o.bo = 3 + w;
  return o;
}

}  // namespace dls
