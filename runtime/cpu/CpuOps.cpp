// CpuOps.cpp: building the CPU forward and gradient ops. oneDNN primitives (created once for the static
// shapes) for dense, conv, pooling, batch norm, eltwise activations and softmax; hand-written loops for
// the rest. Convolutions run channels-last (see conv_act_tag) with weights in the format oneDNN picks
// (format_tag::any) and reorder only at their boundaries; everything stored in the arena stays in plain
// row-major NCHW layout (the compiler's memory plan sizes it that way).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "CpuOp.h"
#include "../core/Rng.h"

namespace dls::cpu {

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

memory umem(Ctx& c, const memory::dims& d, tag t, void* p) { return memory({d, dt::f32, t}, c.eng, p); }
memory::desc fmd(const memory::dims& d, tag t) { return memory::desc(d, dt::f32, t); }

Step prim_step(const primitive& p, std::unordered_map<int, memory> args) {
  Step s;
  s.prim = p;
  s.args = std::move(args);
  return s;
}
Step fn_step(std::function<void(const dls_step_ctx&)> f) {
  Step s;
  s.fn = std::move(f);
  return s;
}

void add_into(float* __restrict dst, const float* __restrict src, int64_t n) {
#pragma omp parallel for simd if (n > 262144) schedule(static)
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// Memory in format `want` for an input: `user` itself, or an internal buffer filled by a reorder step.
memory in_arg(Ctx& c, std::vector<Step>& steps, const memory& user, const memory::desc& want) {
  if (user.get_desc() == want) return user;
  memory inner(want, c.eng);
  steps.push_back(prim_step(reorder(user, inner), {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, inner}}));
  return inner;
}
// Memory in format `want` for an output: `user` itself, or an internal buffer reordered into it afterwards.
memory out_arg(Ctx& c, std::vector<Step>& post, const memory& user, const memory::desc& want) {
  if (user.get_desc() == want) return user;
  memory inner(want, c.eng);
  post.push_back(prim_step(reorder(inner, user), {{DNNL_ARG_FROM, inner}, {DNNL_ARG_TO, user}}));
  return inner;
}

// Where a gradient op writes d(input i): the tensor itself or, when accumulating, a temporary followed by
// a `dst += tmp` step appended to `post`. nullptr: not needed.
float* grad_dst(OpState& st, const dls_grad_op_desc& g, int i, std::vector<Step>& post) {
  if (i >= g.nins || !g.dins[i].data) return nullptr;
  float* dst = fptr(g.dins[i]);
  if (!((g.accumulate_mask >> i) & 1u)) return dst;
  const int64_t n = g.dins[i].numel;
  float* tmp = st.buf((size_t)n)->p;
  post.push_back(fn_step([=](const dls_step_ctx&) { add_into(dst, tmp, n); }));
  return tmp;
}

bool use_any_formats() {
  static const bool plain = std::getenv("DLS_CONV_PLAIN") != nullptr;
  return !plain;
}
// Activation format asked of convolutions. Channels-last (nhwc) by default: measured on LeNet (AVX-512,
// oneDNN 2.6) it beats oneDNN's blocked choice (nChw16c pads 20 channels to 32) by ~15% per step even
// with the reorders from/to the arena's NCHW. DLS_CONV_ANY=1: let oneDNN choose; DLS_CONV_PLAIN=1: nchw.
// First layers with very few input channels (images) do better with oneDNN's own choice.
tag conv_act_tag(int64_t in_channels) {
  static const tag t = std::getenv("DLS_CONV_PLAIN") ? tag::nchw : std::getenv("DLS_CONV_ANY") ? tag::any : tag::nhwc;
  return (t == tag::nhwc && in_channels < 4) ? tag::any : t;
}

// ---- dense ------------------------------------------------------------------------------------------
struct DensePds {
  inner_product_forward::primitive_desc fwd;
};

void dense_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  const int64_t N = op.rows, K = op.cols, M = T[1].dims[0];
  auto x = fmd({N, K}, tag::ab), w = fmd({M, K}, tag::ab), y = fmd({N, M}, tag::ab), b = fmd({M}, tag::a);
  bool has_b = T[2].id >= 0;
  auto d = has_b ? inner_product_forward::desc(prop_kind::forward_training, x, w, b, y)
                 : inner_product_forward::desc(prop_kind::forward_training, x, w, y);
  auto pd = inner_product_forward::primitive_desc(d, c.eng);
  std::vector<Step> pre, post;
  std::unordered_map<int, memory> args;
  args[DNNL_ARG_SRC] = in_arg(c, pre, memory(x, c.eng, T[0].data), pd.src_desc());
  args[DNNL_ARG_WEIGHTS] = in_arg(c, pre, memory(w, c.eng, T[1].data), pd.weights_desc());
  if (has_b) args[DNNL_ARG_BIAS] = memory(b, c.eng, T[2].data);
  args[DNNL_ARG_DST] = out_arg(c, post, memory(y, c.eng, T[3].data), pd.dst_desc());
  st.train = std::move(pre);
  st.train.push_back(prim_step(inner_product_forward(pd), args));
  for (auto& s : post) st.train.push_back(std::move(s));
  st.fwd_pd = std::make_shared<DensePds>(DensePds{pd});
}

