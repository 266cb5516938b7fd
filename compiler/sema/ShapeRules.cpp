// Shape rules of the op table: one function per rule, each reading its inputs' types and the resolved
// attributes, writing the output type (unknown dims propagate) or one error that shows both sides.
#include <fmt/format.h>

#include "sema/OpRules.h"

namespace dls::sema {

int64_t ShapeCtx::i(const std::string& n, int64_t d) const {
  auto it = attrs.find(n);
  if (it == attrs.end()) return d;
  if (auto* v = std::get_if<int64_t>(&it->second.value)) return *v;
  if (auto* v = std::get_if<bool>(&it->second.value)) return *v;
  return d;
}
double ShapeCtx::f(const std::string& n, double d) const {
  auto it = attrs.find(n);
  if (it == attrs.end()) return d;
  if (auto* v = std::get_if<double>(&it->second.value)) return *v;
  if (auto* v = std::get_if<int64_t>(&it->second.value)) return static_cast<double>(*v);
  return d;
}
bool ShapeCtx::b(const std::string& n, bool d) const {
  auto it = attrs.find(n);
  if (it == attrs.end()) return d;
  if (auto* v = std::get_if<bool>(&it->second.value)) return *v;
  return d;
}
std::string ShapeCtx::s(const std::string& n) const {
  auto it = attrs.find(n);
  if (it == attrs.end()) return {};
  if (auto* v = std::get_if<std::string>(&it->second.value)) return *v;
  return {};
}
std::vector<int64_t> ShapeCtx::ints(const std::string& n) const {
  auto it = attrs.find(n);
  if (it == attrs.end()) return {};
  if (auto* v = std::get_if<std::vector<int64_t>>(&it->second.value)) return *v;
  if (auto* v = std::get_if<int64_t>(&it->second.value)) return {*v};
  return {};
}

namespace rules {
namespace {

Type outLike(const Type& in) {
  Type t = in;
  t.kind = SemKind::Real;
  t.classes = 0;
  return t;
}

bool needRank(ShapeCtx& c, size_t rank, const char* what, const char* help) {
  const Type& x = *c.in[0];
  if (x.shape.unknownRank || x.shape.rank() == rank) return true;
  c.fail(Code::E0207, fmt::format("`{}` expects {}, but its input is {}", c.op.name, what, x.brief()),
         fmt::format("`{}` needs a rank-{} input", c.op.name, rank), help);
  return false;
}

bool needFloat(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (x.dtype == DType::F32 || x.dtype == DType::F16 || x.dtype == DType::BF16 || x.dtype == DType::Unknown) return true;
  c.fail(Code::E0213, fmt::format("`{}` expects floating-point values, but its input is {}", c.op.name, x.brief()),
         "needs f32", "convert the samples in the pipeline: `|> to_f32`");
  return false;
}

// Resolves a possibly negative axis against `rank`; false when out of range.
bool axisIn(int64_t& axis, size_t rank) {
  int64_t r = static_cast<int64_t>(rank);
  if (axis < 0) axis += r;
  return axis >= 0 && axis < r;
}

}  // namespace

void same(ShapeCtx& c) {
  c.out = *c.in[0];
  if (c.op.kind) c.out.kind = *c.op.kind;
}

void softmaxLike(ShapeCtx& c) {
  if (!needFloat(c)) return;
  c.out = *c.in[0];
  if (c.op.kind) c.out.kind = *c.op.kind;
  if (!c.out.shape.unknownRank && c.out.shape.rank() >= 1 && c.out.shape.dims.back().isConst())
    c.out.classes = c.out.shape.dims.back().value;
}

void dense(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needFloat(c)) return;
  // [N, features], or a sequence [N, time, features] (applied at every time step, over the last axis). A
  // rank-4 feature map still needs `flatten`: feeding one to dense is the classic forgotten flatten.
  if (!x.shape.unknownRank && x.shape.rank() != 2 && x.shape.rank() != 3) {
    needRank(c, 2, "a [N, features] input (or a [N, time, features] sequence)",
             "flatten it first: `|> flatten |> dense(...)`");
    return;
  }
  // Two directions concatenate their states: 2 * units features.
  int64_t units = c.i("units") * (c.b("bidirectional") ? 2 : 1);
  c.out = outLike(x);
  if (x.shape.unknownRank) {
    c.out.shape = Shape{{Dim::unknown(), Dim::constant(units)}};
    return;
  }
  const Dim& k = x.shape.dims.back();
  int64_t declared = c.i("in", 0);
  if (declared > 0 && k.isConst() && k.value != declared)
    c.fail(Code::E0208, fmt::format("`dense` declares {} input features, but its input has {}", declared, k.value),
           fmt::format("declared `in: {}`", declared), fmt::format("use `in: {}` or drop `in:` to infer it", k.value));
  c.out.shape = x.shape;
  c.out.shape.dims.back() = Dim::constant(units);
  c.out.classes = units;
}

// rnn, gru, lstm over [N, time, features]: [N, time, units] (`output: sequence`) or the last step's
// state [N, units] (`output: last`); 2 * units with `bidirectional: true`.
void recurrent(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needFloat(c)) return;
  if (!needRank(c, 3, "a [N, time, features] sequence",
                "give the samples a time axis in the pipeline (`reshape([time, features])`), or embed token indices "
                "with `embedding(vocab, dim)`")) return;
  // Two directions concatenate their states: 2 * units features.
  int64_t units = c.i("units") * (c.b("bidirectional") ? 2 : 1);
  c.out = outLike(x);
  if (x.shape.unknownRank) {
    c.out.shape = Shape{{Dim::unknown(), Dim::unknown(), Dim::constant(units)}};
  } else {
    const Dim& t = x.shape.dims[1];
    if (t.isConst() && t.value < 1) {
      c.fail(Code::E0207, fmt::format("`{}` needs at least one time step, but its input is {}", c.op.name, x.brief()),
             "no time steps");
      return;
    }
    c.out.shape = Shape{{x.shape.dims[0], x.shape.dims[1], Dim::constant(units)}};
  }
  if (c.s("output") == "last") c.out.shape.dims.erase(c.out.shape.dims.begin() + 1);
}

// A 1-D op's `pad` (p, or [left, right]) as the [N, C, 1, L] view's [0, left, 0, right]; `same`/`valid` stay as
// they are. False (after E0212) for a list of another length.
static bool padAs2d(ShapeCtx& c) {
  if (auto it = c.attrs.find("pad"); it != c.attrs.end()) {
    if (const auto* p = std::get_if<int64_t>(&it->second.value)) c.set("pad", std::vector<int64_t>{0, *p, 0, *p});
    else if (const auto* l = std::get_if<std::vector<int64_t>>(&it->second.value); l && l->size() == 2)
      c.set("pad", std::vector<int64_t>{0, (*l)[0], 0, (*l)[1]});
    else if (l) {
      c.fail(Code::E0212, fmt::format("argument `pad` of `{}` takes an integer, [left, right], `same` or `valid`, found {} values",
                                      c.op.name, l->size()),
             "too many padding values", "", {});
      return false;
    }
  }
  return true;
}

