// CpuOps.cpp: building the CPU forward and gradient ops. oneDNN primitives (created once for the static
// shapes) for dense, conv, pooling, batch norm, eltwise activations and softmax; hand-written loops for
// the rest. Convolutions run channels-last (see conv_act_tag) with weights in the format oneDNN picks
// (format_tag::any) and reorder only at their boundaries; everything stored in the arena stays in plain
// row-major NCHW layout (the compiler's memory plan sizes it that way).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>

#include <omp.h>

#include "CpuOp.h"
#include "../core/Rng.h"
#include "dlspec/OpSchema.h"

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

// ---- channels-last bookkeeping (see Nhwc in CpuOp.h) ---------------------------------------------------
bool layouts_on() {
  static const bool off = std::getenv("DLS_CPU_PLAIN_LAYOUT") != nullptr || std::getenv("DLS_CONV_PLAIN") != nullptr;
  return !off;
}
const Nhwc* marked(Ctx& c, const void* p) {
  auto it = c.nhwc.find(static_cast<const char*>(p));
  return it == c.nhwc.end() ? nullptr : &it->second;
}
void unmark(Ctx& c, const void* p, size_t bytes) {
  const char* b = static_cast<const char*>(p);
  c.nhwc.erase(c.nhwc.lower_bound(b), c.nhwc.lower_bound(b + (bytes ? bytes : 1)));
}
void mark(Ctx& c, void* p, const memory::dims& d, OpState* producer) {
  size_t bytes = size_t(d[0] * d[1] * d[2] * d[3]) * 4;
  unmark(c, p, bytes);
  c.nhwc[static_cast<const char*>(p)] = Nhwc{bytes, d, producer};
}
// A step list's reorder of channels-last data at p (dims m.dims) into a new NCHW buffer; returns it.
float* to_plain_copy(Ctx& c, std::vector<Step>& steps, std::vector<std::unique_ptr<Buf>>& owner, void* p, const Nhwc& m) {
  owner.push_back(std::make_unique<Buf>(m.bytes / 4));
  float* q = owner.back()->p;
  memory from(fmd(m.dims, tag::nhwc), c.eng, p), to(fmd(m.dims, tag::nchw), c.eng, q);
  steps.push_back(prim_step(reorder(from, to), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}));
  return q;
}
// User memory of a 4-D activation input of an aware op: channels-last when p holds it with these dims,
// NCHW otherwise (channels-last data of other dims, e.g. a view, is first copied to NCHW).
memory act_in(Ctx& c, std::vector<Step>& steps, OpState& st, void* p, const memory::dims& d) {
  if (const Nhwc* m = marked(c, p)) {
    if (m->dims == d) return umem(c, d, tag::nhwc, p);
    return umem(c, d, tag::nchw, to_plain_copy(c, steps, st.sbufs, p, *m));
  }
  return umem(c, d, tag::nchw, p);
}
// Reorder that ADDS src into dst (layouts may differ).
Step reorder_add(Ctx& c, const memory& src, const memory& dst) {
  primitive_attr attr;
  post_ops po;
  po.append_sum(1.f);
  attr.set_post_ops(po);
  return prim_step(reorder(reorder::primitive_desc(src, dst, attr)), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
}
// Where an aware gradient op writes d(input i) of dims d, in layout `cl` (channels-last) or NCHW. Not
// accumulating: the tensor itself, re-marked. Accumulating: a temporary in the wanted layout added into the
// tensor (in the tensor's current layout) by a step appended to `post`. Null memory: not needed.
memory grad_act_out(Ctx& c, OpState& st, const dls_grad_op_desc& g, int i, const memory::dims& d, bool cl,
                    std::vector<Step>& post) {
  if (i >= g.nins || !g.dins[i].data) return memory();
  void* p = g.dins[i].data;
  if (!((g.accumulate_mask >> i) & 1u)) {
    if (cl) {
      mark(c, p, d, &st);
    } else {
      unmark(c, p, size_t(g.dins[i].numel) * 4);
    }
    return umem(c, d, cl ? tag::nhwc : tag::nchw, p);
  }
  const Nhwc* m = marked(c, p);
  memory target = m ? umem(c, m->dims, tag::nhwc, p) : umem(c, d, tag::nchw, p);
  float* tmp = st.buf((size_t)g.dins[i].numel)->p;
  memory inner = umem(c, d, cl ? tag::nhwc : tag::nchw, tmp);
  if (!m || m->dims == d) {
    if ((m != nullptr) == cl) {
      const int64_t n = g.dins[i].numel;
      float* dst = static_cast<float*>(p);
      post.push_back(fn_step([=](const dls_step_ctx&) { add_into(dst, tmp, n); }));
    } else {
      post.push_back(reorder_add(c, inner, target));
    }
  } else {  // the accumulator holds channels-last data of other dims: go through NCHW of those dims
    memory plain = umem(c, m->dims, tag::nchw, cl ? st.buf((size_t)g.dins[i].numel)->p : tmp);
    if (cl) {
      memory inner_plain = umem(c, d, tag::nchw, plain.get_data_handle());
      post.push_back(prim_step(reorder(inner, inner_plain), {{DNNL_ARG_FROM, inner}, {DNNL_ARG_TO, inner_plain}}));
    }
    post.push_back(reorder_add(c, plain, target));
  }
  return inner;
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
// The element type of an op's product inputs: bf16 under `precision = bf16` (Backend.h dls_op_desc.precision),
// where in_arg's reorders make the bf16 copies (x and w in the forward, d(y) in the backward) and every product
// writes f32.
dt product_dt(const dls_op_desc& op) { return op.precision == DLS_BF16 ? dt::bf16 : dt::f32; }
// The input of a backward primitive: a copy the forward already made in the wanted format (the weights' bf16
// copy made once per step, the input's), or a new one.
memory reuse_or_in(Ctx& c, std::vector<Step>& steps, const memory& made, const memory& user, const memory::desc& want) {
  return made && made.get_desc() == want ? made : in_arg(c, steps, user, want);
}

struct DensePds {
  inner_product_forward::primitive_desc fwd;
  memory x_inner, w_inner;  // the forward's inputs in its formats (the bf16 copies under precision bf16)
};

void dense_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  const int64_t N = op.rows, K = op.cols, M = T[1].dims[0];
  const dt pdt = product_dt(op);
  // bf16: oneDNN picks the formats of the copies (format any); f32 reads the arena's row-major data as it is.
  const tag in_tag = pdt == dt::bf16 ? tag::any : tag::ab;
  auto x = fmd({N, K}, tag::ab), w = fmd({M, K}, tag::ab), y = fmd({N, M}, tag::ab), b = fmd({M}, tag::a);
  auto xp = memory::desc({N, K}, pdt, in_tag), wp = memory::desc({M, K}, pdt, in_tag);
  bool has_b = T[2].id >= 0;
  auto d = has_b ? inner_product_forward::desc(prop_kind::forward_training, xp, wp, b, y)
                 : inner_product_forward::desc(prop_kind::forward_training, xp, wp, y);
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
  st.fwd_pd = std::make_shared<DensePds>(DensePds{pd, args[DNNL_ARG_SRC], args[DNNL_ARG_WEIGHTS]});
}

void dense_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  const auto& T = op.tensors;
  const int64_t N = op.rows, K = op.cols, M = T[1].dims[0];
  const dt pdt = product_dt(op);
  const tag in_tag = pdt == dt::bf16 ? tag::any : tag::ab;
  auto x = fmd({N, K}, tag::ab), w = fmd({M, K}, tag::ab), y = fmd({N, M}, tag::ab), b = fmd({M}, tag::a);
  auto xp = memory::desc({N, K}, pdt, in_tag), wp = memory::desc({M, K}, pdt, in_tag);
  auto yp = memory::desc({N, M}, pdt, in_tag);
  auto* F = static_cast<DensePds*>(f.fwd_pd.get());
  auto& fpd = F->fwd;
  std::vector<Step> post;
  memory dy(y, c.eng, g.dout.data);
  memory dy_inner;  // d(y) in the primitives' format (its bf16 copy), shared by both when equal
  if (float* dx = grad_dst(st, g, 0, post)) {
    auto pd = inner_product_backward_data::primitive_desc(inner_product_backward_data::desc(x, wp, yp), c.eng, fpd);
    std::vector<Step> pre, post2;
    std::unordered_map<int, memory> a;
    a[DNNL_ARG_DIFF_DST] = dy_inner = in_arg(c, pre, dy, pd.diff_dst_desc());
    a[DNNL_ARG_WEIGHTS] = reuse_or_in(c, pre, F->w_inner, memory(w, c.eng, T[1].data), pd.weights_desc());
    a[DNNL_ARG_DIFF_SRC] = out_arg(c, post2, memory(x, c.eng, dx), pd.diff_src_desc());
    for (auto& s : pre) st.train.push_back(std::move(s));
    st.train.push_back(prim_step(inner_product_backward_data(pd), a));
    for (auto& s : post2) st.train.push_back(std::move(s));
  }
  if (g.dparams[0].id >= 0) {
    bool has_b = T[2].id >= 0 && g.dparams[1].id >= 0;
    auto d = has_b ? inner_product_backward_weights::desc(xp, w, b, yp) : inner_product_backward_weights::desc(xp, w, yp);
    auto pd = inner_product_backward_weights::primitive_desc(d, c.eng, fpd);
    std::vector<Step> pre, post2;
    std::unordered_map<int, memory> a;
    a[DNNL_ARG_SRC] = reuse_or_in(c, pre, F->x_inner, memory(x, c.eng, T[0].data), pd.src_desc());
    a[DNNL_ARG_DIFF_DST] = reuse_or_in(c, pre, dy_inner, dy, pd.diff_dst_desc());
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
  memory x_user;   // the forward's input as stored (NCHW or channels-last)
  memory w_inner;  // the forward's weights in its format (bf16: the copy made once per step), reused by backward-data
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

// Activation format asked of a convolution primitive.
tag conv_tag(int64_t in_channels) {
  if (layouts_on()) {
    static const bool any = std::getenv("DLS_CONV_ANY") != nullptr;
    return any ? tag::any : tag::nhwc;
  }
  return conv_act_tag(in_channels);
}

void conv_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  ConvGeom G = conv_geom(op);
  const bool any = use_any_formats();
  const tag at = conv_tag(op.win.c);
  const dt pdt = product_dt(op);
  auto xa = memory::desc(G.x, pdt, at), wa = memory::desc(G.w, pdt, any ? tag::any : G.wtag);
  auto ya = fmd(G.y, at), ba = fmd(G.b, tag::a);
  bool has_b = T[2].id >= 0;
  auto d = has_b ? convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, xa, wa, ba,
                                             ya, G.strides, G.dil, G.pl, G.pr)
                 : convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, xa, wa, ya,
                                             G.strides, G.dil, G.pl, G.pr);
  auto pd = convolution_forward::primitive_desc(d, c.eng);
  std::vector<Step> post;
  std::unordered_map<int, memory> a;
  memory x_user;
  if (layouts_on()) {
    x_user = act_in(c, st.train, st, T[0].data, G.x);
    // One input channel: NCHW and NHWC are the same bytes.
    if (op.win.c == 1 && x_user.get_desc() == fmd(G.x, tag::nchw)) x_user = umem(c, G.x, tag::nhwc, x_user.get_data_handle());
  } else {
    x_user = umem(c, G.x, tag::nchw, T[0].data);
  }
  a[DNNL_ARG_SRC] = in_arg(c, st.train, x_user, pd.src_desc());
  a[DNNL_ARG_WEIGHTS] = in_arg(c, st.train, umem(c, G.w, G.wtag, T[1].data), pd.weights_desc());
  if (has_b) a[DNNL_ARG_BIAS] = umem(c, G.b, tag::a, T[2].data);
  memory y_user = umem(c, G.y, layouts_on() ? tag::nhwc : tag::nchw, T[3].data);
  a[DNNL_ARG_DST] = out_arg(c, post, y_user, pd.dst_desc());
  st.train.push_back(prim_step(convolution_forward(pd), a));
  for (auto& s : post) st.train.push_back(std::move(s));
  if (layouts_on()) {
    mark(c, T[3].data, G.y, &st);
  } else {
    unmark(c, T[3].data, size_t(T[3].numel) * 4);
  }
  st.fwd_pd = std::make_shared<ConvPds>(ConvPds{pd, a[DNNL_ARG_SRC], x_user, a[DNNL_ARG_WEIGHTS]});
}