void dense_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  const auto& T = op.tensors;
  const int64_t N = op.rows, K = op.cols, M = T[1].dims[0];
  auto x = fmd({N, K}, tag::ab), w = fmd({M, K}, tag::ab), y = fmd({N, M}, tag::ab), b = fmd({M}, tag::a);
  auto& fpd = static_cast<DensePds*>(f.fwd_pd.get())->fwd;
  std::vector<Step> post;
  memory dy(y, c.eng, g.dout.data);
  if (float* dx = grad_dst(st, g, 0, post)) {
    auto pd = inner_product_backward_data::primitive_desc(inner_product_backward_data::desc(x, w, y), c.eng, fpd);
    std::vector<Step> pre, post2;
    std::unordered_map<int, memory> a;
    a[DNNL_ARG_DIFF_DST] = in_arg(c, pre, dy, pd.diff_dst_desc());
    a[DNNL_ARG_WEIGHTS] = in_arg(c, pre, memory(w, c.eng, T[1].data), pd.weights_desc());
    a[DNNL_ARG_DIFF_SRC] = out_arg(c, post2, memory(x, c.eng, dx), pd.diff_src_desc());
    for (auto& s : pre) st.train.push_back(std::move(s));
    st.train.push_back(prim_step(inner_product_backward_data(pd), a));
    for (auto& s : post2) st.train.push_back(std::move(s));
  }
  if (g.dparams[0].id >= 0) {
    bool has_b = T[2].id >= 0 && g.dparams[1].id >= 0;
    auto d = has_b ? inner_product_backward_weights::desc(x, w, b, y) : inner_product_backward_weights::desc(x, w, y);
    auto pd = inner_product_backward_weights::primitive_desc(d, c.eng, fpd);
    std::vector<Step> pre, post2;
    std::unordered_map<int, memory> a;
    a[DNNL_ARG_SRC] = in_arg(c, pre, memory(x, c.eng, T[0].data), pd.src_desc());
    a[DNNL_ARG_DIFF_DST] = in_arg(c, pre, dy, pd.diff_dst_desc());
    a[DNNL_ARG_DIFF_WEIGHTS] = out_arg(c, post2, memory(w, c.eng, g.dparams[0].data), pd.diff_weights_desc());
    if (has_b) a[DNNL_ARG_DIFF_BIAS] = memory(b, c.eng, g.dparams[1].data);
    for (auto& s : pre) st.train.push_back(std::move(s));
    st.train.push_back(prim_step(inner_product_backward_weights(pd), a));
    for (auto& s : post2) st.train.push_back(std::move(s));
  }
  for (auto& s : post) st.train.push_back(std::move(s));
}

// ---- conv2d -------------------------------------------------------------------------------------------
struct ConvPds {
  convolution_forward::primitive_desc fwd;
  memory x_inner;  // the forward's (possibly reordered) input, reused by backward-weights
};

struct ConvGeom {
  memory::dims x, w, b, y, strides, dil, pl, pr;
  tag wtag;
};
ConvGeom conv_geom(const dls_op_desc& op) {
  const dls_window2d& v = op.win;
  ConvGeom g;
  g.x = {v.n, v.c, v.h, v.w};
  g.y = {v.n, v.k, v.oh, v.ow};
  g.b = {v.k};
  if (v.groups > 1) {
    g.w = {v.groups, v.k / v.groups, v.c / v.groups, v.kh, v.kw};
    g.wtag = tag::goihw;
  } else {
    g.w = {v.k, v.c, v.kh, v.kw};
    g.wtag = tag::oihw;
  }
  g.strides = {v.sh, v.sw};
  g.dil = {v.dh - 1, v.dw - 1};
  g.pl = {v.pt, v.pl};
  g.pr = {v.pb, v.pr};
  return g;
}

void conv_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  ConvGeom G = conv_geom(op);
  const bool any = use_any_formats();
  auto xa = fmd(G.x, conv_act_tag(op.win.c)), wa = fmd(G.w, any ? tag::any : G.wtag);
  auto ya = fmd(G.y, conv_act_tag(op.win.c)), ba = fmd(G.b, tag::a);
  bool has_b = T[2].id >= 0;
  auto d = has_b ? convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, xa, wa, ba,
                                             ya, G.strides, G.dil, G.pl, G.pr)
                 : convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, xa, wa, ya,
                                             G.strides, G.dil, G.pl, G.pr);
  auto pd = convolution_forward::primitive_desc(d, c.eng);
  std::vector<Step> post;
  std::unordered_map<int, memory> a;
  a[DNNL_ARG_SRC] = in_arg(c, st.train, umem(c, G.x, tag::nchw, T[0].data), pd.src_desc());
  a[DNNL_ARG_WEIGHTS] = in_arg(c, st.train, umem(c, G.w, G.wtag, T[1].data), pd.weights_desc());
  if (has_b) a[DNNL_ARG_BIAS] = umem(c, G.b, tag::a, T[2].data);
  a[DNNL_ARG_DST] = out_arg(c, post, umem(c, G.y, tag::nchw, T[3].data), pd.dst_desc());
  st.train.push_back(prim_step(convolution_forward(pd), a));
  for (auto& s : post) st.train.push_back(std::move(s));
  st.fwd_pd = std::make_shared<ConvPds>(ConvPds{pd, a[DNNL_ARG_SRC]});
}