// conv2d over [N, C, H, W]; conv1d over [N, C, L] (its `kernel` is an integer), checked as conv2d's window on
// the view [N, C, 1, L] with nothing along the height (the runtime runs it so, ops.def CONV1D).
void conv(ShapeCtx& c) {
  const Type& x = *c.in[0];
  const bool one = c.op.attr("kernel")->type == AttrType::Int;
  if (!needFloat(c)) return;
  // One axis short ([N, H, W] for conv2d, [N, L] for conv1d): the channel axis is missing; say which reshape adds it.
  std::string rankHelp = one ? "reshape the samples to [channels, length] in the pipeline"
                             : "reshape the samples to [channels, height, width] in the pipeline";
  if (!x.shape.unknownRank && x.shape.rank() + 1 == (one ? 3u : 4u)) {
    std::string rest;
    for (size_t k = 1; k < x.shape.rank(); ++k) rest += ", " + x.shape.dims[k].str();
    rankHelp = fmt::format("the input has no channel axis: add one with `reshape([1{}])`", rest);
  }
  if (!needRank(c, one ? 3 : 4, one ? "a [N, channels, length] input" : "a [N, channels, height, width] input",
                rankHelp.c_str())) return;
  int64_t filters = c.i("filters"), groups = c.i("groups", 1);
  const Dim& C = x.shape.dims[1];
  int64_t declared = c.i("in", 0);
  if (declared > 0 && C.isConst() && C.value != declared) {
    // [N, 32, 32, 3] with `in: 3`: the channels are the last axis, as Keras and NumPy lay images out.
    const Dim& last = x.shape.dims.back();
    const bool channelsLast = !one && last.isConst() && last.value == declared && x.shape.dims[2].isConst() &&
                              x.shape.dims[2].value == C.value;
    c.fail(Code::E0208, fmt::format("`{}` declares {} input channels, but its input has {}", c.op.name, declared, C.value),
           fmt::format("declared `in: {}`", declared),
           channelsLast ? fmt::format("the input {} looks channels-last (height, width, channels); dlspec is channels-first: "
                                      "declare the samples [{}, {}, {}] and transpose them when they are written, or "
                                      "transpose inside the network: `x |> transpose([0, 3, 1, 2])`",
                                      x.brief(), declared, C.value, x.shape.dims[2].value)
                        : fmt::format("use `in: {}` or drop `in:` to infer it", C.value));
    return;
  }
  if (C.isConst() && (C.value % groups != 0 || filters % groups != 0)) {
    c.fail(Code::E0212, fmt::format("argument `groups` of `{}` must divide the input channels ({}) and the filters ({}), found {}",
                                    c.op.name, C.value, filters, groups),
           "groups do not divide the channels", "", {});
    return;
  }
  Dim h, w;
  if (!one) {
    if (!window(c, true, h, w)) return;
    c.out = outLike(x);
    c.out.shape = Shape{{x.shape.dims[0], Dim::constant(filters), h, w}};
    return;
  }
  // The 1-D arguments as the view's: kernel [1, k], stride [1, s], dilation [1, d], pad [0, left, 0, right].
  const std::map<std::string, Attr> given = c.attrs;
  const int64_t k = c.i("kernel"), s = c.i("stride", 1), d = c.i("dilation", 1);
  c.set("kernel", std::vector<int64_t>{1, k}), c.set("stride", std::vector<int64_t>{1, s});
  c.set("dilation", std::vector<int64_t>{1, d});
  if (!padAs2d(c)) return;
  Type view = x;
  view.shape.dims.insert(view.shape.dims.begin() + 2, Dim::constant(1));
  c.in[0] = &view;
  const bool ok = window(c, true, h, w, "length");
  c.in[0] = &x;
  for (const char* n : {"kernel", "stride", "dilation", "pad"}) {
    if (auto g = given.find(n); g != given.end()) c.attrs[n] = g->second;
    else c.attrs.erase(n);
  }
  if (!ok) return;
  c.out = outLike(x);
  c.out.shape = Shape{{x.shape.dims[0], Dim::constant(filters), w}};
}

void pool2d(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needRank(c, 4, "a [N, channels, height, width] input", "pooling works on images; use it after conv2d")) return;
  Dim h, w;
  if (!window(c, false, h, w)) return;
  c.out = x;
  c.out.shape = Shape{{x.shape.dims[0], x.shape.dims[1], h, w}};
}

// maxpool1d, avgpool1d over [N, C, L]: the 2-D window rule on the view [N, C, 1, L] (as conv1d); it adds the
// runtime's kernel_w, stride_w (the kernel when not given), pad_left, pad_right and dilation_w.
void pool1d(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needRank(c, 3, "a [N, channels, length] input", "reshape the samples to [channels, length] in the pipeline"))
    return;
  const std::map<std::string, Attr> given = c.attrs;
  c.set("kernel", std::vector<int64_t>{1, c.i("kernel")});
  if (given.count("stride")) c.set("stride", std::vector<int64_t>{1, c.i("stride")});
  if (given.count("dilation")) c.set("dilation", std::vector<int64_t>{1, c.i("dilation")});
  if (!padAs2d(c)) return;
  Type view = x;
  if (!view.shape.unknownRank) view.shape.dims.insert(view.shape.dims.begin() + 2, Dim::constant(1));
  c.in[0] = &view;
  Dim h, w;
  const bool ok = window(c, false, h, w, "length");
  c.in[0] = &x;
  for (const char* n : {"kernel", "stride", "dilation", "pad"}) {
    if (auto g = given.find(n); g != given.end()) c.attrs[n] = g->second;
    else c.attrs.erase(n);
  }
  if (!ok) return;
  c.out = x;
  if (!x.shape.unknownRank) c.out.shape = Shape{{x.shape.dims[0], x.shape.dims[1], w}};
}

void globalAvgPool(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needRank(c, 4, "a [N, channels, height, width] input", "")) return;
  c.out = x;
  c.out.shape = Shape{{x.shape.dims[0], x.shape.dims[1]}};
}

void batchNorm(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needFloat(c)) return;
  if (!x.shape.unknownRank && x.shape.rank() != 2 && x.shape.rank() != 4) {
    c.fail(Code::E0207, fmt::format("`batch_norm` expects a [N, C] or [N, C, H, W] input, but its input is {}", x.brief()),
           "needs rank 2 or 4", "");
    return;
  }
  c.out = outLike(x);
}