// d(weights), d(bias) of a convolution with ONE input channel (the first layer on images), from
// channels-last d(output): oneDNN 2.6's kernels for C = 1 are slow here (a reduction over N*OH*OW with a
// 25-wide inner dimension), so: per thread, im2col of a few images at a time and one sgemm
//   dW[K, R*S] += dY[rows, K]^T * col[rows, R*S],  db[K] += column sums of dY,
// then the per-thread partials are summed.
bool conv1_bwd_weights(Ctx& c, const dls_grad_op_desc& g, OpState& st, const memory& x_user, const memory& dy) {
  const dls_op_desc& op = *g.fwd;
  const dls_window2d& v = op.win;
  if (v.c != 1 || v.groups != 1 || v.dh != 1 || v.dw != 1) return false;
  if (!x_user || x_user.get_desc() != fmd({v.n, v.c, v.h, v.w}, tag::nhwc)) return false;
  if (dy.get_desc() != fmd({v.n, v.k, v.oh, v.ow}, tag::nhwc)) return false;
  if (std::getenv("DLS_CONV1_ONEDNN")) return false;
  const bool has_b = op.tensors[2].id >= 0 && g.dparams[1].id >= 0;
  const int64_t N = v.n, H = v.h, W = v.w, K = v.k, R = v.kh, S = v.kw, OH = v.oh, OW = v.ow;
  const int64_t sh = v.sh, sw = v.sw, pt = v.pt, pl = v.pl, RS = R * S, P = OH * OW;
  const int nt = std::max(1, c.threads);
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(N, 8));
  float* col = st.buf(size_t(nt * chunk * P * RS))->p;
  float* part = st.buf(size_t(nt * (K * RS + K)))->p;
  const float* x = static_cast<const float*>(x_user.get_data_handle());
  const float* dyp = static_cast<const float*>(dy.get_data_handle());
  float* dw = fptr(g.dparams[0]);
  float* db = has_b ? fptr(g.dparams[1]) : nullptr;
  st.train.push_back(fn_step([=](const dls_step_ctx&) {
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), T = omp_get_num_threads();
      const int64_t n0 = N * t / T, n1 = N * (t + 1) / T;
      float* my_col = col + int64_t(t) * chunk * P * RS;
      float* my_dw = part + int64_t(t) * (K * RS + K);
      float* my_db = my_dw + K * RS;
      std::memset(my_dw, 0, size_t(K * RS + K) * 4);
      for (int64_t nb = n0; nb < n1; nb += chunk) {
        const int64_t ne = std::min(n1, nb + chunk), rows = (ne - nb) * P;
        for (int64_t n = nb; n < ne; ++n) {
          const float* xn = x + n * H * W;
          float* cn = my_col + (n - nb) * P * RS;
          for (int64_t oh = 0; oh < OH; ++oh)
            for (int64_t ow = 0; ow < OW; ++ow) {
              float* cr = cn + (oh * OW + ow) * RS;
              for (int64_t r = 0; r < R; ++r) {
                const int64_t ih = oh * sh - pt + r;
                for (int64_t s2 = 0; s2 < S; ++s2) {
                  const int64_t iw = ow * sw - pl + s2;
                  cr[r * S + s2] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? xn[ih * W + iw] : 0.f;
                }
              }
            }
        }
        const float* dyc = dyp + nb * P * K;
        dnnl_sgemm('T', 'N', K, RS, rows, 1.f, dyc, K, my_col, RS, 1.f, my_dw, RS);
        if (has_b)
          for (int64_t q = 0; q < rows; ++q) {
            const float* row = dyc + q * K;
#pragma omp simd
            for (int64_t k = 0; k < K; ++k) my_db[k] += row[k];
          }
      }
#pragma omp barrier
#pragma omp for schedule(static)
      for (int64_t i = 0; i < K * RS + K; ++i) {
        float s = 0;
        for (int u = 0; u < T; ++u) s += part[int64_t(u) * (K * RS + K) + i];
        if (i < K * RS) {
          dw[i] = s;
        } else if (db) {
          db[i - K * RS] = s;
        }
      }
    }
  }));
  return true;
}

