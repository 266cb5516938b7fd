#include "import/OnnxExport.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <limits>
#include <set>

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <zlib.h>

#include "CheckpointFile.h"
#include "DataFormats.h"
#include "WeightFiles.h"
#include "dlspec/OpSchema.h"
#include "sema/LayoutHash.h"
#include "sema/OpTable.h"

namespace dls::import {
namespace {

using Dims = std::vector<int64_t>;

// ---- the weights ---------------------------------------------------------------------------------------

Dims constDims(const sema::Shape& s) {
  Dims d;
  for (const auto& x : s.dims) d.push_back(x.isConst() ? x.value : -1);
  return d;
}

std::string dimsText(const Dims& d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return "[" + s + "]";
}

// A parameter's value checked against its declaration: shape and finiteness; false after E1117.
bool accept(const sema::Network& net, const sema::Param& p, WeightTensor t, const std::string& from, Weights& out,
            DiagnosticEngine& diags) {
  const Span at = p.node >= 0 ? net.nodes[size_t(p.node)].span : net.nameSpan;
  const Dims want = constDims(p.shape);
  const int64_t numel = p.shape.elements().value_or(-1);
  if (int64_t(t.values.size()) != numel) {
    diags.report(Code::E1117, at, p.name, fmt::format("{} holds {} values of shape {}, the parameter is {}", from, t.values.size(),
                                                      dimsText(t.shape), p.shape.str()));
    return false;
  }
  for (float v : t.values)
    if (!std::isfinite(v)) {
      diags.report(Code::E1117, at, p.name, fmt::format("{} holds a value that is not finite", from));
      return false;
    }
  t.shape = want;
  out[p.name] = std::move(t);
  return true;
}

// The newest ckpt-EEEEEE.dlsc of a run directory (by name: the epoch is zero-padded), or "" when none.
std::string newestCheckpoint(const std::string& dir) {
  std::string best;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("ckpt-", 0) == 0 && n.size() > 10 && n.compare(n.size() - 5, 5, ".dlsc") == 0 && n > best) best = n;
  }
  return best.empty() ? "" : dir + "/" + best;
}

}  // namespace

bool readCheckpoint(const std::string& given, const sema::Network& net, Weights& out, DiagnosticEngine& diags) {
  std::string path = given;
  std::error_code ec;
  if (std::filesystem::is_directory(given, ec)) {
    path = newestCheckpoint(given);
    if (path.empty()) {
      diags.report(Code::E1116, net.nameSpan, given, "the directory holds no checkpoint (`ckpt-EEEEEE.dlsc`)");
      return false;
    }
  }
  // The format is read where the executable reads it (data/formats/CheckpointFile.h): magic, CRC-32, version.
  data::CheckpointHeader h;
  std::vector<data::CheckpointTensor> tensors;
  if (std::string why = data::readCheckpointFile(path, h, tensors); !why.empty()) {
    diags.report(Code::E1116, net.nameSpan, path, why);
    return false;
  }
  if (h.layout_hash != sema::layoutHash(net)) {
    diags.report(Code::E1116, net.nameSpan, path,
                 fmt::format("it holds the parameters of another network (layout hash {:016x}, `{}` has {:016x})", h.layout_hash,
                             net.name, sema::layoutHash(net)));
    return false;
  }
  std::map<std::string, WeightTensor> found;
  for (auto& t : tensors) {
    if (t.entry.name.find('#') != std::string::npos) continue;  // optimiser state is not exported
    WeightTensor w;
    w.shape.assign(t.entry.dims, t.entry.dims + t.entry.rank);
    w.values = std::move(t.values);
    found[t.entry.name] = std::move(w);
  }
  bool ok = true;
  for (const sema::Param& p : net.params) {
    auto it = found.find(p.name);
    if (it == found.end()) {
      diags.report(Code::E1117, p.node >= 0 ? net.nodes[size_t(p.node)].span : net.nameSpan, p.name,
                   fmt::format("`{}` holds no tensor of that name", path));
      ok = false;
      continue;
    }
    ok = accept(net, p, std::move(it->second), "`" + path + "`", out, diags) && ok;
  }
  return ok;
}

bool readWeightsDir(const std::string& dir, const sema::Network& net, Weights& out, DiagnosticEngine& diags) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    diags.report(Code::E1116, net.nameSpan, dir, "not a directory of `<parameter>.npy` files");
    return false;
  }
  bool ok = true;
  for (const sema::Param& p : net.params) {
    const std::string path = dir + "/" + p.name + ".npy";
    data::Array a;
    data::Error err;
    const Span at = p.node >= 0 ? net.nodes[size_t(p.node)].span : net.nameSpan;
    if (!data::readNpy(path, a, err)) {
      diags.report(Code::E1117, at, p.name, fmt::format("`{}`: {}", path, err.what));
      ok = false;
      continue;
    }
    if (a.elem != data::Elem::F32) {
      diags.report(Code::E1117, at, p.name, fmt::format("`{}` holds {} values (parameters are f32)", path, data::elemName(a.elem)));
      ok = false;
      continue;
    }
    WeightTensor t;
    t.shape = a.shape;
    t.values.resize(a.numel());
    std::memcpy(t.values.data(), a.bytes.data(), a.bytes.size());
    ok = accept(net, p, std::move(t), "`" + path + "`", out, diags) && ok;
  }
  return ok;
}