// group_norm over [N, C, ...] (`groups` must divide C); instance_norm over [N, C, L] or [N, C, H, W].
void groupNorm(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needFloat(c)) return;
  c.out = outLike(x);
  if (x.shape.unknownRank) return;
  const bool instance = c.op.name == "instance_norm";
  if (instance ? (x.shape.rank() != 3 && x.shape.rank() != 4) : x.shape.rank() < 2) {
    c.fail(Code::E0207, fmt::format("`{}` expects {}, but its input is {}", c.op.name,
                                    instance ? "a [N, C, L] or [N, C, H, W] input" : "a [N, C, …] input", x.brief()),
           instance ? "needs rank 3 or 4" : "needs a channel axis", "");
    return;
  }
  const Dim& C = x.shape.dims[1];
  const int64_t g = c.i("groups", 1);
  if (!instance && C.isConst() && C.value % g != 0)
    c.fail(Code::E0212, fmt::format("argument `groups` of `group_norm` must divide the {} channels of {}, found {}", C.value,
                                    x.brief(), g),
           "groups do not divide the channels", "", {});
}

// layer_norm over the last `axes` axes together (torch.nn.LayerNorm's normalized_shape); never the batch axis.
void layerNorm(ShapeCtx& c) {
  if (!needFloat(c)) return;
  const Type& x = *c.in[0];
  const int64_t axes = c.i("axes", 1);
  if (!x.shape.unknownRank && axes >= static_cast<int64_t>(x.shape.rank())) {
    c.fail(Code::E0212,
           fmt::format("argument `axes` of `{}` must be below the input's rank {} (the batch axis is never normalised), found {}",
                       c.op.name, x.shape.rank(), axes),
           fmt::format("{} has {} axes after the batch", x.brief(), x.shape.rank() - 1),
           fmt::format("use `axes: {}` at most", static_cast<int64_t>(x.shape.rank()) - 1), {});
    return;
  }
  c.out = outLike(x);
}

void flatten(ShapeCtx& c) {
  const Type& x = *c.in[0];
  c.out = x;
  if (x.shape.unknownRank) return;
  if (x.shape.rank() < 1) {
    c.fail(Code::E0207, fmt::format("`flatten` expects a batched input, but its input is {}", x.brief()), "", "");
    return;
  }
  Dim d = Dim::unknown();
  bool known = true;
  int64_t n = 1;
  for (size_t i = 1; i < x.shape.rank(); ++i) {
    if (!x.shape.dims[i].isConst()) {
      known = false;
      continue;
    }
    if (!mulChecked(n, x.shape.dims[i].value, n)) {
      c.fail(Code::E0210, fmt::format("flattening {} overflows 64-bit integers", x.shape.str()), "too many elements", "");
      return;
    }
  }
  if (known) d = Dim::constant(n);
  c.out.shape = Shape{{x.shape.dims[0], d}};
}

namespace {
// Target shape with one -1 inferred; `fixedLead` dims of the input are kept (the batch dim in networks).
void reshapeImpl(ShapeCtx& c, size_t lead) {
  const Type& x = *c.in[0];
  std::vector<int64_t> target = c.ints("shape");
  c.out = x;
  std::optional<int64_t> have;
  if (!x.shape.unknownRank) have = x.shape.elements(lead);
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1 && infer < 0) {
      infer = static_cast<int>(i);
      continue;
    }
    if (target[i] <= 0) {
      c.fail(Code::E0212, fmt::format("argument `shape` of `reshape` must hold positive sizes (one may be -1), found {}",
                                      target[i]), "", "", {});
      return;
    }
    if (!mulChecked(known, target[i], known)) {
      c.fail(Code::E0210, "the reshape target's element count overflows 64-bit integers", "", "", {});
      return;
    }
  }
  Shape out;
  for (size_t i = 0; i < lead && !x.shape.unknownRank && i < x.shape.rank(); ++i) out.dims.push_back(x.shape.dims[i]);
  for (size_t i = 0; i < target.size(); ++i) out.dims.push_back(Dim::constant(target[i]));
  if (have) {
    if (infer >= 0) {
      if (*have % known != 0) {
        c.fail(Code::E0209, fmt::format("cannot reshape {} ({} elements) into {} (a multiple of {} elements)",
                                        x.brief(), *have, Shape{out}.str(), known),
               "does not divide", "");
        return;
      }
      out.dims[lead + infer] = Dim::constant(*have / known);
    } else if (*have != known) {
      Shape tgt;
      for (int64_t t : target) tgt.dims.push_back(Dim::constant(t));
      c.fail(Code::E0209, fmt::format("cannot reshape {} ({} elements) into {} ({} elements)", x.brief(), *have,
                                      tgt.str(), known),
             fmt::format("{} elements", known), "make the element counts equal");
      return;
    }
  } else if (infer >= 0) {
    out.dims[lead + infer] = Dim::unknown();
  }
  c.out.shape = out;
}
}  // namespace

void reshape(ShapeCtx& c) { reshapeImpl(c, 1); }
void sampleReshape(ShapeCtx& c) { reshapeImpl(c, 0); }

void transpose(ShapeCtx& c) {
  const Type& x = *c.in[0];
  std::vector<int64_t> perm = c.ints("perm");
  c.out = x;
  if (x.shape.unknownRank) return;
  std::vector<bool> seen(x.shape.rank(), false);
  bool ok = perm.size() == x.shape.rank();
  for (int64_t p : perm) {
    if (!ok || p < 0 || p >= static_cast<int64_t>(seen.size()) || seen[p]) {
      ok = false;
      break;
    }
    seen[p] = true;
  }
  if (!ok) {
    c.fail(Code::E0212, fmt::format("argument `perm` of `transpose` must be a permutation of the {} axes of {}",
                                    x.shape.rank(), x.brief()), "not a permutation", "", {0});
    return;
  }
  for (size_t i = 0; i < perm.size(); ++i) c.out.shape.dims[i] = x.shape.dims[perm[i]];
}

void squeeze(ShapeCtx& c) {
  const Type& x = *c.in[0];
  c.out = x;
  if (x.shape.unknownRank) return;
  int64_t axis = c.i("axis");
  if (!axisIn(axis, x.shape.rank()) || axis == 0) {
    c.fail(Code::E0212, fmt::format("argument `axis` of `squeeze` must name a non-batch axis of {}", x.brief()), "", "");
    return;
  }
  const Dim& d = x.shape.dims[axis];
  if (d.isConst() && d.value != 1) {
    c.fail(Code::E0207, fmt::format("`squeeze` expects axis {} to have size 1, but its input is {}", axis, x.brief()),
           fmt::format("axis {} has size {}", axis, d.value), "");
    return;
  }
  c.out.shape.dims.erase(c.out.shape.dims.begin() + axis);
  c.set("axis", axis);
}