void conv_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  const auto& T = op.tensors;
  ConvGeom G = conv_geom(op);
  const bool any = use_any_formats();
  auto* F = static_cast<ConvPds*>(f.fwd_pd.get());
  const tag at = conv_tag(op.win.c);
  const dt pdt = product_dt(op);
  auto xa = fmd(G.x, at), wa = fmd(G.w, any ? tag::any : G.wtag), ba = fmd(G.b, tag::a);
  // The products' inputs (bf16 copies under precision bf16); d(x) and d(w) stay f32.
  auto xp = memory::desc(G.x, pdt, at), wp = memory::desc(G.w, pdt, any ? tag::any : G.wtag);
  auto yp = memory::desc(G.y, pdt, at);
  memory dy_user = layouts_on() ? act_in(c, st.train, st, g.dout.data, G.y) : umem(c, G.y, tag::nchw, g.dout.data);
  std::vector<Step> post;
  memory dy_inner;  // d(output) in the primitive's format, shared by both backward primitives when equal
  if (g.nins > 0 && g.dins[0].data) {
    auto d = convolution_backward_data::desc(algorithm::convolution_direct, xa, wp, yp, G.strides, G.dil, G.pl, G.pr);
    auto pd = convolution_backward_data::primitive_desc(d, c.eng, F->fwd);
    std::vector<Step> post2;
    std::unordered_map<int, memory> a;
    a[DNNL_ARG_DIFF_DST] = dy_inner = in_arg(c, st.train, dy_user, pd.diff_dst_desc());
    a[DNNL_ARG_WEIGHTS] = reuse_or_in(c, st.train, F->w_inner, umem(c, G.w, G.wtag, T[1].data), pd.weights_desc());
    memory dx_user;
    if (layouts_on()) {
      // d(x) takes the layout x had (an NCHW input such as the batch gets an NCHW gradient).
      dx_user = grad_act_out(c, st, g, 0, G.x, F->x_user.get_desc() == fmd(G.x, tag::nhwc), post);
    } else {
      dx_user = umem(c, G.x, tag::nchw, grad_dst(st, g, 0, post));
    }
    a[DNNL_ARG_DIFF_SRC] = out_arg(c, post2, dx_user, pd.diff_src_desc());
    st.train.push_back(prim_step(convolution_backward_data(pd), a));
    for (auto& s : post2) st.train.push_back(std::move(s));
  }
  if (g.dparams[0].id >= 0 && !conv1_bwd_weights(c, g, st, F->x_user, dy_user)) {
    bool has_b = T[2].id >= 0 && g.dparams[1].id >= 0;
    auto d = has_b ? convolution_backward_weights::desc(algorithm::convolution_direct, xp, wa, ba, yp, G.strides, G.dil,
                                                        G.pl, G.pr)
                   : convolution_backward_weights::desc(algorithm::convolution_direct, xp, wa, yp, G.strides, G.dil,
                                                        G.pl, G.pr);
    auto pd = convolution_backward_weights::primitive_desc(d, c.eng, F->fwd);
    std::vector<Step> post2;
    std::unordered_map<int, memory> a;
    // The forward's reordered input is still valid (nothing writes it between forward and backward).
    a[DNNL_ARG_SRC] = F->x_inner.get_desc() == pd.src_desc() ? F->x_inner : in_arg(c, st.train, F->x_user, pd.src_desc());
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

// ---- conv_transpose2d (oneDNN's deconvolution, NCHW) -------------------------------------------------------
// Weights in torch.nn.ConvTranspose2d's layout [C, F/groups, KH, KW]: oneDNN's iohw (giohw with groups).
// oneDNN checks the sizes as a convolution from y to x (integer division), so with output_pad below the stride
// (OpDecode.cpp) the padding is symmetric: pb = pt, pr = pl.
// The logical dims are conv2d's (oneDNN orders a deconvolution's weight dims o, i, h, w as well); only the weights'
// memory layout differs: (g)iohw, which is torch's [C, F/groups, KH, KW].
ConvGeom deconv_geom(const dls_op_desc& op) {
  ConvGeom g = conv_geom(op);
  g.wtag = op.win.groups > 1 ? tag::giohw : tag::iohw;
  return g;
}

void deconv_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  ConvGeom G = deconv_geom(op);
  auto xa = fmd(G.x, tag::nchw), wa = fmd(G.w, G.wtag), ya = fmd(G.y, tag::nchw), ba = fmd(G.b, tag::a);
  const bool has_b = T[2].id >= 0;
  auto d = has_b ? deconvolution_forward::desc(prop_kind::forward_training, algorithm::deconvolution_direct, xa, wa, ba, ya,
                                               G.strides, G.dil, G.pl, G.pr)
                 : deconvolution_forward::desc(prop_kind::forward_training, algorithm::deconvolution_direct, xa, wa, ya,
                                               G.strides, G.dil, G.pl, G.pr);
  auto pd = deconvolution_forward::primitive_desc(d, c.eng);
  std::unordered_map<int, memory> a;
  std::vector<Step> post;
  a[DNNL_ARG_SRC] = in_arg(c, st.train, umem(c, G.x, tag::nchw, T[0].data), pd.src_desc());
  a[DNNL_ARG_WEIGHTS] = in_arg(c, st.train, umem(c, G.w, G.wtag, T[1].data), pd.weights_desc());
  if (has_b) a[DNNL_ARG_BIAS] = umem(c, G.b, tag::a, T[2].data);
  a[DNNL_ARG_DST] = out_arg(c, post, umem(c, G.y, tag::nchw, T[3].data), pd.dst_desc());
  st.train.push_back(prim_step(deconvolution_forward(pd), a));
  for (auto& s2 : post) st.train.push_back(std::move(s2));
  st.fwd_pd = std::make_shared<deconvolution_forward::primitive_desc>(pd);
}

void deconv_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  const auto& T = op.tensors;
  ConvGeom G = deconv_geom(op);
  auto* F = static_cast<deconvolution_forward::primitive_desc*>(f.fwd_pd.get());
  auto xa = fmd(G.x, tag::nchw), wa = fmd(G.w, G.wtag), ya = fmd(G.y, tag::nchw), ba = fmd(G.b, tag::a);
  memory dy = umem(c, G.y, tag::nchw, g.dout.data);
  std::vector<Step> post;
  if (g.nins > 0 && g.dins[0].data) {
    auto d = deconvolution_backward_data::desc(algorithm::deconvolution_direct, xa, wa, ya, G.strides, G.dil, G.pl, G.pr);
    auto pd = deconvolution_backward_data::primitive_desc(d, c.eng, *F);
    std::vector<Step> post2;
    std::unordered_map<int, memory> a;
    a[DNNL_ARG_DIFF_DST] = in_arg(c, st.train, dy, pd.diff_dst_desc());
    a[DNNL_ARG_WEIGHTS] = in_arg(c, st.train, umem(c, G.w, G.wtag, T[1].data), pd.weights_desc());
    a[DNNL_ARG_DIFF_SRC] = out_arg(c, post2, umem(c, G.x, tag::nchw, grad_dst(st, g, 0, post)), pd.diff_src_desc());
    st.train.push_back(prim_step(deconvolution_backward_data(pd), a));
    for (auto& s2 : post2) st.train.push_back(std::move(s2));
  }
  if (g.dparams[0].id >= 0) {
    const bool has_b = T[2].id >= 0 && g.dparams[1].id >= 0;
    auto d = has_b ? deconvolution_backward_weights::desc(algorithm::deconvolution_direct, xa, wa, ba, ya, G.strides, G.dil,
                                                          G.pl, G.pr)
                   : deconvolution_backward_weights::desc(algorithm::deconvolution_direct, xa, wa, ya, G.strides, G.dil,
                                                          G.pl, G.pr);
    auto pd = deconvolution_backward_weights::primitive_desc(d, c.eng, *F);
    std::vector<Step> post2;
    std::unordered_map<int, memory> a;
    a[DNNL_ARG_SRC] = in_arg(c, st.train, umem(c, G.x, tag::nchw, T[0].data), pd.src_desc());
    a[DNNL_ARG_DIFF_DST] = in_arg(c, st.train, dy, pd.diff_dst_desc());
    a[DNNL_ARG_DIFF_WEIGHTS] = out_arg(c, post2, umem(c, G.w, G.wtag, g.dparams[0].data), pd.diff_weights_desc());
    if (has_b) a[DNNL_ARG_DIFF_BIAS] = umem(c, G.b, tag::a, g.dparams[1].data);
    st.train.push_back(prim_step(deconvolution_backward_weights(pd), a));
    for (auto& s2 : post2) st.train.push_back(std::move(s2));
  }
  for (auto& s2 : post) st.train.push_back(std::move(s2));
}

// ---- pooling ------------------------------------------------------------------------------------------
// Runs in the layout its input is stored in (channels-last after a convolution) and leaves its output so.
struct PoolPds {
  pooling_v2_forward::primitive_desc fwd;
  bool cl = false;
};
algorithm pool_alg(int opcode) {
  return opcode == DLS_OP_MAXPOOL ? algorithm::pooling_max : algorithm::pooling_avg_exclude_padding;
}