void conv_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  const auto& T = op.tensors;
  ConvGeom G = conv_geom(op);
  const bool any = use_any_formats();
  auto* F = static_cast<ConvPds*>(f.fwd_pd.get());
  auto xa = fmd(G.x, conv_act_tag(op.win.c)), wa = fmd(G.w, any ? tag::any : G.wtag);
  auto ya = fmd(G.y, conv_act_tag(op.win.c)), ba = fmd(G.b, tag::a);
  memory dy_user = umem(c, G.y, tag::nchw, g.dout.data);
  std::vector<Step> post;
  memory dy_inner;  // d(output) in the blocked format, shared by both backward primitives when equal
  if (float* dx = grad_dst(st, g, 0, post)) {
    auto d = convolution_backward_data::desc(algorithm::convolution_direct, xa, wa, ya, G.strides, G.dil, G.pl, G.pr);
    auto pd = convolution_backward_data::primitive_desc(d, c.eng, F->fwd);
    std::vector<Step> post2;
    std::unordered_map<int, memory> a;
    a[DNNL_ARG_DIFF_DST] = dy_inner = in_arg(c, st.train, dy_user, pd.diff_dst_desc());
    a[DNNL_ARG_WEIGHTS] = in_arg(c, st.train, umem(c, G.w, G.wtag, T[1].data), pd.weights_desc());
    a[DNNL_ARG_DIFF_SRC] = out_arg(c, post2, umem(c, G.x, tag::nchw, dx), pd.diff_src_desc());
    st.train.push_back(prim_step(convolution_backward_data(pd), a));
    for (auto& s : post2) st.train.push_back(std::move(s));
  }
  if (g.dparams[0].id >= 0) {
    bool has_b = T[2].id >= 0 && g.dparams[1].id >= 0;
    auto d = has_b ? convolution_backward_weights::desc(algorithm::convolution_direct, xa, wa, ba, ya, G.strides, G.dil,
                                                        G.pl, G.pr)
                   : convolution_backward_weights::desc(algorithm::convolution_direct, xa, wa, ya, G.strides, G.dil,
                                                        G.pl, G.pr);
    auto pd = convolution_backward_weights::primitive_desc(d, c.eng, F->fwd);
    std::vector<Step> post2;
    std::unordered_map<int, memory> a;
    // The forward's reordered input is still valid (nothing writes it between forward and backward).
    a[DNNL_ARG_SRC] = F->x_inner.get_desc() == pd.src_desc()
                          ? F->x_inner
                          : in_arg(c, st.train, umem(c, G.x, tag::nchw, T[0].data), pd.src_desc());
    a[DNNL_ARG_DIFF_DST] = (dy_inner && dy_inner.get_desc() == pd.diff_dst_desc())
                               ? dy_inner
                               : in_arg(c, st.train, dy_user, pd.diff_dst_desc());
    a[DNNL_ARG_DIFF_WEIGHTS] = out_arg(c, post2, umem(c, G.w, G.wtag, g.dparams[0].data), pd.diff_weights_desc());
    if (has_b) a[DNNL_ARG_DIFF_BIAS] = umem(c, G.b, tag::a, g.dparams[1].data);
    st.train.push_back(prim_step(convolution_backward_weights(pd), a));
    for (auto& s : post2) st.train.push_back(std::move(s));
  }
  for (auto& s : post) st.train.push_back(std::move(s));
}

// ---- pooling ------------------------------------------------------------------------------------------
struct PoolPds {
  pooling_forward::primitive_desc fwd;
};
algorithm pool_alg(int opcode) {
  return opcode == DLS_OP_MAXPOOL ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
}

void pool_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  const dls_window2d& v = op.win;
  auto x = fmd({v.n, v.c, v.h, v.w}, tag::nchw), y = fmd({v.n, v.c, v.oh, v.ow}, tag::nchw);
  auto d = pooling_forward::desc(prop_kind::forward_training, pool_alg(op.opcode), x, y, {v.sh, v.sw}, {v.kh, v.kw},
                                 {v.pt, v.pl}, {v.pb, v.pr});
  auto pd = pooling_forward::primitive_desc(d, c.eng);
  std::unordered_map<int, memory> a{{DNNL_ARG_SRC, memory(x, c.eng, op.tensors[0].data)},
                                    {DNNL_ARG_DST, memory(y, c.eng, op.tensors[1].data)}};
  if (op.opcode == DLS_OP_MAXPOOL) {
    st.workspace = memory(pd.workspace_desc(), c.eng);
    a[DNNL_ARG_WORKSPACE] = st.workspace;
  }
  st.train.push_back(prim_step(pooling_forward(pd), a));
  st.fwd_pd = std::make_shared<PoolPds>(PoolPds{pd});
}