void unsqueeze(ShapeCtx& c) {
  const Type& x = *c.in[0];
  c.out = x;
  if (x.shape.unknownRank) return;
  int64_t axis = c.i("axis");
  if (!axisIn(axis, x.shape.rank() + 1) || axis == 0) {
    c.fail(Code::E0212, fmt::format("argument `axis` of `unsqueeze` must be a non-batch axis of the result, found {}",
                                    c.i("axis")), "", "");
    return;
  }
  c.out.shape.dims.insert(c.out.shape.dims.begin() + axis, Dim::constant(1));
  c.set("axis", axis);
}

void add(ShapeCtx& c) {
  const Type& a = *c.in[0];
  const Type& b = *c.in[1];
  if (!Shape::compatible(a.shape, b.shape)) {
    c.fail(Code::E0205, fmt::format("cannot add values of different shapes: {} and {}", a.brief(), b.brief()),
           "shapes differ", "project one side to the other's shape (a 1x1 conv2d or a dense layer) before adding",
           {0, 1});
    // Error recovery: the sum continues with the left operand's shape. That is what Darknet's
    // [shortcut] computes (its output is the layer's own input, the left operand of the imported
    // `add(prev, from)`), and what the usual fix (projecting the right side) keeps; so a later
    // shortcut whose operands both derive from it is still checked against real shapes.
    if (!a.shape.unknownRank) {
      c.out = a;
      c.out.kind = SemKind::Real;
      c.recover = true;
    }
    return;
  }
  c.out = a;
  c.out.kind = SemKind::Real;
  for (size_t i = 0; i < c.out.shape.dims.size() && !b.shape.unknownRank; ++i)
    if (!c.out.shape.dims[i].isConst() && b.shape.dims[i].isConst()) c.out.shape.dims[i] = b.shape.dims[i];
}

void broadcast(ShapeCtx& c) {
  const Type& a = *c.in[0];
  const Type& b = *c.in[1];
  c.out = outLike(a);
  if (a.shape.unknownRank || b.shape.unknownRank) {
    if (a.shape.unknownRank) c.out = outLike(b);
    if (!a.shape.unknownRank && !b.shape.unknownRank) return;
    c.out.shape.unknownRank = true;
    return;
  }
  // NumPy's rule: the shapes aligned at their last axis; each pair of axes equal, or one of them 1 (or absent).
  const size_t ra = a.shape.rank(), rb = b.shape.rank(), r = std::max(ra, rb);
  std::vector<Dim> out(r, Dim::constant(1));
  const char* verb = c.op.name == "mul" ? "multiply" : c.op.name == "sub" ? "subtract" : "divide";
  for (size_t k = 0; k < r; ++k) {
    const bool hasA = k + ra >= r, hasB = k + rb >= r;
    const Dim da = hasA ? a.shape.dims[k + ra - r] : Dim::constant(1);
    const Dim db = hasB ? b.shape.dims[k + rb - r] : Dim::constant(1);
    const bool oneA = da.isConst() && da.value == 1, oneB = db.isConst() && db.value == 1;
    if (oneA) out[k] = db;
    else if (oneB) out[k] = da;
    else if (Dim::compatible(da, db)) out[k] = da.isConst() ? da : db;
    else {
      c.fail(Code::E0205,
             fmt::format("cannot {} values of shapes {} and {}: axis {} of the result has {} on the left and {} on "
                         "the right",
                         verb, a.brief(), b.brief(), k, da.str(), db.str()),
             "shapes do not broadcast",
             "broadcasting aligns the last axes; each pair must be equal or one of them 1: give the smaller operand "
             "size-1 axes (`unsqueeze`, `mean(axes: […], keepdims: true)`) or project it",
             {0, 1});
      return;
    }
  }
  c.out.shape.dims = out;
}

void glu(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needFloat(c)) return;
  c.out = outLike(x);
  if (x.shape.unknownRank) return;
  int64_t axis = c.i("axis", -1);
  if (!axisIn(axis, x.shape.rank()) || axis == 0) {
    c.fail(Code::E0212, fmt::format("argument `axis` of `glu` must name a non-batch axis of {}", x.brief()), "", "");
    return;
  }
  c.set("axis", axis);
  Dim& d = c.out.shape.dims[static_cast<size_t>(axis)];
  if (d.isConst() && d.value % 2) {
    c.fail(Code::E0207, fmt::format("`glu` halves axis {}, but its input {} has an odd size there", axis, x.brief()),
           fmt::format("axis {} has size {}", axis, d.value), "make that axis even (the gate is its second half)");
    return;
  }
  if (d.isConst()) d = Dim::constant(d.value / 2);
  else d = Dim::unknown();
}

void reduce(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needFloat(c)) return;
  c.out = outLike(x);
  if (x.shape.unknownRank) return;
  const size_t r = x.shape.rank();
  std::vector<int64_t> axes = c.ints("axes");
  std::vector<int64_t> flags(r, 0);
  for (int64_t a : axes) {
    int64_t ax = a;
    if (!axisIn(ax, r) || ax == 0) {
      c.fail(Code::E0212, fmt::format("argument `axes` of `{}` must name non-batch axes of {}; {} is not one", c.op.name,
                                      x.brief(), a),
             "", "axis 0 is the batch");
      return;
    }
    if (flags[static_cast<size_t>(ax)]) {
      c.fail(Code::E0212, fmt::format("argument `axes` of `{}` names axis {} twice", c.op.name, ax), "", "");
      return;
    }
    flags[static_cast<size_t>(ax)] = 1;
  }
  if (axes.empty()) {
    c.fail(Code::E0212, fmt::format("argument `axes` of `{}` names no axis", c.op.name), "", "");
    return;
  }
  const bool keep = c.b("keepdims", false);
  std::vector<Dim> out;
  for (size_t k = 0; k < r; ++k) {
    if (!flags[k]) out.push_back(x.shape.dims[k]);
    else if (keep) out.push_back(Dim::constant(1));
  }
  c.out.shape.dims = out;
  c.set("axes", flags);  // normalised: one 0/1 flag per input axis (ops.def's `axes`)
}