void pool_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  const dls_window2d& v = op.win;
  const memory::dims xd = {v.n, v.c, v.h, v.w}, yd = {v.n, v.c, v.oh, v.ow};
  memory xm = layouts_on() ? act_in(c, st.train, st, op.tensors[0].data, xd) : umem(c, xd, tag::nchw, op.tensors[0].data);
  const bool cl = xm.get_desc() == fmd(xd, tag::nhwc);
  auto x = xm.get_desc(), y = fmd(yd, cl ? tag::nhwc : tag::nchw);
  // oneDNN counts dilation from 0 (torch's dilation - 1).
  auto d = pooling_v2_forward::desc(prop_kind::forward_training, pool_alg(op.opcode), x, y, {v.sh, v.sw}, {v.kh, v.kw},
                                    {v.dh - 1, v.dw - 1}, {v.pt, v.pl}, {v.pb, v.pr});
  auto pd = pooling_v2_forward::primitive_desc(d, c.eng);
  std::unordered_map<int, memory> a{{DNNL_ARG_SRC, xm}, {DNNL_ARG_DST, memory(y, c.eng, op.tensors[1].data)}};
  if (op.opcode == DLS_OP_MAXPOOL) {
    st.workspace = memory(pd.workspace_desc(), c.eng);
    a[DNNL_ARG_WORKSPACE] = st.workspace;
  }
  st.train.push_back(prim_step(pooling_v2_forward(pd), a));
  if (cl) {
    mark(c, op.tensors[1].data, yd, &st);
  } else {
    unmark(c, op.tensors[1].data, size_t(op.tensors[1].numel) * 4);
  }
  st.fwd_pd = std::make_shared<PoolPds>(PoolPds{pd, cl});
}

void pool_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  const dls_window2d& v = op.win;
  if (g.nins < 1 || !g.dins[0].data) return;
  auto* F = static_cast<PoolPds*>(f.fwd_pd.get());
  const memory::dims xd = {v.n, v.c, v.h, v.w}, yd = {v.n, v.c, v.oh, v.ow};
  const tag t = F->cl ? tag::nhwc : tag::nchw;
  auto x = fmd(xd, t), y = fmd(yd, t);
  std::vector<Step> post;
  memory dy_user = layouts_on() ? act_in(c, st.train, st, g.dout.data, yd) : umem(c, yd, tag::nchw, g.dout.data);
  memory dy = in_arg(c, st.train, dy_user, y);
  memory dx;
  if (layouts_on()) {
    dx = grad_act_out(c, st, g, 0, xd, F->cl, post);
  } else {
    dx = umem(c, xd, tag::nchw, grad_dst(st, g, 0, post));
  }
  auto d = pooling_v2_backward::desc(pool_alg(op.opcode), x, y, {v.sh, v.sw}, {v.kh, v.kw}, {v.dh - 1, v.dw - 1},
                                     {v.pt, v.pl}, {v.pb, v.pr});
  auto pd = pooling_v2_backward::primitive_desc(d, c.eng, F->fwd);
  std::unordered_map<int, memory> a{{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, dx}};
  if (op.opcode == DLS_OP_MAXPOOL) a[DNNL_ARG_WORKSPACE] = f.workspace;
  st.train.push_back(prim_step(pooling_v2_backward(pd), a));
  for (auto& s : post) st.train.push_back(std::move(s));
}

// ---- batch norm -----------------------------------------------------------------------------------------
// A partial batch (the last of an epoch under drop_last: false, padded to the plan's N) is normalised over
// its real rows only, as PyTorch normalises a batch of that size: primitives for those rows run on the same
// buffers (samples are the outermost axis of the plain NCHW layout), and the padded rows' outputs and input
// gradients are zero.
struct BnPds {
  batch_normalization_forward::primitive_desc fwd;
  struct Rows {  // the primitives for a batch of `rows` real rows (rows < N)
    batch_normalization_forward::primitive_desc fwd_pd;
    batch_normalization_forward fwd;
    std::optional<batch_normalization_backward> bwd;
  };
  std::map<int64_t, Rows> partial;
  int64_t rows = 0;  // real rows of the last training forward
};
memory::dims bn_dims(const dls_tensor_desc& x, int64_t rows = 0) {
  return {rows > 0 ? rows : x.dims[0], x.dims[1], x.dims[2], x.dims[3]};
}
const normalization_flags kScaleShift = normalization_flags::use_scale | normalization_flags::use_shift;
// The real rows of a training step's batch of N: N unless the step says fewer.
int64_t real_rows(const dls_step_ctx& s, int64_t N) { return s.valid_rows > 0 && s.valid_rows < N ? s.valid_rows : N; }

void bn_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  const auto& T = op.tensors;
  const float eps = float(op.attrs[0]), momentum = float(op.attrs[1]);
  auto x = fmd(bn_dims(T[0]), tag::nchw);
  const int64_t N = T[0].dims[0], C = T[0].dims[1];
  const int64_t per = T[0].numel / N;  // elements of one sample
  auto cm = fmd({C}, tag::a);
  auto pd = batch_normalization_forward::primitive_desc(
      batch_normalization_forward::desc(prop_kind::forward_training, x, eps, kScaleShift), c.eng);
  st.mean = memory(pd.mean_desc(), c.eng);
  st.var = memory(pd.variance_desc(), c.eng);
  memory xm(x, c.eng, T[0].data), ym(x, c.eng, T[5].data), sc(cm, c.eng, T[1].data), sh(cm, c.eng, T[2].data);
  auto pds = std::make_shared<BnPds>(BnPds{pd, {}, 0});
  BnPds* P = pds.get();
  const std::unordered_map<int, memory> args{{DNNL_ARG_SRC, xm},      {DNNL_ARG_DST, ym},
                                             {DNNL_ARG_SCALE, sc},    {DNNL_ARG_SHIFT, sh},
                                             {DNNL_ARG_MEAN, st.mean}, {DNNL_ARG_VARIANCE, st.var}};
  float* rm = fptr(T[3]);
  float* rv = fptr(T[4]);
  float* bm = static_cast<float*>(st.mean.get_data_handle());
  float* bv = static_cast<float*>(st.var.get_data_handle());
  float* xp = fptr(T[0]);
  float* yp = fptr(T[5]);
  const dls_tensor_desc xd = T[0];
  st.train.push_back(fn_step([=, full = batch_normalization_forward(pd), eng = c.eng, strm = c.strm](
                                 const dls_step_ctx& s) mutable {
    const int64_t rows = real_rows(s, N);
    P->rows = rows;
    if (rows == N) {
      full.execute(strm, args);
    } else {
      auto it = P->partial.find(rows);
      if (it == P->partial.end()) {
        auto xr = fmd(bn_dims(xd, rows), tag::nchw);
        auto rpd = batch_normalization_forward::primitive_desc(
            batch_normalization_forward::desc(prop_kind::forward_training, xr, eps, kScaleShift), eng);
        it = P->partial.emplace(rows, BnPds::Rows{rpd, batch_normalization_forward(rpd), std::nullopt}).first;
      }
      auto xr = fmd(bn_dims(xd, rows), tag::nchw);
      auto a = args;
      a[DNNL_ARG_SRC] = memory(xr, eng, xp);
      a[DNNL_ARG_DST] = memory(xr, eng, yp);
      it->second.fwd.execute(strm, a);
      std::memset(yp + rows * per, 0, size_t((N - rows) * per) * sizeof(float));
    }
    strm.wait();
    // Running statistics, as PyTorch: r = (1 - m) r + m * batch, with the unbiased batch variance.
    const double n = double(rows * per / C);
    const float unbias = n > 1 ? float(n / (n - 1)) : 1.f;
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
  st.fwd_pd = pds;
}

void bn_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  const auto& T = op.tensors;
  auto x = fmd(bn_dims(T[0]), tag::nchw);
  const int64_t N = T[0].dims[0], C = T[0].dims[1];
  const int64_t per = T[0].numel / N;
  const float eps = float(op.attrs[0]);
  auto cm = fmd({C}, tag::a);
  std::vector<Step> post;
  float* dx = grad_dst(st, g, 0, post);
  Buf* scratch_dx = dx ? nullptr : st.buf((size_t)T[0].numel);  // oneDNN always writes diff_src
  Buf* dscale = g.dparams[0].id >= 0 ? nullptr : st.buf((size_t)C);
  Buf* dshift = g.dparams[1].id >= 0 ? nullptr : st.buf((size_t)C);
  BnPds* P = static_cast<BnPds*>(f.fwd_pd.get());
  auto pd = batch_normalization_backward::primitive_desc(
      batch_normalization_backward::desc(prop_kind::backward, x, x, eps, kScaleShift), c.eng, P->fwd);
  float* xp = fptr(T[0]);
  float* dyp = g.dout.data ? static_cast<float*>(g.dout.data) : nullptr;
  float* dxp = dx ? dx : scratch_dx->p;
  const std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, memory(x, c.eng, xp)}, {DNNL_ARG_MEAN, f.mean}, {DNNL_ARG_VARIANCE, f.var},
      {DNNL_ARG_DIFF_DST, memory(x, c.eng, dyp)}, {DNNL_ARG_SCALE, memory(cm, c.eng, T[1].data)},
      {DNNL_ARG_SHIFT, memory(cm, c.eng, T[2].data)}, {DNNL_ARG_DIFF_SRC, memory(x, c.eng, dxp)},
      {DNNL_ARG_DIFF_SCALE, memory(cm, c.eng, dscale ? dscale->p : g.dparams[0].data)},
      {DNNL_ARG_DIFF_SHIFT, memory(cm, c.eng, dshift ? dshift->p : g.dparams[1].data)}};
  const dls_tensor_desc xd = T[0];
  st.train.push_back(fn_step([=, full = batch_normalization_backward(pd), eng = c.eng, strm = c.strm](
                                 const dls_step_ctx&) mutable {
    const int64_t rows = P->rows > 0 && P->rows < N ? P->rows : N;
    if (rows == N) {
      full.execute(strm, args);
    } else {
      BnPds::Rows& R = P->partial.at(rows);  // made by the forward pass of this step
      auto xr = fmd(bn_dims(xd, rows), tag::nchw);
      if (!R.bwd)
        R.bwd.emplace(batch_normalization_backward::primitive_desc(
            batch_normalization_backward::desc(prop_kind::backward, xr, xr, eps, kScaleShift), eng, R.fwd_pd));
      auto a = args;
      a[DNNL_ARG_SRC] = memory(xr, eng, xp);
      a[DNNL_ARG_DIFF_DST] = memory(xr, eng, dyp);
      a[DNNL_ARG_DIFF_SRC] = memory(xr, eng, dxp);
      R.bwd->execute(strm, a);
      std::memset(dxp + rows * per, 0, size_t((N - rows) * per) * sizeof(float));
    }
    strm.wait();
  }));
  for (auto& s : post) st.train.push_back(std::move(s));
}