void pool_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  const dls_window2d& v = op.win;
  std::vector<Step> post;
  float* dx = grad_dst(st, g, 0, post);
  if (!dx) return;
  auto x = fmd({v.n, v.c, v.h, v.w}, tag::nchw), y = fmd({v.n, v.c, v.oh, v.ow}, tag::nchw);
  auto d = pooling_backward::desc(pool_alg(op.opcode), x, y, {v.sh, v.sw}, {v.kh, v.kw}, {v.pt, v.pl}, {v.pb, v.pr});
  auto pd = pooling_backward::primitive_desc(d, c.eng, static_cast<PoolPds*>(f.fwd_pd.get())->fwd);
  std::unordered_map<int, memory> a{{DNNL_ARG_DIFF_DST, memory(y, c.eng, g.dout.data)},
                                    {DNNL_ARG_DIFF_SRC, memory(x, c.eng, dx)}};
  if (op.opcode == DLS_OP_MAXPOOL) a[DNNL_ARG_WORKSPACE] = f.workspace;
  st.train.push_back(prim_step(pooling_backward(pd), a));
  for (auto& s : post) st.train.push_back(std::move(s));
}

// ---- batch norm -----------------------------------------------------------------------------------------
struct BnPds {
  batch_normalization_forward::primitive_desc fwd;
};
memory::dims bn_dims(const dls_tensor_desc& x) { return {x.dims[0], x.dims[1], x.dims[2], x.dims[3]}; }
const normalization_flags kScaleShift = normalization_flags::use_scale | normalization_flags::use_shift;

void bn_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  const float eps = float(op.attrs[0]), momentum = float(op.attrs[1]);
  auto x = fmd(bn_dims(T[0]), tag::nchw);
  const int64_t C = T[0].dims[1];
  auto cm = fmd({C}, tag::a);
  auto pd = batch_normalization_forward::primitive_desc(
      batch_normalization_forward::desc(prop_kind::forward_training, x, eps, kScaleShift), c.eng);
  st.mean = memory(pd.mean_desc(), c.eng);
  st.var = memory(pd.variance_desc(), c.eng);
  memory xm(x, c.eng, T[0].data), ym(x, c.eng, T[5].data), sc(cm, c.eng, T[1].data), sh(cm, c.eng, T[2].data);
  st.train.push_back(prim_step(batch_normalization_forward(pd), {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DST, ym},
                                                                 {DNNL_ARG_SCALE, sc}, {DNNL_ARG_SHIFT, sh},
                                                                 {DNNL_ARG_MEAN, st.mean}, {DNNL_ARG_VARIANCE, st.var}}));
  // Running statistics, as PyTorch: r = (1 - m) r + m * batch, with the unbiased batch variance.
  float* rm = fptr(T[3]);
  float* rv = fptr(T[4]);
  float* bm = static_cast<float*>(st.mean.get_data_handle());
  float* bv = static_cast<float*>(st.var.get_data_handle());
  const double n = double(T[0].numel / C);
  const float unbias = n > 1 ? float(n / (n - 1)) : 1.f;
  st.train.push_back(fn_step([=](const dls_step_ctx&) {
    for (int64_t i = 0; i < C; ++i) {
      rm[i] = (1 - momentum) * rm[i] + momentum * bm[i];
      rv[i] = (1 - momentum) * rv[i] + momentum * bv[i] * unbias;
    }
  }));
  auto epd = batch_normalization_forward::primitive_desc(
      batch_normalization_forward::desc(prop_kind::forward_inference, x, eps,
                                        kScaleShift | normalization_flags::use_global_stats),
      c.eng);
  st.eval.push_back(prim_step(batch_normalization_forward(epd),
                              {{DNNL_ARG_SRC, xm}, {DNNL_ARG_DST, ym}, {DNNL_ARG_SCALE, sc}, {DNNL_ARG_SHIFT, sh},
                               {DNNL_ARG_MEAN, memory(cm, c.eng, T[3].data)},
                               {DNNL_ARG_VARIANCE, memory(cm, c.eng, T[4].data)}}));
  st.fwd_pd = std::make_shared<BnPds>(BnPds{pd});
}

void bn_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  const auto& T = op.tensors;
  auto x = fmd(bn_dims(T[0]), tag::nchw);
  const int64_t C = T[0].dims[1];
  auto cm = fmd({C}, tag::a);
  std::vector<Step> post;
  float* dx = grad_dst(st, g, 0, post);
  Buf* scratch_dx = dx ? nullptr : st.buf((size_t)T[0].numel);  // oneDNN always writes diff_src
  Buf* dscale = g.dparams[0].id >= 0 ? nullptr : st.buf((size_t)C);
  Buf* dshift = g.dparams[1].id >= 0 ? nullptr : st.buf((size_t)C);
  auto pd = batch_normalization_backward::primitive_desc(
      batch_normalization_backward::desc(prop_kind::backward, x, x, float(op.attrs[0]), kScaleShift), c.eng,
      static_cast<BnPds*>(f.fwd_pd.get())->fwd);
  st.train.push_back(prim_step(
      batch_normalization_backward(pd),
      {{DNNL_ARG_SRC, memory(x, c.eng, T[0].data)}, {DNNL_ARG_MEAN, f.mean}, {DNNL_ARG_VARIANCE, f.var},
       {DNNL_ARG_DIFF_DST, memory(x, c.eng, g.dout.data)}, {DNNL_ARG_SCALE, memory(cm, c.eng, T[1].data)},
       {DNNL_ARG_SHIFT, memory(cm, c.eng, T[2].data)},
       {DNNL_ARG_DIFF_SRC, memory(x, c.eng, dx ? dx : scratch_dx->p)},
       {DNNL_ARG_DIFF_SCALE, memory(cm, c.eng, dscale ? dscale->p : g.dparams[0].data)},
       {DNNL_ARG_DIFF_SHIFT, memory(cm, c.eng, dshift ? dshift->p : g.dparams[1].data)}}));
  for (auto& s : post) st.train.push_back(std::move(s));
}

