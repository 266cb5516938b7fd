#include "OpDecode.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "AttentionOperands.h"
#include "dlspec/OpSchema.h"

namespace dls {

static int64_t tail_numel(const dls_tensor_desc& t) { return t.rank <= 1 ? 1 : t.numel / t.dims[0]; }

// The checks every op's row in dlspec/ops.def implies: the operand count and which operands are required
// (its tensor letters), the attribute count and each attribute's range. Trailing attributes that have a
// default may be left out: they take it.
static void check_schema(const schema::OpRow& row, Op& op, const std::function<void(const std::string&)>& bad) {
  const auto& T = op.tensors;
  // X (two or more inputs) and P (zero or more parameters, -1 entries allowed: the op's decode checks them)
  // take what the fixed letters leave.
  const bool plist = row.paramList();
  const size_t fixed = row.tensors.size() - (row.variadic() || plist ? 1 : 0);
  const size_t least = fixed + (row.variadic() ? 2 : 0);
  if (row.variadic() || plist ? T.size() < least : T.size() != fixed)
    bad(fmt::format("expects {}{} tensors, got {}", row.variadic() || plist ? "at least " : "", least, T.size()));
  for (size_t i = 0, k = 0; k < row.tensors.size(); ++k) {
    const char c = row.tensors[k];
    const size_t n = c == 'X' || c == 'P' ? T.size() - fixed : 1;
    for (size_t j = 0; j < n; ++j, ++i)
      if (c != 'q' && c != 'o' && c != 's' && c != 'P' && T[i].id < 0) bad(fmt::format("tensor {} is required", i));
  }
  const schema::AttrRow* a = row.attrsBegin();
  const int na = row.nattrs();
  // A trailing list: INTS has one value per axis of the first tensor; FLOATS none or any number (the op's decode
  // checks how many).
  const bool list = na > 0 && a[na - 1].list();
  const bool floats = list && a[na - 1].type == schema::AttrType::FLOATS;
  const size_t fixedAttrs = size_t(na - (list ? 1 : 0));
  const size_t want = floats ? std::max(fixedAttrs, op.attrs.size()) : fixedAttrs + (list ? size_t(T[0].rank) : 0);
  while ((!list || floats) && op.attrs.size() < fixedAttrs && !a[op.attrs.size()].required())
    op.attrs.push_back(a[op.attrs.size()].dflt);
  if (op.attrs.size() != want) bad(fmt::format("expects {} attributes, got {}", want, op.attrs.size()));
  for (size_t i = 0; i < want; ++i) {
    const schema::AttrRow& r = a[std::min<size_t>(i, size_t(na - 1))];
    if (!r.accepts(op.attrs[i]))
      bad(fmt::format("attribute {} = {} is out of its range {}{}, {}{}{}", r.name, op.attrs[i], r.flags & schema::kLoOpen ? "(" : "[",
                      r.lo, r.hi, r.flags & schema::kHiOpen ? ")" : "]",
                      r.type == schema::AttrType::FLOAT ? "" : " (an integer)"));
  }
}

void decode_op(const dls_rt* rt, Op& op) {
  dls_op_desc& d = op.d;
  const auto& T = op.tensors;
  const std::string where = op_location(rt, d.id);
  auto bad = [&](const std::string& why) {
    fail(Diag::R0504, where, fmt::format("{} op: {}", opcode_name(d.opcode), why));
  };
  const schema::OpRow* row = schema::find(d.opcode);
  if (!row) bad(fmt::format("unknown opcode {}", d.opcode));
  check_schema(*row, op, bad);
  switch (d.opcode) {
    case DLS_OP_DENSE: {
      d.rows = T[0].dims[0], d.cols = tail_numel(T[0]);
      // A sequence [N, T, K]: every step, over the last axis (rows N*T).
      if (T[0].rank == 3 && T[1].rank == 2 && T[1].dims[1] != d.cols && T[1].dims[1] == T[0].dims[2])
        d.cols = T[0].dims[2], d.rows = T[0].dims[0] * T[0].dims[1];
      if (T[1].rank != 2 || T[1].dims[1] != d.cols) bad(fmt::format("weight {} does not match input {}", shape_str(T[1]), shape_str(T[0])));
      if (T[3].numel != d.rows * T[1].dims[0]) bad(fmt::format("output {} is not [{}, {}]", shape_str(T[3]), d.rows, T[1].dims[0]));
      if (T[2].id >= 0 && T[2].numel != T[1].dims[0]) bad("bias size differs from the output features");
      break;
    }
    case DLS_OP_CONV2D:
    case DLS_OP_CONV1D: {
      const double* a = op.attrs.data();
      dls_window2d& w = d.win;
      const bool one = d.opcode == DLS_OP_CONV1D;
      const int rank = one ? 3 : 4;
      if (T[0].rank != rank || T[1].rank != rank || T[3].rank != rank)
        bad(one ? "input, weight and output must be [N, C, L], [F, C/groups, K] and [N, F, L']"
                : "input, weight and output must be [N, C, H, W], [F, C/groups, KH, KW] and [N, F, OH, OW]");
      if (one) {
        // The conv2d view of the same buffers: x[N,C,1,L], w[F,C/groups,1,K], y[N,F,1,L'] (ops.def CONV1D).
        w.n = T[0].dims[0], w.c = T[0].dims[1], w.h = 1, w.w = T[0].dims[2];
        w.k = T[1].dims[0], w.kh = 1, w.kw = T[1].dims[2];
        w.sh = 1, w.sw = (int64_t)a[0], w.pt = 0, w.pl = (int64_t)a[1], w.pb = 0, w.pr = (int64_t)a[2];
        w.dh = 1, w.dw = (int64_t)a[3], w.groups = (int64_t)a[4];
      } else {
        w.n = T[0].dims[0], w.c = T[0].dims[1], w.h = T[0].dims[2], w.w = T[0].dims[3];
        w.k = T[1].dims[0], w.kh = T[1].dims[2], w.kw = T[1].dims[3];
        w.sh = (int64_t)a[0], w.sw = (int64_t)a[1], w.pt = (int64_t)a[2], w.pl = (int64_t)a[3];
        w.pb = (int64_t)a[4], w.pr = (int64_t)a[5], w.dh = (int64_t)a[6], w.dw = (int64_t)a[7];
        w.groups = (int64_t)a[8];
      }
      if (w.c % w.groups || w.k % w.groups || T[1].dims[1] * w.groups != w.c) bad("channels do not match groups");
      if (w.h + w.pt + w.pb < w.dh * (w.kh - 1) + 1 || w.w + w.pl + w.pr < w.dw * (w.kw - 1) + 1)
        bad("the window is larger than the padded input");
      w.oh = (w.h + w.pt + w.pb - w.dh * (w.kh - 1) - 1) / w.sh + 1;
      w.ow = (w.w + w.pl + w.pr - w.dw * (w.kw - 1) - 1) / w.sw + 1;
      if (one ? (T[3].dims[0] != w.n || T[3].dims[1] != w.k || T[3].dims[2] != w.ow)
              : (T[3].dims[0] != w.n || T[3].dims[1] != w.k || T[3].dims[2] != w.oh || T[3].dims[3] != w.ow))
        bad(one ? fmt::format("output {} should be [{}, {}, {}]", shape_str(T[3]), w.n, w.k, w.ow)
                : fmt::format("output {} should be [{}, {}, {}, {}]", shape_str(T[3]), w.n, w.k, w.oh, w.ow));
      if (T[2].id >= 0 && T[2].numel != w.k) bad("bias size differs from the filters");
      break;
    }
    case DLS_OP_MAXPOOL:
    case DLS_OP_AVGPOOL: {
      const double* a = op.attrs.data();
      dls_window2d& w = d.win;
      w.n = T[0].dims[0], w.c = T[0].dims[1], w.h = T[0].dims[2], w.w = T[0].dims[3], w.k = w.c;
      w.kh = (int64_t)a[0], w.kw = (int64_t)a[1], w.sh = (int64_t)a[2], w.sw = (int64_t)a[3];
      w.pt = (int64_t)a[4], w.pl = (int64_t)a[5], w.pb = (int64_t)a[6], w.pr = (int64_t)a[7];
      // maxpool's window may be dilated (attributes 8, 9); avgpool's never is.
      w.dh = d.opcode == DLS_OP_MAXPOOL ? (int64_t)a[8] : 1, w.dw = d.opcode == DLS_OP_MAXPOOL ? (int64_t)a[9] : 1;
      w.groups = 1;
      if (w.h + w.pt + w.pb < w.dh * (w.kh - 1) + 1 || w.w + w.pl + w.pr < w.dw * (w.kw - 1) + 1)
        bad("the window is larger than the padded input");
      w.oh = (w.h + w.pt + w.pb - w.dh * (w.kh - 1) - 1) / w.sh + 1;
      w.ow = (w.w + w.pl + w.pr - w.dw * (w.kw - 1) - 1) / w.sw + 1;
      if (T[1].dims[0] != w.n || T[1].dims[1] != w.c || T[1].dims[2] != w.oh || T[1].dims[3] != w.ow)
        bad(fmt::format("output {} should be [{}, {}, {}, {}]", shape_str(T[1]), w.n, w.c, w.oh, w.ow));
      op.output = T[1].id;
      return;
    }
    case DLS_OP_MAXPOOL1D:
    case DLS_OP_AVGPOOL1D: {
      // The 2-D window over the views x[N,C,1,L], y[N,C,1,OL] of the same buffers (ops.def MAXPOOL1D).
      const double* a = op.attrs.data();
      dls_window2d& w = d.win;
      if (T[0].rank != 3 || T[1].rank != 3) bad("input and output must be [N, C, L] and [N, C, L']");
      w.n = T[0].dims[0], w.c = T[0].dims[1], w.h = 1, w.w = T[0].dims[2], w.k = w.c;
      w.kh = 1, w.kw = (int64_t)a[0], w.sh = 1, w.sw = (int64_t)a[1];
      w.pt = 0, w.pl = (int64_t)a[2], w.pb = 0, w.pr = (int64_t)a[3];
      w.dh = 1, w.dw = d.opcode == DLS_OP_MAXPOOL1D ? (int64_t)a[4] : 1, w.groups = 1;
      if (w.w + w.pl + w.pr < w.dw * (w.kw - 1) + 1) bad("the window is larger than the padded input");
      w.oh = 1, w.ow = (w.w + w.pl + w.pr - w.dw * (w.kw - 1) - 1) / w.sw + 1;
      if (T[1].dims[0] != w.n || T[1].dims[1] != w.c || T[1].dims[2] != w.ow)
        bad(fmt::format("output {} should be [{}, {}, {}]", shape_str(T[1]), w.n, w.c, w.ow));
      op.output = T[1].id;
      d.opcode = row->kernel;
      return;
    }
    case DLS_OP_GLOBAL_AVGPOOL:
      d.rows = T[0].dims[0] * T[0].dims[1], d.cols = T[0].dims[2] * T[0].dims[3];
      if (T[1].numel != d.rows) bad("output must be [N, C]");
      break;
    case DLS_OP_BATCH_NORM:
      d.rows = T[0].dims[0], d.cols = T[0].dims[1];  // N, C
      for (int i = 1; i <= 4; ++i)
        if (T[i].numel != d.cols) bad("gamma, beta and running statistics must have C elements");
      if (T[5].numel != T[0].numel) bad("output shape differs from input");
      break;
    case DLS_OP_LAYER_NORM: {
      const int axes = int(op.attrs[1]);
      if (axes >= T[0].rank) bad(fmt::format("axes {} must leave the batch axis of {} out", axes, shape_str(T[0])));
      d.cols = 1;
      for (int k = T[0].rank - axes; k < T[0].rank; ++k) d.cols *= T[0].dims[k];
      d.rows = T[0].numel / d.cols;
      if (T[1].numel != d.cols || T[2].numel != d.cols)
        bad(fmt::format("gamma and beta must have the {} elements of the last {} axes", d.cols, axes));
      break;
    }
    case DLS_OP_DROPOUT:
    case DLS_OP_LEAKY_RELU:
    case DLS_OP_RELU:
    case DLS_OP_RAMP:
    case DLS_OP_GELU:
    case DLS_OP_TANH:
    case DLS_OP_SIGMOID:
    case DLS_OP_COPY:
      if (T[0].numel != T[1].numel) bad("input and output sizes differ");
      break;
    case DLS_OP_SCALED_ADD:
      if (T[0].numel != T[1].numel) bad("input and output sizes differ");
      if (T[0].dtype != DLS_F32 || T[1].dtype != DLS_F32) bad("scaled_add takes f32 tensors");
      break;
    case DLS_OP_ELU:
    case DLS_OP_SELU:
    case DLS_OP_SILU:
    case DLS_OP_MISH:
    case DLS_OP_SOFTPLUS:
    case DLS_OP_HARDSWISH:
    case DLS_OP_HARDSIGMOID:
    case DLS_OP_RELU6:
      if (T[0].numel != T[1].numel) bad("input and output sizes differ");
      break;
    case DLS_OP_PRELU: {
      // One slope, or one per channel of axis 1: rows = N, cols = C, the rest of each sample inner.
      if (T[0].rank < 2) bad(fmt::format("input {} needs a channel axis", shape_str(T[0])));
      if (T[1].numel != 1 && T[1].numel != T[0].dims[1])
        bad(fmt::format("weight {} should have 1 or {} elements", shape_str(T[1]), T[0].dims[1]));
      if (T[2].numel != T[0].numel) bad("input and output sizes differ");
      d.rows = T[0].dims[0], d.cols = T[0].dims[1];
      break;
    }
    case DLS_OP_GLU: {
      const int axis = (int)op.attrs[0];
      if (axis >= T[0].rank || T[0].dims[axis] % 2) bad(fmt::format("axis {} of {} is not of even size", axis, shape_str(T[0])));
      for (int k = 0; k < T[0].rank; ++k)
        if (T[1].dims[k] != (k == axis ? T[0].dims[k] / 2 : T[0].dims[k]))
          bad(fmt::format("output {} is not the input {} halved along axis {}", shape_str(T[1]), shape_str(T[0]), axis));
      break;
    }
    case DLS_OP_MUL:
    case DLS_OP_SUB:
    case DLS_OP_DIV: {
      // NumPy broadcasting: aligned at the last axis, each operand's axis equal to y's or 1.
      const dls_tensor_desc& y = T[2];
      for (int i = 0; i < 2; ++i) {
        if (T[i].rank > y.rank) bad(fmt::format("operand {} has more axes than the output {}", shape_str(T[i]), shape_str(y)));
        for (int k = 0; k < T[i].rank; ++k) {
          const int64_t dy = y.dims[k + y.rank - T[i].rank], da = T[i].dims[k];
          if (da != dy && da != 1) bad(fmt::format("operand {} does not broadcast to {}", shape_str(T[i]), shape_str(y)));
        }
      }
      break;
    }
    case DLS_OP_INSTANCE_NORM:
    case DLS_OP_GROUP_NORM: {
      if (T[0].rank < 2) bad(fmt::format("input {} needs a channel axis", shape_str(T[0])));
      if (d.opcode == DLS_OP_INSTANCE_NORM) op.attrs = {double(T[0].dims[1]), op.attrs[0]};  // GROUP_NORM's groups, eps
      const int64_t C = T[0].dims[1], G = (int64_t)op.attrs[0];
      if (C % G) bad(fmt::format("{} groups do not divide the {} channels", G, C));
      if ((T[1].id >= 0) != (T[2].id >= 0)) bad("gamma and beta must both be given or both be -1");
      if (T[1].id >= 0 && (T[1].numel != C || T[2].numel != C)) bad("gamma and beta must have C elements");
      if (T[3].numel != T[0].numel) bad("output shape differs from input");
      d.rows = T[0].dims[0] * G, d.cols = T[0].numel / d.rows;  // one row per sample and group
      break;
    }
    case DLS_OP_GLOBAL_MAXPOOL:
      if (T[0].rank != 4 || T[1].numel != T[0].dims[0] * T[0].dims[1]) bad("input must be [N, C, H, W] and output [N, C]");
      op.attrs = {0, 0, 0, 1, 1};  // REDUCE_MAX's keepdims, then its axes
      break;
    case DLS_OP_REDUCE_MEAN:
    case DLS_OP_REDUCE_SUM:
    case DLS_OP_REDUCE_MAX: {
      int64_t kept = 1;
      if (op.attrs[1] != 0) bad("the batch axis cannot be reduced");
      for (int k = 0; k < T[0].rank; ++k)
        if (op.attrs[size_t(k) + 1] == 0) kept *= T[0].dims[k];
      if (T[1].numel != kept) bad(fmt::format("output {} does not hold the reduction of {}", shape_str(T[1]), shape_str(T[0])));
      break;
    }
    case DLS_OP_ADAPTIVE_AVGPOOL:
      if (T[0].rank != 4 || T[1].rank != 4 || T[1].dims[0] != T[0].dims[0] || T[1].dims[1] != T[0].dims[1] ||
          T[1].dims[2] > T[0].dims[2] || T[1].dims[3] > T[0].dims[3] || T[1].dims[2] < 1 || T[1].dims[3] < 1)
        bad(fmt::format("output {} is not [N, C, OH, OW] with OH, OW at most the input's {}", shape_str(T[1]), shape_str(T[0])));
      break;
    case DLS_OP_SOFTMAX:
    case DLS_OP_LOG_SOFTMAX:
      d.cols = T[0].dims[T[0].rank - 1], d.rows = T[0].numel / d.cols;
      if (T[0].numel != T[1].numel) bad("input and output sizes differ");
      break;
    case DLS_OP_ADD:
      if (T[0].numel != T[2].numel || T[1].numel != T[2].numel) bad("operands must have the same shape");
      break;
    case DLS_OP_CONCAT: {
      int axis = (int)op.attrs[0];
      const auto& y = T.back();
      if (axis < 0 || axis >= y.rank) bad("axis out of range");
      int64_t sum = 0;
      for (size_t i = 0; i + 1 < T.size(); ++i) {
        for (int k = 0; k < y.rank; ++k)
          if (k != axis && T[i].dims[k] != y.dims[k]) bad("inputs differ outside the concat axis");
        sum += T[i].dims[axis];
      }
      if (sum != y.dims[axis]) bad("output size along the axis is not the sum of the inputs");
      break;
    }
    case DLS_OP_TRANSPOSE: {
      for (int k = 0; k < T[0].rank; ++k) {
        int p = (int)op.attrs[k];
        if (p < 0 || p >= T[0].rank || T[1].dims[k] != T[0].dims[p]) bad("perm does not match the shapes");
      }
      break;
    }
    case DLS_OP_RNN:
    case DLS_OP_GRU:
    case DLS_OP_LSTM: {
      // x[N,T,F], tokens i32[N,T] or -1, per layer and direction w_ih[G*U,F_l], w_hh[G*U,U] (+ b_ih, b_hh),
      // y[N,T,D*U] or [N,D*U] (ops.def); recurrent_geometry (RecurrentGeometry.h) reads the attributes.
      const RecurrentGeometry r = recurrent_geometry(d.opcode, op.attrs.data(), int(op.attrs.size()));
      const int64_t G = r.G, cells = r.layers * r.dirs, np = int64_t(T.size()) - 3;
      const dls_tensor_desc &x = T[0], &tok = T[1], &y = T.back();
      if (x.rank != 3 || x.dims[0] < 1 || x.dims[1] < 1 || x.dims[2] < 1)
        bad(fmt::format("input {} is not a sequence [N, T, F]", shape_str(x)));
      if (tok.id >= 0 && (tok.dtype != DLS_I32 || tok.rank != 2 || tok.dims[0] != x.dims[0] || tok.dims[1] != x.dims[1]))
        bad(fmt::format("mask tokens {} should be i32 [{}, {}]", shape_str(tok), x.dims[0], x.dims[1]));
      if (np != 2 * cells && np != 4 * cells)
        bad(fmt::format("expects {} or {} parameter tensors ({} layer(s) x {} direction(s)), got {}", 2 * cells,
                        4 * cells, r.layers, r.dirs, np));
      const int per = int(np / cells);
      if (T[3].rank != 2 || T[3].dims[1] < 1 || T[3].dims[0] != G * T[3].dims[1])
        bad(fmt::format("w_hh {} is not [{} * U, U]", shape_str(T[3]), G));
      const int64_t U = T[3].dims[1];
      for (int64_t k = 0; k < cells; ++k) {
        const dls_tensor_desc &wi = T[size_t(2 + per * k)], &wh = T[size_t(3 + per * k)];
        const int64_t F = k < r.dirs ? x.dims[2] : r.dirs * U;
        if (wi.id < 0 || wh.id < 0) bad(fmt::format("w_ih and w_hh of layer {} are required", k / r.dirs));
        if (wh.rank != 2 || wh.dims[0] != G * U || wh.dims[1] != U)
          bad(fmt::format("w_hh {} of layer {} should be [{}, {}]", shape_str(wh), k / r.dirs, G * U, U));
        if (wi.rank != 2 || wi.dims[0] != G * U || wi.dims[1] != F)
          bad(fmt::format("w_ih {} of layer {} should be [{}, {}]", shape_str(wi), k / r.dirs, G * U, F));
        if (per == 2) continue;
        const dls_tensor_desc &bi = T[size_t(4 + per * k)], &bh = T[size_t(5 + per * k)];
        if ((bi.id >= 0) != (bh.id >= 0) || (bi.id < 0 && cells > 1))
          bad("b_ih and b_hh must both be given or both be -1 (and -1 only for one layer in one direction)");
        for (const dls_tensor_desc* b : {&bi, &bh})
          if (b->id >= 0 && b->numel != G * U) bad(fmt::format("bias {} should have {} elements", shape_str(*b), G * U));
      }
      const int64_t W = r.dirs * U;
      const bool ok = r.last ? (y.rank == 2 && y.dims[0] == x.dims[0] && y.dims[1] == W)
                             : (y.rank == 3 && y.dims[0] == x.dims[0] && y.dims[1] == x.dims[1] && y.dims[2] == W);
      if (!ok)
        bad(r.last ? fmt::format("output {} should be [{}, {}]", shape_str(y), x.dims[0], W)
                   : fmt::format("output {} should be [{}, {}, {}]", shape_str(y), x.dims[0], x.dims[1], W));
      d.rows = x.dims[0], d.cols = W;
      break;
    }
    case DLS_OP_MULTI_HEAD_ATTENTION: {
      // x[N,T,D], w_in[3D,D], w_out[D,D], b_in[3D], b_out[D] (both or neither), y[N,T,D] (ops.def).
      const dls_tensor_desc &x = T[0], &wi = T[1], &wo = T[2], &y = T[5];
      if (x.rank != 3 || x.dims[0] < 1 || x.dims[1] < 1 || x.dims[2] < 1)
        bad(fmt::format("input {} is not a sequence [N, T, D]", shape_str(x)));
      const int64_t D = x.dims[2], H = (int64_t)op.attrs[0];
      if (D % H) bad(fmt::format("heads {} do not divide the width {}", H, D));
      if (wi.rank != 2 || wi.dims[0] != 3 * D || wi.dims[1] != D)
        bad(fmt::format("in_proj_weight {} should be [{}, {}]", shape_str(wi), 3 * D, D));
      if (wo.rank != 2 || wo.dims[0] != D || wo.dims[1] != D)
        bad(fmt::format("out_proj.weight {} should be [{}, {}]", shape_str(wo), D, D));
      if ((T[3].id >= 0) != (T[4].id >= 0)) bad("in_proj_bias and out_proj.bias must both be given or both be -1");
      if (T[3].id >= 0 && T[3].numel != 3 * D) bad(fmt::format("in_proj_bias {} should have {} elements", shape_str(T[3]), 3 * D));
      if (T[4].id >= 0 && T[4].numel != D) bad(fmt::format("out_proj.bias {} should have {} elements", shape_str(T[4]), D));
      if (y.rank != 3 || y.dims[0] != x.dims[0] || y.dims[1] != x.dims[1] || y.dims[2] != D)
        bad(fmt::format("output {} should be {}", shape_str(y), shape_str(x)));
      d.rows = x.dims[0] * x.dims[1], d.cols = D;
      break;
    }
    case DLS_OP_CROSS_ATTENTION: {
      // x[N,T,D], memory[N,S,K], the parameters in torch's layout for K (AttentionOperands.h), y[N,T,D] (ops.def).
      const dls_tensor_desc &x = T[0], &m = T[1], &y = T.back();
      if (x.rank != 3 || x.dims[0] < 1 || x.dims[1] < 1 || x.dims[2] < 1)
        bad(fmt::format("input {} is not a sequence [N, T, D]", shape_str(x)));
      const int64_t D = x.dims[2], H = (int64_t)op.attrs[0];
      if (m.rank != 3 || m.dims[0] != x.dims[0] || m.dims[1] < 1 || m.dims[2] < 1)
        bad(fmt::format("memory {} should be [{}, S, K]", shape_str(m), x.dims[0]));
      if (D % H) bad(fmt::format("heads {} do not divide the width {}", H, D));
      const CrossAttentionOperands o = cross_attention_operands(T.data(), int(T.size()));
      const int w = o.split ? 4 : 2;
      if (o.nparams != w && o.nparams != w + 2)
        bad(fmt::format("{} parameters given: a memory of width {} takes {} weights ({}), then in_proj_bias and "
                        "out_proj.bias or neither", o.nparams, o.K, w,
                        o.split ? "q_proj_weight, k_proj_weight, v_proj_weight, out_proj.weight"
                                : "in_proj_weight, out_proj.weight"));
      for (int i = 2; i < 2 + w; ++i)
        if (T[size_t(i)].id < 0) bad(fmt::format("tensor {} (a weight) is required", i));
      auto matrix = [&](int i, const char* name, int64_t rows, int64_t cols) {
        const dls_tensor_desc& t = T[size_t(i)];
        if (t.rank != 2 || t.dims[0] != rows || t.dims[1] != cols)
          bad(fmt::format("{} {} should be [{}, {}]", name, shape_str(t), rows, cols));
      };
      if (o.split) {
        matrix(o.wq, "q_proj_weight", D, D);
        matrix(o.wk, "k_proj_weight", D, o.K);
        matrix(o.wv, "v_proj_weight", D, o.K);
      } else {
        matrix(o.wq, "in_proj_weight", 3 * D, D);
      }
      matrix(o.wo, "out_proj.weight", D, D);
      if (o.nparams == w + 2) {
        const dls_tensor_desc &bi = T[size_t(2 + w)], &bo = T[size_t(3 + w)];
        if ((bi.id >= 0) != (bo.id >= 0)) bad("in_proj_bias and out_proj.bias must both be given or both be -1");
        if (bi.id >= 0 && bi.numel != 3 * D) bad(fmt::format("in_proj_bias {} should have {} elements", shape_str(bi), 3 * D));
        if (bo.id >= 0 && bo.numel != D) bad(fmt::format("out_proj.bias {} should have {} elements", shape_str(bo), D));
      }
      if (y.id < 0 || y.rank != 3 || y.dims[0] != x.dims[0] || y.dims[1] != x.dims[1] || y.dims[2] != D)
        bad(fmt::format("output {} should be {}", shape_str(y), shape_str(x)));
      d.rows = x.dims[0] * x.dims[1], d.cols = D;
      break;
    }
    case DLS_OP_POSITIONAL_EMBEDDING: {
      const dls_tensor_desc &x = T[0], &w = T[1], &y = T[2];
      if (x.rank != 3) bad(fmt::format("input {} is not a sequence [N, T, D]", shape_str(x)));
      if (w.rank != 2 || w.dims[1] != x.dims[2] || w.dims[0] < x.dims[1])
        bad(fmt::format("table {} should be [L, {}] with L >= {} steps", shape_str(w), x.dims[2], x.dims[1]));
      if (y.numel != x.numel) bad("input and output sizes differ");
      d.rows = x.dims[0], d.cols = x.dims[1] * x.dims[2];
      break;
    }
    case DLS_OP_EMBEDDING:
      if (T[0].dtype != DLS_I32) bad("indices must be i32");
      d.rows = T[0].numel, d.cols = T[1].dims[1];
      if (T[2].numel != d.rows * d.cols) bad("output must be [indices..., D]");
      break;
    case DLS_OP_UPSAMPLE:
      if (T[1].numel != T[0].numel * (int64_t)op.attrs[0] * (int64_t)op.attrs[0]) bad("output size is not input * factor^2");
      break;
    case DLS_OP_REORG: {
      const dls_tensor_desc &x = T[0], &y = T[1];
      const int64_t s = (int64_t)op.attrs[0], extra = (int64_t)op.attrs[1];
      d.rows = x.dims[0], d.cols = tail_numel(x);
      if (extra > 0) {
        if (y.dims[0] != d.rows || y.numel != d.rows * (d.cols + extra))
          bad(fmt::format("output {} should be [{}, {}] (the input flat, then {} zeros)", shape_str(y), d.rows, d.cols + extra, extra));
        break;
      }
      if (x.rank != 4) bad(fmt::format("input {} is not [N, C, H, W]", shape_str(x)));
      if (x.dims[1] % (s * s) || x.dims[2] % s || x.dims[3] % s)
        bad(fmt::format("input {} needs channels divisible by {} and height and width divisible by {}", shape_str(x), s * s, s));
      if (y.rank != 4 || y.dims[0] != x.dims[0] || y.dims[1] != x.dims[1] * s * s || y.dims[2] != x.dims[2] / s ||
          y.dims[3] != x.dims[3] / s)
        bad(fmt::format("output {} should be [{}, {}, {}, {}]", shape_str(y), x.dims[0], x.dims[1] * s * s, x.dims[2] / s, x.dims[3] / s));
      break;
    }
    case DLS_OP_LOCAL: {
      const double* a = op.attrs.data();
      dls_window2d& w = d.win;
      if (T[0].rank != 4 || T[1].rank != 4 || T[3].rank != 4) bad("input, weight and output must be rank 4");
      w.n = T[0].dims[0], w.c = T[0].dims[1], w.h = T[0].dims[2], w.w = T[0].dims[3];
      w.k = T[3].dims[1], w.kh = T[1].dims[2], w.kw = T[1].dims[3];
      w.sh = (int64_t)a[0], w.sw = (int64_t)a[1], w.pt = (int64_t)a[2], w.pl = (int64_t)a[3];
      w.pb = (int64_t)a[4], w.pr = (int64_t)a[5], w.dh = w.dw = 1, w.groups = 1;
      w.oh = (w.h + w.pt + w.pb - w.kh) / w.sh + 1;
      w.ow = (w.w + w.pl + w.pr - w.kw) / w.sw + 1;
      if (w.h + w.pt + w.pb < w.kh || w.w + w.pl + w.pr < w.kw) bad("the window is larger than the padded input");
      if (T[3].dims[0] != w.n || T[3].dims[2] != w.oh || T[3].dims[3] != w.ow)
        bad(fmt::format("output {} should be [{}, {}, {}, {}]", shape_str(T[3]), w.n, w.k, w.oh, w.ow));
      if (T[1].dims[0] != w.oh * w.ow * w.k || T[1].dims[1] != w.c)
        bad(fmt::format("weight {} should be [{} * {}, {}, {}, {}] (one [filters, C, KH, KW] bank per output position)",
                        shape_str(T[1]), w.oh * w.ow, w.k, w.c, w.kh, w.kw));
      if (T[2].id >= 0 && T[2].numel != w.k * w.oh * w.ow) bad("bias size differs from filters * output height * width");
      break;
    }
    case DLS_OP_CONV_TRANSPOSE2D: {
      // x[N,C,H,W], w[C,F/groups,KH,KW], b[F] or -1, y[N,F,OH,OW] (ops.def); win: the input, the output (k = F,
      // oh, ow), the window; pt = pb = pad_h, pl = pr = pad_w (output_pad is what OH adds beyond the formula's).
      const double* a = op.attrs.data();
      dls_window2d& w = d.win;
      if (T[0].rank != 4 || T[1].rank != 4 || T[3].rank != 4)
        bad("input, weight and output must be [N, C, H, W], [C, F/groups, KH, KW] and [N, F, OH, OW]");
      w.n = T[0].dims[0], w.c = T[0].dims[1], w.h = T[0].dims[2], w.w = T[0].dims[3];
      w.groups = (int64_t)a[8];
      w.k = T[1].dims[1] * w.groups, w.kh = T[1].dims[2], w.kw = T[1].dims[3];
      w.sh = (int64_t)a[0], w.sw = (int64_t)a[1], w.pt = w.pb = (int64_t)a[2], w.pl = w.pr = (int64_t)a[3];
      w.dh = (int64_t)a[6], w.dw = (int64_t)a[7];
      const int64_t oph = (int64_t)a[4], opw = (int64_t)a[5];
      if (w.c % w.groups || T[1].dims[0] != w.c) bad(fmt::format("weight {} does not match {} input channels in {} groups", shape_str(T[1]), w.c, w.groups));
      // (torch also accepts output_pad below the dilation; the backends' size rules need it below the stride)
      if (oph >= w.sh || opw >= w.sw) bad("output_pad must be below the stride");
      w.oh = (w.h - 1) * w.sh - 2 * w.pt + w.dh * (w.kh - 1) + oph + 1;
      w.ow = (w.w - 1) * w.sw - 2 * w.pl + w.dw * (w.kw - 1) + opw + 1;
      if (w.oh < 1 || w.ow < 1) bad("the padding leaves no output");
      if (T[3].dims[0] != w.n || T[3].dims[1] != w.k || T[3].dims[2] != w.oh || T[3].dims[3] != w.ow)
        bad(fmt::format("output {} should be [{}, {}, {}, {}]", shape_str(T[3]), w.n, w.k, w.oh, w.ow));
      if (T[2].id >= 0 && T[2].numel != w.k) bad("bias size differs from the filters");
      break;
    }
    case DLS_OP_SLICE:
    case DLS_OP_PAD:
    case DLS_OP_REPEAT: {
      // y's shape from x's and the attributes (ops.def); the element map itself: core/IndexMap.h.
      const dls_tensor_desc &x = T[0], &y = T[1];
      if (x.rank < 2 || y.rank != x.rank) bad(fmt::format("input {} and output {} must have the same rank, at least 2", shape_str(x), shape_str(y)));
      int64_t want[4] = {x.dims[0], x.dims[1], x.dims[2], x.dims[3]};
      if (d.opcode == DLS_OP_SLICE) {
        const int64_t axis = (int64_t)op.attrs[0], start = (int64_t)op.attrs[1], end = (int64_t)op.attrs[2], step = (int64_t)op.attrs[3];
        if (axis >= x.rank) bad(fmt::format("axis {} is not a non-batch axis of {}", axis, shape_str(x)));
        if (start >= end || end > x.dims[axis]) bad(fmt::format("{}:{} is not a non-empty range of axis {} ({} elements)", start, end, axis, x.dims[axis]));
        want[axis] = (end - start + step - 1) / step;
      } else if (d.opcode == DLS_OP_PAD) {
        for (int k = 0; k < 3; ++k) {
          const int64_t lo = (int64_t)op.attrs[size_t(2 + 2 * k)], hi = (int64_t)op.attrs[size_t(3 + 2 * k)];
          if (!lo && !hi) continue;
          const int axis = x.rank - 1 - k;
          if (axis < 1) bad(fmt::format("the pads of axis {} would pad the batch of {}", axis, shape_str(x)));
          if (op.attrs[0] == 1 && (lo >= x.dims[axis] || hi >= x.dims[axis]))
            bad(fmt::format("reflect pads {}, {} must be below the {} elements of axis {}", lo, hi, x.dims[axis], axis));
          want[axis] = x.dims[axis] + lo + hi;
        }
      } else {
        if (op.attrs[0] != 1) bad("the batch axis cannot be repeated");
        for (int k = 0; k < x.rank; ++k) want[k] = x.dims[k] * (int64_t)op.attrs[size_t(k)];
      }
      for (int k = 0; k < x.rank; ++k)
        if (y.dims[k] != want[k]) bad(fmt::format("output {} does not match input {} and the attributes", shape_str(y), shape_str(x)));
      if (y.numel >= (int64_t(1) << 31) || x.numel >= (int64_t(1) << 31)) bad("more than 2^31 elements");
      break;
    }
    case DLS_OP_CROSS_ENTROPY:
    case DLS_OP_NLL:
    case DLS_OP_BCE_WITH_LOGITS:
    case DLS_OP_MSE:
    case DLS_OP_BCE:
    case DLS_OP_L1:
    case DLS_OP_HUBER:
    case DLS_OP_SMOOTH_L1:
    case DLS_OP_KL_DIV:
    case DLS_OP_FOCAL:
    case DLS_OP_HINGE:
    case DLS_OP_POISSON:
      d.rows = T[0].dims[0], d.cols = tail_numel(T[0]);
      if (d.opcode == DLS_OP_CROSS_ENTROPY || d.opcode == DLS_OP_NLL) {
        // A sequence's logits [N, T, C] take one label per step, i32[N, T]: rows N*T.
        if (T[0].rank == 3 && T[1].numel != d.rows && T[1].dims[0] == T[0].dims[0])
          d.cols = T[0].dims[2], d.rows = T[0].dims[0] * T[0].dims[1];
        // cross_entropy also takes class probabilities f32[N, C] (mixup, cutmix: torch's probability targets).
        const bool probs = d.opcode == DLS_OP_CROSS_ENTROPY && T[1].dtype == DLS_F32 && T[0].rank == 2 &&
                           T[1].numel == d.rows * d.cols;
        if (!probs && (T[1].dtype != DLS_I32 || T[1].numel != d.rows))
          bad(T[0].rank == 3 ? fmt::format("labels {} must be i32[N] or, per step, i32[{}, {}]", shape_str(T[1]), T[0].dims[0], T[0].dims[1])
                             : std::string("labels must be i32[N]"));
        // The class weights (ops.def `weight`): none, or one per class.
        const size_t fixed = d.opcode == DLS_OP_CROSS_ENTROPY ? 2 : 1, given = op.attrs.size() - fixed;
        if (given != 0 && int64_t(given) != d.cols) bad(fmt::format("{} class weights for {} classes", given, d.cols));
      } else if (T[1].numel != T[0].numel) {
        bad("targets must have the input's shape");
      }
      if (T[2].numel != 1) bad("loss must be a scalar");
      break;
    case DLS_OP_COSINE_EMBEDDING:
      // x1[N, D], x2[N, D] (the last axis is the vectors'), targets f32[N] or [N, 1], loss[1].
      d.rows = T[0].dims[0], d.cols = tail_numel(T[0]);
      if (T[0].rank < 2 || T[1].rank != T[0].rank) bad(fmt::format("inputs {} and {} must be [N, D]", shape_str(T[0]), shape_str(T[1])));
      for (int k = 0; k < T[0].rank; ++k)
        if (T[1].dims[k] != T[0].dims[k]) bad(fmt::format("inputs {} and {} must have one shape", shape_str(T[0]), shape_str(T[1])));
      d.cols = T[0].dims[T[0].rank - 1], d.rows = T[0].numel / std::max<int64_t>(1, d.cols);
      if (T[2].numel != d.rows) bad(fmt::format("targets {} must hold one value per row of {}", shape_str(T[2]), shape_str(T[0])));
      if (T[3].numel != 1) bad("loss must be a scalar");
      break;
    default:
      bad(fmt::format("no decoder for opcode {}", d.opcode));
  }
  op.output = T.back().id;
  // i32: indices (embedding), labels (cross_entropy, nll), a recurrent layer's mask tokens (its tensor 1).
  const bool recurrent = d.opcode == DLS_OP_RNN || d.opcode == DLS_OP_GRU || d.opcode == DLS_OP_LSTM;
  for (size_t i = 0; i < T.size(); ++i) {
    const auto& t = T[i];
    const bool i32ok = d.opcode == DLS_OP_EMBEDDING || d.opcode == DLS_OP_CROSS_ENTROPY || d.opcode == DLS_OP_NLL ||
                       (recurrent && i == 1);
    if (t.id >= 0 && t.dtype != DLS_F32 && !(t.dtype == DLS_I32 && i32ok))
      bad(fmt::format("tensor {} has dtype {}; only f32 is supported by this runtime", t.id, t.dtype));
  }
  // Backends see the op whose kernel runs it (ops.def KERNEL), over the geometry decoded above.
  d.opcode = row->kernel;
}

}  // namespace dls