namespace {

// ---- the graph -----------------------------------------------------------------------------------------

struct NoForm {
  std::string why;
};

// One part of an initialiser taken from a parameter: its values [offset, offset + rows * cols) as a [rows, cols]
// matrix, transposed or not. An initialiser made of parameters is the concatenation of its parts; the template of a
// built program (onnxTemplate) records the parts in place of the values, which the program's `export` reads its
// own parameters into (runtime/train/Export.cpp).
struct Seg {
  const sema::Param* p = nullptr;
  int64_t offset = 0, rows = 1, cols = 0;
  bool transpose = false;
};

class Exporter {
public:
  Exporter(const sema::Network& net, const Weights& w, int64_t batch, DiagnosticEngine& diags, bool tmpl = false)
      : net_(net), w_(w), diags_(diags), batch_(batch), template_(tmpl) {}
  std::optional<std::string> run(const std::string& specPath, int64_t opset);

private:
  const sema::Network& net_;
  const Weights& w_;
  DiagnosticEngine& diags_;
  int64_t batch_ = 0;     // a fixed batch size for the graph's inputs and outputs; 0: the symbol
  bool template_ = false;  // a template: the initialisers made of parameters hold their parts (Seg), not values
  std::map<std::string, std::string> parts_;  // template: initialiser name -> its parts, as text
  std::string batchSym_;  // the batch symbol (N)
  onnx::ModelProto model_;
  onnx::GraphProto* g_ = nullptr;
  std::vector<std::string> names_;  // value id -> ONNX tensor name
  std::set<std::string> used_;
  const sema::Node* cur_ = nullptr;
  int counter_ = 0;

  std::string fresh(const std::string& base) {
    std::string n = base;
    for (int k = 2; used_.count(n); ++k) n = fmt::format("{}_{}", base, k);
    used_.insert(n);
    return n;
  }
  // A name for an intermediate of the current layer: `conv2d_1/Conv`.
  std::string tmp(const std::string& what) { return fresh(cur_->layer + "/" + what); }
  onnx::NodeProto* add(const std::string& type, std::vector<std::string> in, std::vector<std::string> out) {
    onnx::NodeProto* n = g_->add_node();
    n->set_op_type(type);
    n->set_name(fresh(cur_->layer + "/" + type + "#" + std::to_string(counter_++)));
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return n;
  }
  // One op: `type(in…) -> a fresh intermediate`; returns its name.
  std::string op(const std::string& type, std::vector<std::string> in, onnx::NodeProto** node = nullptr) {
    std::string o = tmp(type);
    onnx::NodeProto* n = add(type, std::move(in), {o});
    if (node) *node = n;
    return o;
  }
  static void attrI(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::INT), a->set_i(v);
  }
  static void attrF(onnx::NodeProto* n, const std::string& name, double v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::FLOAT), a->set_f(float(v));
  }
  static void attrInts(onnx::NodeProto* n, const std::string& name, const Dims& v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attrS(onnx::NodeProto* n, const std::string& name, const std::string& v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(onnx::AttributeProto::STRING), a->set_s(v);
  }
  std::string initF(const std::string& name, const Dims& dims, const std::vector<float>& v) {
    onnx::TensorProto* t = g_->add_initializer();
    const std::string n = fresh(name);
    t->set_name(n);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
    return n;
  }
  std::string scalar(float v) { return initF(cur_->layer + "/const", {}, {v}); }
  std::string initI64(const std::string& name, const Dims& v) {
    onnx::TensorProto* t = g_->add_initializer();
    const std::string n = fresh(name);
    t->set_name(n);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(int64_t(v.size()));
    t->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * 8));
    return n;
  }

  // The node's parameter whose name ends in `.suffix`, and its value.
  const sema::Param* param(const sema::Node& n, const std::string& suffix) const {
    for (int id : n.params) {
      const sema::Param& p = net_.params[size_t(id)];
      if (p.name.size() > suffix.size() && p.name.compare(p.name.size() - suffix.size() - 1, std::string::npos, "." + suffix) == 0) return &p;
    }
    return nullptr;
  }
  const WeightTensor& value(const sema::Param& p) const { return w_.at(p.name); }
  // A parameter's number of values (its shape's: a template holds no values).
  int64_t numel(const sema::Param& p) const {
    int64_t n = 1;
    for (int64_t d : value(p).shape) n *= d;
    return n;
  }
  // An initialiser made of parameters' values (Seg): the values, and in a template its parts (and zeros, which
  // leave once ONNX's checker has seen them).
  std::string initP(const std::string& name, const Dims& dims, const std::vector<Seg>& segs) {
    std::vector<float> v;
    std::string parts;
    int64_t total = 0;
    for (const Seg& s : segs) {
      const std::vector<float>& src = value(*s.p).values;
      if (s.offset < 0 || s.rows < 1 || s.cols < 1 || s.offset + s.rows * s.cols > numel(*s.p) ||
          (!template_ && int64_t(src.size()) != numel(*s.p)))
        throw NoForm{fmt::format("a part of `{}` outside the parameter (an internal inconsistency)", s.p->name)};
      parts += fmt::format("{}{},{},{},{},{}", parts.empty() ? "" : ";", s.p->name, s.offset, s.rows, s.cols, s.transpose ? "t" : "n");
      total += s.rows * s.cols;
      if (template_) continue;
      if (!s.transpose) {
        v.insert(v.end(), src.begin() + s.offset, src.begin() + s.offset + s.rows * s.cols);
      } else {
        for (int64_t c = 0; c < s.cols; ++c)
          for (int64_t r = 0; r < s.rows; ++r) v.push_back(src[size_t(s.offset + r * s.cols + c)]);
      }
    }
    if (!template_) return initF(name, dims, v);
    const std::string n = initF(name, dims, {});
    g_->mutable_initializer(g_->initializer_size() - 1)->mutable_raw_data()->assign(size_t(total) * 4, '\0');
    parts_[n] = parts;
    return n;
  }
  static Seg whole(const sema::Param& p, int64_t numel) { return Seg{&p, 0, 1, numel, false}; }
  std::string paramInit(const sema::Param& p) { return initP(p.name, value(p).shape, {whole(p, numel(p))}); }
  std::string paramInitAs(const sema::Param& p, const Dims& shape) {
    return initP(p.name, shape, {whole(p, numel(p))});
  }

  // An attribute as the runtime reads it: the node's value, else the op's row in ops.def.
  double num(const std::string& name) const {
    if (const sema::AttrValue* v = cur_->attr(name)) {
      if (const auto* i = std::get_if<int64_t>(v)) return double(*i);
      if (const auto* d = std::get_if<double>(v)) return *d;
      if (const auto* b = std::get_if<bool>(v)) return *b ? 1 : 0;
    }
    const schema::OpRow* row = schema::find(cur_->op->opcode);
    const schema::AttrRow* a = row ? row->attr(name) : nullptr;
    if (!a) throw NoForm{fmt::format("the attribute `{}` has no value (an internal inconsistency)", name)};
    return a->dflt;
  }
  int64_t i(const std::string& name) const { return int64_t(num(name)); }

  Dims shapeOf(int value) const { return constDims(net_.values[size_t(value)].type.shape); }
  // A reshape's target: the batch axis as -1, the rest the value's sizes.
  std::string reshapeTo(const std::string& x, const Dims& shape) {
    Dims s = shape;
    s[0] = -1;
    return op("Reshape", {x, initI64(cur_->layer + "/shape", s)});
  }

  std::string translate(const sema::Node& n);
  std::string layerNorm(const std::string& x, int64_t rank, int64_t axes);
  std::string attention(const std::string& x, const sema::Node& n, const std::string& memory = {});
  std::string recurrent(const std::string& x, const sema::Node& n);
};