// ---- eltwise and softmax ----------------------------------------------------------------------------------
// Backward reads: relu, leaky_relu, tanh, sigmoid read the output y; gelu reads the input x.
struct EltPds {
  eltwise_forward::primitive_desc fwd;
};
void elt_alg(int opcode, const double* attrs, algorithm& fwd, algorithm& bwd, float& alpha, bool& use_dst) {
  alpha = 0, use_dst = true;
  switch (opcode) {
    case DLS_OP_RELU: fwd = bwd = algorithm::eltwise_relu_use_dst_for_bwd; break;
    case DLS_OP_LEAKY_RELU:
      alpha = float(attrs[0]);
      if (alpha > 0) {
        fwd = bwd = algorithm::eltwise_relu_use_dst_for_bwd;
      } else {
        fwd = bwd = algorithm::eltwise_relu, use_dst = false;
      }
      break;
    case DLS_OP_GELU: fwd = bwd = algorithm::eltwise_gelu_erf, use_dst = false; break;
    case DLS_OP_TANH: fwd = bwd = algorithm::eltwise_tanh_use_dst_for_bwd; break;
    default: fwd = bwd = algorithm::eltwise_logistic_use_dst_for_bwd; break;
  }
}
void elt_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  algorithm fa, ba;
  float alpha;
  bool use_dst;
  elt_alg(op.opcode, op.attrs, fa, ba, alpha, use_dst);
  auto m = fmd({op.tensors[0].numel}, tag::a);
  auto pd = eltwise_forward::primitive_desc(eltwise_forward::desc(prop_kind::forward_training, fa, m, alpha, 0.f), c.eng);
  st.train.push_back(prim_step(eltwise_forward(pd), {{DNNL_ARG_SRC, memory(m, c.eng, op.tensors[0].data)},
                                                     {DNNL_ARG_DST, memory(m, c.eng, op.tensors[1].data)}}));
  st.fwd_pd = std::make_shared<EltPds>(EltPds{pd});
}
void elt_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  algorithm fa, ba;
  float alpha;
  bool use_dst;
  elt_alg(op.opcode, op.attrs, fa, ba, alpha, use_dst);
  std::vector<Step> post;
  float* dx = grad_dst(st, g, 0, post);
  if (!dx) return;
  auto m = fmd({op.tensors[0].numel}, tag::a);
  auto pd = eltwise_backward::primitive_desc(eltwise_backward::desc(ba, m, m, alpha, 0.f), c.eng,
                                             static_cast<EltPds*>(f.fwd_pd.get())->fwd);
  st.train.push_back(prim_step(eltwise_backward(pd),
                               {{use_dst ? DNNL_ARG_DST : DNNL_ARG_SRC,
                                 memory(m, c.eng, op.tensors[use_dst ? 1 : 0].data)},
                                {DNNL_ARG_DIFF_DST, memory(m, c.eng, g.dout.data)},
                                {DNNL_ARG_DIFF_SRC, memory(m, c.eng, dx)}}));
  for (auto& s : post) st.train.push_back(std::move(s));
}

// Softmax / log-softmax over the last axis; backward reads the output y.
void softmax_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  auto m = fmd({op.rows, op.cols}, tag::ab);
  memory x(m, c.eng, op.tensors[0].data), y(m, c.eng, op.tensors[1].data);
  if (op.opcode == DLS_OP_SOFTMAX) {
    auto pd = softmax_forward::primitive_desc(softmax_forward::desc(prop_kind::forward_training, m, 1), c.eng);
    st.train.push_back(prim_step(softmax_forward(pd), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}}));
    st.fwd_pd = std::make_shared<softmax_forward::primitive_desc>(pd);
  } else {
    auto pd = logsoftmax_forward::primitive_desc(logsoftmax_forward::desc(prop_kind::forward_training, m, 1), c.eng);
    st.train.push_back(prim_step(logsoftmax_forward(pd), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}}));
    st.fwd_pd = std::make_shared<logsoftmax_forward::primitive_desc>(pd);
  }
}
void softmax_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  std::vector<Step> post;
  float* dx = grad_dst(st, g, 0, post);
  if (!dx) return;
  auto m = fmd({op.rows, op.cols}, tag::ab);
  std::unordered_map<int, memory> a{{DNNL_ARG_DST, memory(m, c.eng, op.tensors[1].data)},
                                    {DNNL_ARG_DIFF_DST, memory(m, c.eng, g.dout.data)},
                                    {DNNL_ARG_DIFF_SRC, memory(m, c.eng, dx)}};
  if (op.opcode == DLS_OP_SOFTMAX) {
    auto pd = softmax_backward::primitive_desc(softmax_backward::desc(m, m, 1), c.eng,
                                               *static_cast<softmax_forward::primitive_desc*>(f.fwd_pd.get()));
    st.train.push_back(prim_step(softmax_backward(pd), a));
  } else {
    auto pd = logsoftmax_backward::primitive_desc(logsoftmax_backward::desc(m, m, 1), c.eng,
                                                  *static_cast<logsoftmax_forward::primitive_desc*>(f.fwd_pd.get()));
    st.train.push_back(prim_step(logsoftmax_backward(pd), a));
  }
  for (auto& s : post) st.train.push_back(std::move(s));
}