void adaptivePool(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needFloat(c)) return;
  if (!needRank(c, 4, "a [N, channels, height, width] input", "")) return;
  c.out = x;
  if (x.shape.unknownRank) return;
  std::vector<int64_t> size = c.ints("size");
  if (size.size() == 1) size.push_back(size[0]);
  for (int k = 0; k < 2; ++k) {
    const Dim& d = x.shape.dims[static_cast<size_t>(2 + k)];
    if (d.isConst() && size[static_cast<size_t>(k)] > d.value) {
      c.fail(Code::E0207, fmt::format("`adaptive_avgpool` to {} x {} needs an input of at least that size, but its input is {}",
                                      size[0], size[1], x.brief()),
             fmt::format("{} {} is less than {}", k == 0 ? "height" : "width", d.value, size[static_cast<size_t>(k)]),
             "pool to a smaller size, or pool less before this layer");
      return;
    }
    c.out.shape.dims[static_cast<size_t>(2 + k)] = Dim::constant(size[static_cast<size_t>(k)]);
  }
}

void concat(ShapeCtx& c) {
  const Type& a = *c.in[0];
  c.out = a;
  c.out.kind = SemKind::Real;
  if (a.shape.unknownRank) return;
  int64_t axis = c.i("axis", 1);
  if (!axisIn(axis, a.shape.rank()) || axis == 0) {
    c.fail(Code::E0212, fmt::format("argument `axis` of `concat` must name a non-batch axis of {}", a.brief()), "", "");
    return;
  }
  c.set("axis", axis);
  Dim total = a.shape.dims[axis];
  for (size_t k = 1; k < c.in.size(); ++k) {
    const Type& b = *c.in[k];
    if (b.shape.unknownRank) {
      total = Dim::unknown();
      continue;
    }
    bool ok = b.shape.rank() == a.shape.rank();
    for (size_t i = 0; ok && i < a.shape.rank(); ++i)
      if (static_cast<int64_t>(i) != axis && !Dim::compatible(a.shape.dims[i], b.shape.dims[i])) ok = false;
    if (!ok) {
      c.fail(Code::E0206, fmt::format("cannot concatenate {} and {} along axis {}", a.brief(), b.brief(), axis),
             "the other axes differ", "concatenated values must agree on every axis but the concatenation axis",
             {0, static_cast<int>(k)});
      return;
    }
    const Dim& d = b.shape.dims[axis];
    if (total.isConst() && d.isConst()) {
      int64_t s;
      if (!addChecked(total.value, d.value, s)) {
        c.fail(Code::E0210, "the concatenated size overflows 64-bit integers", "", "", {});
        return;
      }
      total = Dim::constant(s);
    } else {
      total = Dim::unknown();
    }
  }
  c.out.shape.dims[axis] = total;
}

void embedding(ShapeCtx& c) {
  const Type& x = *c.in[0];
  // Indices travel as i32 (runtime.h DLS_OP_EMBEDDING): u8 or f32 samples are converted in the pipeline.
  if (x.dtype != DType::I64 && x.dtype != DType::I32 && x.dtype != DType::Unknown) {
    c.fail(Code::E0213, fmt::format("`embedding` expects i32 indices, but its input is {}", x.brief()),
           "needs integer indices", "declare the network's input `i32[…]` and convert the samples in the pipeline: `|> to_i32`");
    return;
  }
  c.out = x;
  c.out.dtype = DType::F32;
  c.out.kind = SemKind::Real;
  c.out.classes = 0;
  c.out.shape.dims.push_back(Dim::constant(c.i("dim")));
}

// multi_head_attention over [N, time, dim]: the output has the input's shape. `dim` is the model width
// (torch.nn.MultiheadAttention's embed_dim): the input's last axis, divisible by `heads`.
void attention(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needFloat(c)) return;
  if (!needRank(c, 3, "a [N, time, dim] sequence",
                "embed token indices with `embedding(vocab, dim)`, or give the samples a time axis in the pipeline"))
    return;
  const int64_t heads = c.i("heads", 1), dim = c.i("dim");
  if (dim % heads != 0) {
    c.fail(Code::E0212,
           fmt::format("argument `heads` of `{}` must divide `dim` ({}), found {}", c.op.name, dim, heads),
           fmt::format("{} is not a multiple of {} heads", dim, heads),
           fmt::format("each head gets dim / heads features: choose heads among the divisors of {}", dim), {});
    return;
  }
  c.out = outLike(x);
  if (x.shape.unknownRank) {
    c.out.shape = Shape{{Dim::unknown(), Dim::unknown(), Dim::constant(dim)}};
    return;
  }
  const Dim& t = x.shape.dims[1];
  if (t.isConst() && t.value < 1) {
    c.fail(Code::E0207, fmt::format("`{}` needs at least one time step, but its input is {}", c.op.name, x.brief()),
           "no time steps");
    return;
  }
  const Dim& d = x.shape.dims[2];
  if (d.isConst() && d.value != dim) {
    c.fail(Code::E0208, fmt::format("`{}` declares {} input features, but its input has {}", c.op.name, dim, d.value),
           fmt::format("declared `dim: {}`", dim), fmt::format("use `dim: {}`, or project the input with `dense({})` first", d.value, dim));
    return;
  }
}

// cross_attention(queries, memory) over [N, T, dim] and [N, S, K]: the output has the queries' shape. The keys and
// values come from the memory, a floating-point [N, S, K] sequence of the queries' batch (E0221 otherwise); its
// length S may differ from T and its width K from dim (torch's kdim = vdim = K: ParamRules.cpp's layout).
void crossAttention(ShapeCtx& c) {
  attention(c);
  if (c.error) return;
  const Type& x = *c.in[0];
  const Type& m = *c.in[1];
  const std::string where = x.brief(), mem = m.brief();
  if (m.dtype != DType::F32 && m.dtype != DType::F16 && m.dtype != DType::BF16 && m.dtype != DType::Unknown) {
    c.fail(Code::E0221, fmt::format("`{}` attends from {} to the memory {}: the memory must be floating-point values",
                                    c.op.name, where, mem),
           "integer memory", "embed token indices with `embedding(vocab, dim)` first", {1});
    return;
  }
  if (m.shape.unknownRank) return;
  if (m.shape.rank() != 3) {
    c.fail(Code::E0221, fmt::format("`{}` attends from {} to the memory {}: the memory must be a [N, steps, dim] sequence",
                                    c.op.name, where, mem),
           "not a sequence", "give the memory a time axis (`reshape`, `unsqueeze`) or embed it", {1});
    return;
  }
  const Dim& s = m.shape.dims[1];
  if (s.isConst() && s.value < 1) {
    c.fail(Code::E0221, fmt::format("`{}` attends from {} to the memory {}: the memory has no time steps", c.op.name,
                                    where, mem),
           "no memory steps", "", {1});
    return;
  }
  const Dim& d = m.shape.dims[2];
  if (d.isConst() && d.value < 1) {
    c.fail(Code::E0221, fmt::format("`{}` attends from {} to the memory {}: the memory has no features", c.op.name,
                                    where, mem),
           "no memory features", "", {1});
    return;
  }
  if (!x.shape.unknownRank && !Shape::compatible(Shape{{x.shape.dims[0]}}, Shape{{m.shape.dims[0]}})) {
    c.fail(Code::E0221, fmt::format("`{}` attends from {} to the memory {}: the batch sizes differ", c.op.name, where, mem),
           "batches differ", "", {0, 1});
    return;
  }
}