// (x - mean) / sqrt(var + eps) over the last `axes` of the rank-`r` value x, the biased variance.
std::string Exporter::layerNorm(const std::string& x, int64_t r, int64_t axes) {
  Dims ax;
  for (int64_t a = r - axes; a < r; ++a) ax.push_back(a);
  onnx::NodeProto* m;
  const std::string mean = op("ReduceMean", {x}, &m);
  attrInts(m, "axes", ax), attrI(m, "keepdims", 1);
  const std::string d = op("Sub", {x, mean});
  const std::string sq = op("Mul", {d, d});
  const std::string var = op("ReduceMean", {sq}, &m);
  attrInts(m, "axes", ax), attrI(m, "keepdims", 1);
  const std::string sd = op("Sqrt", {op("Add", {var, scalar(float(num("eps")))})});
  return op("Div", {d, sd});
}

// torch.nn.MultiheadAttention (batch first) as MatMul / Softmax: self-attention (ops.def MULTI_HEAD_ATTENTION), or
// cross-attention with the keys and values projected from `memory` [N, S, K] (CROSS_ATTENTION; K != D: torch's
// q_proj_weight, k_proj_weight, v_proj_weight).
std::string Exporter::attention(const std::string& x, const sema::Node& n, const std::string& memory) {
  const Dims xs = shapeOf(n.inputs[0]);  // [N, T, D]
  const int64_t T = xs[1], D = xs[2], H = i("heads"), E = D / H;
  const int64_t S = memory.empty() ? T : shapeOf(n.inputs[1])[1];
  const std::string& kvIn = memory.empty() ? x : memory;
  const int64_t K = memory.empty() ? D : shapeOf(n.inputs[1])[2];  // the memory's width (kdim = vdim)
  const sema::Param* win = param(n, "in_proj_weight");
  const sema::Param* wsplit[3] = {param(n, "q_proj_weight"), param(n, "k_proj_weight"), param(n, "v_proj_weight")};
  const sema::Param* wout = param(n, "out_proj.weight");
  const sema::Param* bin = param(n, "in_proj_bias");
  const sema::Param* bout = param(n, "out_proj.bias");
  if ((!win && (!wsplit[0] || !wsplit[1] || !wsplit[2])) || !wout)
    throw NoForm{"its projection weights are missing (an internal inconsistency)"};
  auto project = [&](int k, const std::string& name) {  // rows k*D .. (k+1)*D of in_proj, or W_q, W_k, W_v: x W^T + b
    const int64_t cols = k == 0 ? D : K;
    const Seg w = win ? Seg{win, k * D * D, D, D, true} : Seg{wsplit[k], 0, D, cols, true};
    std::string y = op("MatMul", {k == 0 ? x : kvIn, initP(n.layer + "/" + name + "_weight", {cols, D}, {w})});
    if (bin) y = op("Add", {y, initP(n.layer + "/" + name + "_bias", {D}, {Seg{bin, k * D, 1, D, false}})});
    return y;
  };
  auto heads = [&](const std::string& v, int64_t steps, const std::string& tag, const Dims& perm) {
    // [N, steps, D] -> [N, steps, H, E] -> permuted
    onnx::NodeProto* t;
    std::string r = op("Transpose", {op("Reshape", {v, initI64(n.layer + tag, {-1, steps, H, E})})}, &t);
    attrInts(t, "perm", perm);
    return r;
  };
  const std::string memHeads = memory.empty() ? "/heads" : "/memory_heads";
  const std::string q = heads(project(0, "q"), T, "/heads", {0, 2, 1, 3});  // [N, H, T, E]
  const std::string k = heads(project(1, "k"), S, memHeads, {0, 2, 3, 1});  // [N, H, E, S]
  const std::string v = heads(project(2, "v"), S, memHeads, {0, 2, 1, 3});  // [N, H, S, E]
  std::string s = op("Mul", {op("MatMul", {q, k}), scalar(float(1.0 / std::sqrt(double(E))))});
  if (num("causal") != 0) {  // torch's attn_mask triu(-inf, 1) of shape [T, S]
    std::vector<float> mask(size_t(T * S), 0.0f);
    for (int64_t a = 0; a < T; ++a)
      for (int64_t b = a + 1; b < S; ++b) mask[size_t(a * S + b)] = -std::numeric_limits<float>::infinity();
    s = op("Add", {s, initF(n.layer + "/causal_mask", {T, S}, mask)});
  }
  onnx::NodeProto* sm;
  const std::string p = op("Softmax", {s}, &sm);
  attrI(sm, "axis", -1);
  onnx::NodeProto* t;
  const std::string o = op("Transpose", {op("MatMul", {p, v})}, &t);  // [N, T, H, E]
  attrInts(t, "perm", {0, 2, 1, 3});
  std::string y = op("MatMul", {op("Reshape", {o, initI64(n.layer + "/merge", {-1, T, D})}),
                                initP(wout->name, {D, D}, {Seg{wout, 0, D, D, true}})});
  if (bout) y = op("Add", {y, paramInit(*bout)});
  return y;
}