// ---- hand-written ops ------------------------------------------------------------------------------------
// Gradient write helper for loops: dst[i] = v or dst[i] += v.
struct GradOut {
  float* p;
  bool acc;
  void put(int64_t i, float v) const { p[i] = acc ? p[i] + v : v; }
};
GradOut gout(const dls_grad_op_desc& g, int i) {
  if (i >= g.nins || !g.dins[i].data) return {nullptr, false};
  return {fptr(g.dins[i]), ((g.accumulate_mask >> i) & 1u) != 0};
}

// Splits a tensor around `axis` into outer x (size along axis) x inner.
void around_axis(const dls_tensor_desc& t, int axis, int64_t& outer, int64_t& inner) {
  outer = inner = 1;
  for (int k = 0; k < axis; ++k) outer *= t.dims[k];
  for (int k = axis + 1; k < 4; ++k) inner *= t.dims[k];
}

void misc_fwd(const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  switch (op.opcode) {
    case DLS_OP_GLOBAL_AVGPOOL: {
      const float* x = fptr(T[0]);
      float* y = fptr(T[1]);
      int64_t R = op.rows, C = op.cols;
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        for (int64_t r = 0; r < R; ++r) {
          float s = 0;
          for (int64_t i = 0; i < C; ++i) s += x[r * C + i];
          y[r] = s / float(C);
        }
      }));
      return;
    }
    case DLS_OP_DROPOUT: {
      const float* x = fptr(T[0]);
      float* y = fptr(T[1]);
      const int64_t n = T[0].numel;
      const float p = float(op.attrs[0]), scale = 1.f / (1.f - p);
      float* mask = st.buf((size_t)n)->p;
      const uint64_t opid = (uint64_t)op.id;
      st.train.push_back(fn_step([=](const dls_step_ctx& s) {
        // The mask is a pure function of (seed, step, op, index): reproducible on resume.
        const uint64_t key = hash3(s.seed, (uint64_t)s.step, opid);
        for (int64_t i = 0; i < n; ++i) {
          mask[i] = u01(mix64(key ^ (uint64_t)i * 0x9e3779b97f4a7c15ull)) >= p ? scale : 0.f;
          y[i] = x[i] * mask[i];
        }
      }));
      st.eval.push_back(fn_step([=](const dls_step_ctx&) { std::memcpy(y, x, size_t(n) * 4); }));
      return;
    }
    case DLS_OP_ADD: {
      const float* a = fptr(T[0]);
      const float* b = fptr(T[1]);
      float* y = fptr(T[2]);
      int64_t n = T[2].numel;
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
      }));
      return;
    }
    case DLS_OP_COPY: {
      const float* x = fptr(T[0]);
      float* y = fptr(T[1]);
      size_t bytes = size_t(T[0].numel) * 4;
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        if (x != y) std::memmove(y, x, bytes);
      }));
      return;
    }
    case DLS_OP_CONCAT: {
      int axis = (int)op.attrs[0];
      std::vector<dls_tensor_desc> ins(T, T + op.ntensors - 1);
      dls_tensor_desc y = T[op.ntensors - 1];
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        int64_t outer, inner;
        around_axis(y, axis, outer, inner);
        int64_t off = 0;
        for (const auto& t : ins) {
          int64_t len = t.dims[axis] * inner;
          for (int64_t o = 0; o < outer; ++o)
            std::memcpy(fptr(y) + o * y.dims[axis] * inner + off, fptr(t) + o * len, size_t(len) * 4);
          off += len;
        }
      }));
      return;
    }
    case DLS_OP_TRANSPOSE: {
      dls_tensor_desc x = T[0], y = T[1];
      int perm[4] = {0, 1, 2, 3};
      for (int k = 0; k < x.rank; ++k) perm[k] = (int)op.attrs[k];
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        int64_t xs[4] = {x.dims[1] * x.dims[2] * x.dims[3], x.dims[2] * x.dims[3], x.dims[3], 1};
        int64_t i = 0;
        for (int64_t a = 0; a < y.dims[0]; ++a)
          for (int64_t b = 0; b < y.dims[1]; ++b)
            for (int64_t c2 = 0; c2 < y.dims[2]; ++c2)
              for (int64_t d = 0; d < y.dims[3]; ++d) {
                int64_t idx[4] = {a, b, c2, d}, src = 0;
                for (int k = 0; k < 4; ++k) src += idx[k] * xs[perm[k]];
                fptr(y)[i++] = fptr(x)[src];
              }
      }));
      return;
    }
    case DLS_OP_EMBEDDING: {
      const int32_t* idx = static_cast<const int32_t*>(T[0].data);
      const float* table = fptr(T[1]);
      float* y = fptr(T[2]);
      int64_t R = op.rows, D = op.cols, V = T[1].dims[0];
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        for (int64_t r = 0; r < R; ++r) {
          if (idx[r] < 0 || idx[r] >= V)
            throw std::runtime_error("embedding index " + std::to_string(idx[r]) + " is outside [0, " + std::to_string(V) + ")");
          std::memcpy(y + r * D, table + int64_t(idx[r]) * D, size_t(D) * 4);
        }
      }));
      return;
    }
    case DLS_OP_UPSAMPLE: {
      dls_tensor_desc x = T[0], y = T[1];
      int64_t f = (int64_t)op.attrs[0];
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        int64_t NC = x.dims[0] * x.dims[1], H = x.dims[2], W = x.dims[3];
        for (int64_t p = 0; p < NC; ++p)
          for (int64_t h = 0; h < H * f; ++h)
            for (int64_t w = 0; w < W * f; ++w)
              fptr(y)[(p * H * f + h) * W * f + w] = fptr(x)[(p * H + h / f) * W + w / f];
      }));
      return;
    }
    case DLS_OP_LAYER_NORM: {
      const float* x = fptr(T[0]);
      const float* gm = fptr(T[1]);
      const float* bt = fptr(T[2]);
      float* y = fptr(T[3]);
      int64_t R = op.rows, C = op.cols;
      float eps = float(op.attrs[0]);
      float* stats = st.buf(size_t(2 * R))->p;  // mean, rstd per row
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        for (int64_t r = 0; r < R; ++r) {
          const float* xr = x + r * C;
          double m = 0, v = 0;
          for (int64_t i = 0; i < C; ++i) m += xr[i];
          m /= double(C);
          for (int64_t i = 0; i < C; ++i) v += (xr[i] - m) * (xr[i] - m);
          v /= double(C);
          float rstd = float(1.0 / std::sqrt(v + eps));
          stats[2 * r] = float(m), stats[2 * r + 1] = rstd;
          for (int64_t i = 0; i < C; ++i) y[r * C + i] = (xr[i] - float(m)) * rstd * gm[i] + bt[i];
        }
      }));
      return;
    }
    default: throw std::runtime_error(std::string("op is not supported by the CPU backend"));
  }
}