// positional_embedding over [N, time, dim]: adds a learned vector per position; at most `max_len` steps.
void positional(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needFloat(c)) return;
  if (!needRank(c, 3, "a [N, time, dim] sequence", "embed token indices with `embedding(vocab, dim)` first")) return;
  c.out = outLike(x);
  if (x.shape.unknownRank) return;
  const int64_t maxLen = c.i("max_len");
  const Dim& t = x.shape.dims[1];
  if (t.isConst() && t.value > maxLen)
    c.fail(Code::E0207,
           fmt::format("`{}` expects at most {} time steps (`max_len`), but its input is {}", c.op.name, maxLen, x.brief()),
           fmt::format("{} steps, {} positions", t.value, maxLen),
           fmt::format("use `max_len: {}` or more, or shorter sequences", t.value));
}

void upsample(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needRank(c, 4, "a [N, channels, height, width] input", "")) return;
  c.out = x;
  int64_t f = c.i("factor", 2);
  for (size_t i = 2; i < 4; ++i) {
    Dim& d = c.out.shape.dims[i];
    if (!d.isConst()) continue;
    int64_t v;
    if (!mulChecked(d.value, f, v)) {
      c.fail(Code::E0210, "the upsampled size overflows 64-bit integers", "", "", {});
      return;
    }
    d = Dim::constant(v);
  }
}

void reorg(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needRank(c, 4, "a [N, channels, height, width] input", "")) return;
  int64_t s = c.i("stride", 2);
  c.out = x;
  if (int64_t extra = c.i("extra", 0); extra > 0) {
    // Darknet's reorg with `extra=`: the stride is ignored, each sample is copied flat and `extra` zero
    // values follow it (reorg_layer.c: outputs = inputs + extra).
    int64_t n = 1;
    for (size_t i = 1; i < x.shape.dims.size(); ++i) {
      const Dim& d = x.shape.dims[i];
      if (!d.isConst()) {
        c.out.shape = Shape{{x.shape.dims[0], Dim::unknown()}};
        return;
      }
      if (!mulChecked(n, d.value, n)) {
        c.fail(Code::E0210, "the reorganised value count overflows 64-bit integers", "", "", {});
        return;
      }
    }
    c.out.shape = Shape{{x.shape.dims[0], Dim::constant(n + extra)}};
    return;
  }
  for (size_t i = 2; i < 4; ++i) {
    Dim& d = c.out.shape.dims[i];
    if (!d.isConst()) continue;
    if (d.value % s != 0) {
      c.fail(Code::E0207, fmt::format("`reorg` expects height and width divisible by {}, but its input is {}", s, x.brief()),
             "not divisible", "");
      return;
    }
    d = Dim::constant(d.value / s);
  }
  Dim& ch = c.out.shape.dims[1];
  int64_t v;
  int64_t ss;
  if (ch.isConst() && s > 1 && (!mulChecked(s, s, ss) || ch.value % ss != 0)) {
    // Darknet's reorg reads each sample as [C / (s*s), H*s, W*s] (reorg_cpu's out_c): s*s must divide C.
    c.fail(Code::E0207, fmt::format("`reorg` expects channels divisible by the stride squared ({}*{}), but its input is {}",
                                    s, s, x.brief()),
           "channels not divisible", "");
    return;
  }
  if (ch.isConst()) {
    if (!mulChecked(ch.value, s * s, v)) {
      c.fail(Code::E0210, "the reorganised channel count overflows 64-bit integers", "", "", {});
      return;
    }
    ch = Dim::constant(v);
  }
}

void toF32(ShapeCtx& c) {
  c.out = *c.in[0];
  c.out.dtype = DType::F32;
}

void toI32(ShapeCtx& c) {
  c.out = *c.in[0];
  c.out.dtype = DType::I32;
}

void toI64(ShapeCtx& c) {
  c.out = *c.in[0];
  c.out.dtype = DType::I64;
}

void oneHot(ShapeCtx& c) {
  const Type& x = *c.in[0];
  int64_t n = c.i("classes");
  if (x.kind != SemKind::Class) {
    // Indices of a sample: every element of an integer sample, or one feature of a rank-1 sample (a CSV categorical
    // column's index: whether it is one is known when the file's header is read, at lowering).
    auto f = c.attrs.find("feature");
    const bool feature = f != c.attrs.end();
    const bool integer = x.dtype == DType::I32 || x.dtype == DType::I64 || x.dtype == DType::U8 || x.dtype == DType::Unknown;
    if (x.shape.unknownRank) {
      c.out = x, c.out.dtype = DType::F32, c.out.shape = Shape{}, c.out.shape.unknownRank = true;
      return;
    }
    if (feature) {
      if (x.shape.rank() != 1 || !x.shape.dims[0].isConst()) {
        c.fail(Code::E0630, fmt::format("`feature:` picks one element of a rank-1 sample, and the input is {}", x.brief()), "",
               "encode every element of an integer sample without `feature:`");
        return;
      }
      const int64_t F = x.shape.dims[0].value;
      if (const int64_t* j = std::get_if<int64_t>(&f->second.value); j && *j >= F) {
        c.fail(Code::E0630, fmt::format("its `feature: {}` is not one of the {} features of the sample {}", *j, F, x.brief()), "",
               fmt::format("features are numbered 0 to {}", F - 1));
        return;
      }
      c.out = x;
      c.out.dtype = DType::F32, c.out.kind = SemKind::Real, c.out.classes = 0;
      c.out.shape = Shape{{Dim::constant(F - 1 + n)}};
      return;
    }
    if (!integer) {
      c.fail(Code::E0630, fmt::format("its input is {}, a float sample", x.brief()), "float values",
             "convert integer-valued samples first (`|> to_i32 |> one_hot(C)`), or encode one CSV categorical column: "
             "`one_hot(C, feature: \"column\")`");
      return;
    }
    if (x.shape.rank() > 3) {
      c.fail(Code::E0630, fmt::format("its input is {}: the one-hot rows would make a sample of rank {}, more than 4", x.brief(),
                                      x.shape.rank() + 1), "");
      return;
    }
    c.out = x;
    c.out.dtype = DType::F32, c.out.kind = SemKind::Real, c.out.classes = 0;
    c.out.shape.dims.push_back(Dim::constant(n));
    return;
  }
  if (x.kind != SemKind::Class && x.kind != SemKind::Unknown) {
    c.fail(Code::E0213, fmt::format("`one_hot` expects class labels, but its input is {}", x.brief()), "", "");
    return;
  }
  if (x.kind == SemKind::Class && x.classes != n) {
    c.fail(Code::E0212, fmt::format("argument `classes` of `one_hot` must be {} (the labels are {}), found {}", x.classes,
                                    x.kindStr(), n), "", "", {});
    return;
  }
  c.out = x;
  c.out.dtype = DType::F32;
  c.out.kind = SemKind::OneHot;
  c.out.classes = n;
  c.out.shape = Shape{{Dim::constant(n)}};
}