// rnn, gru, lstm (torch.nn's cells, batch first) as ONNX's RNN, GRU, LSTM over [T, N, F]: the gate rows
// reordered from torch's (r z n; i f g o) to ONNX's (z r h; i o f c), the two biases side by side.
std::string Exporter::recurrent(const std::string& x, const sema::Node& n) {
  const std::string name(n.op->name);
  const int64_t U = shapeOf(n.output).back();
  const int G = name == "lstm" ? 4 : name == "gru" ? 3 : 1;
  std::vector<int> order = G == 4 ? std::vector<int>{0, 3, 1, 2} : G == 3 ? std::vector<int>{1, 0, 2} : std::vector<int>{0};
  auto reorder = [&](const sema::Param* p, int64_t cols) {  // the gates' blocks of rows in ONNX's order
    std::vector<Seg> out;
    for (int g : order) out.push_back(Seg{p, g * U * cols, 1, U * cols, false});
    return out;
  };
  const sema::Param* wih = param(n, "weight_ih");
  const sema::Param* whh = param(n, "weight_hh");
  const sema::Param* bih = param(n, "bias_ih");
  const sema::Param* bhh = param(n, "bias_hh");
  if (!wih || !whh) throw NoForm{"its weights are missing (an internal inconsistency)"};
  const int64_t F = value(*wih).shape.back();
  std::vector<std::string> in = {op("Transpose", {x}), initP(wih->name, {1, G * U, F}, reorder(wih, F)),
                                 initP(whh->name, {1, G * U, U}, reorder(whh, U))};
  attrInts(g_->mutable_node(g_->node_size() - 1), "perm", {1, 0, 2});
  if (bih && bhh) {
    std::vector<Seg> b = reorder(bih, 1);
    const std::vector<Seg> bh = reorder(bhh, 1);
    b.insert(b.end(), bh.begin(), bh.end());
    in.push_back(initP(n.layer + ".bias", {1, 2 * G * U}, b));
  }
  const std::string type = G == 4 ? "LSTM" : G == 3 ? "GRU" : "RNN";
  const std::string y = tmp(type + "_Y"), yh = tmp(type + "_Y_h");
  onnx::NodeProto* r = add(type, in, {y, yh});
  attrI(r, "hidden_size", U);
  if (G == 1) {
    const std::string act = cur_->strAttr("activation", "tanh");
    auto* acts = r->add_attribute();
    acts->set_name("activations"), acts->set_type(onnx::AttributeProto::STRINGS);
    acts->add_strings(act == "relu" ? "Relu" : act == "leaky_relu" ? "LeakyRelu" : "Tanh");
    if (act == "leaky_relu") {
      auto* a = r->add_attribute();
      a->set_name("activation_alpha"), a->set_type(onnx::AttributeProto::FLOATS), a->add_floats(float(num("alpha")));
    }
  }
  if (G == 3) attrI(r, "linear_before_reset", num("reset_after") != 0 ? 1 : 0);
  if (cur_->strAttr("output", "sequence") == "last") {  // Y_h [1, N, U]
    onnx::NodeProto* s;
    return op("Squeeze", {yh, initI64(n.layer + "/axes", {0})}, &s);
  }
  onnx::NodeProto* t;
  std::string seq = op("Transpose", {op("Squeeze", {y, initI64(n.layer + "/axes", {1})})}, &t);  // [T, 1, N, U] -> [N, T, U]
  attrInts(t, "perm", {1, 0, 2});
  return seq;
}