void misc_bwd(const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  const auto& T = op.tensors;
  const float* dy = fptr(g.dout);
  switch (op.opcode) {
    case DLS_OP_GLOBAL_AVGPOOL: {
      GradOut dx = gout(g, 0);
      if (!dx.p) return;
      int64_t R = op.rows, C = op.cols;
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        for (int64_t r = 0; r < R; ++r)
          for (int64_t i = 0; i < C; ++i) dx.put(r * C + i, dy[r] / float(C));
      }));
      return;
    }
    case DLS_OP_DROPOUT: {
      GradOut dx = gout(g, 0);
      if (!dx.p) return;
      const float* mask = f.bufs.at(0)->p;
      int64_t n = T[0].numel;
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        for (int64_t i = 0; i < n; ++i) dx.put(i, dy[i] * mask[i]);
      }));
      return;
    }
    case DLS_OP_ADD:
    case DLS_OP_COPY: {
      int nin = op.opcode == DLS_OP_ADD ? 2 : 1;
      for (int k = 0; k < nin; ++k) {
        GradOut dx = gout(g, k);
        if (!dx.p) continue;
        int64_t n = T[k].numel;
        st.train.push_back(fn_step([=](const dls_step_ctx&) {
          if (dx.acc) {
            add_into(dx.p, dy, n);
          } else if (dx.p != dy) {
            std::memmove(dx.p, dy, size_t(n) * 4);
          }
        }));
      }
      return;
    }
    case DLS_OP_CONCAT: {
      int axis = (int)op.attrs[0];
      dls_tensor_desc y = T[op.ntensors - 1];
      int64_t off = 0;
      for (int k = 0; k + 1 < op.ntensors; ++k) {
        int64_t outer, inner;
        around_axis(y, axis, outer, inner);
        int64_t len = T[k].dims[axis] * inner, yax = y.dims[axis];
        GradOut dx = gout(g, k);
        if (dx.p)
          st.train.push_back(fn_step([=](const dls_step_ctx&) {
            for (int64_t o = 0; o < outer; ++o)
              for (int64_t i = 0; i < len; ++i) dx.put(o * len + i, dy[o * yax * inner + off + i]);
          }));
        off += len;
      }
      return;
    }
    case DLS_OP_TRANSPOSE: {
      GradOut dx = gout(g, 0);
      if (!dx.p) return;
      dls_tensor_desc x = T[0], y = T[1];
      int perm[4] = {0, 1, 2, 3};
      for (int k = 0; k < x.rank; ++k) perm[k] = (int)op.attrs[k];
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        int64_t xs[4] = {x.dims[1] * x.dims[2] * x.dims[3], x.dims[2] * x.dims[3], x.dims[3], 1};
        if (!dx.acc) std::memset(dx.p, 0, size_t(x.numel) * 4);
        int64_t i = 0;
        for (int64_t a = 0; a < y.dims[0]; ++a)
          for (int64_t b = 0; b < y.dims[1]; ++b)
            for (int64_t c2 = 0; c2 < y.dims[2]; ++c2)
              for (int64_t d = 0; d < y.dims[3]; ++d) {
                int64_t idx[4] = {a, b, c2, d}, src = 0;
                for (int k = 0; k < 4; ++k) src += idx[k] * xs[perm[k]];
                dx.p[src] += dy[i++];
              }
      }));
      return;
    }
    case DLS_OP_EMBEDDING: {
      if (g.dparams[0].id < 0) return;
      const int32_t* idx = static_cast<const int32_t*>(T[0].data);
      float* dt = fptr(g.dparams[0]);
      int64_t R = op.rows, D = op.cols, n = T[1].numel;
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        std::memset(dt, 0, size_t(n) * 4);
        for (int64_t r = 0; r < R; ++r)
          for (int64_t i = 0; i < D; ++i) dt[int64_t(idx[r]) * D + i] += dy[r * D + i];
      }));
      return;
    }
    case DLS_OP_UPSAMPLE: {
      GradOut dx = gout(g, 0);
      if (!dx.p) return;
      dls_tensor_desc x = T[0];
      int64_t f2 = (int64_t)op.attrs[0];
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        int64_t NC = x.dims[0] * x.dims[1], H = x.dims[2], W = x.dims[3];
        for (int64_t p = 0; p < NC; ++p)
          for (int64_t h = 0; h < H; ++h)
            for (int64_t w = 0; w < W; ++w) {
              float s = 0;
              for (int64_t a = 0; a < f2; ++a)
                for (int64_t b = 0; b < f2; ++b) s += dy[(p * H * f2 + h * f2 + a) * W * f2 + w * f2 + b];
              dx.put((p * H + h) * W + w, s);
            }
      }));
      return;
    }
    case DLS_OP_LAYER_NORM: {
      GradOut dx = gout(g, 0);
      const float* x = fptr(T[0]);
      const float* gm = fptr(T[1]);
      float* dgam = g.dparams[0].id >= 0 ? fptr(g.dparams[0]) : nullptr;
      float* dbet = g.dparams[1].id >= 0 ? fptr(g.dparams[1]) : nullptr;
      const float* stats = f.bufs.at(0)->p;
      int64_t R = op.rows, C = op.cols;
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        if (dgam) std::memset(dgam, 0, size_t(C) * 4);
        if (dbet) std::memset(dbet, 0, size_t(C) * 4);
        for (int64_t r = 0; r < R; ++r) {
          const float m = stats[2 * r], rstd = stats[2 * r + 1];
          const float* xr = x + r * C;
          const float* dyr = dy + r * C;
          double s1 = 0, s2 = 0;  // sum(dy*g), sum(dy*g*xhat)
          for (int64_t i = 0; i < C; ++i) {
            float xh = (xr[i] - m) * rstd;
            if (dgam) dgam[i] += dyr[i] * xh;
            if (dbet) dbet[i] += dyr[i];
            s1 += dyr[i] * gm[i];
            s2 += dyr[i] * gm[i] * xh;
          }
          if (!dx.p) continue;
          for (int64_t i = 0; i < C; ++i) {
            float xh = (xr[i] - m) * rstd;
            dx.put(r * C + i, rstd * (dyr[i] * gm[i] - float(s1 / C) - xh * float(s2 / C)));
          }
        }
      }));
      return;
    }
    default: throw std::runtime_error("op has no gradient in the CPU backend");
  }
}

}  // namespace