void randomCrop(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!x.shape.unknownRank && x.shape.rank() != 3) {
    c.fail(Code::E0207, fmt::format("`random_crop` expects a [channels, height, width] sample, but the sample is {}", x.brief()),
           "", "reshape the samples first: `|> reshape([1, 28, 28])`");
    return;
  }
  std::vector<int64_t> size = c.ints("size");
  int64_t pad = c.i("pad", 0);
  c.out = x;
  if (x.shape.unknownRank || size.size() != 2) return;
  for (int i = 0; i < 2; ++i) {
    const Dim& d = x.shape.dims[1 + i];
    if (d.isConst() && size[i] > d.value + 2 * pad) {
      c.fail(Code::E0212, fmt::format("argument `size` of `random_crop` must fit the padded sample ({} + 2x{}), found {}",
                                      d.value, pad, size[i]), "", "", {0});
      return;
    }
    c.out.shape.dims[1 + i] = Dim::constant(size[i]);
  }
}

// The image augmentations: a [C, H, W] sample, kept as it is.
void imageSample(ShapeCtx& c) {
  const Type& x = *c.in[0];
  c.out = x;
  if (!x.shape.unknownRank && x.shape.rank() != 3) {
    c.fail(Code::E0207, fmt::format("`{}` expects a [channels, height, width] sample, but the sample is {}", c.op.name, x.brief()),
           "", "reshape the samples first: `|> reshape([1, 28, 28])`");
    return;
  }
  // Ranges [low, high]: random_affine's scale, random_erasing's scale and ratio.
  for (const char* n : {"scale", "ratio"}) {
    auto it = c.attrs.find(n);
    if (it == c.attrs.end()) continue;
    const auto* v = std::get_if<std::vector<double>>(&it->second.value);
    if (!v) continue;
    const bool share = c.op.name == "random_erasing" && std::string_view(n) == "scale";
    if (v->size() != 2 || !((*v)[0] > 0 && (*v)[0] <= (*v)[1]) || (share && (*v)[1] > 1)) {
      std::string found = "[";
      for (size_t i = 0; i < v->size(); ++i) found += fmt::format("{}{}", i ? ", " : "", (*v)[i]);
      c.fail(Code::E0622, fmt::format("argument `{}` of `{}` is a range [low, high] with 0 < low <= high{}, found {}]", n,
                                      c.op.name, share ? " <= 1" : "", found),
             "", "write two numbers, the smaller first");
      return;
    }
  }
  if (auto it = c.attrs.find("translate"); it != c.attrs.end())
    if (const auto* v = std::get_if<std::vector<double>>(&it->second.value); v && v->size() != 2) {
      c.fail(Code::E0212, fmt::format("argument `translate` of `{}` must be [x, y] (fractions of the width and height), found {} values",
                                      c.op.name, v->size()));
      return;
    }
  if (c.op.name != "color_jitter" || x.shape.unknownRank) return;
  const Dim& ch = x.shape.dims[0];
  for (const char* n : {"saturation", "hue"})
    if (c.f(n, 0) > 0 && ch.isConst() && ch.value != 3) {
      c.fail(Code::E0620, fmt::format("`color_jitter`'s `{}` needs RGB samples (3 channels), but the sample has {}", n, ch.value),
             "", fmt::format("drop `{}` for {}-channel images: brightness and contrast apply to any", n, ch.value));
      return;
    }
}

void datasetLevel(ShapeCtx& c) { c.out = *c.in[0]; }

// An IntOrPair argument as [h, w] (an integer: both).
static std::vector<int64_t> pairOf(const ShapeCtx& c, const char* n, int64_t dflt) {
  std::vector<int64_t> v = c.ints(n);
  if (v.empty()) v = {dflt, dflt};
  if (v.size() == 1) v.push_back(v[0]);
  return v;
}

// conv_transpose2d over [N, C, H, W] (torch.nn.ConvTranspose2d): OH = (H - 1) sh - 2 ph + dh (KH - 1) + oph + 1.
void convTranspose(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needFloat(c)) return;
  if (!needRank(c, 4, "a [N, channels, height, width] input", "reshape the samples to [channels, height, width] in the pipeline"))
    return;
  const int64_t filters = c.i("filters"), groups = c.i("groups", 1);
  const std::vector<int64_t> k = pairOf(c, "kernel", 1), s = pairOf(c, "stride", 1), p = pairOf(c, "pad", 0),
                             op = pairOf(c, "output_pad", 0), d = pairOf(c, "dilation", 1);
  if (k.size() != 2 || s.size() != 2 || p.size() != 2 || op.size() != 2 || d.size() != 2) return;  // E0211 reported
  const char* hw[2] = {"height", "width"};
  // torch also accepts an output_pad below the dilation (and not the stride); cuDNN's and oneDNN's size rules do
  // not, so that case is refused here rather than run differently.
  for (int i = 0; i < 2; ++i)
    if (op[size_t(i)] >= s[size_t(i)]) {
      c.fail(Code::E0217,
             fmt::format("`output_pad` of `conv_transpose2d` must be below its stride ({} along the {}), found {}",
                         s[size_t(i)], hw[i], op[size_t(i)]),
             "output_pad not below the stride",
             op[size_t(i)] < d[size_t(i)] ? "torch also accepts an output_pad below the dilation; dlspec does not support that yet"
                                          : "the output size rule adds output_pad rows that only a stride leaves room for");
      return;
    }
  c.set("kernel_h", k[0]), c.set("kernel_w", k[1]), c.set("stride_h", s[0]), c.set("stride_w", s[1]);
  c.set("pad_h", p[0]), c.set("pad_w", p[1]), c.set("output_pad_h", op[0]), c.set("output_pad_w", op[1]);
  c.set("dilation_h", d[0]), c.set("dilation_w", d[1]);
  const Dim& C = x.shape.dims[1];
  if (C.isConst() && (C.value % groups != 0 || filters % groups != 0)) {
    c.fail(Code::E0212, fmt::format("argument `groups` of `{}` must divide the input channels ({}) and the filters ({}), found {}",
                                    c.op.name, C.value, filters, groups),
           "groups do not divide the channels", "", {});
    return;
  }
  c.out = outLike(x);
  c.out.shape = Shape{{x.shape.dims[0], Dim::constant(filters), Dim::unknown(), Dim::unknown()}};
  for (int i = 0; i < 2; ++i) {
    const Dim& in = x.shape.dims[size_t(2 + i)];
    if (!in.isConst()) continue;
    const size_t j = size_t(i);
    const int64_t o = (in.value - 1) * s[j] - 2 * p[j] + d[j] * (k[j] - 1) + op[j] + 1;
    if (o < 1) {
      c.fail(Code::E0212, fmt::format("argument `pad` of `conv_transpose2d` leaves no output {}: ({} - 1) x {} - 2 x {} + {} x ({} - 1) + {} + 1 = {}",
                                      hw[i], in.value, s[j], p[j], d[j], k[j], op[j], o),
             "padding removes the whole output", "use a smaller `pad`");
      return;
    }
    c.out.shape.dims[size_t(2 + i)] = Dim::constant(o);
  }
}