// ---- eltwise and softmax ----------------------------------------------------------------------------------
// Backward reads: relu, leaky_relu, tanh, sigmoid read the output y; gelu reads the input x.
struct EltPds {
  eltwise_forward::primitive_desc fwd;
};
void elt_alg(int opcode, const double* attrs, algorithm& fwd, algorithm& bwd, float& alpha, float& beta,
             bool& use_dst) {
  alpha = 0, beta = 0, use_dst = true;
  switch (opcode) {
    case DLS_OP_ELU: fwd = bwd = algorithm::eltwise_elu, alpha = float(attrs[0]), use_dst = false; break;
    case DLS_OP_SILU: fwd = bwd = algorithm::eltwise_swish, alpha = 1.f, use_dst = false; break;
    case DLS_OP_MISH: fwd = bwd = algorithm::eltwise_mish, use_dst = false; break;
    case DLS_OP_HARDSWISH: fwd = bwd = algorithm::eltwise_hardswish, use_dst = false; break;
    case DLS_OP_RELU6: fwd = bwd = algorithm::eltwise_clip_v2, beta = 6.f, use_dst = false; break;
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
// The activations with a oneDNN 2.6 algorithm (elt_alg); the others of loop_act_kind run a loop.
bool onednn_act(int opcode) {
  switch (opcode) {
    case DLS_OP_ELU: case DLS_OP_SILU: case DLS_OP_MISH: case DLS_OP_HARDSWISH: case DLS_OP_RELU6: return true;
    default: return false;
  }
}
// Darknet's ramp, y = max(x, 0) + 0.1 x: no oneDNN algorithm, a loop (layout-blind like the primitives).
void ramp_loop(const float* __restrict x, float* __restrict y, int64_t n) {
#pragma omp parallel for simd if (n > 262144) schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] > 0.f ? x[i] : 0.f) + 0.1f * x[i];
}
// dx = dy * ramp'(x), from y (y > 0 exactly where x > 0).
void ramp_grad_loop(const float* __restrict y, const float* __restrict dy, float* __restrict dx, int64_t n) {
#pragma omp parallel for simd if (n > 262144) schedule(static)
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * ((y[i] > 0.f ? 1.f : 0.f) + 0.1f);
}

void elt_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  const bool ramp = op.opcode == DLS_OP_RAMP;
  // Element-wise: the output keeps the input's layout (channels-last stays channels-last).
  const Nhwc* in = layouts_on() ? marked(c, op.tensors[0].data) : nullptr;
  if (in && in->bytes == size_t(op.tensors[0].numel) * 4) {
    st.out_cl = in->dims;
    mark(c, op.tensors[1].data, st.out_cl, &st);
  } else {
    void* x = op.tensors[0].data;
    if (in) x = to_plain_copy(c, st.train, st.sbufs, x, *in);
    st.subst.assign(op.tensors, op.tensors + op.ntensors);
    st.subst[0].data = x;
    unmark(c, op.tensors[1].data, size_t(op.tensors[1].numel) * 4);
  }
  void* xp = st.subst.empty() ? op.tensors[0].data : st.subst[0].data;
  if (ramp) {
    const float* x = static_cast<const float*>(xp);
    float* y = fptr(op.tensors[1]);
    const int64_t n = op.tensors[0].numel;
    st.train.push_back(fn_step([=](const dls_step_ctx&) { ramp_loop(x, y, n); }));
    return;
  }
  if (const int kind = loop_act_kind(op.opcode); kind >= 0 && !onednn_act(op.opcode)) {
    const float* x = static_cast<const float*>(xp);
    float* y = fptr(op.tensors[1]);
    const int64_t n = op.tensors[0].numel;
    const float a = op.nattrs > 0 ? float(op.attrs[0]) : 0.f, b = op.nattrs > 1 ? float(op.attrs[1]) : 0.f;
    st.train.push_back(fn_step([=](const dls_step_ctx&) { act_loop(kind, x, y, n, a, b); }));
    return;
  }
  algorithm fa, ba;
  float alpha, beta;
  bool use_dst;
  elt_alg(op.opcode, op.attrs, fa, ba, alpha, beta, use_dst);
  auto m = fmd({op.tensors[0].numel}, tag::a);
  auto pd = eltwise_forward::primitive_desc(eltwise_forward::desc(prop_kind::forward_training, fa, m, alpha, beta), c.eng);
  st.train.push_back(prim_step(eltwise_forward(pd), {{DNNL_ARG_SRC, memory(m, c.eng, xp)},
                                                     {DNNL_ARG_DST, memory(m, c.eng, op.tensors[1].data)}}));
  st.fwd_pd = std::make_shared<EltPds>(EltPds{pd});
}
void elt_bwd(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  const dls_op_desc& op = *g.fwd;
  algorithm fa, ba;
  float alpha, beta;
  bool use_dst;
  elt_alg(op.opcode, op.attrs, fa, ba, alpha, beta, use_dst);
  std::vector<Step> post;
  if (g.nins < 1 || !g.dins[0].data) return;
  auto m = fmd({op.tensors[0].numel}, tag::a);
  // Everything runs in the layout the forward left its output in (f.out_cl; empty: NCHW).
  const bool cl = !f.out_cl.empty();
  void* dyp = g.dout.data;
  if (layouts_on()) {
    const Nhwc* dm = marked(c, dyp);
    if (cl && !(dm && dm->dims == f.out_cl)) {
      memory plain = dm ? umem(c, dm->dims, tag::nchw, to_plain_copy(c, st.train, st.sbufs, dyp, *dm))
                        : umem(c, f.out_cl, tag::nchw, dyp);
      st.sbufs.push_back(std::make_unique<Buf>((size_t)op.tensors[0].numel));
      memory inner = umem(c, f.out_cl, tag::nhwc, st.sbufs.back()->p);
      st.train.push_back(prim_step(reorder(plain, inner), {{DNNL_ARG_FROM, plain}, {DNNL_ARG_TO, inner}}));
      dyp = inner.get_data_handle();
    } else if (!cl && dm) {
      dyp = to_plain_copy(c, st.train, st.sbufs, dyp, *dm);
    }
  }
  void* dx;
  if (layouts_on() && cl) {
    dx = grad_act_out(c, st, g, 0, f.out_cl, true, post).get_data_handle();
  } else if (layouts_on() && marked(c, g.dins[0].data) && ((g.accumulate_mask & 1u) != 0)) {
    const Nhwc* tm = marked(c, g.dins[0].data);
    dx = grad_act_out(c, st, g, 0, tm->dims, false, post).get_data_handle();
  } else {
    if (layouts_on() && !(g.accumulate_mask & 1u)) unmark(c, g.dins[0].data, size_t(g.dins[0].numel) * 4);
    dx = grad_dst(st, g, 0, post);
  }
  void* fwd_in = (!f.subst.empty()) ? f.subst[0].data : op.tensors[0].data;
  if (op.opcode == DLS_OP_RAMP) {  // reads y, in the layout the forward left it in, like dy and dx here
    const float* y = fptr(op.tensors[1]);
    const float* dyf = static_cast<const float*>(dyp);
    float* dxf = static_cast<float*>(dx);
    const int64_t n = op.tensors[0].numel;
    st.train.push_back(fn_step([=](const dls_step_ctx&) { ramp_grad_loop(y, dyf, dxf, n); }));
    for (auto& s : post) st.train.push_back(std::move(s));
    return;
  }
  if (const int kind = loop_act_kind(op.opcode); kind >= 0 && !onednn_act(op.opcode)) {
    // reads x, in the layout the forward left its output in (an eltwise op keeps its input's)
    const float* x = static_cast<const float*>(fwd_in);
    const float* dyf = static_cast<const float*>(dyp);
    float* dxf = static_cast<float*>(dx);
    const int64_t n = op.tensors[0].numel;
    const float a = op.nattrs > 0 ? float(op.attrs[0]) : 0.f, b = op.nattrs > 1 ? float(op.attrs[1]) : 0.f;
    st.train.push_back(fn_step([=](const dls_step_ctx&) { act_grad_loop(kind, x, dyf, dxf, n, a, b, false); }));
    for (auto& s : post) st.train.push_back(std::move(s));
    return;
  }
  auto pd = eltwise_backward::primitive_desc(eltwise_backward::desc(ba, m, m, alpha, beta), c.eng,
                                             static_cast<EltPds*>(f.fwd_pd.get())->fwd);
  st.train.push_back(prim_step(eltwise_backward(pd),
                               {{use_dst ? DNNL_ARG_DST : DNNL_ARG_SRC,
                                 memory(m, c.eng, use_dst ? op.tensors[1].data : fwd_in)},
                                {DNNL_ARG_DIFF_DST, memory(m, c.eng, dyp)},
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

// Darknet's reorg (runtime.h DLS_OP_REORG, extra = 0) over N samples of C x H x W (x's dims): y = perm(x), or
// with `grad`, dx (=|+=) perm^-1(dy). A permutation, so every target element is written exactly once.
void reorg_loop(const float* __restrict src, float* __restrict dst, int64_t N, int64_t C, int64_t H, int64_t W,
                int64_t s, bool grad, bool acc) {
  const int64_t Cp = C / (s * s), HW = H * W;
#pragma omp parallel for if (N * C * HW > 262144) schedule(static)
  for (int64_t bk = 0; bk < N * C; ++bk) {
    const int64_t b = bk / C, k = bk % C, o = k / Cp, c2 = k % Cp;
    const int64_t ybase = bk * HW, xbase = b * C * HW + (c2 * H * s + o / s) * W * s + o % s;
    for (int64_t j = 0; j < H; ++j)
      for (int64_t i = 0; i < W; ++i) {
        const int64_t yi = ybase + j * W + i, xi = xbase + j * s * W * s + i * s;
        if (!grad) {
          dst[yi] = src[xi];
        } else {
          dst[xi] = acc ? dst[xi] + src[yi] : src[yi];
        }
      }
  }
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
        const int64_t first = s.shard * n;  // this rank's place in the global batch (dls_step_ctx::shard)
        for (int64_t i = 0; i < n; ++i) {
          mask[i] = u01(mix64(key ^ (uint64_t)(first + i) * 0x9e3779b97f4a7c15ull)) >= p ? scale : 0.f;
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
    case DLS_OP_SCALED_ADD: {
      const float* x = fptr(T[0]);
      float* y = fptr(T[1]);
      const float a = float(op.attrs[0]);
      const bool acc = op.attrs[1] != 0;
      int64_t n = T[1].numel;
      st.train.push_back(fn_step([=](const dls_step_ctx&) {
        if (acc) {
          for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
        } else {
          for (int64_t i = 0; i < n; ++i) y[i] = a * x[i];
        }
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
        dls_around_axis(&y, axis, &outer, &inner);
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
          for (int64_t i = 0; i < C; ++i) y[r * C + i] = float((xr[i] - m) * double(rstd)) * gm[i] + bt[i];
        }
      }));
      return;
    }
    case DLS_OP_REORG: {
      const float* x = fptr(T[0]);
      float* y = fptr(T[1]);
      const int64_t N = op.rows, n = op.cols, extra = (int64_t)op.attrs[1];
      if (extra > 0) {  // each sample flat, then `extra` zeros
        st.train.push_back(fn_step([=](const dls_step_ctx&) {
          for (int64_t b = 0; b < N; ++b) {
            std::memcpy(y + b * (n + extra), x + b * n, size_t(n) * 4);
            std::memset(y + b * (n + extra) + n, 0, size_t(extra) * 4);
          }
        }));
        return;
      }
      const int64_t s = (int64_t)op.attrs[0], C = T[0].dims[1], H = T[0].dims[2], W = T[0].dims[3];
      st.train.push_back(fn_step([=](const dls_step_ctx&) { reorg_loop(x, y, N, C, H, W, s, false, false); }));
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
        dls_around_axis(&y, axis, &outer, &inner);
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
          // xhat is re-centred on its own rounded mean: the stored mean is a float, and on a row whose spread
          // is small beside its mean, sum(xhat) would otherwise be far from 0 and the row's dx would not sum
          // to 0, which it does exactly in real arithmetic (a bias before layer_norm gets no gradient).
          double s0 = 0;
          for (int64_t i = 0; i < C; ++i) s0 += double((xr[i] - m) * rstd);
          const float c0 = float(s0 / double(C));
          double s1 = 0, s2 = 0;  // sum(dy*g), sum(dy*g*xhat)
          for (int64_t i = 0; i < C; ++i) {
            float xh = (xr[i] - m) * rstd - c0;
            if (dgam) dgam[i] += dyr[i] * xh;
            if (dbet) dbet[i] += dyr[i];
            s1 += double(dyr[i]) * gm[i];
            s2 += double(dyr[i] * gm[i]) * xh;
          }
          if (!dx.p) continue;
          for (int64_t i = 0; i < C; ++i) {
            float xh = (xr[i] - m) * rstd - c0;
            dx.put(r * C + i, rstd * (dyr[i] * gm[i] - float(s1 / C) - xh * float(s2 / C)));
          }
        }
      }));
      return;
    }
    case DLS_OP_REORG: {
      GradOut dx = gout(g, 0);
      if (!dx.p) return;
      const int64_t N = op.rows, n = op.cols, extra = (int64_t)op.attrs[1];
      if (extra > 0) {  // the appended zeros take no gradient
        st.train.push_back(fn_step([=](const dls_step_ctx&) {
          for (int64_t b = 0; b < N; ++b)
            for (int64_t i = 0; i < n; ++i) dx.put(b * n + i, dy[b * (n + extra) + i]);
        }));
        return;
      }
      const int64_t s = (int64_t)op.attrs[0], C = T[0].dims[1], H = T[0].dims[2], W = T[0].dims[3];
      st.train.push_back(fn_step([=](const dls_step_ctx&) { reorg_loop(dy, dx.p, N, C, H, W, s, true, dx.acc); }));
      return;
    }
    default: throw std::runtime_error("op has no gradient in the CPU backend");
  }
}