std::string Exporter::translate(const sema::Node& n) {
  const std::string name(n.op->name);
  auto in = [&](size_t k) { return names_[size_t(n.inputs[k])]; };
  const std::string x = n.inputs.empty() ? "" : in(0);
  const Dims xs = n.inputs.empty() ? Dims{} : shapeOf(n.inputs[0]);
  const Dims ys = shapeOf(n.output);
  onnx::NodeProto* o = nullptr;
  auto unary = [&](const std::string& type) { return op(type, {x}, &o); };

  if (name == "dense") {
    const sema::Param* w = param(n, "weight");
    const sema::Param* b = param(n, "bias");
    const int64_t M = ys.back(), K = value(*w).shape.back();
    if (xs.size() == 2 || ys.size() == 2) {
      std::string flat = x;
      if (xs.size() != 2) {
        flat = op("Flatten", {x}, &o);
        attrI(o, "axis", 1);
      }
      std::vector<std::string> args = {flat, paramInit(*w)};
      if (b) args.push_back(paramInit(*b));
      std::string y = op("Gemm", args, &o);
      attrI(o, "transB", 1);
      return y;
    }
    std::string y = op("MatMul", {x, initP(w->name, {K, M}, {Seg{w, 0, M, K, true}})});
    return b ? op("Add", {y, paramInit(*b)}) : y;
  }
  if (name == "conv2d" || name == "conv1d") {
    const bool one = name == "conv1d";
    const sema::Param* w = param(n, "weight");
    const sema::Param* b = param(n, "bias");
    std::vector<std::string> args = {x, paramInit(*w)};
    if (b) args.push_back(paramInit(*b));
    std::string y = op("Conv", args, &o);
    const Dims& ws = value(*w).shape;
    attrInts(o, "kernel_shape", Dims(ws.begin() + 2, ws.end()));
    if (one) {
      attrInts(o, "strides", {i("stride")}), attrInts(o, "pads", {i("pad_left"), i("pad_right")});
      attrInts(o, "dilations", {i("dilation")});
    } else {
      attrInts(o, "strides", {i("stride_h"), i("stride_w")});
      attrInts(o, "pads", {i("pad_top"), i("pad_left"), i("pad_bottom"), i("pad_right")});
      attrInts(o, "dilations", {i("dilation_h"), i("dilation_w")});
    }
    attrI(o, "group", i("groups"));
    return y;
  }
  if (name == "maxpool" || name == "avgpool" || name == "maxpool1d" || name == "avgpool1d") {
    const bool one = name.back() == 'd', mx = name.rfind("max", 0) == 0;
    std::string y = op(mx ? "MaxPool" : "AveragePool", {x}, &o);
    if (one) {
      attrInts(o, "kernel_shape", {i("kernel_w")}), attrInts(o, "strides", {i("stride_w")});
      attrInts(o, "pads", {i("pad_left"), i("pad_right")});
      if (mx) attrInts(o, "dilations", {i("dilation_w")});
    } else {
      attrInts(o, "kernel_shape", {i("kernel_h"), i("kernel_w")}), attrInts(o, "strides", {i("stride_h"), i("stride_w")});
      attrInts(o, "pads", {i("pad_top"), i("pad_left"), i("pad_bottom"), i("pad_right")});
      if (mx) attrInts(o, "dilations", {i("dilation_h"), i("dilation_w")});
    }
    if (!mx) attrI(o, "count_include_pad", 0);  // padding excluded from the average (ops.def AVGPOOL)
    return y;
  }
  if (name == "global_avgpool" || name == "global_maxpool") {
    std::string y = op(name == "global_avgpool" ? "GlobalAveragePool" : "GlobalMaxPool", {x});
    y = op("Flatten", {y}, &o);
    attrI(o, "axis", 1);
    return y;
  }
  if (name == "adaptive_avgpool") {
    const int64_t H = xs[2], W = xs[3], OH = ys[2], OW = ys[3];
    if (H % OH == 0 && W % OW == 0) {  // equal bins: an average pool
      std::string y = op("AveragePool", {x}, &o);
      attrInts(o, "kernel_shape", {H / OH, W / OW}), attrInts(o, "strides", {H / OH, W / OW});
      return y;
    }
    // torch's bins (ops.def ADAPTIVE_AVGPOOL) as one product with the averaging matrix [H*W, OH*OW].
    std::vector<float> m(size_t(H * W * OH * OW), 0.0f);
    for (int64_t a = 0; a < OH; ++a)
      for (int64_t b = 0; b < OW; ++b) {
        const int64_t h0 = a * H / OH, h1 = ((a + 1) * H + OH - 1) / OH, w0 = b * W / OW, w1 = ((b + 1) * W + OW - 1) / OW;
        const float inv = 1.0f / float((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) m[size_t((h * W + w) * OH * OW + a * OW + b)] = inv;
      }
    std::string flat = op("Reshape", {x, initI64(n.layer + "/shape", {-1, xs[1], H * W})});
    std::string y = op("MatMul", {flat, initF(n.layer + "/bins", {H * W, OH * OW}, m)});
    return reshapeTo(y, ys);
  }
  if (name == "mean" || name == "sum" || name == "max") {
    const Dims flags = n.intsAttr("axes");
    Dims axes;
    for (size_t a = 0; a < flags.size(); ++a)
      if (flags[a]) axes.push_back(int64_t(a));
    const int64_t keep = i("keepdims");
    if (name == "sum") {
      std::string y = op("ReduceSum", {x, initI64(n.layer + "/axes", axes)}, &o);
      attrI(o, "keepdims", keep);
      return y;
    }
    std::string y = op(name == "mean" ? "ReduceMean" : "ReduceMax", {x}, &o);
    attrInts(o, "axes", axes), attrI(o, "keepdims", keep);
    return y;
  }
  if (name == "batch_norm") {
    const sema::Param *g = param(n, "weight"), *b = param(n, "bias"), *m = param(n, "running_mean"), *v = param(n, "running_var");
    std::string y = op("BatchNormalization", {x, paramInit(*g), paramInit(*b), paramInit(*m), paramInit(*v)}, &o);
    attrF(o, "epsilon", num("eps"));
    return y;
  }
  if (name == "layer_norm") {
    std::string y = layerNorm(x, int64_t(xs.size()), i("axes"));
    y = op("Mul", {y, paramInit(*param(n, "weight"))});
    return op("Add", {y, paramInit(*param(n, "bias"))});
  }
  if (name == "instance_norm" || name == "group_norm") {
    const int64_t C = xs[1], G = name == "instance_norm" ? C : i("groups");
    const sema::Param *g = param(n, "weight"), *b = param(n, "bias");
    Dims cshape(xs.size() - 1, 1);
    cshape[0] = C;
    if (name == "instance_norm") {
      std::string gv = g ? paramInit(*g) : initF(n.layer + ".weight", {C}, std::vector<float>(size_t(C), 1.0f));
      std::string bv = b ? paramInit(*b) : initF(n.layer + ".bias", {C}, std::vector<float>(size_t(C), 0.0f));
      std::string y = op("InstanceNormalization", {x, gv, bv}, &o);
      attrF(o, "epsilon", num("eps"));
      return y;
    }
    // group_norm: [N, G, rest] normalised over its last axis, back to x's shape, then per-channel weight and bias.
    std::string grouped = op("Reshape", {x, initI64(n.layer + "/groups", {0, G, -1})});
    std::string y = reshapeTo(layerNorm(grouped, 3, 1), xs);
    if (g) y = op("Mul", {y, paramInitAs(*g, cshape)});
    if (b) y = op("Add", {y, paramInitAs(*b, cshape)});
    return y;
  }
  if (name == "dropout") return x;  // identity in inference (ops.def DROPOUT)
  if (name == "embedding") {
    return op("Gather", {paramInit(*param(n, "weight")), x});
  }
  if (name == "positional_embedding") {
    const sema::Param* w = param(n, "weight");
    const int64_t T = xs[1], D = xs[2];
    return op("Add", {x, initP(w->name, {T, D}, {Seg{w, 0, 1, T * D, false}})});
  }
  if (name == "multi_head_attention") return attention(x, n);
  if (name == "cross_attention") return attention(names_[size_t(n.inputs[0])], n, names_[size_t(n.inputs[1])]);
  if (name == "rnn" || name == "gru" || name == "lstm") return recurrent(x, n);
  if (name == "upsample") {
    const float f = float(i("factor"));
    std::vector<float> scales(xs.size(), 1.0f);
    for (size_t a = 2; a < xs.size(); ++a) scales[a] = f;
    std::string y = op("Resize", {x, "", initF(n.layer + "/scales", {int64_t(scales.size())}, scales)}, &o);
    attrS(o, "mode", "nearest"), attrS(o, "coordinate_transformation_mode", "asymmetric"), attrS(o, "nearest_mode", "floor");
    return y;
  }
  if (name == "reorg") throw NoForm{"Darknet's reorg order is not ONNX's SpaceToDepth, and no ONNX operator reads it"};
  if (name == "local") throw NoForm{"ONNX has no locally connected layer (a convolution without weight sharing)"};
  // activations
  if (name == "relu") return unary("Relu");
  if (name == "tanh") return unary("Tanh");
  if (name == "sigmoid") return unary("Sigmoid");
  if (name == "softmax" || name == "log_softmax") {
    std::string y = unary(name == "softmax" ? "Softmax" : "LogSoftmax");
    attrI(o, "axis", -1);
    return y;
  }
  if (name == "leaky_relu") {
    std::string y = unary("LeakyRelu");
    attrF(o, "alpha", num("alpha"));
    return y;
  }
  if (name == "elu") {
    std::string y = unary("Elu");
    attrF(o, "alpha", num("alpha"));
    return y;
  }
  if (name == "selu") return unary("Selu");  // ONNX's defaults are torch's constants
  if (name == "gelu") {  // x * Phi(x), the erf form
    std::string e = op("Erf", {op("Div", {x, scalar(float(std::sqrt(2.0)))})});
    return op("Mul", {op("Mul", {x, scalar(0.5f)}), op("Add", {e, scalar(1.0f)})});
  }
  if (name == "silu") return op("Mul", {x, op("Sigmoid", {x})});
  if (name == "mish") return op("Mul", {x, op("Tanh", {op("Softplus", {x})})});
  if (name == "softplus") {
    const double beta = num("beta"), threshold = num("threshold");
    // ONNX's Softplus has no threshold: torch returns x above it, where log(1 + e^x) equals x in f32 as long
    // as the threshold is at least 17 (e^-17 is below half an f32 ulp of 17).
    if (threshold < 17) throw NoForm{fmt::format("`threshold: {}` (ONNX's Softplus has none; it equals torch's only from 17 on)", threshold)};
    if (beta == 1) return unary("Softplus");
    return op("Div", {op("Softplus", {op("Mul", {x, scalar(float(beta))})}), scalar(float(beta))});
  }
  if (name == "hardswish") return unary("HardSwish");
  if (name == "hardsigmoid") {
    std::string y = unary("HardSigmoid");
    attrF(o, "alpha", 1.0 / 6), attrF(o, "beta", 0.5);
    return y;
  }
  if (name == "relu6") return op("Clip", {x, scalar(0.0f), scalar(6.0f)});
  if (name == "ramp") return op("Add", {op("Relu", {x}), op("Mul", {x, scalar(0.1f)})});
  if (name == "prelu") {
    const sema::Param* w = param(n, "weight");
    Dims s = {1};
    if (numel(*w) > 1) {
      s.assign(xs.size() - 1, 1);
      s[0] = numel(*w);
    }
    return op("PRelu", {x, paramInitAs(*w, s)});
  }
  if (name == "glu") {
    const int64_t axis = i("axis");
    const int64_t half = xs[size_t(axis)] / 2;
    const std::string a = tmp("glu_a"), b = tmp("glu_b");
    onnx::NodeProto* s = add("Split", {x, initI64(n.layer + "/split", {half, half})}, {a, b});
    attrI(s, "axis", axis);
    return op("Mul", {a, op("Sigmoid", {b})});
  }
  // structural
  if (name == "flatten") {
    std::string y = unary("Flatten");
    attrI(o, "axis", 1);
    return y;
  }
  if (name == "squeeze" || name == "unsqueeze")
    return op(name == "squeeze" ? "Squeeze" : "Unsqueeze", {x, initI64(n.layer + "/axes", {i("axis")})});
  if (name == "reshape") {
    for (size_t a = 1; a < ys.size(); ++a)
      if (ys[a] < 0) throw NoForm{fmt::format("a reshape to {} (the export needs every size but the batch fixed)", net_.values[size_t(n.output)].type.shape.str())};
    return reshapeTo(x, ys);
  }
  if (name == "transpose") {
    std::string y = unary("Transpose");
    attrInts(o, "perm", n.intsAttr("perm"));
    return y;
  }
  if (name == "add") return op("Add", {in(0), in(1)});
  if (name == "mul") return op("Mul", {in(0), in(1)});
  if (name == "sub") return op("Sub", {in(0), in(1)});
  if (name == "div") return op("Div", {in(0), in(1)});
  if (name == "concat") {
    std::vector<std::string> all;
    for (size_t k = 0; k < n.inputs.size(); ++k) all.push_back(in(k));
    std::string y = op("Concat", all, &o);
    attrI(o, "axis", i("axis"));
    return y;
  }
  if (name == "conv_transpose2d") {
    const sema::Param* w = param(n, "weight");
    const sema::Param* b = param(n, "bias");
    std::vector<std::string> args = {x, paramInit(*w)};
    if (b) args.push_back(paramInit(*b));
    std::string y = op("ConvTranspose", args, &o);
    const Dims& ws = value(*w).shape;
    attrInts(o, "kernel_shape", Dims(ws.begin() + 2, ws.end()));
    attrInts(o, "strides", {i("stride_h"), i("stride_w")});
    attrInts(o, "pads", {i("pad_h"), i("pad_w"), i("pad_h"), i("pad_w")});
    attrInts(o, "dilations", {i("dilation_h"), i("dilation_w")});
    attrInts(o, "output_padding", {i("output_pad_h"), i("output_pad_w")});
    attrI(o, "group", i("groups"));
    return y;
  }
  if (name == "slice")
    return op("Slice", {x, initI64(n.layer + "/starts", {i("start")}), initI64(n.layer + "/ends", {i("end")}),
                        initI64(n.layer + "/axes", {i("axis")}), initI64(n.layer + "/steps", {i("step")})});
  if (name == "pad") {
    // ONNX's pads: every axis' begin, then every axis' end; dlspec's pairs run from the last axis back.
    const size_t r = xs.size();
    Dims pads(2 * r, 0);
    const char* names[6] = {"pad_left", "pad_right", "pad_top", "pad_bottom", "pad_front", "pad_back"};
    for (size_t k = 0; k < 3 && k + 1 < r; ++k) pads[r - 1 - k] = i(names[2 * k]), pads[2 * r - 1 - k] = i(names[2 * k + 1]);
    std::string mode = "constant";
    if (const sema::AttrValue* m = n.attr("mode"))
      if (const auto* w = std::get_if<std::string>(m)) mode = *w;
    std::vector<std::string> args = {x, initI64(n.layer + "/pads", pads)};
    if (mode == "constant") args.push_back(scalar(float(num("value"))));
    std::string y = op("Pad", args, &o);
    attrS(o, "mode", mode == "replicate" ? "edge" : mode);
    return y;
  }
  if (name == "repeat") return op("Tile", {x, initI64(n.layer + "/repeats", n.intsAttr("counts"))});
  throw NoForm{"the export has no translation of this op"};
}

// The type of a graph input or output; the batch symbol as `batch` when one is given (a fixed size).
void setType(onnx::ValueInfoProto* v, const std::string& name, int elem, const sema::Shape& s, int64_t batch,
             const std::string& batchSym) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* sh = tt->mutable_shape();
  for (const auto& d : s.dims) {
    auto* dim = sh->add_dim();
    if (d.isConst()) dim->set_dim_value(d.value);
    else if (batch > 0 && !batchSym.empty() && d.sym == batchSym) dim->set_dim_value(batch);
    else dim->set_dim_param(d.sym.empty() ? "N" : d.sym);
  }
}

