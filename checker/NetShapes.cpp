#include "checker/NetShapes.h"

#include <set>

namespace dls::checker {

LayerClass classify(const std::string& op) {
  static const std::set<std::string> weight = {"dense", "linear", "conv1d", "conv2d", "conv3d", "conv_transpose2d", "embedding"};
  static const std::set<std::string> act = {"relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu", "selu", "silu",
                                            "swish", "softplus", "softmax", "log_softmax", "mish", "hardtanh", "relu6"};
  static const std::set<std::string> norm = {"batch_norm", "layer_norm", "group_norm", "instance_norm"};
  static const std::set<std::string> pool = {"maxpool", "avgpool", "max_pool", "avg_pool", "global_avgpool", "global_maxpool"};
  static const std::set<std::string> shape = {"flatten", "reshape", "transpose", "permute", "squeeze", "unsqueeze"};
  if (weight.count(op)) return LayerClass::Weight;
  if (act.count(op)) return LayerClass::Activation;
  if (norm.count(op)) return LayerClass::Norm;
  if (pool.count(op)) return LayerClass::Pool;
  if (shape.count(op)) return LayerClass::Shape;
  if (op == "dropout") return LayerClass::Dropout;
  return LayerClass::Other;
}

bool isNonLinear(const std::string& op) {
  LayerClass c = classify(op);
  return c == LayerClass::Activation || op == "maxpool" || op == "max_pool" || op == "global_maxpool";
}

namespace {

using Dims = std::vector<std::optional<int64_t>>;

std::optional<int64_t> mul(std::optional<int64_t> a, std::optional<int64_t> b) {
  int64_t r;
  if (!a || !b || __builtin_mul_overflow(*a, *b, &r)) return std::nullopt;
  return r;
}
std::optional<int64_t> add(std::optional<int64_t> a, std::optional<int64_t> b) {
  int64_t r;
  if (!a || !b || __builtin_add_overflow(*a, *b, &r)) return std::nullopt;
  return r;
}
std::optional<int64_t> prod(const Dims& d) {
  std::optional<int64_t> p = 1;
  for (auto& x : d) p = mul(p, x);
  return p;
}

std::optional<int64_t> intArg(const OpUse& u, const char* name, size_t pos) {
  if (auto* e = u.arg(name)) return evalInt(e);
  if (pos < u.positional.size()) return evalInt(u.positional[pos]);
  return std::nullopt;
}

// kernel: 5 or [5, 5]
std::vector<int64_t> kernelArg(const OpUse& u, const char* name, size_t pos, size_t spatial, int64_t dflt) {
  const ast::Expr* e = u.arg(name);
  if (!e && pos < u.positional.size()) e = u.positional[pos];
  e = stripParens(e);
  std::vector<int64_t> k(spatial, dflt);
  if (!e) return k;
  if (e->kind == ast::ExprKind::List) {
    for (size_t i = 0; i < spatial && i < e->items.size(); ++i)
      if (auto v = evalInt(e->items[i].get())) k[i] = *v;
    return k;
  }
  if (auto v = evalInt(e)) k.assign(spatial, *v);
  return k;
}

bool boolArg(const OpUse& u, const char* name, bool dflt) {
  const ast::Expr* e = stripParens(u.arg(name));
  if (!e || e->kind != ast::ExprKind::Name) return dflt;
  if (e->dotted() == "false") return false;
  if (e->dotted() == "true") return true;
  return dflt;
}

}  // namespace

NetFacts analyzeNet(const NetView& net) {
  NetFacts f;
  Dims cur = net.inputDims;
  bool known = !cur.empty();
  for (auto& d : cur) known = known && d.has_value() && *d > 0;
  f.params = 0;
  f.activationElems = known ? prod(cur) : std::nullopt;
  f.maxLayerElems = f.activationElems;
  for (const OpUse& u : net.layers) {
    LayerFacts L;
    L.cls = classify(u.op);
    L.bias = boolArg(u, "bias", true);
    std::optional<int64_t> params = 0;
    if (known) {
      if (u.op == "conv1d" || u.op == "conv2d" || u.op == "conv3d") {
        size_t spatial = u.op == "conv1d" ? 1 : u.op == "conv2d" ? 2 : 3;
        auto filters = intArg(u, "filters", 0);
        if (cur.size() != spatial + 1 || !filters || *filters <= 0) {
          known = false;
        } else {
          auto k = kernelArg(u, "kernel", 1, spatial, 1);
          auto s = kernelArg(u, "stride", 99, spatial, 1);
          const ast::Expr* pe = stripParens(u.arg("pad"));
          bool same = pe && pe->kind == ast::ExprKind::Name && pe->dotted() == "same";
          auto pad = same ? std::vector<int64_t>(spatial, 0) : kernelArg(u, "pad", 99, spatial, 0);
          int64_t fan = *cur[0];
          Dims out{filters};
          for (size_t i = 0; i < spatial; ++i) {
            if (k[i] <= 0 || s[i] <= 0 || pad[i] < 0) { known = false; break; }
            fan = mul(fan, k[i]).value_or(0);
            int64_t in = *cur[i + 1];
            int64_t o = same ? (in + s[i] - 1) / s[i] : (in + 2 * pad[i] - k[i]) / s[i] + 1;
            if (o <= 0) { known = false; break; }
            out.push_back(o);
          }
          if (known) {
            L.fanIn = fan;
            L.fanOut = mul(*filters, fan / std::max<int64_t>(*cur[0], 1)).value_or(0);
            params = add(mul(fan, *filters), L.bias ? filters : std::optional<int64_t>(0));
            cur = out;
          }
        }
      } else if (u.op == "dense" || u.op == "linear") {
        auto units = intArg(u, "units", 0);
        if (!units || *units <= 0 || cur.empty()) {
          known = false;
        } else {
          auto in = cur.back();
          L.fanIn = *in;
          L.fanOut = *units;
          params = add(mul(in, units), L.bias ? units : std::optional<int64_t>(0));
          cur.back() = units;
        }
      } else if (L.cls == LayerClass::Pool) {
        if (u.op.rfind("global", 0) == 0) {
          for (size_t i = 1; i < cur.size(); ++i) cur[i] = 1;
        } else {
          auto k = intArg(u, "size", 0).value_or(2);
          auto s = intArg(u, "stride", 1).value_or(k);
          if (k <= 0 || s <= 0) known = false;
          for (size_t i = 1; known && i < cur.size(); ++i) {
            int64_t o = (*cur[i] - k) / s + 1;
            if (o <= 0) { known = false; break; }
            cur[i] = o;
          }
        }
      } else if (u.op == "flatten") {
        cur = Dims{prod(cur)};
      } else if (L.cls == LayerClass::Norm) {
        auto c = u.op == "layer_norm" ? cur.back() : cur.front();
        params = mul(2, c);
      } else if (u.op == "reshape") {
        const ast::Expr* e = stripParens(u.positional.empty() ? u.arg("shape") : u.positional[0]);
        if (e && e->kind == ast::ExprKind::List) {
          Dims d;
          for (auto& it : e->items) d.push_back(evalInt(it.get()));
          if (prod(d) && prod(d) == prod(cur)) cur = d;
          else known = false;
        } else {
          known = false;
        }
      } else if (L.cls == LayerClass::Activation || L.cls == LayerClass::Dropout) {
        // shape-preserving
      } else {
        known = false;
      }
    }
    if (!known) params = std::nullopt;
    L.params = params;
    L.shapeKnown = known;
    if (known) {
      L.outShape = cur;
      L.outElems = prod(cur);
    }
    f.params = add(f.params, params);
    f.activationElems = add(f.activationElems, L.outElems);
    if (L.outElems && f.maxLayerElems && *L.outElems > *f.maxLayerElems) f.maxLayerElems = L.outElems;
    f.layers.push_back(std::move(L));
  }
  return f;
}

}  // namespace dls::checker