// slice(axis, start, end, step): Python's slice of one axis (negative indices from the end, bounds clamped).
void slice(ShapeCtx& c) {
  const Type& x = *c.in[0];
  c.out = outLike(x);
  if (x.shape.unknownRank) return;
  int64_t axis = c.i("axis");
  if (!axisIn(axis, x.shape.rank())) {
    c.fail(Code::E0212, fmt::format("argument `axis` of `slice` must name an axis of {}, found {}", x.brief(), c.i("axis")), "", "");
    return;
  }
  if (axis == 0) {
    c.fail(Code::E0218, fmt::format("`slice` cannot change the batch axis (axis 0) of {}: it slices samples, not features",
                                    x.brief()),
           "slices the batch", "select samples in the pipeline; slice a non-batch axis (1 or later)");
    return;
  }
  const Dim& dim = x.shape.dims[size_t(axis)];
  if (!dim.isConst()) {
    c.fail(Code::E0207, fmt::format("`slice` expects an axis of known size, but axis {} of its input {} is {}", axis, x.brief(), dim.str()),
           "", "");
    return;
  }
  const int64_t n = dim.value, step = c.i("step", 1);
  auto norm = [n](int64_t v) { return v < 0 ? std::max<int64_t>(0, v + n) : std::min(v, n); };
  const int64_t start = norm(c.i("start")), end = c.attrs.count("end") ? norm(c.i("end")) : n;
  const int64_t len = end > start ? (end - start + step - 1) / step : 0;
  if (len == 0) {
    c.fail(Code::E0219, fmt::format("`slice` selects no element of axis {} ({} elements): {}:{} is empty", axis, n,
                                    c.i("start"), c.attrs.count("end") ? std::to_string(c.i("end")) : std::string()),
           "an empty slice", "choose start below end within the axis");
    return;
  }
  c.set("axis", axis), c.set("start", start), c.set("end", end), c.set("step", step);
  c.out.shape.dims[size_t(axis)] = Dim::constant(len);
}

// pad(pads, mode, value): torch.nn.functional.pad on the trailing axes, pairs from the last axis back.
void padRule(ShapeCtx& c) {
  const Type& x = *c.in[0];
  if (!needFloat(c)) return;
  c.out = outLike(x);
  if (x.shape.unknownRank) return;
  const std::vector<int64_t> pads = c.ints("pads");
  const size_t r = x.shape.rank();
  if (pads.empty() || pads.size() % 2 || pads.size() > 6) {
    c.fail(Code::E0212, fmt::format("argument `pads` of `pad` must be [left, right], [left, right, top, bottom] or six values, "
                                    "found {} values", pads.size()), "", "");
    return;
  }
  if (pads.size() / 2 >= r) {
    c.fail(Code::E0218, fmt::format("`pad` cannot change the batch axis (axis 0) of {}: {} pads {} axes", x.brief(),
                                    pads.size(), pads.size() / 2),
           "pads the batch axis", "give one pair per non-batch axis, the last axis first");
    return;
  }
  for (int64_t v : pads)
    if (v < 0) {
      c.fail(Code::E0212, fmt::format("argument `pads` of `pad` must be at least 0, found {}", v), "", "");
      return;
    }
  const bool reflect = c.s("mode") == "reflect";
  const char* names[6] = {"pad_left", "pad_right", "pad_top", "pad_bottom", "pad_front", "pad_back"};
  for (size_t k = 0; k < 6; ++k) c.set(names[k], k < pads.size() ? pads[k] : int64_t(0));
  for (size_t k = 0; k < pads.size() / 2; ++k) {
    Dim& d = c.out.shape.dims[r - 1 - k];
    if (!d.isConst()) continue;
    if (reflect && (pads[2 * k] >= d.value || pads[2 * k + 1] >= d.value)) {
      c.fail(Code::E0220, fmt::format("reflect padding of `pad` must be below the size of the axis it pads ({}), found {}",
                                      d.value, std::max(pads[2 * k], pads[2 * k + 1])),
             "reflect pads past the axis", "pad less, or use `mode: replicate` or `mode: constant`");
      return;
    }
    d = Dim::constant(d.value + pads[2 * k] + pads[2 * k + 1]);
  }
}

// repeat(counts): torch's Tensor.repeat with one count per axis (the batch's 1).
void repeatRule(ShapeCtx& c) {
  const Type& x = *c.in[0];
  c.out = outLike(x);
  if (x.shape.unknownRank) return;
  const std::vector<int64_t> counts = c.ints("counts");
  if (counts.size() != x.shape.rank()) {
    c.fail(Code::E0212, fmt::format("argument `counts` of `repeat` must give one count per axis of {} (batch included), found {}",
                                    x.brief(), counts.size()), "", "");
    return;
  }
  for (int64_t v : counts)
    if (v < 1) {
      c.fail(Code::E0212, fmt::format("argument `counts` of `repeat` must be at least 1, found {}", v), "", "");
      return;
    }
  if (counts[0] != 1) {
    c.fail(Code::E0218, fmt::format("`repeat` cannot change the batch axis (axis 0) of {}: its count is {}", x.brief(), counts[0]),
           "repeats the batch", "give the batch axis the count 1");
    return;
  }
  for (size_t k = 1; k < counts.size(); ++k) {
    Dim& d = c.out.shape.dims[k];
    if (!d.isConst()) continue;
    int64_t v;
    if (!mulChecked(d.value, counts[k], v)) {
      c.fail(Code::E0210, "the repeated size overflows 64-bit integers", "", "", {});
      return;
    }
    d = Dim::constant(v);
  }
}


}  // namespace rules
}  // namespace dls::sema