void build_forward(Ctx& c, const dls_op_desc& op, OpState& st) {
  st.opcode = op.opcode;
  if (build_loss_forward(op, st)) return;
  switch (op.opcode) {
    case DLS_OP_DENSE: dense_fwd(c, op, st); break;
    case DLS_OP_CONV2D: conv_fwd(c, op, st); break;
    case DLS_OP_MAXPOOL: case DLS_OP_AVGPOOL: pool_fwd(c, op, st); break;
    case DLS_OP_BATCH_NORM: bn_fwd(c, op, st); break;
    case DLS_OP_RELU: case DLS_OP_LEAKY_RELU: case DLS_OP_GELU: case DLS_OP_TANH: case DLS_OP_SIGMOID:
      elt_fwd(c, op, st);
      break;
    case DLS_OP_SOFTMAX: case DLS_OP_LOG_SOFTMAX: softmax_fwd(c, op, st); break;
    default: misc_fwd(op, st); break;
  }
}

void build_backward(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  st.opcode = f.opcode;
  if (build_loss_backward(g, f, st)) return;
  switch (g.fwd->opcode) {
    case DLS_OP_DENSE: dense_bwd(c, g, f, st); break;
    case DLS_OP_CONV2D: conv_bwd(c, g, f, st); break;
    case DLS_OP_MAXPOOL: case DLS_OP_AVGPOOL: pool_bwd(c, g, f, st); break;
    case DLS_OP_BATCH_NORM: bn_bwd(c, g, f, st); break;
    case DLS_OP_RELU: case DLS_OP_LEAKY_RELU: case DLS_OP_GELU: case DLS_OP_TANH: case DLS_OP_SIGMOID:
      elt_bwd(c, g, f, st);
      break;
    case DLS_OP_SOFTMAX: case DLS_OP_LOG_SOFTMAX: softmax_bwd(c, g, f, st); break;
    default: misc_bwd(g, f, st); break;
  }
}

}  // namespace dls::cpu