// ---- local (a convolution without weight sharing) ---------------------------------------------------------
// Per output position l = oh*OW + ow (L of them) one GEMM over the batch, with the im2col rows of all samples
// at that position gathered into col[l] = [N, K] (K = C*KH*KW, row order c, r, s as the weight's):
//   forward   Y_l[N, F] = col_l W_l^T                  (then y[n, f, l] = Y_l[n, f] + b[f, l])
//   backward  dW_l[F, K] = dY_l^T col_l,  dcol_l[N, K] = dY_l W_l,  dx = col2im(dcol),  db[f, l] = sum_n dy
// Positions are independent, so they are spread over the threads (each GEMM then runs on one thread).
// col is kept by the forward op for the gradient op (bufs[0]); x is not read again.
struct LocalGeom {
  int64_t N, C, H, W, F, R, S, OH, OW, L, K, sh, sw, pt, pl;
};
LocalGeom local_geom(const dls_op_desc& op) {
  const dls_window2d& v = op.win;
  return {v.n, v.c, v.h, v.w, v.k, v.kh, v.kw, v.oh, v.ow, v.oh * v.ow, v.c * v.kh * v.kw, v.sh, v.sw, v.pt, v.pl};
}

void local_fwd(Ctx& c, const dls_op_desc& op, OpState& st) {
  const LocalGeom G = local_geom(op);
  const auto& T = op.tensors;
  float* col = st.buf(size_t(G.L * G.N * G.K))->p;  // [L, N, K]
  float* yt = st.buf(size_t(G.L * G.N * G.F))->p;   // [L, N, F]
  const float* x = fptr(T[0]);
  const float* w = fptr(T[1]);
  const float* b = T[2].id >= 0 ? fptr(T[2]) : nullptr;
  float* y = fptr(T[3]);
  const int nt = std::max(1, c.threads);
  st.train.push_back(fn_step([=](const dls_step_ctx&) {
    const LocalGeom g = G;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t l = 0; l < g.L; ++l) {
      const int64_t oh = l / g.OW, ow = l % g.OW;
      float* cl = col + l * g.N * g.K;
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t ch = 0; ch < g.C; ++ch) {
          const float* xc = x + (n * g.C + ch) * g.H * g.W;
          float* cr = cl + n * g.K + ch * g.R * g.S;
          for (int64_t r = 0; r < g.R; ++r) {
            const int64_t ih = oh * g.sh - g.pt + r;
            for (int64_t s2 = 0; s2 < g.S; ++s2) {
              const int64_t iw = ow * g.sw - g.pl + s2;
              cr[r * g.S + s2] = (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ? xc[ih * g.W + iw] : 0.f;
            }
          }
        }
      dnnl_sgemm('N', 'T', g.N, g.F, g.K, 1.f, cl, g.K, w + l * g.F * g.K, g.K, 0.f, yt + l * g.N * g.F, g.F);
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t nf = 0; nf < g.N * g.F; ++nf) {
      const int64_t n = nf / g.F, f = nf % g.F;
      float* yr = y + nf * g.L;
      for (int64_t l = 0; l < g.L; ++l) yr[l] = yt[(l * g.N + n) * g.F + f] + (b ? b[f * g.L + l] : 0.f);
    }
  }));
}