int elemOf(sema::DType d) {
  switch (d) {
    case sema::DType::F32: return onnx::TensorProto::FLOAT;
    case sema::DType::I32: return onnx::TensorProto::INT32;
    case sema::DType::I64: return onnx::TensorProto::INT64;
    default: return -1;
  }
}

std::optional<std::string> Exporter::run(const std::string& specPath, int64_t opset) {
  model_.set_ir_version(onnx::IR_VERSION);
  model_.set_producer_name("dlspec");
  model_.set_producer_version("0.1.0");
  model_.set_doc_string(fmt::format("network `{}` of {}, in inference form", net_.name, specPath));
  auto* os = model_.add_opset_import();
  os->set_domain("");
  os->set_version(opset);
  g_ = model_.mutable_graph();
  g_->set_name(net_.name);
  // The batch: the symbol of the first input's first axis.
  if (!net_.inputs.empty()) {
    const sema::Shape& s = net_.values[size_t(net_.inputs[0])].type.shape;
    if (!s.dims.empty() && !s.dims[0].isConst()) batchSym_ = s.dims[0].sym;
  }
  names_.assign(net_.values.size(), "");
  for (int id : net_.inputs) {
    const sema::Value& input = net_.values[size_t(id)];
    const int elem = elemOf(input.type.dtype);
    if (elem < 0) {
      diags_.report(Code::E1115, input.span, input.name, "input", fmt::format("its element type {}", sema::dtypeName(input.type.dtype)));
      return std::nullopt;
    }
    names_[size_t(id)] = fresh(input.name.empty() ? "input" : input.name);
    setType(g_->add_input(), names_[size_t(id)], elem, input.type.shape, batch_, batchSym_);
  }
  bool ok = true;
  for (const sema::Node& n : net_.nodes) {
    cur_ = &n;
    try {
      if (!n.op) throw NoForm{"it has no op (an internal inconsistency)"};
      names_[size_t(n.output)] = translate(n);
    } catch (const NoForm& f) {
      diags_.report(Code::E1115, n.span, n.layer, n.op ? std::string(n.op->name) : "?", f.why);
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  const sema::Value& output = net_.values[size_t(net_.output)];
  // The graph's output: the network's result under the name of its kind (logits, probs …).
  std::string outName = fresh(output.type.kind == sema::SemKind::Real ? "output" : std::string(sema::semKindName(output.type.kind)));
  {
    onnx::NodeProto* id = g_->add_node();
    id->set_op_type("Identity");
    id->set_name(fresh("output/Identity"));
    id->add_input(names_[size_t(net_.output)]), id->add_output(outName);
  }
  setType(g_->add_output(), outName, onnx::TensorProto::FLOAT, output.type.shape, batch_, batchSym_);
  try {
    onnx::checker::check_model(model_);
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (auto nl = what.find("\n\n"); nl != std::string::npos) what = what.substr(0, nl);
    diags_.report(Code::E1118, net_.nameSpan, net_.name, "ONNX's checker", what);
    return std::nullopt;
  }
  if (template_) {
    // The values made of parameters leave (shape inference reads their types and shapes); their parts stay, for
    // the program's `export` to fill in.
    for (auto& t : *g_->mutable_initializer()) {
      auto it = parts_.find(t.name());
      if (it == parts_.end()) continue;
      t.clear_raw_data();
      t.set_doc_string(std::string(kTemplatePrefix) + it->second);
    }
  }
  onnx::ModelProto inferred = model_;
  try {
    onnx::ShapeInferenceOptions opts{true, 1, false};
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(), opts);
  } catch (const std::exception& e) {
    diags_.report(Code::E1118, net_.nameSpan, net_.name, "ONNX's shape inference", e.what());
    return std::nullopt;
  }
  // Shape inference's output shape must be sema's (the declared output was written on the graph output, so
  // compare what inference derives for the value feeding it).
  const std::string& last = names_[size_t(net_.output)];
  for (const auto& v : inferred.graph().value_info()) {
    if (v.name() != last || !v.type().tensor_type().has_shape()) continue;
    const auto& dims = v.type().tensor_type().shape().dim();
    const Dims want = constDims(output.type.shape);
    bool same = dims.size() == int(want.size());
    for (int k = 1; same && k < dims.size(); ++k) same = dims[k].has_dim_value() && dims[k].dim_value() == want[size_t(k)];
    if (!same) {
      Dims got;
      for (const auto& d : dims) got.push_back(d.has_dim_value() ? d.dim_value() : -1);
      diags_.report(Code::E1118, net_.nameSpan, net_.name, "the shape check",
                    fmt::format("ONNX's shape inference gives the output {}, dlspec {}", dimsText(got), output.type.shape.str()));
      return std::nullopt;
    }
  }
  std::string bytes;
  if (!model_.SerializeToString(&bytes)) {
    diags_.report(Code::E1118, net_.nameSpan, net_.name, "serialisation", "protobuf cannot serialise the model");
    return std::nullopt;
  }
  return bytes;
}

}  // namespace

