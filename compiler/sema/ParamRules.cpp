// Parameter rules of the op table: shapes, fan-in/out and PyTorch's default initialisers, so that
// parameter counts and initial values match torch.nn.
#include "sema/OpRules.h"

#include <cmath>
#include <mutex>
#include <set>
#include <string>

#include <fmt/format.h>

namespace dls::sema::rules {
namespace {
int64_t lastDim(const Type& in) {
  if (in.shape.unknownRank || in.shape.dims.empty() || !in.shape.dims.back().isConst()) return -1;
  return in.shape.dims.back().value;
}
Shape shape(std::initializer_list<int64_t> d) {
  Shape s;
  for (int64_t v : d) s.dims.push_back(v < 0 ? Dim::unknown() : Dim::constant(v));
  return s;
}
}  // namespace

std::vector<ParamDesc> denseParams(const Type& in, const Node& n) {
  int64_t k = lastDim(in), m = n.intAttr("units");
  std::vector<ParamDesc> p;
  // nn.Linear: weight kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias the same.
  p.push_back({"weight", shape({m, k}), ParamRole::Weight, true, InitKind::TorchDefault, 0, 0, k, m});
  if (n.boolAttr("bias", true)) p.push_back({"bias", shape({m}), ParamRole::Bias, true, InitKind::TorchDefault, 0, 0, k, m});
  return p;
}

std::vector<ParamDesc> preluParams(const Type& in, const Node& n) {
  // torch.nn.PReLU(num_parameters): one slope, or one per channel (axis 1), each initialised to 0.25.
  int64_t c = 1;
  if (n.boolAttr("per_channel", false))
    c = in.shape.unknownRank || in.shape.rank() < 2 || !in.shape.dims[1].isConst() ? -1 : in.shape.dims[1].value;
  return {{"weight", shape({c}), ParamRole::Weight, true, InitKind::Constant, 0.25, 0, 0, 0}};
}

std::vector<ParamDesc> convParams(const Type& in, const Node& n) {
  int64_t c = in.shape.unknownRank || in.shape.rank() < 2 || !in.shape.dims[1].isConst() ? -1 : in.shape.dims[1].value;
  int64_t f = n.intAttr("filters"), g = n.intAttr("groups", 1), kh = n.intAttr("kernel_h"), kw = n.intAttr("kernel_w");
  int64_t cg = c < 0 ? -1 : c / g;
  int64_t fanIn = cg < 0 ? 0 : cg * kh * kw, fanOut = f * kh * kw;
  std::vector<ParamDesc> p;
  // conv1d's weight is torch's [F, C/groups, K] (the same values as the [F, C/groups, 1, K] its kernel reads).
  const bool one = n.op && n.op->attr("kernel") && n.op->attr("kernel")->type == AttrType::Int;
  p.push_back({"weight", one ? shape({f, cg, kw}) : shape({f, cg, kh, kw}), ParamRole::Weight, true, InitKind::TorchDefault, 0,
               0, fanIn, fanOut});
  if (n.boolAttr("bias", true))
    p.push_back({"bias", shape({f}), ParamRole::Bias, true, InitKind::TorchDefault, 0, 0, fanIn, fanOut});
  return p;
}

// conv_transpose2d: torch.nn.ConvTranspose2d's weight [C, filters/groups, KH, KW] and bias [filters]; torch's default
// initialisation reads the fan-in from the weight's second axis: filters/groups * KH * KW.
std::vector<ParamDesc> convTransposeParams(const Type& in, const Node& n) {
  int64_t c = in.shape.unknownRank || in.shape.rank() < 2 || !in.shape.dims[1].isConst() ? -1 : in.shape.dims[1].value;
  int64_t f = n.intAttr("filters"), g = n.intAttr("groups", 1), kh = n.intAttr("kernel_h"), kw = n.intAttr("kernel_w");
  int64_t fanIn = f / g * kh * kw, fanOut = c < 0 ? 0 : c * kh * kw;
  std::vector<ParamDesc> p;
  p.push_back({"weight", shape({c, f / g, kh, kw}), ParamRole::Weight, true, InitKind::TorchDefault, 0, 0, fanIn, fanOut});
  if (n.boolAttr("bias", true))
    p.push_back({"bias", shape({f}), ParamRole::Bias, true, InitKind::TorchDefault, 0, 0, fanIn, fanOut});
  return p;
}

// A locally connected layer (Darknet's [local]): conv's window, one filter bank per output position, one
// bias per output value (local_layer.c: weights c*n*size*size*locations, biases outputs).
std::vector<ParamDesc> localParams(const Type& in, const Node& n) {
  auto dim = [&](size_t i) {
    return in.shape.unknownRank || in.shape.rank() != 4 || !in.shape.dims[i].isConst() ? -1 : in.shape.dims[i].value;
  };
  int64_t c = dim(1), H = dim(2), W = dim(3);
  int64_t f = n.intAttr("filters"), kh = n.intAttr("kernel_h"), kw = n.intAttr("kernel_w");
  int64_t sh = n.intAttr("stride_h", 1), sw = n.intAttr("stride_w", 1);
  int64_t oh = H < 0 ? -1 : (H + n.intAttr("pad_top") + n.intAttr("pad_bottom") - kh) / sh + 1;
  int64_t ow = W < 0 ? -1 : (W + n.intAttr("pad_left") + n.intAttr("pad_right") - kw) / sw + 1;
  int64_t loc = oh < 0 || ow < 0 ? -1 : oh * ow;
  int64_t fanIn = c < 0 ? 0 : c * kh * kw, fanOut = f * kh * kw;
  std::vector<ParamDesc> p;
  p.push_back({"weight", shape({loc, f, c, kh, kw}), ParamRole::Weight, true, InitKind::TorchDefault, 0, 0, fanIn, fanOut});
  if (n.boolAttr("bias", true))
    p.push_back({"bias", shape({f, oh, ow}), ParamRole::Bias, true, InitKind::TorchDefault, 0, 0, fanIn, fanOut});
  return p;
}

std::vector<ParamDesc> normParams(const Type& in, const Node&) {
  int64_t c = in.shape.unknownRank || in.shape.rank() < 2 || !in.shape.dims[1].isConst() ? -1 : in.shape.dims[1].value;
  return {{"weight", shape({c}), ParamRole::Gamma, true, InitKind::Ones},
          {"bias", shape({c}), ParamRole::Beta, true, InitKind::Zeros},
          {"running_mean", shape({c}), ParamRole::RunningMean, false, InitKind::Zeros},
          {"running_var", shape({c}), ParamRole::RunningVar, false, InitKind::Ones}};
}

// torch.nn.LayerNorm(normalized_shape): weight and bias shaped as the last `axes` axes.
std::vector<ParamDesc> layerNormParams(const Type& in, const Node& n) {
  const int64_t axes = n.intAttr("axes", 1);
  Shape s;
  const size_t rank = in.shape.unknownRank ? 0 : in.shape.rank();
  for (int64_t k = 0; k < axes; ++k) {
    const size_t i = rank >= static_cast<size_t>(axes) ? rank - static_cast<size_t>(axes) + static_cast<size_t>(k) : rank;
    s.dims.push_back(i < rank && in.shape.dims[i].isConst() ? in.shape.dims[i] : Dim::unknown());
  }
  return {{"weight", s, ParamRole::Gamma, true, InitKind::Ones}, {"bias", s, ParamRole::Beta, true, InitKind::Zeros}};
}

std::vector<ParamDesc> groupNormParams(const Type& in, const Node& n) {
  // torch.nn.GroupNorm (affine), torch.nn.InstanceNorm2d (affine only when asked): weight ones, bias zeros.
  if (n.op && n.op->name == "instance_norm" && !n.boolAttr("affine", false)) return {};
  int64_t c = in.shape.unknownRank || in.shape.rank() < 2 || !in.shape.dims[1].isConst() ? -1 : in.shape.dims[1].value;
  return {{"weight", shape({c}), ParamRole::Gamma, true, InitKind::Ones},
          {"bias", shape({c}), ParamRole::Beta, true, InitKind::Zeros}};
}

std::vector<ParamDesc> embeddingParams(const Type&, const Node& n) {
  // nn.Embedding: N(0, 1).
  return {{"weight", shape({n.intAttr("vocab"), n.intAttr("dim")}), ParamRole::Embedding, true, InitKind::Normal, 0, 1,
           n.intAttr("vocab"), n.intAttr("dim")}};
}

// torch.nn.MultiheadAttention(dim, heads, bias): in_proj_weight [3*dim, dim] Xavier-uniform (over the whole
// [3*dim, dim]: U(-l, l), l = sqrt(6 / (4 dim))), out_proj.weight [dim, dim] nn.Linear's default, both biases
// zero. Declared weights first, then the biases (ops.def MULTI_HEAD_ATTENTION's operand order).
std::vector<ParamDesc> attentionParams(const Type&, const Node& n) {
  const int64_t d = n.intAttr("dim");
  const double bound = d > 0 ? std::sqrt(6.0 / static_cast<double>(4 * d)) : 0.0;
  std::vector<ParamDesc> p;
  p.push_back({"in_proj_weight", shape({3 * d, d}), ParamRole::Weight, true, InitKind::Uniform, -bound, bound, d, 3 * d});
  p.push_back({"out_proj.weight", shape({d, d}), ParamRole::Weight, true, InitKind::TorchDefault, 0, 0, d, d});
  if (n.boolAttr("bias", true)) {
    p.push_back({"in_proj_bias", shape({3 * d}), ParamRole::Bias, true, InitKind::Zeros, 0, 0, d, 3 * d});
    p.push_back({"out_proj.bias", shape({d}), ParamRole::Bias, true, InitKind::Zeros, 0, 0, d, d});
  }
  return p;
}

// cross_attention over a memory of width K (torch.nn.MultiheadAttention(dim, heads, kdim=K, vdim=K)): K = dim (or not
// known) is multi_head_attention's layout; another K gives torch's separate projections q_proj_weight [dim, dim],
// k_proj_weight [dim, K], v_proj_weight [dim, K], each xavier_uniform (U(-l, l), l = sqrt(6 / (fan_in + fan_out))),
// then out_proj.weight and the biases as multi_head_attention's (ops.def CROSS_ATTENTION's parameter order).
std::vector<ParamDesc> crossAttentionParams(const Type& memory, const Node& n) {
  const int64_t d = n.intAttr("dim"), k = lastDim(memory);
  if (k < 0 || k == d || d <= 0) return attentionParams(memory, n);
  auto bound = [](int64_t a, int64_t b) { return std::sqrt(6.0 / static_cast<double>(a + b)); };
  std::vector<ParamDesc> p;
  p.push_back({"q_proj_weight", shape({d, d}), ParamRole::Weight, true, InitKind::Uniform, -bound(d, d), bound(d, d), d, d});
  p.push_back({"k_proj_weight", shape({d, k}), ParamRole::Weight, true, InitKind::Uniform, -bound(d, k), bound(d, k), k, d});
  p.push_back({"v_proj_weight", shape({d, k}), ParamRole::Weight, true, InitKind::Uniform, -bound(d, k), bound(d, k), k, d});
  p.push_back({"out_proj.weight", shape({d, d}), ParamRole::Weight, true, InitKind::TorchDefault, 0, 0, d, d});
  if (n.boolAttr("bias", true)) {
    p.push_back({"in_proj_bias", shape({3 * d}), ParamRole::Bias, true, InitKind::Zeros, 0, 0, d, 3 * d});
    p.push_back({"out_proj.bias", shape({d}), ParamRole::Bias, true, InitKind::Zeros, 0, 0, d, d});
  }
  return p;
}

// A learned positional table [max_len, dim], initialised as torch.nn.Embedding's: N(0, 1).
std::vector<ParamDesc> positionalParams(const Type& in, const Node& n) {
  const int64_t d = lastDim(in), l = n.intAttr("max_len");
  return {{"weight", shape({l, d}), ParamRole::Embedding, true, InitKind::Normal, 0, 1, l, d}};
}

// rnn, gru, lstm in torch.nn's layout: weight_ih [G*units, features], weight_hh [G*units, units] and two
// biases [G*units], with G = 1, 3 (gates r, z, n) or 4 (gates i, f, g, o). torch.nn initialises all four
// U(-1/sqrt(units), 1/sqrt(units)), whatever the tensor's fans; the fans are torch.nn.init's of each tensor
// ([out, in]: fan-in the features for weight_ih, the units for weight_hh; fan-out G*units), which `init: he`
// and `glorot` read. `layers` and `bidirectional` repeat the four per layer and direction in torch.nn's order
// (layer 0, layer 0 reverse, layer 1, ...), a layer above the first reading directions * units features.
int64_t recurrentGates(const Node& n) { return n.op && n.op->name == "gru" ? 3 : n.op && n.op->name == "lstm" ? 4 : 1; }

// ParamDesc::suffix is a view: the per-layer names live here, one copy each, for the program's lifetime.
static std::string_view interned(std::string s) {
  static std::mutex m;
  static std::set<std::string, std::less<>> names;
  std::lock_guard<std::mutex> lock(m);
  return *names.insert(std::move(s)).first;
}

std::vector<ParamDesc> recurrentParams(const Type& in, const Node& n) {
  const int64_t f = lastDim(in), u = n.intAttr("units"), g = recurrentGates(n);
  const int64_t layers = n.intAttr("layers", 1), dirs = n.boolAttr("bidirectional", false) ? 2 : 1;
  const double bound = u > 0 ? 1.0 / std::sqrt(static_cast<double>(u)) : 0.0;
  // One layer in one direction keeps the short names; otherwise torch.nn's: weight_ih_l{k}[_reverse].
  const bool plain = layers == 1 && dirs == 1;
  std::vector<ParamDesc> p;
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t d = 0; d < dirs; ++d) {
      const std::string sfx = plain ? "" : fmt::format("_l{}{}", l, d ? "_reverse" : "");
      const int64_t fi = l == 0 ? f : dirs * u;
      p.push_back({interned("weight_ih" + sfx), shape({g * u, fi}), ParamRole::Weight, true, InitKind::Uniform, -bound, bound,
                   fi < 0 ? 0 : fi, g * u});
      p.push_back({interned("weight_hh" + sfx), shape({g * u, u}), ParamRole::Weight, true, InitKind::Uniform, -bound, bound, u, g * u});
      if (n.boolAttr("bias", true)) {
        p.push_back({interned("bias_ih" + sfx), shape({g * u}), ParamRole::Bias, true, InitKind::Uniform, -bound, bound, u, g * u});
        p.push_back({interned("bias_hh" + sfx), shape({g * u}), ParamRole::Bias, true, InitKind::Uniform, -bound, bound, u, g * u});
      }
    }
  return p;
}

}  // namespace dls::sema::rules