void local_bwd(Ctx& c, const dls_grad_op_desc& gd, OpState& f, OpState& st) {
  const dls_op_desc& op = *gd.fwd;
  const LocalGeom G = local_geom(op);
  const auto& T = op.tensors;
  const float* col = f.bufs.at(0)->p;
  const float* w = fptr(T[1]);
  const float* dy = fptr(gd.dout);
  float* dw = gd.dparams[0].id >= 0 ? fptr(gd.dparams[0]) : nullptr;
  float* db = T[2].id >= 0 && gd.dparams[1].id >= 0 ? fptr(gd.dparams[1]) : nullptr;
  const GradOut dx = gout(gd, 0);
  if (!dw && !db && !dx.p) return;
  float* dyt = st.buf(size_t(G.L * G.N * G.F))->p;                      // [L, N, F]
  float* dcol = dx.p ? st.buf(size_t(G.L * G.N * G.K))->p : nullptr;  // [L, N, K]
  const int nt = std::max(1, c.threads);
  st.train.push_back(fn_step([=](const dls_step_ctx&) {
    const LocalGeom g = G;
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(static)
      for (int64_t nf = 0; nf < g.N * g.F; ++nf) {
        const int64_t n = nf / g.F, fi = nf % g.F;
        const float* dr = dy + nf * g.L;
        for (int64_t l = 0; l < g.L; ++l) dyt[(l * g.N + n) * g.F + fi] = dr[l];
      }
      if (db) {
#pragma omp for schedule(static)
        for (int64_t fl = 0; fl < g.F * g.L; ++fl) {
          const int64_t fi = fl / g.L, l = fl % g.L;
          float sum = 0.f;
          for (int64_t n = 0; n < g.N; ++n) sum += dy[(n * g.F + fi) * g.L + l];
          db[fl] = sum;
        }
      }
#pragma omp for schedule(static)
      for (int64_t l = 0; l < g.L; ++l) {
        const float* dyl = dyt + l * g.N * g.F;
        if (dw) dnnl_sgemm('T', 'N', g.F, g.K, g.N, 1.f, dyl, g.F, col + l * g.N * g.K, g.K, 0.f, dw + l * g.F * g.K, g.K);
        if (dcol) dnnl_sgemm('N', 'N', g.N, g.K, g.F, 1.f, dyl, g.F, w + l * g.F * g.K, g.K, 0.f, dcol + l * g.N * g.K, g.K);
      }
      if (dcol) {  // col2im: one (sample, channel) plane per iteration, so no two threads add into one element
#pragma omp for schedule(static)
        for (int64_t nc = 0; nc < g.N * g.C; ++nc) {
          const int64_t n = nc / g.C, ch = nc % g.C;
          float* dp = dx.p + nc * g.H * g.W;
          if (!dx.acc) std::memset(dp, 0, size_t(g.H * g.W) * 4);
          for (int64_t l = 0; l < g.L; ++l) {
            const int64_t oh = l / g.OW, ow = l % g.OW;
            const float* dc = dcol + (l * g.N + n) * g.K + ch * g.R * g.S;
            for (int64_t r = 0; r < g.R; ++r) {
              const int64_t ih = oh * g.sh - g.pt + r;
              if (ih < 0 || ih >= g.H) continue;
              for (int64_t s2 = 0; s2 < g.S; ++s2) {
                const int64_t iw = ow * g.sw - g.pl + s2;
                if (iw >= 0 && iw < g.W) dp[ih * g.W + iw] += dc[r * g.S + s2];
              }
            }
          }
        }
      }
    }
  }));
}

}  // namespace

// Host copies see NCHW: a copy of a whole channels-last tensor is transposed on the way (to_host: from the
// arena's NHWC into the host's NCHW; to the device: the reverse). Returns false when p holds no such tensor.
bool copy_with_layout(Ctx& c, void* dst, const void* src, size_t bytes, bool to_host) {
  const void* dev = to_host ? src : dst;
  const Nhwc* m = marked(c, dev);
  if (!m || m->bytes != bytes) return false;
  memory nhwc_m(fmd(m->dims, tag::nhwc), c.eng, const_cast<void*>(dev));
  memory nchw_m(fmd(m->dims, tag::nchw), c.eng, to_host ? dst : const_cast<void*>(src));
  if (to_host) {
    reorder(nhwc_m, nchw_m).execute(c.strm, nhwc_m, nchw_m);
  } else {
    reorder(nchw_m, nhwc_m).execute(c.strm, nchw_m, nhwc_m);
  }
  c.strm.wait();
  return true;
}

namespace {
bool layout_aware(int opcode) {
  switch (opcode) {
    case DLS_OP_CONV2D: case DLS_OP_MAXPOOL: case DLS_OP_AVGPOOL:
    case DLS_OP_RELU: case DLS_OP_LEAKY_RELU: case DLS_OP_GELU: case DLS_OP_TANH: case DLS_OP_SIGMOID:
    case DLS_OP_RAMP: case DLS_OP_ELU: case DLS_OP_SELU: case DLS_OP_SILU: case DLS_OP_MISH: case DLS_OP_SOFTPLUS:
    case DLS_OP_HARDSWISH: case DLS_OP_HARDSIGMOID: case DLS_OP_RELU6:
      return true;
    default: return false;
  }
}
// Index of a forward op's output tensor (runtime.h): pooling (x, y, workspace) has it second, others last.
int output_index(const dls_op_desc& op) {
  return (op.opcode == DLS_OP_MAXPOOL || op.opcode == DLS_OP_AVGPOOL) ? 1 : op.ntensors - 1;
}
size_t tensor_bytes(const dls_tensor_desc& t) { return size_t(t.numel) * (t.dtype == DLS_F32 || t.dtype == DLS_I32 ? 4 : 8); }

// The network output (read by the host for accuracy and predict) must be NCHW: its producer converts it
// back in place after it ran.
void make_plain_in_place(Ctx& c, void* p) {
  const Nhwc* m = marked(c, p);
  if (!m) return;
  OpState* prod = m->producer;
  Nhwc mk = *m;
  prod->sbufs.push_back(std::make_unique<Buf>(mk.bytes / 4));
  float* tmp = prod->sbufs.back()->p;
  memory from(fmd(mk.dims, tag::nhwc), c.eng, p), to(fmd(mk.dims, tag::nchw), c.eng, tmp);
  auto steps = [&](std::vector<Step>& v) {
    v.push_back(prim_step(reorder(from, to), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}));
    v.push_back(fn_step([=](const dls_step_ctx&) { std::memcpy(p, tmp, mk.bytes); }));
  };
  steps(prod->train);
  if (!prod->eval.empty()) steps(prod->eval);
  prod->out_cl.clear();
  unmark(c, p, mk.bytes);
}
}  // namespace