std::optional<std::string> exportOnnx(const sema::Network& net, const Weights& weights, const std::string& specPath,
                                      int64_t opset, int64_t batch, DiagnosticEngine& diags) {
  return Exporter(net, weights, batch, diags).run(specPath, opset);
}

std::optional<std::string> onnxTemplate(const sema::Network& net, const std::string& specPath, const SourceManager& sm,
                                        std::string& why) {
  Weights zeros;
  for (const sema::Param& p : net.params) {
    const std::optional<int64_t> numel = p.shape.elements();
    if (!numel) {
      why = fmt::format("the parameter `{}` has no fixed shape ({})", p.name, p.shape.str());
      return std::nullopt;
    }
    zeros[p.name] = WeightTensor{constDims(p.shape), {}};  // shapes only: the template holds no values
  }
  DiagnosticEngine diags(sm);
  std::optional<std::string> model;
  try {
    model = Exporter(net, zeros, 0, diags, true).run(specPath, kExportOpset);
  } catch (const std::exception& e) {
    why = fmt::format("the translation failed ({})", e.what());
    return std::nullopt;
  }
  if (!model) {
    why = "the export refuses it";
    for (const Diagnostic& d : diags.finish())
      if (d.severity == Severity::Error) {
        why = fmt::format("{} (`dlspec export`: {})", d.message, codeInfo(d.code).id);
        break;
      }
  }
  return model;
}

namespace {
// The raw weights in the order of the network's parameters: what --safetensors and --npz write.
std::vector<data::NamedWeights> rawWeights(const sema::Network& net, const Weights& weights) {
  std::vector<data::NamedWeights> out;
  for (const sema::Param& p : net.params) {
    const WeightTensor& t = weights.at(p.name);
    out.push_back({p.name, t.shape, t.values.data(), t.values.size()});
  }
  return out;
}
}  // namespace

std::optional<std::string> npz(const sema::Network& net, const Weights& weights, std::string& why) {
  return data::npzBytes(rawWeights(net, weights), why);
}

std::string safetensors(const sema::Network& net, const Weights& weights) { return data::safetensorsBytes(rawWeights(net, weights)); }

}  // namespace dls::import