void build_forward(Ctx& c, const dls_op_desc& op, OpState& st) {
  st.opcode = op.opcode;
  if (layouts_on() && !layout_aware(op.opcode)) {
    // A plain op: channels-last inputs are copied to NCHW first; its output overwrites any marks.
    if (schema::isLoss(op.opcode) && op.ntensors > 0) make_plain_in_place(c, op.tensors[0].data);
    if (op.opcode == DLS_OP_COSINE_EMBEDDING && op.ntensors > 1) make_plain_in_place(c, op.tensors[1].data);
    const int out = output_index(op);
    std::vector<Step> pre;
    st.subst.assign(op.tensors, op.tensors + op.ntensors);
    for (int i = 0; i < op.ntensors; ++i) {
      if (i == out || !st.subst[i].data) continue;
      if (const Nhwc* m = marked(c, st.subst[i].data)) {
        st.subst[i].data = to_plain_copy(c, pre, st.sbufs, st.subst[i].data, *m);
        st.has_subst = true;
      }
    }
    if (out >= 0 && op.tensors[out].data) unmark(c, op.tensors[out].data, tensor_bytes(op.tensors[out]));
    if (st.has_subst) {
      st.subst_desc = op;
      st.subst_desc.tensors = st.subst.data();
      build_forward_plain(c, st.subst_desc, st);
      st.train.insert(st.train.begin(), std::make_move_iterator(pre.begin()), std::make_move_iterator(pre.end()));
      if (!st.eval.empty()) {
        // the eval list gets its own copy steps (same primitives and buffers)
        std::vector<Step> pre2;
        for (size_t k = 0; k < pre.size(); ++k) pre2.push_back(st.train[k]);
        st.eval.insert(st.eval.begin(), pre2.begin(), pre2.end());
      }
      return;
    }
    st.subst.clear();
  }
  build_forward_plain(c, op, st);
}

void build_forward_plain(Ctx& c, const dls_op_desc& op, OpState& st) {
  if (build_loss_forward(op, st)) return;
  switch (op.opcode) {
    case DLS_OP_DENSE: dense_fwd(c, op, st); break;
    case DLS_OP_CONV2D: conv_fwd(c, op, st); break;
    case DLS_OP_MAXPOOL: case DLS_OP_AVGPOOL: pool_fwd(c, op, st); break;
    case DLS_OP_BATCH_NORM: bn_fwd(c, op, st); break;
    case DLS_OP_RELU: case DLS_OP_LEAKY_RELU: case DLS_OP_GELU: case DLS_OP_TANH: case DLS_OP_SIGMOID:
    case DLS_OP_RAMP: case DLS_OP_ELU: case DLS_OP_SELU: case DLS_OP_SILU: case DLS_OP_MISH: case DLS_OP_SOFTPLUS:
    case DLS_OP_HARDSWISH: case DLS_OP_HARDSIGMOID: case DLS_OP_RELU6:
      elt_fwd(c, op, st);
      break;
    case DLS_OP_LOCAL: local_fwd(c, op, st); break;
    case DLS_OP_CONV_TRANSPOSE2D: deconv_fwd(c, op, st); break;
    case DLS_OP_SOFTMAX: case DLS_OP_LOG_SOFTMAX: softmax_fwd(c, op, st); break;
    case DLS_OP_RNN: case DLS_OP_GRU: case DLS_OP_LSTM: recurrent_fwd(c, op, st); break;
    case DLS_OP_MULTI_HEAD_ATTENTION: case DLS_OP_CROSS_ATTENTION: attention_fwd(c, op, st); break;
    case DLS_OP_POSITIONAL_EMBEDDING: positional_fwd(c, op, st); break;
    default:
      if (!more_fwd(op, st)) misc_fwd(op, st);
      break;
  }
}

void build_backward(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  st.opcode = f.opcode;
  if (layouts_on() && !layout_aware(g.fwd->opcode)) {
    // A plain gradient op: it sees the forward's NCHW copies, an NCHW copy of a channels-last d(output),
    // and writes NCHW d(inputs) (accumulation into a channels-last one goes through a temporary).
    bool changed = f.has_subst;
    dls_grad_op_desc g2 = g;
    if (f.has_subst) g2.fwd = &f.subst_desc;
    std::vector<Step> pre, post;
    if (g.dout.data) {
      if (const Nhwc* m = marked(c, g.dout.data)) {
        g2.dout.data = to_plain_copy(c, pre, st.sbufs, g.dout.data, *m);
        changed = true;
      }
    }
    std::vector<dls_tensor_desc> dins(g.dins, g.dins + g.nins);
    for (int i = 0; i < g.nins; ++i) {
      if (!dins[i].data) continue;
      const Nhwc* m = marked(c, dins[i].data);
      if (!m) continue;
      if ((g.accumulate_mask >> i) & 1u) {
        st.sbufs.push_back(std::make_unique<Buf>(m->bytes / 4));
        memory tmp = umem(c, m->dims, tag::nchw, st.sbufs.back()->p);
        post.push_back(reorder_add(c, tmp, umem(c, m->dims, tag::nhwc, dins[i].data)));
        dins[i].data = tmp.get_data_handle();
        g2.accumulate_mask &= ~(1u << i);
        changed = true;
      } else {
        unmark(c, dins[i].data, tensor_bytes(dins[i]));
      }
    }
    if (changed) {
      g2.dins = dins.data();
      build_backward_plain(c, g2, f, st);
      st.train.insert(st.train.begin(), std::make_move_iterator(pre.begin()), std::make_move_iterator(pre.end()));
      for (auto& s : post) st.train.push_back(std::move(s));
      return;
    }
  }
  build_backward_plain(c, g, f, st);
}

void build_backward_plain(Ctx& c, const dls_grad_op_desc& g, OpState& f, OpState& st) {
  if (build_loss_backward(g, f, st)) return;
  switch (g.fwd->opcode) {
    case DLS_OP_DENSE: dense_bwd(c, g, f, st); break;
    case DLS_OP_CONV2D: conv_bwd(c, g, f, st); break;
    case DLS_OP_MAXPOOL: case DLS_OP_AVGPOOL: pool_bwd(c, g, f, st); break;
    case DLS_OP_BATCH_NORM: bn_bwd(c, g, f, st); break;
    case DLS_OP_RELU: case DLS_OP_LEAKY_RELU: case DLS_OP_GELU: case DLS_OP_TANH: case DLS_OP_SIGMOID:
    case DLS_OP_RAMP: case DLS_OP_ELU: case DLS_OP_SELU: case DLS_OP_SILU: case DLS_OP_MISH: case DLS_OP_SOFTPLUS:
    case DLS_OP_HARDSWISH: case DLS_OP_HARDSIGMOID: case DLS_OP_RELU6:
      elt_bwd(c, g, f, st);
      break;
    case DLS_OP_LOCAL: local_bwd(c, g, f, st); break;
    case DLS_OP_CONV_TRANSPOSE2D: deconv_bwd(c, g, f, st); break;
    case DLS_OP_SOFTMAX: case DLS_OP_LOG_SOFTMAX: softmax_bwd(c, g, f, st); break;
    case DLS_OP_RNN: case DLS_OP_GRU: case DLS_OP_LSTM: recurrent_bwd(c, g, f, st); break;
    case DLS_OP_MULTI_HEAD_ATTENTION: case DLS_OP_CROSS_ATTENTION: attention_bwd(c, g, f, st); break;
    case DLS_OP_POSITIONAL_EMBEDDING: positional_bwd(c, g, f, st); break;
    default:
      if (!more_bwd(g, f, st)) misc_bwd(g, f, st);
      break;
  }
}

}  // namespace dls::cpu
