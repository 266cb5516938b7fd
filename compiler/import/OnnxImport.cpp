#include "import/OnnxImport.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "sema/OpTable.h"

namespace dls::import {
namespace {

using sema::ParamRole;
using Dims = std::vector<int64_t>;  // -1: not known

std::string dimsText(const Dims& d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return "[" + s + "]";
}

int64_t product(const Dims& d, size_t from = 0) {
  int64_t n = 1;
  for (size_t i = from; i < d.size(); ++i) n *= d[i];
  return n;
}

// A translation failure of one node: reported by the caller with the node's name and op type.
struct Fail {
  Code code;
  std::string what;
};

// A node that reads the output of a node already reported: translated no further, reported no second time.
struct Cascade {};

// One ONNX value as the generated spec holds it.
struct Val {
  std::string chain;     // the expression that computes it: a name, `a + b`, or a pipe chain
  bool named = false;    // `chain` is a plain name bound by a statement (or the input)
  Dims dshape;           // dlspec's per-sample shape (no batch axis)
  Dims oshape;           // ONNX's shape, batch axis included
  std::vector<std::pair<size_t, int>> calls;  // (offset in chain, weights index) of the ops with parameters
  std::vector<int> nodes;                      // ONNX nodes of a pending chain
  std::string kind = "real";                   // logits, probs, log_probs, sigmoid_probs or real
};

// The value of a shape computation: integers (bool as 0/1) of a static shape, the batch as kBatch where the
// model's batch is symbolic.
constexpr int64_t kBatch = std::numeric_limits<int64_t>::min() / 3;
struct Folded {
  Dims dims;
  std::vector<int64_t> v;
  int type = 7;  // onnx::TensorProto::INT64
};

// A float tensor the import evaluates (weights sliced or transposed by the graph, an attention mask).
struct FTensor {
  Dims dims;
  std::vector<float> v;  // NaN: a size the import does not know (the batch in a Shape)
  bool isInt = false;    // integer values (shapes): Div truncates
};

// A value computed as `in` W + b over its last axis (a projection): W [kin, m] row-major, b [m].
struct Affine {
  std::string in;
  int64_t kin = 0, m = 0;
  std::vector<float> w, b;
  bool bias = false;  // an Add gave b
};

// An attention subgraph the import translates as one multi_head_attention or cross_attention call.
struct AttnMatch {
  std::string x, mem, y;  // the queries' value, the memory's (x for self-attention), the output [N, T, D]
  int64_t T = 0, S = 0, D = 0, K = 0, H = 1;
  bool causal = false, bias = false;
  std::vector<float> wq, wk, wv, wo, bq, bk, bv, bo;  // torch.nn's layout: [out, in]
  std::set<int> region;                               // the nodes it replaces
};

// Why a subgraph that computes attention scores is not translated: the code (E1112, at the Softmax) and the reason.
struct AttnFail {
  Code code;
  std::string what;
};

struct Line {
  std::string text;
  std::vector<std::pair<size_t, int>> calls;
  std::string def;  // the name the statement binds
  std::string key;  // the module instance its nodes belong to (instanceKey), "" for none
};

// The torch module instance a node belongs to: the first numbered child of a container in the node's path
// ("/layer1/layer1.0/conv1/Conv" -> "layer1.0"), "" for a node outside such a child. Repeated instances
// are the candidates for blocks.
std::string instanceKey(const std::string& name) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : name + "/") {
    if (c == '/') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  for (size_t i = 0; i + 2 < parts.size(); ++i)
    if (parts[i + 1].rfind(parts[i] + ".", 0) == 0 && parts[i + 1].size() > parts[i].size() + 1 &&
        std::isdigit(static_cast<unsigned char>(parts[i + 1][parts[i].size() + 1])))
      return parts[i + 1];
  return "";
}

// A statement's text as tokens: names, integer literals, and everything else (spaces, punctuation, other numbers).
struct Tok {
  enum Kind { Name, Int, Other } kind;
  std::string text;
  size_t off;
};
std::vector<Tok> tokens(const std::string& s) {
  std::vector<Tok> out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t b = i;
    const auto c = static_cast<unsigned char>(s[i]);
    if (std::isalpha(c) || c == '_') {
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
      out.push_back({Tok::Name, s.substr(b, i - b), b});
    } else if (std::isdigit(c)) {
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      bool real = false;
      while (i < s.size() && (s[i] == '.' || s[i] == 'e' || s[i] == 'E' || std::isdigit(static_cast<unsigned char>(s[i])) ||
                              ((s[i] == '-' || s[i] == '+') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
        ++i, real = true;
      out.push_back({real ? Tok::Other : Tok::Int, s.substr(b, i - b), b});
    } else if (s.compare(i, 2, "//") == 0) {
      i = s.size();
      out.push_back({Tok::Other, s.substr(b), b});
    } else {
      ++i;
      out.push_back({Tok::Other, s.substr(b, 1), b});
    }
  }
  return out;
}

class Importer {
public:
  Importer(SourceManager& sm, DiagnosticEngine& diags) : sm_(sm), diags_(diags) {}
  std::optional<OnnxImport> run(const std::string& path);

private:
  SourceManager& sm_;
  DiagnosticEngine& diags_;
  FileId file_ = Span::kNoFile;
  std::vector<Span> nodeSpans_;
  Span graphSpan_;
  onnx::ModelProto model_;
  int64_t opset_ = 0;
  std::map<std::string, const onnx::TensorProto*> inits_;
  std::map<std::string, onnx::TensorProto> constants_;  // Constant nodes' values
  std::map<std::string, Dims> shapes_;
  std::map<std::string, int> elemTypes_;
  std::map<std::string, int> uses_;                      // consumers of each value (graph outputs count)
  std::map<std::string, std::vector<int>> consumers_;
  std::map<std::string, Val> vals_;
  std::set<int> skip_;                                   // nodes folded into an earlier one
  std::set<int> folded_;                                 // shape computations evaluated by the import
  std::map<int, std::string> foldWhy_;                   // shape computations that cannot be evaluated, and why
  std::map<std::string, Folded> foldedValues_;
  std::map<std::string, int> producer_;                  // the node computing each value
  std::set<std::string> failed_;                         // outputs of nodes that could not be translated
  std::set<std::string> names_;
  std::vector<Line> body_;
  OnnxImport out_;
  bool bad_ = false;

  const onnx::TensorProto* constant(const std::string& name) const {
    if (auto it = inits_.find(name); it != inits_.end()) return it->second;
    if (auto it = constants_.find(name); it != constants_.end()) return &it->second;
    return nullptr;
  }
  void fail(int node, const Fail& f) {
    const onnx::NodeProto& n = model_.graph().node(node);
    if (f.code == Code::E1111)
      diags_.report(Code::E1111, nodeSpans_[size_t(node)], nodeName(node), n.op_type(), f.what);
    else if (f.code == Code::E1120)
      diags_.report(Code::E1120, nodeSpans_[size_t(node)], nodeName(node), n.op_type(), f.what);
    else
      diags_.report(Code::E1112, nodeSpans_[size_t(node)], nodeName(node), n.op_type(), f.what);
    bad_ = true;
  }
  void graphFail(const std::string& what, const std::string& why) {
    diags_.report(Code::E1113, graphSpan_, what, why);
    bad_ = true;
  }
  std::string nodeName(int node) const {
    const onnx::NodeProto& n = model_.graph().node(node);
    return n.name().empty() ? fmt::format("#{}", node) : n.name();
  }
  std::string freshName(const std::string& hint);
  std::string listing(const std::string& path);
  void collectShapes();
  // Evaluates the graph's shape computations (Shape, Gather, Concat … on static shapes) and replaces each by
  // a Constant node, re-running shape inference until nothing more folds.
  bool foldShapes();
  std::optional<Folded> foldNode(int node, std::string& why);
  std::optional<Folded> known(const std::string& name);
  // The value `name` as an expression with ONNX's shape (a reshape added where dlspec's differs).
  Val& input(const std::string& name);
  std::string materialize(const std::string& name);
  void translate(int node);
  void emitStage(int node, const std::string& in, const std::string& stage, const std::string& outName,
                 Dims dshape, std::map<ParamRole, OnnxTensor> params = {}, std::string kind = "real",
                 std::map<std::string, OnnxTensor> named = {});
  // Attention subgraphs (torch.nn.MultiheadAttention as torch.onnx writes it, dlspec's own export).
  std::optional<FTensor> evalConst(const std::string& name, int depth = 0);  // memoised evalNode
  std::optional<FTensor> evalNode(const std::string& name, int depth);
  std::optional<Dims> constInts(const std::string& name, int depth = 0);
  std::map<std::string, std::optional<FTensor>> evalCache_;
  std::optional<Affine> affine(const std::string& v, int depth = 0);
  Dims valueShape(const std::string& v, int depth = 0);
  Dims structuralShape(const std::string& v, int depth);
  std::optional<std::string> attentionSide(std::string v, double& scale, int64_t& width);
  std::optional<AttnMatch> matchAttention(int softmax, std::optional<AttnFail>& why);
  bool findAttention();
  void translateAttention(int node, const AttnMatch& a);
  std::map<int, AttnMatch> attn_;  // by the node that computes the attention's output
  const sema::OpInfo& requireOp(const std::string& name);
  std::string arg(const sema::OpInfo& op, const std::string& name, const std::string& value);
  void reshapeTransposed(int node, const Dims& o);
  std::string makeBlocks(const std::string& ret);
  std::string xName_;
  std::vector<std::pair<size_t, int>> blockCalls_;  // (offset in the blocks' text, weights index)
};

// ---- tensors and attributes ----------------------------------------------------------------------------

std::vector<float> floatsOf(const onnx::TensorProto& t) {
  std::vector<float> v;
  if (t.data_type() != onnx::TensorProto::FLOAT) throw Fail{Code::E1112, fmt::format("the initialiser `{}` of element type {} (dlspec's parameters are f32)", t.name(), t.data_type())};
  if (t.has_data_location() && t.data_location() == onnx::TensorProto::EXTERNAL)
    throw Fail{Code::E1112, fmt::format("the initialiser `{}` stored outside the model file", t.name())};
  if (!t.raw_data().empty()) {
    v.resize(t.raw_data().size() / 4);
    std::memcpy(v.data(), t.raw_data().data(), v.size() * 4);
  } else {
    v.assign(t.float_data().begin(), t.float_data().end());
  }
  return v;
}

std::vector<int64_t> intsOf(const onnx::TensorProto& t) {
  std::vector<int64_t> v;
  if (t.data_type() != onnx::TensorProto::INT64) throw Fail{Code::E1112, fmt::format("the constant `{}` of element type {}", t.name(), t.data_type())};
  if (!t.raw_data().empty()) {
    v.resize(t.raw_data().size() / 8);
    std::memcpy(v.data(), t.raw_data().data(), v.size() * 8);
  } else {
    v.assign(t.int64_data().begin(), t.int64_data().end());
  }
  return v;
}

Dims dimsOf(const onnx::TensorProto& t) { return Dims(t.dims().begin(), t.dims().end()); }

const onnx::AttributeProto* attrOf(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
int64_t intAttr(const onnx::NodeProto& n, const std::string& name, int64_t dflt) {
  const auto* a = attrOf(n, name);
  return a ? a->i() : dflt;
}
double floatAttr(const onnx::NodeProto& n, const std::string& name, double dflt) {
  const auto* a = attrOf(n, name);
  return a ? double(a->f()) : dflt;
}
std::string strAttr(const onnx::NodeProto& n, const std::string& name, const std::string& dflt) {
  const auto* a = attrOf(n, name);
  return a ? a->s() : dflt;
}
std::optional<Dims> intsAttr(const onnx::NodeProto& n, const std::string& name) {
  const auto* a = attrOf(n, name);
  if (!a) return std::nullopt;
  return Dims(a->ints().begin(), a->ints().end());
}

// `%g`-like text of a number that reads back as the same f32.
std::string num(double v) {
  for (int p = 6; p <= 17; ++p) {
    std::string s = fmt::format("{:.{}g}", v, p);
    if (float(std::strtod(s.c_str(), nullptr)) == float(v)) {
      if (s.find_first_of(".e") == std::string::npos) s += ".0";
      if (s[0] == '-') return s;  // the caller wraps negative values where needed
      return s;
    }
  }
  return fmt::format("{}", v);
}

// dlspec's pair/quad arguments: one value when all agree.
std::string pairArg(int64_t a, int64_t b) { return a == b ? std::to_string(a) : fmt::format("[{}, {}]", a, b); }
std::string padArg(const Dims& p) {  // ONNX pads [top, left, bottom, right]
  if (p[0] == p[2] && p[1] == p[3]) return pairArg(p[0], p[1]);
  return fmt::format("[{}, {}, {}, {}]", p[0], p[1], p[2], p[3]);
}

OnnxTensor transposed(const std::vector<float>& v, int64_t rows, int64_t cols) {  // [rows, cols] -> [cols, rows]
  OnnxTensor t{{cols, rows}, std::vector<float>(v.size())};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t.values[size_t(c * rows + r)] = v[size_t(r * cols + c)];
  return t;
}

bool isKeyword(const std::string& s) {
  static const std::set<std::string> k = {"return", "allow", "dlspec", "dataset", "pipeline", "block", "network",
                                          "train", "sample", "label", "from", "augment", "on", "every", "metrics",
                                          "keep", "N"};
  return k.count(s) > 0;
}

// ---- the importer --------------------------------------------------------------------------------------

std::string Importer::freshName(const std::string& hint) {
  // "/layer1/layer1.0/conv1/Conv" -> "layer1_0_conv1": module path components, a component dropped when the
  // next one extends it (torch's "layer1", "layer1.0"), the op type at the end dropped.
  std::vector<std::string> parts;
  std::string cur;
  for (char c : hint + "/") {
    if (c == '/') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (parts.size() > 1) parts.pop_back();
  std::vector<std::string> kept;
  for (size_t i = 0; i < parts.size(); ++i)
    if (!(i + 1 < parts.size() && parts[i + 1].rfind(parts[i] + ".", 0) == 0)) kept.push_back(parts[i]);
  std::string s;
  for (const std::string& p : kept) s += (s.empty() ? "" : "_") + p;
  std::string out;
  for (char c : s) {
    char ch = std::isalnum(static_cast<unsigned char>(c)) ? char(std::tolower(static_cast<unsigned char>(c))) : '_';
    if (ch == '_' && (out.empty() || out.back() == '_')) continue;
    out += ch;
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "v" + out;
  if (isKeyword(out)) out += "_";
  std::string name = out;
  for (int k = 2; names_.count(name); ++k) name = fmt::format("{}_{}", out, k);
  names_.insert(name);
  return name;
}

std::string Importer::listing(const std::string& path) {
  const auto& g = model_.graph();
  std::string text = fmt::format("graph `{}` of {} (opset {}): {} nodes, one line each below\n", g.name(), path,
                                 opset_, g.node_size());
  graphSpan_ = Span{file_, 0, uint32_t(text.size() - 1)};
  std::vector<std::pair<uint32_t, uint32_t>> at;
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    std::string ins, outs;
    for (const auto& s : n.input()) ins += (ins.empty() ? "" : ", ") + s;
    for (const auto& s : n.output()) outs += (outs.empty() ? "" : ", ") + s;
    std::string line = fmt::format("node {} `{}`: {}({}) -> {}", i, nodeName(i), n.op_type(), ins, outs);
    at.push_back({uint32_t(text.size()), uint32_t(text.size() + line.size())});
    text += line + "\n";
  }
  file_ = sm_.add(path, text);
  graphSpan_.file = file_;
  for (auto [b, e] : at) nodeSpans_.push_back(Span{file_, b, e});
  return text;
}

void Importer::collectShapes() {
  const auto& g = model_.graph();
  auto take = [&](const onnx::ValueInfoProto& v) {
    if (!v.type().has_tensor_type()) return;
    const auto& tt = v.type().tensor_type();
    elemTypes_[v.name()] = tt.elem_type();
    if (!tt.has_shape()) return;
    Dims d;
    for (const auto& dim : tt.shape().dim()) d.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
    shapes_[v.name()] = d;
  };
  for (const auto& v : g.input()) take(v);
  for (const auto& v : g.value_info()) take(v);
  for (const auto& v : g.output()) take(v);
  for (const auto& t : g.initializer()) {
    inits_[t.name()] = &t;
    shapes_[t.name()] = dimsOf(t);
  }
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    for (const auto& s : n.input())
      if (!s.empty()) ++uses_[s], consumers_[s].push_back(i);
    for (const auto& s : n.output()) producer_[s] = i;
    if (n.op_type() == "Constant" && n.output_size() == 1)
      if (const auto* a = attrOf(n, "value")) {
        constants_[n.output(0)] = a->t();
        shapes_[n.output(0)] = dimsOf(a->t());
      }
  }
  for (const auto& v : g.output()) ++uses_[v.name()];
}

// ---- shape computations --------------------------------------------------------------------------------

std::optional<Folded> Importer::known(const std::string& name) {
  if (auto it = foldedValues_.find(name); it != foldedValues_.end()) return it->second;
  const onnx::TensorProto* t = constant(name);
  if (!t) return std::nullopt;
  Folded f;
  f.dims = dimsOf(*t);
  f.type = t->data_type();
  const int64_t n = product(f.dims);
  if (n > 4096) return std::nullopt;
  if (t->data_type() == onnx::TensorProto::INT64) {
    f.v = intsOf(*t);
  } else if (t->data_type() == onnx::TensorProto::INT32 || t->data_type() == onnx::TensorProto::BOOL) {
    if (!t->raw_data().empty()) {
      const size_t w = t->data_type() == onnx::TensorProto::INT32 ? 4 : 1;
      for (size_t k = 0; k + w <= t->raw_data().size(); k += w) {
        int32_t x = 0;
        std::memcpy(&x, t->raw_data().data() + k, w);
        f.v.push_back(w == 1 ? (x & 0xff) : x);
      }
    } else {
      f.v.assign(t->int32_data().begin(), t->int32_data().end());
    }
  } else {
    return std::nullopt;  // float data: not a shape computation
  }
  if (int64_t(f.v.size()) != n) return std::nullopt;
  return f;
}

namespace {
bool isIntType(int t) {
  return t == onnx::TensorProto::INT64 || t == onnx::TensorProto::INT32 || t == onnx::TensorProto::BOOL;
}
std::string foldedText(const Folded& f) {
  std::string s;
  for (size_t i = 0; i < f.v.size(); ++i) s += (i ? ", " : "") + (f.v[i] == kBatch ? std::string("N") : std::to_string(f.v[i]));
  return "[" + s + "]";
}
}  // namespace

// One shape computation evaluated, or nullopt with `why` (empty: not a shape computation at all).
std::optional<Folded> Importer::foldNode(int node, std::string& why) {
  const onnx::NodeProto& n = model_.graph().node(node);
  const std::string& t = n.op_type();
  std::vector<Folded> in;
  if (t != "Shape") {
    for (int i = 0; i < n.input_size(); ++i) {
      if (n.input(i).empty()) {
        in.push_back(Folded{});
        continue;
      }
      auto k = known(n.input(i));
      if (!k) {
        auto et = elemTypes_.find(n.input(i));
        auto from = producer_.find(n.input(i));
        const bool reported = from != producer_.end() && foldWhy_.count(from->second);  // said at its producer
        if (et != elemTypes_.end() && isIntType(et->second) && !constant(n.input(i)) && !reported)
          why = fmt::format("it reads `{}`, which is computed from the data rather than from static shapes", n.input(i));
        return std::nullopt;
      }
      in.push_back(std::move(*k));
    }
  }
  auto need = [&](size_t k) {
    if (in.size() < k) throw Fail{Code::E1120, "missing inputs"};
  };
  Folded o;
  if (t == "Shape") {
    auto it = shapes_.find(n.input(0));
    if (it == shapes_.end()) {
      why = fmt::format("the shape of `{}` is not known to ONNX's shape inference", n.input(0));
      return std::nullopt;
    }
    const Dims& d = it->second;
    for (size_t k = 0; k < d.size(); ++k) {
      if (d[k] < 0 && k > 0) {
        why = fmt::format("the shape {} of `{}` is not static", dimsText(d), n.input(0));
        return std::nullopt;
      }
      o.v.push_back(d[k] < 0 ? kBatch : d[k]);
    }
    int64_t r = int64_t(d.size());
    int64_t start = intAttr(n, "start", 0), end = intAttr(n, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<int64_t>(start, 0, r), end = std::clamp<int64_t>(end, start, r);
    o.v = std::vector<int64_t>(o.v.begin() + start, o.v.begin() + end);
    o.dims = {int64_t(o.v.size())};
    return o;
  }
  if (t == "Identity" || t == "Cast") {
    need(1);
    o = in[0];
    if (t == "Cast") {
      o.type = int(intAttr(n, "to", 7));
      if (!isIntType(o.type)) return std::nullopt;
      if (o.type == onnx::TensorProto::BOOL)
        for (auto& x : o.v) x = x != 0;
    }
    return o;
  }
  if (t == "Unsqueeze" || t == "Squeeze") {
    need(1);
    o = in[0];
    Dims axes = intsAttr(n, "axes").value_or(in.size() > 1 ? in[1].v : Dims{});
    if (t == "Unsqueeze") {
      const int64_t r = int64_t(o.dims.size() + axes.size());
      for (auto& a : axes) a = a < 0 ? a + r : a;
      std::sort(axes.begin(), axes.end());
      for (int64_t a : axes) o.dims.insert(o.dims.begin() + std::clamp<int64_t>(a, 0, int64_t(o.dims.size())), 1);
    } else {
      Dims d;
      const int64_t r = int64_t(o.dims.size());
      for (auto& a : axes) a = a < 0 ? a + r : a;
      for (int64_t k = 0; k < r; ++k)
        if (!(axes.empty() ? o.dims[size_t(k)] == 1 : std::count(axes.begin(), axes.end(), k) > 0)) d.push_back(o.dims[size_t(k)]);
      o.dims = d;
    }
    return o;
  }
  if (t == "Gather") {
    need(2);
    if (in[0].dims.size() != 1) return std::nullopt;
    o.type = in[0].type;
    o.dims = in[1].dims;
    for (int64_t k : in[1].v) {
      const int64_t size = int64_t(in[0].v.size());
      if (k < 0) k += size;
      if (k < 0 || k >= size) throw Fail{Code::E1120, fmt::format("the index {} is outside the shape {}", k, foldedText(in[0]))};
      o.v.push_back(in[0].v[size_t(k)]);
    }
    return o;
  }
  if (t == "Concat") {
    o.type = in.empty() ? 7 : in[0].type;
    for (const auto& f : in) {
      if (f.dims.size() != 1) return std::nullopt;
      o.v.insert(o.v.end(), f.v.begin(), f.v.end());
    }
    o.dims = {int64_t(o.v.size())};
    return o;
  }
  if (t == "Slice") {
    need(3);
    if (in[0].dims.size() != 1) return std::nullopt;
    const int64_t size = int64_t(in[0].v.size());
    int64_t start = in[1].v.at(0), end = in[2].v.at(0), step = in.size() > 4 && !in[4].v.empty() ? in[4].v[0] : 1;
    if (step == 0) return std::nullopt;
    auto norm = [&](int64_t x, int64_t lo, int64_t hi) { return std::clamp<int64_t>(x < 0 ? x + size : x, lo, hi); };
    start = step > 0 ? norm(start, 0, size) : norm(start, -1, size - 1);
    end = step > 0 ? norm(end, 0, size) : norm(end, -1, size - 1);
    o.type = in[0].type;
    for (int64_t k = start; step > 0 ? k < end : k > end; k += step) o.v.push_back(in[0].v[size_t(k)]);
    o.dims = {int64_t(o.v.size())};
    return o;
  }
  if (t == "ConstantOfShape") {
    need(1);
    int64_t fill = 0;
    int type = onnx::TensorProto::FLOAT;
    if (const auto* a = attrOf(n, "value")) {
      Folded v;
      type = a->t().data_type();
      if (!isIntType(type)) return std::nullopt;  // a float tensor: data, not a shape
      v.v = type == onnx::TensorProto::INT64 ? intsOf(a->t()) : Dims(a->t().int32_data().begin(), a->t().int32_data().end());
      if (v.v.empty() && !a->t().raw_data().empty()) {
        int32_t x = 0;
        std::memcpy(&x, a->t().raw_data().data(), std::min<size_t>(4, a->t().raw_data().size()));
        v.v = {x};
      }
      fill = v.v.empty() ? 0 : v.v[0];
    } else {
      return std::nullopt;
    }
    for (int64_t d : in[0].v)
      if (d == kBatch) {
        why = "it makes a tensor the size of the batch";
        return std::nullopt;
      }
    o.dims = in[0].v;
    if (product(o.dims) > 4096) return std::nullopt;
    o.type = type;
    o.v.assign(size_t(product(o.dims)), fill);
    return o;
  }
  if (t == "Add" || t == "Sub" || t == "Mul" || t == "Div" || t == "Equal" || t == "Where") {
    const size_t arity = t == "Where" ? 3 : 2;
    need(arity);
    size_t len = 1;
    for (size_t k = 0; k < arity; ++k) len = std::max(len, in[k].v.size());
    for (size_t k = 0; k < arity; ++k)
      if (in[k].v.size() != len && in[k].v.size() != 1) return std::nullopt;
    for (size_t k = 0; k < arity; ++k)
      if (in[k].v.size() == len) o.dims = in[k].dims;
    o.type = t == "Equal" ? int(onnx::TensorProto::BOOL) : in[arity - 1].type;
    for (size_t i = 0; i < len; ++i) {
      auto at = [&](size_t k) { return in[k].v.size() == 1 ? in[k].v[0] : in[k].v[i]; };
      const int64_t a = at(0), b = at(1);
      int64_t r = 0;
      if (t == "Where") {
        if (a == kBatch) return std::nullopt;
        r = a ? b : at(2);
      } else if (a == kBatch || b == kBatch) {
        const int64_t other = a == kBatch ? b : a;
        if (t == "Equal" && other != kBatch && other <= 0) r = 0;  // the batch is at least 1
        else if (t == "Equal" && other == kBatch) r = 1;
        else if ((t == "Add" && other == 0) || (t == "Sub" && b == 0) || (t == "Mul" && other == 1) || (t == "Div" && b == 1)) r = kBatch;
        else {
          why = fmt::format("it computes {} {} {} with the batch N, which dlspec keeps as a symbol",
                            a == kBatch ? "N" : std::to_string(a), t, b == kBatch ? "N" : std::to_string(b));
          return std::nullopt;
        }
      } else if (t == "Add") r = a + b;
      else if (t == "Sub") r = a - b;
      else if (t == "Mul") r = a * b;
      else if (t == "Equal") r = a == b;
      else {
        if (b == 0) throw Fail{Code::E1120, "a division by zero"};
        r = a / b;  // ONNX's integer Div truncates, as C++
      }
      o.v.push_back(r);
    }
    return o;
  }
  return std::nullopt;
}

bool Importer::foldShapes() {
  static const std::set<std::string> kFoldable = {"Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Identity",
                                                  "Slice", "ConstantOfShape", "Add", "Sub", "Mul", "Div", "Equal", "Where"};
  auto* g = model_.mutable_graph();
  for (int round = 0; round < 16; ++round) {
    bool changed = false;
    foldWhy_.clear();
    for (int i = 0; i < g->node_size(); ++i) {
      const onnx::NodeProto& n = g->node(i);
      if (folded_.count(i) || !kFoldable.count(n.op_type()) || n.output_size() != 1) continue;
      if (!n.domain().empty() && n.domain() != "ai.onnx") continue;
      std::string why;
      std::optional<Folded> f;
      try {
        f = foldNode(i, why);
      } catch (const Fail& e) {
        why = e.what;
      }
      if (!f) {
        if (!why.empty()) foldWhy_[i] = why;
        continue;
      }
      const std::string out = n.output(0);
      foldedValues_[out] = *f;
      folded_.insert(i);
      changed = true;
      // The value as a Constant node, for shape inference and for the translation of the node that reads it.
      // The batch N passes through only as a Reshape's first size (0: "the input's").
      bool batchOk = true;
      for (size_t k = 0; k < f->v.size(); ++k)
        if (f->v[k] == kBatch) batchOk = batchOk && k == 0 && f->dims.size() == 1;
      if (batchOk && std::count(f->v.begin(), f->v.end(), kBatch) > 0)
        for (int c : consumers_[out]) {
          const auto& cn = g->node(c);
          if (!(cn.op_type() == "Reshape" && cn.input(1) == out && cn.input(0) != out && intAttr(cn, "allowzero", 0) == 0) &&
              !kFoldable.count(cn.op_type()))
            batchOk = false;
        }
      if (!batchOk) continue;  // a consumer that is not folded reports it
      onnx::NodeProto c;
      c.set_name(n.name());
      c.set_op_type("Constant");
      c.add_output(out);
      auto* a = c.add_attribute();
      a->set_name("value");
      a->set_type(onnx::AttributeProto::TENSOR);
      onnx::TensorProto* tp = a->mutable_t();
      tp->set_data_type(onnx::TensorProto::INT64);
      for (int64_t d : f->dims) tp->add_dims(d);
      for (int64_t v : f->v) tp->add_int64_data(v == kBatch ? 0 : v);
      if (f->type == onnx::TensorProto::BOOL || f->type == onnx::TensorProto::INT32) {
        tp->set_data_type(f->type);
        tp->clear_int64_data();
        for (int64_t v : f->v) tp->add_int32_data(int32_t(v));
      }
      *g->mutable_node(i) = c;
    }
    if (!changed) break;
    g->clear_value_info();
    try {
      onnx::shape_inference::InferShapes(model_);
    } catch (const std::exception& e) {
      diags_.report(Code::E1110, graphSpan_, model_.graph().name(), fmt::format("ONNX's shape inference fails after the shape computations are folded: {}", e.what()));
      return false;
    }
    shapes_.clear(), elemTypes_.clear(), inits_.clear(), constants_.clear(), uses_.clear(), consumers_.clear(), producer_.clear();
    collectShapes();
  }
  return true;
}

const sema::OpInfo& Importer::requireOp(const std::string& name) {
  const sema::OpInfo* op = sema::findOp(name, {sema::OpCategory::Layer, sema::OpCategory::Activation,
                                               sema::OpCategory::Structural});
  if (!op) throw Fail{Code::E1111, fmt::format("dlspec's op table has no `{}`", name)};
  return *op;
}

std::string Importer::arg(const sema::OpInfo& op, const std::string& name, const std::string& value) {
  for (const auto& a : op.attrs)
    if (a.name == name) return fmt::format("{}: {}", name, value);
  throw Fail{Code::E1112, fmt::format("`{}` = {} (dlspec's `{}` takes no `{}`)", name, value, op.name, name)};
}

std::string Importer::materialize(const std::string& name) {
  Val& v = vals_.at(name);
  if (v.named) return v.chain;
  int last = v.nodes.empty() ? -1 : v.nodes.back();
  std::string stmt = freshName(last >= 0 ? nodeName(last) : name);
  std::string comment;
  for (int k : v.nodes) comment += (comment.empty() ? "" : ", ") + model_.graph().node(k).op_type();
  Line l;
  const std::string head = "  " + stmt + " = ";
  l.text = head + v.chain + (comment.empty() ? "" : "  // " + comment);
  for (auto [off, w] : v.calls) l.calls.push_back({head.size() + off, w});
  l.def = stmt;
  l.key = last >= 0 ? instanceKey(nodeName(last)) : "";
  body_.push_back(std::move(l));
  v.chain = stmt;
  v.named = true;
  v.calls.clear();
  v.nodes.clear();
  return stmt;
}

Val& Importer::input(const std::string& name) {
  if (failed_.count(name)) throw Cascade{};
  if (auto f = foldedValues_.find(name); f != foldedValues_.end())
    throw Fail{Code::E1120, fmt::format("it reads `{}` = {}, a shape that holds the batch N, as a value (only a Reshape's first size may pass the batch through)",
                                        name, foldedText(f->second))};
  auto it = vals_.find(name);
  if (it == vals_.end()) throw Fail{Code::E1112, fmt::format("the input `{}`, which is a constant or not computed by the graph", name)};
  return it->second;
}

// Adds `|> stage` to the value `in` (continuing its chain when this node is its only consumer) and binds the
// result to `outName`.
void Importer::emitStage(int node, const std::string& in, const std::string& stage, const std::string& outName,
                         Dims dshape, std::map<ParamRole, OnnxTensor> params, std::string kind,
                         std::map<std::string, OnnxTensor> named) {
  Val& src = input(in);
  // A chain ends where the torch module instance changes, so that each instance's statements are its own.
  const bool continues = !src.named && uses_[in] == 1 &&
                         (src.nodes.empty() || instanceKey(nodeName(src.nodes.back())) == instanceKey(nodeName(node)));
  Val v;
  if (continues) {
    v = src;
  } else {
    v.chain = materialize(in);
    v.named = true;
  }
  // The stage must see ONNX's shape of its input.
  Dims want(src.oshape.begin() + (src.oshape.empty() ? 0 : 1), src.oshape.end());
  if (!src.oshape.empty() && want != src.dshape) v.chain += fmt::format(" |> reshape({})", dimsText(want));
  v.chain += " |> ";
  if (!params.empty() || !named.empty()) {
    OnnxLayerWeights w;
    w.node = nodeName(node);
    w.opType = model_.graph().node(node).op_type();
    w.at = nodeSpans_[size_t(node)];
    w.params = std::move(params);
    w.named = std::move(named);
    out_.weights.push_back(std::move(w));
    v.calls.push_back({v.chain.size(), int(out_.weights.size() - 1)});
  }
  v.chain += stage;
  v.named = false;
  v.nodes.push_back(node);
  v.dshape = std::move(dshape);
  v.oshape = shapes_.count(outName) ? shapes_[outName] : Dims{};
  v.kind = std::move(kind);
  vals_[outName] = std::move(v);
}

// The attributes each translated op type reads (or, for the few listed with a reason, may carry without
// effect on what it computes); any other attribute is E1112 rather than dropped.
const std::map<std::string, std::set<std::string>>& readAttributes() {
  static const std::map<std::string, std::set<std::string>> k = {
      {"Conv", {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}},
      {"ConvTranspose", {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides", "output_padding", "output_shape"}},
      {"Gemm", {"alpha", "beta", "transA", "transB", "broadcast"}},  // broadcast (opset < 7): C's broadcast
      {"BatchNormalization", {"epsilon", "momentum", "training_mode", "is_test", "consumed_inputs", "spatial"}},
      {"InstanceNormalization", {"epsilon"}},
      {"LayerNormalization", {"axis", "epsilon", "stash_type"}},
      {"MaxPool", {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides", "storage_order"}},  // storage_order: Indices only
      {"AveragePool", {"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"}},
      {"LeakyRelu", {"alpha"}}, {"Elu", {"alpha"}}, {"Selu", {"alpha", "gamma"}}, {"HardSigmoid", {"alpha", "beta"}},
      {"Clip", {"min", "max"}}, {"Softmax", {"axis"}}, {"LogSoftmax", {"axis"}},
      {"Dropout", {"ratio", "seed", "is_test"}},  // seed: training draws dlspec's own masks
      {"Flatten", {"axis"}}, {"Reshape", {"allowzero"}}, {"Squeeze", {"axes"}}, {"Unsqueeze", {"axes"}},
      {"Transpose", {"perm"}}, {"Concat", {"axis"}}, {"ReduceMean", {"axes", "keepdims"}},
      {"Resize", {"coordinate_transformation_mode", "mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
                  "extrapolation_value"}},
      {"Upsample", {"mode"}}, {"Pad", {"mode", "pads", "value"}}, {"Slice", {"starts", "ends", "axes"}}, {"Tile", {}}, {"Add", {"broadcast", "axis"}}, {"Sub", {"broadcast", "axis"}},
      {"Mul", {"broadcast", "axis"}}, {"Div", {"broadcast", "axis"}}, {"Constant", {"value"}},
  };
  return k;
}

void Importer::translate(int node) {
  const onnx::NodeProto& n = model_.graph().node(node);
  const std::string& t = n.op_type();
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    throw Fail{Code::E1111, fmt::format("the operator domain `{}` (dlspec reads the default ONNX domain)", n.domain())};
  static const std::set<std::string> withoutAttributes = {"Relu", "Tanh", "Sigmoid", "Softplus", "Mish", "HardSwish",
                                                          "Identity", "GlobalAveragePool", "GlobalMaxPool", "Sum",
                                                          "MatMul", "PRelu"};
  if (auto w = foldWhy_.find(node); w != foldWhy_.end()) throw Fail{Code::E1120, w->second};
  for (const auto& i : n.input())
    if (failed_.count(i)) throw Cascade{};  // an input of a node already reported
  if (t == "Expand" && constant(n.input(0)))
    throw Fail{Code::E1111, fmt::format("the initialiser `{}` {} broadcast over the batch (a learned tensor, such as a class token, taken into "
                                        "every sample: no dlspec op holds one)", n.input(0), dimsText(dimsOf(*constant(n.input(0)))))};
  if (!readAttributes().count(t) && !withoutAttributes.count(t)) throw Fail{Code::E1111, "no translation of this op type"};
  {
    auto it = readAttributes().find(t);
    for (const auto& a : n.attribute())
      if (it == readAttributes().end() || !it->second.count(a.name()))
        if (!(t != "Conv" && a.name() == "consumed_inputs"))  // opset < 6 bookkeeping, no effect
          throw Fail{Code::E1112, fmt::format("the attribute `{}` (the translation of {} does not read it)", a.name(), t)};
  }
  if (t == "BatchNormalization" && intAttr(n, "spatial", 1) != 1)
    throw Fail{Code::E1112, "`spatial` = 0 (statistics per element rather than per channel)"};
  if (t == "Constant") return;  // read where it is used
  auto out = [&]() -> const std::string& { return n.output(0); };
  auto oshape = [&](const std::string& name) -> Dims {
    auto it = shapes_.find(name);
    if (it == shapes_.end()) throw Fail{Code::E1112, fmt::format("the shape of `{}`, which ONNX's shape inference leaves unknown", name)};
    for (size_t i = 1; i < it->second.size(); ++i)
      if (it->second[i] < 0) throw Fail{Code::E1112, fmt::format("the dynamic shape {} of `{}` (dlspec's shapes are fixed but for the batch)", dimsText(it->second), name)};
    return it->second;
  };
  auto sample = [&](const Dims& d) { return Dims(d.begin() + 1, d.end()); };
  auto onlyOutputs = [&](int k) {
    for (int i = k; i < n.output_size(); ++i)
      if (!n.output(i).empty() && uses_[n.output(i)] > 0)
        throw Fail{Code::E1112, fmt::format("the output `{}` ({} only computes the first)", n.output(i), t)};
  };
  auto unary = [&](const std::string& op, std::vector<std::string> args = {}, std::string kind = "real") {
    const sema::OpInfo& info = requireOp(op);
    (void)info;
    std::string stage = op;
    if (!args.empty()) {
      stage += "(";
      for (size_t i = 0; i < args.size(); ++i) stage += (i ? ", " : "") + args[i];
      stage += ")";
    }
    emitStage(node, n.input(0), stage, out(), sample(oshape(out())), {}, kind);
  };
  auto alias = [&] {
    Val& src = input(n.input(0));
    if (!src.named && uses_[n.input(0)] > 1) materialize(n.input(0));
    Val v = vals_.at(n.input(0));
    v.oshape = shapes_.count(out()) ? shapes_[out()] : v.oshape;
    vals_[out()] = v;
  };
  auto near = [](double a, double b) { return std::fabs(a - b) <= 1e-6 * std::max(1.0, std::fabs(b)); };
  auto rank = [&](const std::string& name) { return oshape(name).size(); };
  auto lastAxis = [&](int64_t axis, size_t r) { return axis == -1 || axis == int64_t(r) - 1; };

  if (t == "Relu") return unary("relu");
  if (t == "Tanh") return unary("tanh");
  if (t == "Sigmoid") return unary("sigmoid", {}, "sigmoid_probs");
  if (t == "Softplus") return unary("softplus");
  if (t == "Mish") return unary("mish");
  if (t == "HardSwish") return unary("hardswish");
  if (t == "Identity" && constant(n.input(0))) {  // torch shares equal initialisers through Identity nodes
    constants_[out()] = *constant(n.input(0));
    shapes_[out()] = dimsOf(constants_[out()]);
    return;
  }
  if (t == "Identity") return alias();
  if (t == "LeakyRelu") {
    const sema::OpInfo& op = requireOp("leaky_relu");
    return unary("leaky_relu", {arg(op, "alpha", num(floatAttr(n, "alpha", 0.01)))});
  }
  if (t == "Elu") {
    const sema::OpInfo& op = requireOp("elu");
    const double a = floatAttr(n, "alpha", 1.0);
    return unary("elu", a == 1.0 ? std::vector<std::string>{} : std::vector<std::string>{arg(op, "alpha", num(a))});
  }
  if (t == "Selu") {
    requireOp("selu");
    if (!near(floatAttr(n, "alpha", 1.67326319217681884765625), 1.67326319217681884765625) ||
        !near(floatAttr(n, "gamma", 1.05070102214813232421875), 1.05070102214813232421875))
      throw Fail{Code::E1112, "`alpha` and `gamma` other than SELU's constants"};
    return unary("selu");
  }
  if (t == "HardSigmoid") {
    requireOp("hardsigmoid");
    if (!near(floatAttr(n, "alpha", 0.2), 1.0 / 6) || !near(floatAttr(n, "beta", 0.5), 0.5))
      throw Fail{Code::E1112, fmt::format("`alpha` = {} and `beta` = {} (dlspec's hardsigmoid is torch's: alpha 1/6, beta 0.5)",
                                          num(floatAttr(n, "alpha", 0.2)), num(floatAttr(n, "beta", 0.5)))};
    return unary("hardsigmoid");
  }
  if (t == "Clip") {
    double lo = -INFINITY, hi = INFINITY;
    if (opset_ < 11) {
      lo = floatAttr(n, "min", lo), hi = floatAttr(n, "max", hi);
    } else {
      for (int i : {1, 2}) {
        if (n.input_size() <= i || n.input(i).empty()) continue;
        const onnx::TensorProto* c = constant(n.input(i));
        if (!c) throw Fail{Code::E1112, fmt::format("the computed bound `{}`", n.input(i))};
        const auto v = floatsOf(*c);
        if (v.size() != 1) throw Fail{Code::E1112, "a bound that is not a scalar"};
        (i == 1 ? lo : hi) = v[0];
      }
    }
    if (lo == 0 && hi == 6) return unary("relu6");
    if (lo == 0 && std::isinf(hi)) return unary("relu");
    throw Fail{Code::E1112, fmt::format("clipping to [{}, {}] (dlspec has relu, [0, inf), and relu6, [0, 6])", num(lo), num(hi))};
  }
  if (t == "Pad") {  // dlspec's pad (constant, reflect, edge as replicate); padding by nothing is dropped
    Dims pads;
    if (opset_ < 11) {
      pads = intsAttr(n, "pads").value_or(Dims{});
    } else {
      const onnx::TensorProto* p = constant(n.input(1));
      if (!p) throw Fail{Code::E1112, "pads computed by the graph"};
      pads = intsOf(*p);
    }
    const std::string mode = strAttr(n, "mode", "constant");
    if (std::none_of(pads.begin(), pads.end(), [](int64_t v) { return v != 0; })) return alias();
    // dlspec's pad: torch.nn.functional.pad's pairs, the last axis first, never the batch axis.
    const size_t r = rank(n.input(0));
    if (pads.size() != 2 * r) throw Fail{Code::E1112, fmt::format("`pads` {} for a rank-{} input", dimsText(pads), r)};
    if (pads[0] != 0 || pads[r] != 0) throw Fail{Code::E1112, "padding of the batch axis"};
    if (std::any_of(pads.begin(), pads.end(), [](int64_t v) { return v < 0; }))
      throw Fail{Code::E1112, fmt::format("negative `pads` {} (cropping)", dimsText(pads))};
    size_t first = 1;  // the outermost padded axis
    while (pads[first] == 0 && pads[first + r] == 0) ++first;
    if (r - first > 3) throw Fail{Code::E1112, "padding of more than the last three axes"};
    const sema::OpInfo& op = requireOp("pad");
    std::string list;
    for (size_t a = r; a-- > first;) list += fmt::format("{}{}, {}", list.empty() ? "" : ", ", pads[a], pads[a + r]);
    std::vector<std::string> args = {"[" + list + "]"};
    if (mode == "reflect" || mode == "edge") {
      args.push_back(arg(op, "mode", mode == "edge" ? "replicate" : "reflect"));
    } else if (mode != "constant") {
      throw Fail{Code::E1112, fmt::format("`mode` = {}", mode)};
    }
    double value = opset_ < 11 ? floatAttr(n, "value", 0.0) : 0.0;
    if (opset_ >= 11 && n.input_size() > 2 && !n.input(2).empty()) {
      const onnx::TensorProto* c = constant(n.input(2));
      if (!c) throw Fail{Code::E1112, "a padding value computed by the graph"};
      value = floatsOf(*c).at(0);
    }
    if (mode == "constant" && value != 0.0) args.push_back(arg(op, "value", num(value)));
    return unary("pad", args);
  }
  if (t == "Slice") {  // one `slice` per sliced axis, with constant starts, ends, axes and steps
    Dims starts, ends, axes, steps;
    if (opset_ < 10) {
      starts = intsAttr(n, "starts").value_or(Dims{}), ends = intsAttr(n, "ends").value_or(Dims{});
      axes = intsAttr(n, "axes").value_or(Dims{});
    } else {
      for (int i = 1; i < n.input_size() && i <= 4; ++i) {
        if (n.input(i).empty()) continue;
        const onnx::TensorProto* c = constant(n.input(i));
        if (!c) throw Fail{Code::E1112, fmt::format("`{}` computed by the graph", i == 1 ? "starts" : i == 2 ? "ends" : i == 3 ? "axes" : "steps")};
        (i == 1 ? starts : i == 2 ? ends : i == 3 ? axes : steps) = intsOf(*c);
      }
    }
    const Dims in = oshape(n.input(0));
    const int64_t r = int64_t(in.size());
    if (axes.empty())
      for (int64_t a = 0; a < int64_t(starts.size()); ++a) axes.push_back(a);
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
      throw Fail{Code::E1112, "`starts`, `ends`, `axes` and `steps` of different lengths"};
    const sema::OpInfo& op = requireOp("slice");
    std::string stage;
    for (size_t k = 0; k < starts.size(); ++k) {
      const int64_t a = axes[k] < 0 ? axes[k] + r : axes[k];
      if (a < 0 || a >= r) throw Fail{Code::E1112, fmt::format("the axis {}", axes[k])};
      if (steps[k] < 1) throw Fail{Code::E1112, fmt::format("the step {} (dlspec's slice steps forward)", steps[k])};
      const int64_t n0 = in[size_t(a)] < 0 ? 0 : in[size_t(a)];
      auto clamp = [&](int64_t v) { return v < 0 ? std::max<int64_t>(0, v + n0) : std::min(v, n0); };
      const int64_t b = clamp(starts[k]), e = clamp(ends[k]);
      if (a == 0) {
        if (b == 0 && e == n0 && steps[k] == 1) continue;
        throw Fail{Code::E1112, "slicing the batch axis"};
      }
      if (b == 0 && e == n0 && steps[k] == 1) continue;
      std::string s1 = fmt::format("slice({}, {}, {}", a, b, e);
      if (steps[k] != 1) s1 += ", " + arg(op, "step", std::to_string(steps[k]));
      stage += (stage.empty() ? "" : " |> ") + s1 + ")";
    }
    if (stage.empty()) return alias();
    return emitStage(node, n.input(0), stage, out(), sample(oshape(out())));
  }
  if (t == "Tile") {  // Tensor.repeat: one count per axis, the batch's 1
    const onnx::TensorProto* c = n.input_size() > 1 ? constant(n.input(1)) : nullptr;
    if (!c) throw Fail{Code::E1112, "`repeats` computed by the graph"};
    const Dims reps = intsOf(*c);
    if (reps.empty() || reps[0] != 1) throw Fail{Code::E1112, fmt::format("`repeats` {} (the batch axis repeated)", dimsText(reps))};
    if (std::all_of(reps.begin(), reps.end(), [](int64_t v) { return v == 1; })) return alias();
    requireOp("repeat");
    return unary("repeat", {dimsText(reps)});
  }
  if (t == "PRelu") {
    requireOp("prelu");
    const onnx::TensorProto* slope = constant(n.input(1));
    if (!slope) throw Fail{Code::E1112, "a slope computed by the graph (dlspec's prelu learns it as a parameter)"};
    std::map<ParamRole, OnnxTensor> params;
    params[ParamRole::Weight] = {dimsOf(*slope), floatsOf(*slope)};
    return emitStage(node, n.input(0), "prelu", out(), sample(oshape(out())), std::move(params));
  }
  if (t == "Softmax" || t == "LogSoftmax") {
    const size_t r = rank(n.input(0));
    const int64_t axis = intAttr(n, "axis", opset_ >= 13 ? -1 : 1);
    if (!lastAxis(axis, r) || (opset_ < 13 && r != 2))
      throw Fail{Code::E1112, fmt::format("`axis` = {} over a rank-{} input (dlspec's {} is over the last axis)", axis, r,
                                          t == "Softmax" ? "softmax" : "log_softmax")};
    return t == "Softmax" ? unary("softmax", {}, "probs") : unary("log_softmax", {}, "log_probs");
  }
  if (t == "Dropout") {
    onlyOutputs(1);
    double p = opset_ >= 12 ? 0.5 : floatAttr(n, "ratio", 0.5);
    if (opset_ >= 12 && n.input_size() > 1 && !n.input(1).empty()) {
      const onnx::TensorProto* c = constant(n.input(1));
      if (!c) throw Fail{Code::E1112, "a computed `ratio`"};
      p = floatsOf(*c).at(0);
    }
    const sema::OpInfo& op = requireOp("dropout");
    (void)op;
    return unary("dropout", {num(p)});
  }
  if (t == "Conv" || t == "ConvTranspose") {
    const onnx::TensorProto* w = constant(n.input(1));
    if (!w) throw Fail{Code::E1112, "a weight computed by the graph (dlspec's weights are parameters)"};
    const Dims wd = dimsOf(*w);
    const bool transposed = t == "ConvTranspose";
    const size_t sp = wd.size() - 2;
    if (sp != 1 && sp != 2) throw Fail{Code::E1112, fmt::format("a {}-D convolution", sp)};
    const std::string opName = transposed ? (sp == 2 ? "conv_transpose2d" : "conv_transpose1d") : (sp == 2 ? "conv2d" : "conv1d");
    const sema::OpInfo& op = requireOp(opName);
    const std::string autoPad = strAttr(n, "auto_pad", "NOTSET");
    if (autoPad != "NOTSET" && autoPad != "VALID") throw Fail{Code::E1112, fmt::format("`auto_pad` = {}", autoPad)};
    const int64_t groups = intAttr(n, "group", 1);
    Dims k(wd.begin() + 2, wd.end());
    if (auto ks = intsAttr(n, "kernel_shape"); ks && *ks != k) throw Fail{Code::E1112, "`kernel_shape` other than the weight's"};
    Dims strides = intsAttr(n, "strides").value_or(Dims(sp, 1));
    Dims dil = intsAttr(n, "dilations").value_or(Dims(sp, 1));
    Dims pads = autoPad == "VALID" ? Dims(2 * sp, 0) : intsAttr(n, "pads").value_or(Dims(2 * sp, 0));
    const int64_t filters = transposed ? wd[1] * groups : wd[0];
    std::vector<std::string> args = {std::to_string(filters), sp == 2 ? pairArg(k[0], k[1]) : std::to_string(k[0])};
    if (strides != Dims(sp, 1)) args.push_back(arg(op, "stride", sp == 2 ? pairArg(strides[0], strides[1]) : std::to_string(strides[0])));
    if (transposed && sp == 2 && pads != Dims(4, 0)) {  // conv_transpose2d's padding is symmetric: [h, w]
      if (pads[0] != pads[2] || pads[1] != pads[3])
        throw Fail{Code::E1112, fmt::format("the asymmetric `pads` {} (dlspec's conv_transpose2d pads both sides alike)", dimsText(pads))};
      args.push_back(arg(op, "pad", pairArg(pads[0], pads[1])));
    } else if (pads != Dims(2 * sp, 0)) {
      args.push_back(arg(op, "pad", sp == 2 ? padArg(pads) : pads[0] == pads[1] ? std::to_string(pads[0]) : fmt::format("[{}, {}]", pads[0], pads[1])));
    }
    if (dil != Dims(sp, 1)) args.push_back(arg(op, "dilation", sp == 2 ? pairArg(dil[0], dil[1]) : std::to_string(dil[0])));
    if (groups != 1) args.push_back(arg(op, "groups", std::to_string(groups)));
    if (transposed) {
      Dims opad = intsAttr(n, "output_padding").value_or(Dims(sp, 0));
      if (opad != Dims(sp, 0)) args.push_back(arg(op, "output_pad", sp == 2 ? pairArg(opad[0], opad[1]) : std::to_string(opad[0])));
      if (intsAttr(n, "output_shape")) throw Fail{Code::E1112, "`output_shape`"};
    }
    std::map<ParamRole, OnnxTensor> params;
    params[ParamRole::Weight] = {wd, floatsOf(*w)};
    if (n.input_size() > 2 && !n.input(2).empty()) {
      const onnx::TensorProto* b = constant(n.input(2));
      if (!b) throw Fail{Code::E1112, "a bias computed by the graph"};
      params[ParamRole::Bias] = {dimsOf(*b), floatsOf(*b)};
    } else {
      args.push_back(arg(op, "bias", "false"));
    }
    std::string stage = opName + "(" + args[0];
    for (size_t i = 1; i < args.size(); ++i) stage += ", " + (i == 1 ? "kernel: " + args[1] : args[i]);
    stage += ")";
    return emitStage(node, n.input(0), stage, out(), sample(oshape(out())), std::move(params));
  }
  if (t == "Gemm" || t == "MatMul") {
    const onnx::TensorProto* b = constant(n.input(1));
    if (!b) throw Fail{Code::E1112, "a product of two computed values (dlspec's dense multiplies by a parameter)"};
    const Dims bd = dimsOf(*b);
    if (bd.size() != 2) throw Fail{Code::E1112, fmt::format("a rank-{} right operand", bd.size())};
    const sema::OpInfo& op = requireOp("dense");
    const bool transB = t == "Gemm" && intAttr(n, "transB", 0) != 0;
    if (t == "Gemm" && (intAttr(n, "transA", 0) != 0 || floatAttr(n, "alpha", 1) != 1.0))
      throw Fail{Code::E1112, "`transA` or `alpha` other than the defaults"};
    const size_t r = rank(n.input(0));
    if (r != 2 && !(t == "MatMul" && r == 3)) throw Fail{Code::E1112, fmt::format("a rank-{} input", r)};
    const int64_t units = transB ? bd[0] : bd[1];
    std::map<ParamRole, OnnxTensor> params;
    const std::vector<float> bv = floatsOf(*b);
    params[ParamRole::Weight] = transB ? OnnxTensor{bd, bv} : transposed(bv, bd[0], bd[1]);
    std::string outName = out();
    const onnx::TensorProto* bias = nullptr;
    if (t == "Gemm" && n.input_size() > 2 && !n.input(2).empty()) {
      bias = constant(n.input(2));
      if (!bias) throw Fail{Code::E1112, "a bias `C` computed by the graph"};
      if (floatAttr(n, "beta", 1) != 1.0) throw Fail{Code::E1112, "`beta` other than 1"};
    }
    if (t == "MatMul" && uses_[out()] == 1) {  // MatMul + Add(bias): one dense layer
      const int c = consumers_[out()].front();
      const auto& a = model_.graph().node(c);
      if (a.op_type() == "Add" && a.input_size() == 2) {
        const std::string& other = a.input(0) == out() ? a.input(1) : a.input(0);
        const onnx::TensorProto* bt = constant(other);
        if (bt && product(dimsOf(*bt)) == units && dimsOf(*bt).back() == units) {
          bias = bt;
          skip_.insert(c);
          outName = a.output(0);
        }
      }
    }
    if (bias) {
      if (product(dimsOf(*bias)) != units) throw Fail{Code::E1112, fmt::format("a bias of shape {} (dlspec's dense adds one per unit)", dimsText(dimsOf(*bias)))};
      params[ParamRole::Bias] = {{units}, floatsOf(*bias)};
    }
    std::string stage = fmt::format("dense({}{})", units, bias ? "" : ", " + arg(op, "bias", "false"));
    return emitStage(node, n.input(0), stage, outName, sample(oshape(outName)), std::move(params), "logits");
  }
  if (t == "BatchNormalization" || t == "InstanceNormalization" || t == "LayerNormalization") {
    onlyOutputs(1);
    const std::string opName = t == "BatchNormalization" ? "batch_norm" : t == "InstanceNormalization" ? "instance_norm" : "layer_norm";
    const sema::OpInfo& op = requireOp(opName);
    if (intAttr(n, "training_mode", 0) != 0) throw Fail{Code::E1112, "`training_mode` = 1"};
    const size_t r = rank(n.input(0));
    if (t == "LayerNormalization" && !lastAxis(intAttr(n, "axis", -1), r))
      throw Fail{Code::E1112, fmt::format("`axis` = {} (dlspec's layer_norm normalises the last axis)", intAttr(n, "axis", -1))};
    if (t == "BatchNormalization" && r != 2 && r != 4) throw Fail{Code::E1112, fmt::format("a rank-{} input (dlspec's batch_norm takes [N, C] and [N, C, H, W])", r)};
    std::map<ParamRole, OnnxTensor> params;
    const ParamRole roles[] = {ParamRole::Gamma, ParamRole::Beta, ParamRole::RunningMean, ParamRole::RunningVar};
    const int count = t == "BatchNormalization" ? 4 : 2;
    for (int i = 0; i < count; ++i) {
      if (n.input_size() <= i + 1 || n.input(i + 1).empty()) throw Fail{Code::E1112, "a missing scale or bias"};
      const onnx::TensorProto* c = constant(n.input(i + 1));
      if (!c) throw Fail{Code::E1112, fmt::format("the input `{}` computed by the graph (dlspec's are parameters)", n.input(i + 1))};
      params[roles[i]] = {dimsOf(*c), floatsOf(*c)};
    }
    std::vector<std::string> args;
    const double eps = floatAttr(n, "epsilon", 1e-5);
    if (float(eps) != float(1e-5)) args.push_back(arg(op, "eps", num(eps)));
    if (t == "BatchNormalization") {
      const double m = 1.0 - floatAttr(n, "momentum", 0.9);  // ONNX keeps `momentum` of the old statistics
      if (std::fabs(m - 0.1) > 1e-7) args.push_back(arg(op, "momentum", num(m)));
    }
    std::string stage = opName;
    if (!args.empty()) {
      stage += "(";
      for (size_t i = 0; i < args.size(); ++i) stage += (i ? ", " : "") + args[i];
      stage += ")";
    }
    return emitStage(node, n.input(0), stage, out(), sample(oshape(out())), std::move(params));
  }
  if (t == "MaxPool" || t == "AveragePool") {
    onlyOutputs(1);
    const std::string opName = t == "MaxPool" ? "maxpool" : "avgpool";
    const sema::OpInfo& op = requireOp(opName);
    const Dims ks = intsAttr(n, "kernel_shape").value_or(Dims{});
    if (ks.size() != 2) throw Fail{Code::E1112, fmt::format("a {}-D window (dlspec's {} is 2-D)", ks.size(), opName)};
    const std::string autoPad = strAttr(n, "auto_pad", "NOTSET");
    if (autoPad != "NOTSET" && autoPad != "VALID") throw Fail{Code::E1112, fmt::format("`auto_pad` = {}", autoPad)};
    Dims strides = intsAttr(n, "strides").value_or(Dims{1, 1});
    Dims pads = autoPad == "VALID" ? Dims(4, 0) : intsAttr(n, "pads").value_or(Dims(4, 0));
    Dims dil = intsAttr(n, "dilations").value_or(Dims{1, 1});
    const Dims in = oshape(n.input(0));
    for (int a = 0; a < 2; ++a) {  // ceil_mode: only where it gives floor mode's size
      const int64_t span = in[size_t(2 + a)] + pads[size_t(a)] + pads[size_t(a + 2)] - dil[size_t(a)] * (ks[size_t(a)] - 1) - 1;
      const int64_t fl = span / strides[size_t(a)] + 1, ce = (span + strides[size_t(a)] - 1) / strides[size_t(a)] + 1;
      if (intAttr(n, "ceil_mode", 0) != 0 && fl != ce)
        throw Fail{Code::E1112, fmt::format("`ceil_mode` = 1 where it gives {} rather than floor mode's {} along axis {}", ce, fl, a + 2)};
    }
    if (t == "AveragePool" && intAttr(n, "count_include_pad", 0) != 0 && pads != Dims(4, 0))
      throw Fail{Code::E1112, "`count_include_pad` = 1 with padding (dlspec's avgpool leaves the padding out of the average)"};
    std::vector<std::string> args = {pairArg(ks[0], ks[1]), arg(op, "stride", pairArg(strides[0], strides[1]))};
    if (pads != Dims(4, 0)) args.push_back(arg(op, "pad", padArg(pads)));
    if (dil != Dims{1, 1}) args.push_back(arg(op, "dilation", pairArg(dil[0], dil[1])));
    std::string stage = opName + "(" + args[0];
    for (size_t i = 1; i < args.size(); ++i) stage += ", " + args[i];
    return emitStage(node, n.input(0), stage + ")", out(), sample(oshape(out())));
  }
  if (t == "ReduceMean" && rank(n.input(0)) >= 2) {
    // torch's layer_norm over the last axis before opset 17 (LayerNormalization): m = ReduceMean(x), d = x - m,
    // v = ReduceMean(d ^ 2), y = d / Sqrt(v + eps) * gamma + beta, each intermediate read only by the next
    // (d by Pow and Div): one layer_norm, gamma and beta its parameters.
    const size_t r = rank(n.input(0));
    auto only = [&](const std::string& v, const char* type) -> const onnx::NodeProto* {
      if (uses_[v] != 1) return nullptr;
      const onnx::NodeProto& c = model_.graph().node(consumers_[v].front());
      return c.op_type() == type ? &c : nullptr;
    };
    auto other = [](const onnx::NodeProto& c, const std::string& v) -> std::string {
      return c.input_size() == 2 ? (c.input(0) == v ? c.input(1) : c.input(0)) : "";
    };
    auto scalarOf = [&](const std::string& v) -> std::optional<double> {
      const onnx::TensorProto* c = constant(v);
      if (!c || product(dimsOf(*c)) != 1) return std::nullopt;
      return double(floatsOf(*c).at(0));
    };
    const Dims ax = intsAttr(n, "axes").value_or(Dims{});
    const onnx::NodeProto *sub = nullptr, *pw = nullptr, *m2 = nullptr, *add = nullptr, *sq = nullptr, *dv = nullptr, *mul = nullptr,
                          *bias = nullptr;
    if (ax.size() == 1 && lastAxis(ax[0], r) && intAttr(n, "keepdims", 1) == 1 && (sub = only(out(), "Sub")) &&
        sub->input(0) == n.input(0) && sub->input(1) == out() && uses_[sub->output(0)] == 2) {
      for (int c : consumers_[sub->output(0)]) {
        const onnx::NodeProto& k = model_.graph().node(c);
        if (k.op_type() == "Pow" && k.input(0) == sub->output(0)) pw = &k;
        if (k.op_type() == "Div" && k.input(0) == sub->output(0)) dv = &k;
      }
    }
    if (pw && dv && scalarOf(pw->input(1)) == 2.0 && (m2 = only(pw->output(0), "ReduceMean")) &&
        intsAttr(*m2, "axes").value_or(Dims{}) == ax && intAttr(*m2, "keepdims", 1) == 1 && (add = only(m2->output(0), "Add")) &&
        scalarOf(other(*add, m2->output(0))) && (sq = only(add->output(0), "Sqrt")) && dv->input(1) == sq->output(0) &&
        (mul = only(dv->output(0), "Mul")) && (bias = only(mul->output(0), "Add"))) {
      const onnx::TensorProto* g = constant(other(*mul, dv->output(0)));
      const onnx::TensorProto* b = constant(other(*bias, mul->output(0)));
      const int64_t D = oshape(n.input(0)).back();
      if (g && b && product(dimsOf(*g)) == D && product(dimsOf(*b)) == D) {
        const sema::OpInfo& op = requireOp("layer_norm");
        std::map<ParamRole, OnnxTensor> params;
        params[ParamRole::Gamma] = {{D}, floatsOf(*g)};
        params[ParamRole::Beta] = {{D}, floatsOf(*b)};
        const double eps = *scalarOf(other(*add, m2->output(0)));
        std::string stage = "layer_norm";
        if (float(eps) != float(1e-5)) stage += "(" + arg(op, "eps", num(eps)) + ")";
        for (const onnx::NodeProto* k : {sub, pw, m2, add, sq, dv, mul, bias})
          for (int i = 0; i < model_.graph().node_size(); ++i)
            if (&model_.graph().node(i) == k) skip_.insert(i);
        return emitStage(node, n.input(0), stage, bias->output(0), sample(oshape(bias->output(0))), std::move(params));
      }
    }
  }
  if (t == "GlobalAveragePool" || t == "GlobalMaxPool" || t == "ReduceMean") {
    if (rank(n.input(0)) != 4) throw Fail{Code::E1112, fmt::format("a rank-{} input", rank(n.input(0)))};
    if (t == "ReduceMean") {
      Dims axes = intsAttr(n, "axes").value_or(Dims{});
      for (auto& a : axes) a = a < 0 ? a + 4 : a;
      std::sort(axes.begin(), axes.end());
      if (axes != Dims{2, 3}) throw Fail{Code::E1112, fmt::format("`axes` = {} (dlspec's global_avgpool averages the axes 2 and 3)", dimsText(axes))};
    }
    const std::string opName = t == "GlobalMaxPool" ? "global_maxpool" : "global_avgpool";
    requireOp(opName);
    const Dims in = oshape(n.input(0));
    return emitStage(node, n.input(0), opName, out(), Dims{in[1]});
  }
  if (t == "Flatten" || t == "Reshape" || t == "Squeeze" || t == "Unsqueeze") {
    const Dims in = oshape(n.input(0)), o = oshape(out());
    if (t == "Flatten" && intAttr(n, "axis", 1) != 1) throw Fail{Code::E1112, fmt::format("`axis` = {} (dlspec keeps the batch axis apart)", intAttr(n, "axis", 1))};
    if (o.empty() || in.empty() || o[0] != in[0]) throw Fail{Code::E1112, fmt::format("the shape {} -> {}, which does not keep the batch axis", dimsText(in), dimsText(o))};
    const Dims ps = sample(o);
    Val& src = input(n.input(0));
    if (t == "Reshape" && ps.size() > 3) return reshapeTransposed(node, o);
    if (src.dshape == ps) return alias();
    requireOp(ps.size() == 1 ? "flatten" : "reshape");
    Val copy = src;
    const std::string stage = ps.size() == 1 ? "flatten" : fmt::format("reshape({})", dimsText(ps));
    // flatten/reshape read dlspec's shape as it is: no ONNX-shape reshape in front
    src.oshape.clear();
    emitStage(node, n.input(0), stage, out(), ps);
    if (vals_.count(n.input(0))) vals_[n.input(0)].oshape = copy.oshape;
    return;
  }
  if (t == "Transpose") {
    const sema::OpInfo& op = requireOp("transpose");
    (void)op;
    const size_t r = rank(n.input(0));
    Dims perm = intsAttr(n, "perm").value_or(Dims{});
    if (perm.empty())
      for (size_t i = 0; i < r; ++i) perm.insert(perm.begin(), int64_t(i));
    if (perm[0] != 0) throw Fail{Code::E1112, "a permutation that moves the batch axis"};
    return emitStage(node, n.input(0), fmt::format("transpose({})", dimsText(perm)), out(), sample(oshape(out())));
  }
  if (t == "Div" && n.input_size() == 2 && !constant(n.input(0))) {
    // torch's gelu (the erf form) before opset 20: x * (Erf(x / sqrt(2)) + 1) * 0.5, each intermediate read only by
    // the next: one gelu.
    auto scalarOf = [&](const std::string& v) -> std::optional<double> {
      const onnx::TensorProto* c = constant(v);
      if (!c || product(dimsOf(*c)) != 1) return std::nullopt;
      return double(floatsOf(*c).at(0));
    };
    auto only = [&](const std::string& v, const char* type) -> const onnx::NodeProto* {
      if (uses_[v] != 1) return nullptr;
      const onnx::NodeProto& c = model_.graph().node(consumers_[v].front());
      return c.op_type() == type && c.input_size() == (std::string(type) == "Erf" ? 1 : 2) ? &c : nullptr;
    };
    auto other = [](const onnx::NodeProto& c, const std::string& v) { return c.input(0) == v ? c.input(1) : c.input(0); };
    const std::string& x = n.input(0);
    const std::optional<double> root2 = scalarOf(n.input(1));
    const onnx::NodeProto *erf = nullptr, *plus = nullptr, *times = nullptr, *half = nullptr;
    if (root2 && near(*root2, std::sqrt(2.0)) && (erf = only(out(), "Erf")) && (plus = only(erf->output(0), "Add")) &&
        scalarOf(other(*plus, erf->output(0))) == 1.0 && (times = only(plus->output(0), "Mul")) &&
        other(*times, plus->output(0)) == x && (half = only(times->output(0), "Mul")) && scalarOf(other(*half, times->output(0))) == 0.5) {
      requireOp("gelu");
      for (const onnx::NodeProto* k : {erf, plus, times, half})
        for (int i = 0; i < model_.graph().node_size(); ++i)
          if (&model_.graph().node(i) == k) skip_.insert(i);
      return emitStage(node, x, "gelu", half->output(0), sample(oshape(half->output(0))));
    }
  }
  if (t == "Add" || t == "Sub" || t == "Mul" || t == "Div" || t == "Sum" || t == "Concat") {
    std::vector<std::string> ins(n.input().begin(), n.input().end());
    for (const auto& i : ins)
      if (constant(i)) throw Fail{Code::E1112, fmt::format("the constant operand `{}` (dlspec's elementwise ops combine computed values)", i)};
    const Dims o = oshape(out());
    std::string opName = t == "Concat" ? "concat" : t == "Sum" || t == "Add" ? "add" : t == "Sub" ? "sub" : t == "Mul" ? "mul" : "div";
    const sema::OpInfo& op = requireOp(opName);
    // dlspec's mul, sub and div broadcast as NumPy does (an axis of size 1 repeats); add and concat do not.
    // Either way the batch axis is the operands' own.
    const bool broadcasts = t == "Mul" || t == "Sub" || t == "Div";
    for (const auto& i : ins) {
      if (t == "Concat" || oshape(i) == o) continue;
      const Dims d = oshape(i);
      bool fits = broadcasts && d.size() == o.size() && d[0] == o[0];
      for (size_t k = 1; fits && k < d.size(); ++k) fits = d[k] == o[k] || d[k] == 1;
      if (!fits) throw Fail{Code::E1112, fmt::format("broadcasting {} to {}", dimsText(d), dimsText(o))};
    }
    std::vector<std::string> names;
    for (const auto& i : ins) {
      Val& v = input(i);
      std::string nm = materialize(i);
      Dims want = sample(oshape(i));
      if (v.dshape != want) nm = fmt::format("({} |> reshape({}))", nm, dimsText(want));
      names.push_back(nm);
    }
    std::string expr;
    if (t == "Concat" && names.size() == 1) return alias();  // torch's concat of one tensor (densenet)
    if (t == "Concat") {
      int64_t axis = intAttr(n, "axis", 1);
      if (axis < 0) axis += int64_t(o.size());
      if (axis == 0) throw Fail{Code::E1112, "`axis` = 0 (the batch axis)"};
      expr = "concat(";
      for (const auto& nm : names) expr += nm + ", ";
      expr += arg(op, "axis", std::to_string(axis)) + ")";
    } else if (t == "Add" || t == "Sum") {
      if (names.size() < 2) return alias();
      expr = names[0] + " + " + names[1];
      for (size_t i = 2; i < names.size(); ++i) expr = "add(" + expr + ", " + names[i] + ")";
    } else {
      expr = fmt::format("{}({}, {})", opName, names[0], names[1]);
    }
    Val v;
    v.chain = expr;
    v.nodes.push_back(node);
    v.dshape = sample(o);
    v.oshape = o;
    vals_[out()] = v;
    return;
  }
  if (t == "Resize" || t == "Upsample") {
    const sema::OpInfo& op = requireOp("upsample");
    (void)op;
    if (strAttr(n, "mode", "nearest") != "nearest") throw Fail{Code::E1112, fmt::format("`mode` = {} (dlspec's upsample is nearest)", strAttr(n, "mode", ""))};
    if (t == "Resize" && (strAttr(n, "coordinate_transformation_mode", "half_pixel") != "asymmetric" ||
                          strAttr(n, "nearest_mode", "round_prefer_floor") != "floor"))
      throw Fail{Code::E1112, "coordinates other than `asymmetric` with `nearest_mode` = floor (dlspec's upsample repeats each pixel)"};
    const Dims in = oshape(n.input(0)), o = oshape(out());
    if (in.size() != 4 || o[2] % in[2] || o[3] % in[3] || o[2] / in[2] != o[3] / in[3] || o[1] != in[1])
      throw Fail{Code::E1112, fmt::format("resizing {} to {} (dlspec's upsample has one integer factor)", dimsText(in), dimsText(o))};
    return emitStage(node, n.input(0), fmt::format("upsample({})", o[2] / in[2]), out(), sample(o));
  }
  throw Fail{Code::E1111, "no translation of this op type"};
}

// A Reshape to a rank above dlspec's, followed by a Transpose and a Reshape back (a channel shuffle:
// [N, g, C/g, H, W] -> [N, C/g, g, H, W]): the axes that the permutation keeps together, in order, are one
// axis, which gives the same element order at a rank dlspec holds ([N, g, C/g, H*W] -> [N, C/g, g, H*W]).
void Importer::reshapeTransposed(int node, const Dims& o) {
  const onnx::NodeProto& n = model_.graph().node(node);
  const std::string& out = n.output(0);
  auto rankFail = [&] {
    return Fail{Code::E1112, fmt::format("the rank-{} shape {} (dlspec's tensors have at most 4 axes, the batch included)", o.size(), dimsText(o))};
  };
  if (uses_[out] != 1) throw rankFail();
  const int tn = consumers_[out].front();
  const onnx::NodeProto& tr = model_.graph().node(tn);
  if (tr.op_type() != "Transpose" || uses_[tr.output(0)] != 1) throw rankFail();
  const onnx::NodeProto& back = model_.graph().node(consumers_[tr.output(0)].front());
  if (back.op_type() != "Reshape" && back.op_type() != "Flatten") throw rankFail();
  Dims perm = intsAttr(tr, "perm").value_or(Dims{});
  if (perm.empty())
    for (size_t i = 0; i < o.size(); ++i) perm.insert(perm.begin(), int64_t(i));
  if (perm.size() != o.size() || perm[0] != 0) throw rankFail();
  // Runs of consecutive input axes that stay consecutive in the output; the batch is a run of its own.
  std::vector<std::vector<int64_t>> runs;  // in output order
  for (size_t k = 0; k < perm.size(); ++k) {
    if (k > 1 && perm[k] == perm[k - 1] + 1) runs.back().push_back(perm[k]);
    else runs.push_back({perm[k]});
  }
  if (runs.size() > 4) throw rankFail();
  std::vector<size_t> byInput(runs.size());
  for (size_t k = 0; k < runs.size(); ++k) byInput[k] = k;
  std::sort(byInput.begin(), byInput.end(), [&](size_t a, size_t b) { return runs[a].front() < runs[b].front(); });
  Dims merged, rperm(runs.size()), after;
  for (size_t j = 0; j < byInput.size(); ++j) {
    int64_t size = 1;
    for (int64_t a : runs[byInput[j]]) size *= o[size_t(a)];
    merged.push_back(size);
  }
  for (size_t k = 0; k < runs.size(); ++k) {
    rperm[k] = int64_t(std::find(byInput.begin(), byInput.end(), k) - byInput.begin());
    after.push_back(merged[size_t(rperm[k])]);
  }
  requireOp("reshape");
  requireOp("transpose");
  const Dims ms(merged.begin() + 1, merged.end()), as(after.begin() + 1, after.end());
  Val& src = input(n.input(0));
  const Dims keep = src.oshape;
  src.oshape.clear();  // reshape reads dlspec's shape as it is
  emitStage(node, n.input(0), fmt::format("reshape({})", dimsText(ms)), out, ms);
  if (vals_.count(n.input(0))) vals_[n.input(0)].oshape = keep;
  vals_[out].oshape.clear();
  emitStage(tn, out, fmt::format("transpose({})", dimsText(rperm)), tr.output(0), as);
  vals_[tr.output(0)].oshape.clear();  // ONNX's is the rank-5 one: the Reshape that follows reads dlspec's
  skip_.insert(tn);
}

// Statements of repeated torch module instances (resnet's BasicBlocks, one per `layerK.J`) as blocks: the
// runs of consecutive statements of one instance that read one value and give one; runs whose statements
// agree but for integer arguments (the channel counts) are one block, those integers its parameters. The
// weights of instance k of a block are its k-th call's, which sema names `BLOCK_k`.
std::string Importer::makeBlocks(const std::string& ret) {
  struct Run {
    size_t begin, end;
    std::string in;
    std::vector<std::vector<Tok>> toks;
    std::vector<size_t> ints;  // (line, token) flattened: token indices of integer literals, line by line
  };
  std::set<std::string> defs = {xName_};
  for (const Line& l : body_) defs.insert(l.def);
  auto refs = [&](const std::vector<Tok>& ts, size_t from) {
    std::set<std::string> r;
    for (size_t k = from; k < ts.size(); ++k)
      if (ts[k].kind == Tok::Name && defs.count(ts[k].text)) r.insert(ts[k].text);
    return r;
  };
  std::vector<Run> runs;
  for (size_t i = 0; i < body_.size(); ++i) {
    if (body_[i].key.empty()) continue;
    if (!runs.empty() && runs.back().end == i && body_[runs.back().begin].key == body_[i].key) ++runs.back().end;
    else runs.push_back(Run{i, i + 1, "", {}, {}});
  }
  std::map<std::string, std::vector<size_t>> bySignature;
  std::vector<std::string> order;
  for (size_t r = 0; r < runs.size(); ++r) {
    Run& run = runs[r];
    std::set<std::string> local, inputs, usedAfter;
    for (size_t i = run.begin; i < run.end; ++i) local.insert(body_[i].def);
    for (size_t i = run.begin; i < run.end; ++i) {
      run.toks.push_back(tokens(body_[i].text));
      for (const auto& n : refs(run.toks.back(), 1))
        if (!local.count(n)) inputs.insert(n);
    }
    for (size_t i = run.end; i < body_.size(); ++i)
      for (const auto& n : refs(tokens(body_[i].text), 1))
        if (local.count(n)) usedAfter.insert(n);
    for (const auto& n : refs(tokens(ret), 0))
      if (local.count(n)) usedAfter.insert(n);
    if (inputs.size() != 1 || usedAfter != std::set<std::string>{body_[run.end - 1].def}) continue;
    run.in = *inputs.begin();
    std::string sig;
    std::vector<std::string> locals;
    for (size_t i = run.begin; i < run.end; ++i) locals.push_back(body_[i].def);
    for (const auto& ts : run.toks) {
      for (const Tok& t : ts) {
        if (t.kind == Tok::Int) sig += "#";
        else if (t.kind == Tok::Name && t.text == run.in) sig += "<in>";
        else if (t.kind == Tok::Name && local.count(t.text))
          sig += fmt::format("<{}>", std::find(locals.begin(), locals.end(), t.text) - locals.begin());
        else sig += t.text;
      }
      sig += "\n";
    }
    if (!bySignature.count(sig)) order.push_back(sig);
    bySignature[sig].push_back(r);
  }
  std::string text;
  std::map<size_t, Line> replaced;  // first line of a run -> the call that replaces the run
  std::set<size_t> dropped;
  for (const std::string& sig : order) {
    const std::vector<size_t>& group = bySignature[sig];
    if (group.size() < 2) continue;
    const Run& first = runs[group.front()];
    // The integers that differ between the instances: the block's parameters (one per distinct column).
    std::vector<std::pair<size_t, size_t>> ints;  // (line, token) of the first run
    for (size_t j = 0; j < first.toks.size(); ++j)
      for (size_t k = 0; k < first.toks[j].size(); ++k)
        if (first.toks[j][k].kind == Tok::Int) ints.push_back({j, k});
    std::vector<std::vector<std::string>> columns(ints.size());
    for (size_t r : group)
      for (size_t p = 0; p < ints.size(); ++p) columns[p].push_back(runs[r].toks[ints[p].first][ints[p].second].text);
    std::vector<int> paramOf(ints.size(), -1);
    std::vector<std::vector<std::string>> paramValues;
    std::vector<std::string> paramNames;
    std::set<std::string> taken = {"x"};
    for (size_t p = 0; p < ints.size(); ++p) {
      if (std::all_of(columns[p].begin(), columns[p].end(), [&](const std::string& v) { return v == columns[p][0]; })) continue;
      auto same = std::find(paramValues.begin(), paramValues.end(), columns[p]);
      if (same != paramValues.end()) {
        paramOf[p] = int(same - paramValues.begin());
        continue;
      }
      // Named after the argument it gives (`stride: s`), else `c` (a channel or unit count).
      const auto& ts = first.toks[ints[p].first];
      std::string name = "c";
      for (size_t k = ints[p].second; k-- > 0;) {
        const std::string& x = ts[k].text;
        if (x == " " || x == "[" || x == "," || ts[k].kind == Tok::Int) continue;
        if (x == ":" && k > 0 && ts[k - 1].kind == Tok::Name) name = ts[k - 1].text;
        break;
      }
      std::string unique = name;
      for (int n = 2; taken.count(unique) || isKeyword(unique); ++n) unique = fmt::format("{}{}", name, n);
      taken.insert(unique);
      paramOf[p] = int(paramValues.size());
      paramValues.push_back(columns[p]);
      paramNames.push_back(unique);
    }
    // Local names: the first instance's without its prefix (`layer1_0_bn2` -> `bn2`).
    std::string prefix;
    for (char c : body_[first.begin].key) prefix += std::isalnum(static_cast<unsigned char>(c)) ? char(std::tolower(static_cast<unsigned char>(c))) : '_';
    prefix += "_";
    std::vector<std::string> localName;
    for (size_t j = 0; j < first.toks.size(); ++j) {
      const std::string& d = body_[first.begin + j].def;
      std::string n = d.rfind(prefix, 0) == 0 ? d.substr(prefix.size()) : d;
      if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0])) || isKeyword(n) || taken.count(n)) n = fmt::format("h{}", j + 1);
      for (int k = 2; taken.count(n); ++k) n = fmt::format("h{}_{}", j + 1, k);
      taken.insert(n);
      localName.push_back(n);
    }
    // The block's name: the container of its first instance (`layer1.0` -> `layer1_block`).
    std::string container = body_[first.begin].key.substr(0, body_[first.begin].key.rfind('.'));
    std::string bname;
    for (char c : container) bname += std::isalnum(static_cast<unsigned char>(c)) ? char(std::tolower(static_cast<unsigned char>(c))) : '_';
    if (bname.empty() || std::isdigit(static_cast<unsigned char>(bname[0]))) bname = "b" + bname;
    bname += "_block";
    std::string unique = bname;
    for (int n = 2; names_.count(unique); ++n) unique = fmt::format("{}_{}", bname, n);
    bname = unique;
    names_.insert(bname);
    // The block's text, with the calls' offsets of every instance's weights.
    std::string head = "block " + bname + "(";
    for (size_t p = 0; p < paramNames.size(); ++p) head += (p ? ", " : "") + paramNames[p] + ": int";
    head += ") (x) {\n";
    text += head;
    size_t intIndex = 0;
    for (size_t j = 0; j < first.toks.size(); ++j) {
      const auto& ts = first.toks[j];
      std::string line;
      std::map<size_t, size_t> at;  // token index -> offset in `line`
      for (size_t k = 0; k < ts.size(); ++k) {
        at[k] = line.size();
        const Tok& t = ts[k];
        if (t.kind == Tok::Int) {
          const int p = paramOf[intIndex++];
          line += p >= 0 ? paramNames[size_t(p)] : t.text;
        } else if (t.kind == Tok::Name && t.text == first.in) {
          line += "x";
        } else if (t.kind == Tok::Name && defs.count(t.text)) {
          size_t idx = 0;
          while (idx < first.toks.size() && body_[first.begin + idx].def != t.text) ++idx;
          line += idx < localName.size() ? localName[idx] : t.text;
        } else {
          line += t.text;
        }
      }
      size_t shift = 0;
      if (j + 1 == first.toks.size()) {  // `  out = expr` -> `  return expr`
        const std::string lead = "  " + localName[j] + " = ";
        if (line.rfind(lead, 0) == 0) {
          line = "  return " + line.substr(lead.size());
          shift = lead.size() - std::string("  return ").size();
        }
      }
      const size_t base = text.size();
      for (size_t g = 0; g < group.size(); ++g) {
        const Line& src = body_[runs[group[g]].begin + j];
        const auto& st = runs[group[g]].toks[j];
        for (auto [off, w] : src.calls) {
          size_t k = 0;
          while (k < st.size() && st[k].off != off) ++k;
          blockCalls_.push_back({base + at[k] - shift, w});
          out_.weights[size_t(w)].instance = fmt::format("{}_{}", bname, g + 1);
        }
      }
      text += line + "\n";
    }
    text += "}\n\n";
    for (size_t g = 0; g < group.size(); ++g) {
      const Run& run = runs[group[g]];
      std::string args;
      for (size_t p = 0; p < paramNames.size(); ++p) args += (p ? ", " : "") + paramValues[p][g];
      Line call;
      call.def = body_[run.end - 1].def;
      call.text = fmt::format("  {} = {} |> {}({})  // {}", call.def, run.in, bname, args, body_[run.begin].key);
      replaced[run.begin] = call;
      for (size_t i = run.begin + 1; i < run.end; ++i) dropped.insert(i);
    }
  }
  std::vector<Line> body;
  for (size_t i = 0; i < body_.size(); ++i) {
    if (dropped.count(i)) continue;
    body.push_back(replaced.count(i) ? replaced[i] : body_[i]);
  }
  body_ = std::move(body);
  return text;
}

// ---- attention subgraphs -------------------------------------------------------------------------------
// torch.nn.MultiheadAttention as torch.onnx writes it (sequence-first transposes, in_proj_weight sliced or its
// product chunked, the heads folded into the batch, shape computations) and dlspec's own export (OnnxExport.cpp)
// compute the same thing through different nodes. The import recognises what they compute, anchored at the Softmax
// of the scores:
//   scores = (q side) MatMul (k side), times scalars, plus a constant mask; Softmax; Dropout; MatMul (v side);
//   layout nodes; the output projection (MatMul or Gemm by constant weights, a constant bias); layout nodes back to
//   the queries' shape [N, T, D].
// Each side is a projection (an affine map of the queries or the memory over the last axis, evalConst giving its
// weights) followed by layout nodes (Reshape, Transpose) and scalar factors. The factors together must be
// 1/sqrt(E) for a head width E dividing D (the heads: D / E); a mask must be torch's causal triu(-inf, 1).

std::optional<FTensor> Importer::evalConst(const std::string& name, int depth) {
  if (depth > 48 || name.empty()) return std::nullopt;
  if (auto c = evalCache_.find(name); c != evalCache_.end()) return c->second;
  std::optional<FTensor> r = evalNode(name, depth);
  evalCache_[name] = r;
  return r;
}

std::optional<FTensor> Importer::evalNode(const std::string& name, int depth) {
  auto ints = [&](const Folded& k) -> std::optional<FTensor> {
    FTensor f;
    f.dims = k.dims;
    f.isInt = true;
    for (int64_t x : k.v) {
      if (x == kBatch) return std::nullopt;
      f.v.push_back(float(x));
    }
    return f;
  };
  if (const onnx::TensorProto* t = constant(name)) {
    FTensor f;
    f.dims = dimsOf(*t);
    f.isInt = isIntType(t->data_type());
    if (product(f.dims) > (int64_t(1) << 24)) return std::nullopt;
    if (t->data_type() == onnx::TensorProto::FLOAT) {
      try {
        f.v = floatsOf(*t);
      } catch (const Fail&) {
        return std::nullopt;
      }
    } else if (auto k = known(name)) {
      return ints(*k);
    } else {
      return std::nullopt;
    }
    if (int64_t(f.v.size()) != product(f.dims)) return std::nullopt;
    return f;
  }
  if (auto k = foldedValues_.find(name); k != foldedValues_.end()) return ints(k->second);
  auto p = producer_.find(name);
  if (p == producer_.end()) return std::nullopt;
  const onnx::NodeProto& n = model_.graph().node(p->second);
  const std::string& t = n.op_type();
  auto in = [&](int k) { return k < n.input_size() ? evalConst(n.input(k), depth + 1) : std::nullopt; };
  auto intsIn = [&](int k) -> std::optional<Dims> {
    if (k >= n.input_size() || n.input(k).empty()) return std::nullopt;
    return constInts(n.input(k), depth + 1);
  };
  if (t == "Identity" || t == "Dropout") return in(0);
  if (t == "Cast") {
    auto f = in(0);
    if (!f) return std::nullopt;
    const int64_t to = intAttr(n, "to", onnx::TensorProto::FLOAT);
    f->isInt = isIntType(int(to));
    if (f->isInt)
      for (float& x : f->v) x = std::trunc(x);
    else if (to != onnx::TensorProto::FLOAT && to != onnx::TensorProto::DOUBLE)
      return std::nullopt;
    return f;
  }
  if (t == "Shape") {  // the static sizes; NaN for the others
    Dims d = valueShape(n.input(0));
    if (d.empty()) return std::nullopt;
    if (d.back() < 0)  // a projection's width
      if (auto a = affine(n.input(0), depth + 1)) d.back() = a->m;
    FTensor f;
    f.dims = {int64_t(d.size())};
    f.isInt = true;
    for (int64_t x : d) f.v.push_back(x >= 0 ? float(x) : std::numeric_limits<float>::quiet_NaN());
    return f;
  }
  if (t == "Gather") {  // of a vector (a shape) at constant indices
    auto f = in(0), idx = in(1);
    if (!f || !idx || f->dims.size() != 1 || intAttr(n, "axis", 0) != 0) return std::nullopt;
    FTensor o;
    o.dims = idx->dims, o.isInt = f->isInt;
    for (float x : idx->v) {
      int64_t k = int64_t(x);
      if (std::isnan(x)) return std::nullopt;
      if (k < 0) k += int64_t(f->v.size());
      if (k < 0 || k >= int64_t(f->v.size())) return std::nullopt;
      o.v.push_back(f->v[size_t(k)]);
    }
    return o;
  }
  if (t == "Concat") {  // vectors
    FTensor o;
    o.isInt = true;
    for (int k = 0; k < n.input_size(); ++k) {
      auto f = in(k);
      if (!f || f->dims.size() > 1) return std::nullopt;
      o.v.insert(o.v.end(), f->v.begin(), f->v.end());
      o.isInt = o.isInt && f->isInt;
    }
    o.dims = {int64_t(o.v.size())};
    return o;
  }
  if (t == "Unsqueeze" || t == "Squeeze" || t == "Reshape") {
    auto f = in(0);
    if (!f) return std::nullopt;
    Dims d = f->dims;
    std::optional<Dims> axes = intsIn(1);
    if (!axes) axes = intsAttr(n, "axes");
    if (t == "Unsqueeze") {
      if (!axes) return std::nullopt;
      const int64_t r = int64_t(d.size() + axes->size());
      Dims norm;
      for (int64_t a : *axes) norm.push_back(a < 0 ? a + r : a);
      std::sort(norm.begin(), norm.end());
      for (int64_t a : norm) {
        if (a < 0 || a > int64_t(d.size())) return std::nullopt;
        d.insert(d.begin() + a, 1);
      }
    } else if (t == "Squeeze") {
      Dims o;
      const int64_t r = int64_t(d.size());
      for (int64_t k = 0; k < r; ++k) {
        bool drop = !axes && d[size_t(k)] == 1;
        if (axes)
          for (int64_t a : *axes) drop = drop || (a < 0 ? a + r : a) == k;
        if (!drop) o.push_back(d[size_t(k)]);
      }
      d = o;
    } else {
      auto shape = intsIn(1);
      if (!shape) return std::nullopt;
      d = *shape;
      int64_t rest = int64_t(f->v.size()), unknown = -1;
      for (size_t k = 0; k < d.size(); ++k) {
        if (d[k] == 0 && intAttr(n, "allowzero", 0) == 0) d[k] = k < f->dims.size() ? f->dims[k] : 1;
        if (d[k] < 0) unknown = int64_t(k);
        else if (d[k] > 0) rest /= d[k];
      }
      if (unknown >= 0) d[size_t(unknown)] = rest;
    }
    if (product(d) != int64_t(f->v.size())) return std::nullopt;
    f->dims = d;
    return f;
  }
  if (t == "Transpose") {
    auto f = in(0);
    if (!f) return std::nullopt;
    const size_t r = f->dims.size();
    Dims perm;
    if (auto a = intsAttr(n, "perm")) perm = *a;
    else
      for (size_t k = 0; k < r; ++k) perm.push_back(int64_t(r - 1 - k));
    if (perm.size() != r) return std::nullopt;
    FTensor o;
    for (int64_t a : perm) o.dims.push_back(f->dims[size_t(a)]);
    o.v.resize(f->v.size());
    Dims stride(r, 1), idx(r, 0);
    for (size_t k = r; k-- > 1;) stride[k - 1] = stride[k] * f->dims[k];
    for (size_t e = 0; e < o.v.size(); ++e) {
      int64_t src = 0;
      for (size_t k = 0; k < r; ++k) src += idx[k] * stride[size_t(perm[k])];
      o.v[e] = f->v[size_t(src)];
      for (size_t k = r; k-- > 0;)
        if (++idx[k] < o.dims[k]) break;
        else idx[k] = 0;
    }
    return o;
  }
  if (t == "Slice") {
    auto f = in(0);
    auto starts = intsIn(1), ends = intsIn(2);
    if (!f || !starts || !ends || starts->size() != ends->size()) return std::nullopt;
    Dims axes, steps(starts->size(), 1);
    if (auto a = intsIn(3)) axes = *a;
    else
      for (size_t k = 0; k < starts->size(); ++k) axes.push_back(int64_t(k));
    if (auto st = intsIn(4)) steps = *st;
    if (axes.size() != starts->size() || steps.size() != starts->size()) return std::nullopt;
    const int64_t r = int64_t(f->dims.size());
    Dims lo(size_t(r), 0), hi = f->dims;
    for (size_t k = 0; k < axes.size(); ++k) {
      const int64_t a = axes[k] < 0 ? axes[k] + r : axes[k];
      if (a < 0 || a >= r || steps[k] != 1) return std::nullopt;
      const int64_t d = f->dims[size_t(a)];
      auto clampi = [&](int64_t v) { return std::clamp(v < 0 ? v + d : v, int64_t(0), d); };
      lo[size_t(a)] = clampi((*starts)[k]), hi[size_t(a)] = std::max(lo[size_t(a)], clampi((*ends)[k]));
    }
    FTensor o;
    for (int64_t k = 0; k < r; ++k) o.dims.push_back(hi[size_t(k)] - lo[size_t(k)]);
    Dims stride(size_t(r), 1), idx(size_t(r), 0);
    for (int64_t k = r; k-- > 1;) stride[size_t(k - 1)] = stride[size_t(k)] * f->dims[size_t(k)];
    const int64_t total = product(o.dims);
    for (int64_t e = 0; e < total; ++e) {
      int64_t src = 0;
      for (int64_t k = 0; k < r; ++k) src += (lo[size_t(k)] + idx[size_t(k)]) * stride[size_t(k)];
      o.v.push_back(f->v[size_t(src)]);
      for (int64_t k = r; k-- > 0;)
        if (++idx[size_t(k)] < o.dims[size_t(k)]) break;
        else idx[size_t(k)] = 0;
    }
    return o;
  }
  if (t == "ConstantOfShape") {
    auto shape = intsIn(0);
    if (!shape || std::any_of(shape->begin(), shape->end(), [](int64_t d) { return d < 0; }) ||
        product(*shape) > (int64_t(1) << 24))
      return std::nullopt;
    float value = 0;
    if (const auto* a = attrOf(n, "value")) {
      if (a->t().data_type() != onnx::TensorProto::FLOAT) return std::nullopt;
      std::vector<float> v;
      try {
        v = floatsOf(a->t());
      } catch (const Fail&) {
        return std::nullopt;
      }
      if (v.size() != 1) return std::nullopt;
      value = v[0];
    }
    FTensor o;
    o.dims = *shape;
    o.v.assign(size_t(product(*shape)), value);
    return o;
  }
  if (t == "Trilu") {
    auto f = in(0);
    if (!f || f->dims.size() < 2) return std::nullopt;
    int64_t k = 0;
    if (n.input_size() > 1 && !n.input(1).empty()) {
      auto kk = intsIn(1);
      if (!kk || kk->size() != 1) return std::nullopt;
      k = (*kk)[0];
    }
    const bool upper = intAttr(n, "upper", 1) != 0;
    const int64_t rows = f->dims[f->dims.size() - 2], cols = f->dims.back();
    for (size_t e = 0; e < f->v.size(); ++e) {
      const int64_t i = int64_t(e) / cols % rows, j = int64_t(e) % cols;
      if (upper ? j - i < k : j - i > k) f->v[e] = 0.f;
    }
    return f;
  }
  if (t == "Add" || t == "Sub" || t == "Mul" || t == "Div") {
    auto a = in(0);
    if (!a) return std::nullopt;
    auto b = in(1);
    if (!b) return std::nullopt;
    const size_t len = std::max(a->v.size(), b->v.size());
    if ((a->v.size() != len && a->v.size() != 1) || (b->v.size() != len && b->v.size() != 1)) return std::nullopt;
    FTensor o;
    o.dims = a->v.size() == len && (b->v.size() != len || a->dims.size() >= b->dims.size()) ? a->dims : b->dims;
    o.isInt = a->isInt && b->isInt;
    for (size_t e = 0; e < len; ++e) {
      const float x = a->v[a->v.size() == 1 ? 0 : e], y = b->v[b->v.size() == 1 ? 0 : e];
      float r = t == "Add" ? x + y : t == "Sub" ? x - y : t == "Mul" ? x * y : x / y;
      if (o.isInt && t == "Div") r = std::trunc(r);  // ONNX's integer Div truncates
      o.v.push_back(r);
    }
    return o;
  }
  return std::nullopt;
}

// The integers of `name` where the import can tell them all (a folded shape computation, or evalConst).
std::optional<Dims> Importer::constInts(const std::string& name, int depth) {
  if (auto f = known(name)) {
    if (std::find(f->v.begin(), f->v.end(), kBatch) == f->v.end()) return f->v;
  }
  auto f = evalConst(name, depth);
  if (!f) return std::nullopt;
  Dims d;
  for (float x : f->v) {
    if (!std::isfinite(x) || x != std::trunc(x)) return std::nullopt;
    d.push_back(int64_t(x));
  }
  return d;
}

// `v` as a projection of a value the import does not evaluate: MatMul or Gemm by constant weights, a constant bias
// added, the result's last axis sliced (torch's chunk of q|k|v).
std::optional<Affine> Importer::affine(const std::string& v, int depth) {
  auto p = producer_.find(v);
  if (depth > 16 || p == producer_.end() || evalConst(v)) return std::nullopt;
  const onnx::NodeProto& n = model_.graph().node(p->second);
  const std::string& t = n.op_type();
  if (t == "MatMul" || t == "Gemm") {
    if (evalConst(n.input(0))) return std::nullopt;
    auto w = evalConst(n.input(1));
    if (!w || w->dims.size() != 2) return std::nullopt;
    Affine a;
    a.in = n.input(0);
    a.kin = w->dims[0], a.m = w->dims[1], a.w = w->v;
    if (t == "Gemm") {
      if (intAttr(n, "transA", 0) != 0 || floatAttr(n, "alpha", 1.0) != 1.0) return std::nullopt;
      if (intAttr(n, "transB", 0) != 0) {
        a.kin = w->dims[1], a.m = w->dims[0];
        for (int64_t i = 0; i < a.kin; ++i)
          for (int64_t j = 0; j < a.m; ++j) a.w[size_t(i * a.m + j)] = w->v[size_t(j * a.kin + i)];
      }
    }
    a.b.assign(size_t(a.m), 0.f);
    if (t == "Gemm" && n.input_size() > 2 && !n.input(2).empty()) {
      auto c = evalConst(n.input(2));
      const float beta = float(floatAttr(n, "beta", 1.0));
      if (!c || (int64_t(c->v.size()) != a.m && c->v.size() != 1)) return std::nullopt;
      for (int64_t j = 0; j < a.m; ++j) a.b[size_t(j)] = beta * c->v[c->v.size() == 1 ? 0 : size_t(j)];
      a.bias = true;
    }
    return a;
  }
  if (t == "Add") {
    for (int side : {0, 1}) {
      auto c = evalConst(n.input(side));
      if (!c) continue;
      auto a = affine(n.input(1 - side), depth + 1);
      if (!a || (int64_t(c->v.size()) != a->m && c->v.size() != 1)) return std::nullopt;
      for (int64_t j = 0; j < a->m; ++j) a->b[size_t(j)] += c->v[c->v.size() == 1 ? 0 : size_t(j)];
      a->bias = true;
      return a;
    }
    return std::nullopt;
  }
  if (t == "Slice") {
    auto a = affine(n.input(0), depth + 1);
    if (!a || n.input_size() < 4) return std::nullopt;
    auto starts = constInts(n.input(1)), ends = constInts(n.input(2)), axes = constInts(n.input(3));
    std::optional<Dims> steps = n.input_size() > 4 && !n.input(4).empty() ? constInts(n.input(4)) : std::nullopt;
    if (!starts || !ends || !axes || starts->size() != 1 || ends->size() != 1 || axes->size() != 1) return std::nullopt;
    if (steps && (steps->size() != 1 || (*steps)[0] != 1)) return std::nullopt;
    const Dims ish = valueShape(n.input(0));
    const int64_t axis = (*axes)[0];
    if (axis != -1 && (ish.empty() || axis != int64_t(ish.size()) - 1)) return std::nullopt;
    auto clampi = [&](int64_t x) { return std::clamp(x < 0 ? x + a->m : x, int64_t(0), a->m); };
    const int64_t lo = clampi((*starts)[0]), hi = std::max(lo, clampi((*ends)[0]));
    Affine o;
    o.in = a->in, o.kin = a->kin, o.m = hi - lo, o.bias = a->bias;
    for (int64_t i = 0; i < a->kin; ++i)
      for (int64_t j = lo; j < hi; ++j) o.w.push_back(a->w[size_t(i * a->m + j)]);
    o.b.assign(a->b.begin() + lo, a->b.begin() + hi);
    return o;
  }
  return std::nullopt;
}

// ONNX's shape of `v` where shape inference gives it, else what a Reshape to a computed shape or a Transpose makes
// of it (the batch N as -2); -1 where not known.
Dims Importer::valueShape(const std::string& v, int depth) {
  Dims inferred;
  if (auto it = shapes_.find(v); it != shapes_.end()) inferred = it->second;
  if (!inferred.empty() && std::none_of(inferred.begin(), inferred.end(), [](int64_t d) { return d < 0; })) return inferred;
  Dims s = structuralShape(v, depth);
  if (inferred.empty()) return s;
  if (s.size() == inferred.size())
    for (size_t k = 0; k < s.size(); ++k)
      if (inferred[k] < 0) inferred[k] = s[k];
  return inferred;
}

Dims Importer::structuralShape(const std::string& v, int depth) {
  auto p = producer_.find(v);
  if (depth > 16 || p == producer_.end()) return {};
  const onnx::NodeProto& n = model_.graph().node(p->second);
  if (n.op_type() == "Reshape" && n.input_size() > 1) {
    std::optional<Folded> s = known(n.input(1));
    if (!s) {  // sizes the import evaluates, the unknown ones (the batch) as -1
      auto f = evalConst(n.input(1), depth + 1);
      if (!f) return {};
      s = Folded{};
      for (float x : f->v) s->v.push_back(std::isfinite(x) ? int64_t(x) : -1);
    }
    const Dims in = valueShape(n.input(0), depth + 1);
    Dims o;
    for (size_t k = 0; k < s->v.size(); ++k) {
      const int64_t d = s->v[k];
      o.push_back(d == kBatch ? -2 : d == 0 ? (k < in.size() ? in[k] : -1) : d < 0 ? -1 : d);
    }
    return o;
  }
  if (n.op_type() == "Transpose") {
    const Dims in = valueShape(n.input(0), depth + 1);
    auto perm = intsAttr(n, "perm");
    if (in.empty() || !perm || perm->size() != in.size()) return {};
    Dims o;
    for (int64_t a : *perm) o.push_back(in[size_t(a)]);
    return o;
  }
  if (n.op_type() == "Identity" || n.op_type() == "Dropout") return valueShape(n.input(0), depth + 1);
  return {};
}

// From an operand of the scores' or the weighted sum's MatMul back through layout nodes (Reshape, Transpose) and
// scalar factors (multiplied into `scale`) to the projection; `width` is the last size of a Reshape on the way that
// the import knows (the head width), else left as it is.
std::optional<std::string> Importer::attentionSide(std::string v, double& scale, int64_t& width) {
  for (int k = 0; k < 24; ++k) {
    auto p = producer_.find(v);
    if (p == producer_.end()) return std::nullopt;
    const onnx::NodeProto& n = model_.graph().node(p->second);
    const std::string& t = n.op_type();
    if (t == "Transpose" || t == "Identity" || t == "Dropout") {
      v = n.input(0);
    } else if (t == "Reshape") {
      // the target's last size, where the import can tell it (the other sizes may hold the batch)
      std::optional<FTensor> s = n.input_size() > 1 ? evalConst(n.input(1)) : std::nullopt;
      std::optional<Folded> k = n.input_size() > 1 ? known(n.input(1)) : std::nullopt;
      if (k && !k->v.empty() && k->v.back() > 0) width = k->v.back();
      else if (s && !s->v.empty() && std::isfinite(s->v.back()) && s->v.back() > 0) width = int64_t(s->v.back());
      v = n.input(0);
    } else if (t == "Mul" || t == "Div") {
      auto c0 = evalConst(n.input(0)), c1 = evalConst(n.input(1));
      const std::optional<FTensor>& c = c1 ? c1 : c0;
      if (!c || c->v.size() != 1 || (c0 && c1) || (t == "Div" && !c1)) return std::nullopt;
      scale = t == "Mul" ? scale * c->v[0] : scale / c->v[0];
      v = n.input(c1 ? 0 : 1);
    } else if (t == "MatMul" || t == "Gemm" || t == "Add" || t == "Slice") {
      return v;
    } else {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<AttnMatch> Importer::matchAttention(int sm, std::optional<AttnFail>& why) {
  const auto& g = model_.graph();
  const onnx::NodeProto& s = g.node(sm);
  auto opName = [&](const std::string& v) {
    auto p = producer_.find(v);
    return p == producer_.end() ? fmt::format("`{}`", v)
                                : fmt::format("node `{}` ({})", nodeName(p->second), g.node(p->second).op_type());
  };
  // The scores: back from the Softmax through scalar factors and a mask to a MatMul of two computed values.
  std::string v = s.input(0);
  double scale = 1;
  std::optional<std::string> maskName;
  int scores = -1;
  for (int k = 0; k < 16 && scores < 0; ++k) {
    auto p = producer_.find(v);
    if (p == producer_.end()) return std::nullopt;
    const onnx::NodeProto& n = g.node(p->second);
    const std::string& t = n.op_type();
    if (t == "MatMul") {
      if (evalConst(n.input(0)) || evalConst(n.input(1))) return std::nullopt;  // a projection, not scores
      scores = p->second;
    } else if (t == "Mul" || t == "Div") {
      auto c0 = evalConst(n.input(0)), c1 = evalConst(n.input(1));
      const std::optional<FTensor>& c = c1 ? c1 : c0;
      if (!c || c->v.size() != 1 || (t == "Div" && !c1)) return std::nullopt;
      scale = t == "Mul" ? scale * c->v[0] : scale / c->v[0];
      v = n.input(c1 ? 0 : 1);
    } else if (t == "Add" || t == "Where") {
      if (maskName) return std::nullopt;
      // Which side is the scores: the one that leads to a MatMul of two computed values (checked when reached).
      const bool first = t == "Add" && !evalConst(n.input(0)) && evalConst(n.input(1));
      const bool second = t == "Add" && evalConst(n.input(0)) && !evalConst(n.input(1));
      if (!first && !second) {
        // A mask the graph computes: attention when the other operands lead to scores.
        for (const std::string& o : n.input()) {
          auto q = producer_.find(o);
          if (q != producer_.end() && g.node(q->second).op_type() == "MatMul" && !evalConst(g.node(q->second).input(0)) &&
              !evalConst(g.node(q->second).input(1))) {
            why = AttnFail{Code::E1112, fmt::format("the scores are masked by the other operand of {}, computed by the graph "
                                                    "(a key padding mask, or a mask the import cannot evaluate)", opName(v))};
            return std::nullopt;
          }
        }
        return std::nullopt;
      }
      maskName = n.input(first ? 1 : 0);
      v = n.input(first ? 0 : 1);
    } else {
      return std::nullopt;
    }
  }
  if (scores < 0) return std::nullopt;
  // From here on the subgraph computes attention scores: what does not match is E1112 at the Softmax.
  auto fail = [&](std::string what) {
    why = AttnFail{Code::E1112, std::move(what)};
    return std::nullopt;
  };
  // The nodes that read `v`'s values (not only its shape), and how many read it (a graph output counts).
  auto readers = [&](const std::string& v) {
    std::vector<int> r;
    for (int c : consumers_[v])
      if (g.node(c).op_type() != "Shape" && !folded_.count(c)) r.push_back(c);
    return r;
  };
  auto reads = [&](const std::string& v) {
    int k = int(readers(v).size());
    for (const auto& go : g.output()) k += go.name() == v;
    return k;
  };
  const onnx::NodeProto& sc = g.node(scores);
  const int64_t axis = intAttr(s, "axis", opset_ >= 13 ? -1 : 1);
  const Dims sshape = valueShape(s.input(0));
  if (axis != -1 && !(sshape.size() > 0 && axis == int64_t(sshape.size()) - 1))
    return fail(fmt::format("the Softmax's `axis` = {} is not the last (the memory steps)", axis));
  int64_t wq = -1, wk = -1, wv = -1;
  auto qs = attentionSide(sc.input(0), scale, wq);
  auto ks = attentionSide(sc.input(1), scale, wk);
  if (!qs || !ks)
    return fail(fmt::format("the {} of the scores' MatMul `{}` does not come from a projection through Reshape and Transpose "
                            "nodes", !qs ? "queries" : "keys", nodeName(scores)));
  // The weighted sum: the Softmax's one consumer (through Dropout) a MatMul with the weights first.
  std::string pv = s.output(0);
  int sum = -1;
  for (int k = 0; k < 4 && sum < 0; ++k) {
    if (reads(pv) != 1) return fail(fmt::format("the attention weights `{}` are read by {} nodes", pv, reads(pv)));
    const int ci = readers(pv)[0];
    const onnx::NodeProto& c = g.node(ci);
    if (c.op_type() == "Dropout" || c.op_type() == "Identity") pv = c.output(0);
    else if (c.op_type() == "MatMul" && c.input(0) == pv) sum = ci;
    else return fail(fmt::format("the attention weights feed node `{}` ({}), not a MatMul with the values", nodeName(ci), c.op_type()));
  }
  if (sum < 0) return fail("the attention weights do not reach a MatMul with the values");
  double vscale = 1;
  auto vs = attentionSide(g.node(sum).input(1), vscale, wv);
  if (!vs || vscale != 1)
    return fail(fmt::format("the values of the weighted sum `{}` do not come from a projection through Reshape and "
                            "Transpose nodes", nodeName(sum)));
  auto aq = affine(*qs), ak = affine(*ks), av = affine(*vs);
  if (!aq || !ak || !av)
    return fail(fmt::format("the {} projection, {}, is not a MatMul or Gemm by constant weights (plus a constant bias)",
                            !aq ? "queries'" : !ak ? "keys'" : "values'", opName(!aq ? *qs : !ak ? *ks : *vs)));
  // The projections' inputs, batch first (torch's sequence-first Transpose undone).
  auto source = [&](const std::string& in) {
    auto p = producer_.find(in);
    if (p != producer_.end() && g.node(p->second).op_type() == "Transpose") {
      auto perm = intsAttr(g.node(p->second), "perm");
      if (perm && *perm == Dims{1, 0, 2}) return g.node(p->second).input(0);
    }
    return in;
  };
  AttnMatch a;
  a.x = source(aq->in), a.mem = source(ak->in);
  if (source(av->in) != a.mem)
    return fail(fmt::format("the keys and the values are projected from different values (`{}`, `{}`)", a.mem, source(av->in)));
  const Dims xs = valueShape(a.x), ms = valueShape(a.mem);
  if (xs.size() != 3 || xs[1] < 1 || xs[2] < 1 || ms.size() != 3 || ms[1] < 1 || ms[2] < 1)
    return fail(fmt::format("the queries {} and the memory {} are not [N, steps, features] sequences of known sizes",
                            dimsText(xs), dimsText(ms)));
  a.T = xs[1], a.D = xs[2], a.S = ms[1], a.K = ms[2];
  if (aq->kin != a.D || aq->m != a.D || ak->kin != a.K || ak->m != a.D || av->kin != a.K || av->m != a.D)
    return fail(fmt::format("the projections' weights [{}, {}], [{}, {}], [{}, {}] do not map the queries' {} and the memory's "
                            "{} features to {}",
                            aq->kin, aq->m, ak->kin, ak->m, av->kin, av->m, a.D, a.K, a.D));
  // The heads: the scale is 1/sqrt(E) for the head width E.
  const double e = 1.0 / (scale * scale);
  const int64_t E = int64_t(std::llround(e));
  if (!(scale > 0) || E < 1 || std::abs(e - double(E)) > 1e-3 * e || a.D % E)
    return fail(fmt::format("the scores are scaled by {}, not 1/sqrt(E) for a head width E that divides {}", num(scale), a.D));
  for (int64_t w : {wq, wk, wv})
    if (w > 0 && w != E)
      return fail(fmt::format("the scores are scaled for heads of width {}, but the heads are {} wide", E, w));
  a.H = a.D / E;
  // The mask: none, or torch's causal triu(-inf, 1) of shape [T, S].
  if (maskName) {
    auto m = evalConst(*maskName);
    if (!m) {
      why = AttnFail{Code::E1112, fmt::format("the scores are masked by {}, computed by the graph", opName(*maskName))};
      return std::nullopt;
    }
    if (int64_t(m->v.size()) != a.T * a.S || (!m->dims.empty() && m->dims.back() != a.S)) {
      why = AttnFail{Code::E1112, fmt::format("the scores are masked by `{}` {}, not one [T, S] = [{}, {}] mask", *maskName,
                                              dimsText(m->dims), a.T, a.S)};
      return std::nullopt;
    }
    bool causal = true, none = true;
    for (int64_t i = 0; i < a.T; ++i)
      for (int64_t j = 0; j < a.S; ++j) {
        const float x = m->v[size_t(i * a.S + j)];
        none = none && x == 0.f;
        causal = causal && (j > i ? x <= -1e4f : x == 0.f);
      }
    if (!none && !causal) {
      why = AttnFail{Code::E1112, fmt::format("the scores are masked by `{}`, a [{}, {}] mask other than torch's causal "
                                              "triu(-inf, 1) (dlspec's attention masks only causally)", *maskName, a.T, a.S)};
      return std::nullopt;
    }
    a.causal = causal && !none;
  }
  // The output: layout nodes from the weighted sum to the output projection, then layout nodes to [N, T, D].
  std::string o = g.node(sum).output(0);
  int proj = -1;
  for (int k = 0; k < 8 && proj < 0; ++k) {
    if (reads(o) != 1) return fail(fmt::format("the heads' outputs `{}` are read by {} nodes", o, reads(o)));
    const int c = readers(o)[0];
    const std::string& t = g.node(c).op_type();
    if (t == "Transpose" || t == "Reshape" || t == "Identity") o = g.node(c).output(0);
    else if ((t == "MatMul" || t == "Gemm") && g.node(c).input(0) == o) proj = c;
    else return fail(fmt::format("the heads' outputs feed node `{}` ({}), not the output projection", nodeName(c), t));
  }
  if (proj < 0) return fail("the heads' outputs do not reach the output projection");
  std::string z = g.node(proj).output(0);
  while (reads(z) == 1 && g.node(readers(z)[0]).op_type() == "Add") {
    const onnx::NodeProto& c = g.node(readers(z)[0]);
    if (!evalConst(c.input(c.input(0) == z ? 1 : 0))) break;
    z = c.output(0);
  }
  auto ao = affine(z);
  if (!ao || ao->in != o || ao->kin != a.D || ao->m != a.D)
    return fail(fmt::format("the output projection at node `{}` is not a [{}, {}] MatMul or Gemm by constant weights",
                            nodeName(proj), a.D, a.D));
  // Layout nodes after it, to the last value of the queries' shape [N, T, D].
  std::string y;
  bool transposed = false, passed = false;
  for (std::string u = z;;) {
    const Dims us = valueShape(u);
    if (us.size() == 3 && us[1] == a.T && us[2] == a.D && (us[0] < 0 || us[0] == xs[0])) y = u, transposed = passed;
    if (reads(u) != 1 || readers(u).empty()) break;
    const onnx::NodeProto& c = g.node(readers(u)[0]);
    if (c.op_type() != "Transpose" && c.op_type() != "Reshape" && c.op_type() != "Identity") break;
    passed = passed || c.op_type() == "Transpose";
    u = c.output(0);
  }
  if (y.empty()) return fail(fmt::format("no value after the output projection `{}` has the queries' shape [N, {}, {}]", nodeName(proj), a.T, a.D));
  if (transposed && xs[0] > 0 && xs[0] == a.T)
    return fail(fmt::format("the batch and the steps are both {}, so the output's layout cannot be told apart (export "
                            "with a dynamic batch axis)", a.T));
  a.y = y;
  // The weights in torch.nn's layout [out, in]; the biases (zero where the graph adds none).
  auto rows = [](const Affine& f) {
    std::vector<float> w(size_t(f.kin * f.m));
    for (int64_t i = 0; i < f.kin; ++i)
      for (int64_t j = 0; j < f.m; ++j) w[size_t(j * f.kin + i)] = f.w[size_t(i * f.m + j)];
    return w;
  };
  a.wq = rows(*aq), a.wk = rows(*ak), a.wv = rows(*av), a.wo = rows(*ao);
  a.bq = aq->b, a.bk = ak->b, a.bv = av->b, a.bo = ao->b;
  a.bias = aq->bias || ak->bias || av->bias || ao->bias;
  // The nodes it replaces: those the output depends on, back to the queries and the memory (a Shape reads only their
  // shapes; folded shape computations are constants already).
  std::vector<std::string> todo = {a.y};
  std::set<std::string> seen;
  while (!todo.empty()) {
    const std::string u = todo.back();
    todo.pop_back();
    if (u.empty() || u == a.x || u == a.mem || !seen.insert(u).second) continue;
    auto p = producer_.find(u);
    if (p == producer_.end() || folded_.count(p->second)) continue;
    a.region.insert(p->second);
    if (g.node(p->second).op_type() == "Shape") continue;
    for (const std::string& in : g.node(p->second).input()) todo.push_back(in);
  }
  for (int r : a.region) {
    if (folded_.count(r) || g.node(r).op_type() == "Constant") continue;
    for (const std::string& out : g.node(r).output()) {
      if (out == a.y) continue;
      for (const auto& go : g.output())
        if (go.name() == out) return fail(fmt::format("its intermediate value `{}` is an output of the graph", out));
      for (int c : consumers_[out])
        if (!a.region.count(c) && !folded_.count(c))
          return fail(fmt::format("its intermediate value `{}` is also read by node `{}` ({})", out, nodeName(c),
                                  g.node(c).op_type()));
    }
  }
  return a;
}

// Finds the attention subgraphs before the node-by-node translation: each matched one is translated at the node
// computing its output, its other nodes skipped. False after an E1112 at a Softmax (the nodes of an attention that does
// not match would otherwise each fail on their own, with less to say).
bool Importer::findAttention() {
  const auto& g = model_.graph();
  bool ok = true;
  std::set<int> taken;
  for (int i = 0; i < g.node_size(); ++i) {
    if (g.node(i).op_type() != "Softmax" || taken.count(i)) continue;
    std::optional<AttnFail> why;
    std::optional<AttnMatch> a;
    try {
      a = matchAttention(i, why);
    } catch (const Fail& f) {  // a constant the import cannot read, on the way
      why = AttnFail{Code::E1112, f.what};
    }
    if (why) {
      diags_.report(why->code, nodeSpans_[size_t(i)], nodeName(i), g.node(i).op_type(),
                    fmt::format("an attention subgraph where {}", why->what));
      bad_ = true, ok = false;
      continue;
    }
    if (!a) continue;
    const int at = producer_.at(a->y);
    for (int r : a->region) {
      if (r != at) skip_.insert(r);
      taken.insert(r);
    }
    attn_[at] = std::move(*a);
  }
  return ok;
}

// The attention's call: `x |> multi_head_attention(heads: H, dim: D …)` or `x |> cross_attention(memory, …)`, its
// weights by torch.nn's names (a memory of another width: q_proj_weight, k_proj_weight, v_proj_weight).
void Importer::translateAttention(int node, const AttnMatch& a) {
  const bool self = a.mem == a.x;
  std::string memory;
  if (!self) {
    Val& m = input(a.mem);
    if (m.dshape != Dims{a.S, a.K})
      throw Fail{Code::E1112, fmt::format("the memory `{}` is {} per sample in the spec, not [{}, {}]", a.mem,
                                          dimsText(m.dshape), a.S, a.K)};
    memory = materialize(a.mem) + ", ";
  }
  const std::string stage = fmt::format("{}({}heads: {}, dim: {}{}{})", self ? "multi_head_attention" : "cross_attention",
                                        memory, a.H, a.D, a.causal ? ", causal: true" : "", a.bias ? "" : ", bias: false");
  std::map<std::string, OnnxTensor> w;
  auto cat = [](std::initializer_list<const std::vector<float>*> parts) {
    std::vector<float> o;
    for (const auto* p : parts) o.insert(o.end(), p->begin(), p->end());
    return o;
  };
  if (a.K == a.D) {
    w["in_proj_weight"] = OnnxTensor{{3 * a.D, a.D}, cat({&a.wq, &a.wk, &a.wv})};
  } else {
    w["q_proj_weight"] = OnnxTensor{{a.D, a.D}, a.wq};
    w["k_proj_weight"] = OnnxTensor{{a.D, a.K}, a.wk};
    w["v_proj_weight"] = OnnxTensor{{a.D, a.K}, a.wv};
  }
  w["out_proj.weight"] = OnnxTensor{{a.D, a.D}, a.wo};
  if (a.bias) {
    w["in_proj_bias"] = OnnxTensor{{3 * a.D}, cat({&a.bq, &a.bk, &a.bv})};
    w["out_proj.bias"] = OnnxTensor{{a.D}, a.bo};
  }
  emitStage(node, a.x, stage, a.y, Dims{a.T, a.D}, {}, "real", std::move(w));
}

std::optional<OnnxImport> Importer::run(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    diags_.report(Code::E0901, Span{}, path, std::strerror(errno));
    return std::nullopt;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  if (!model_.ParseFromString(ss.str())) {
    diags_.report(Code::E1110, Span{}, path, "not an ONNX protobuf message");
    return std::nullopt;
  }
  for (const auto& o : model_.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
  listing(path);
  try {
    onnx::checker::check_model(model_);
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (auto nl = what.find("\n\n"); nl != std::string::npos) what = what.substr(0, nl);
    diags_.report(Code::E1110, graphSpan_, path, fmt::format("ONNX's checker rejects it: {}", what));
    return std::nullopt;
  }
  try {
    onnx::shape_inference::InferShapes(model_);
  } catch (const std::exception& e) {
    diags_.report(Code::E1110, graphSpan_, path, fmt::format("ONNX's shape inference fails: {}", e.what()));
    return std::nullopt;
  }
  collectShapes();
  if (!foldShapes()) return std::nullopt;
  const auto& g = model_.graph();
  std::vector<const onnx::ValueInfoProto*> inputs;
  for (const auto& v : g.input())
    if (!inits_.count(v.name())) inputs.push_back(&v);
  if (inputs.size() != 1) {
    graphFail(fmt::format("number of inputs ({})", inputs.size()), "a dlspec network reads one input, the batch of samples");
    return std::nullopt;
  }
  if (g.output_size() != 1) {
    graphFail(fmt::format("number of outputs ({})", g.output_size()), "a dlspec network returns one value");
    return std::nullopt;
  }
  const std::string inName = inputs[0]->name(), outName = g.output(0).name();
  Dims in = shapes_.count(inName) ? shapes_[inName] : Dims{};
  if (elemTypes_[inName] != onnx::TensorProto::FLOAT) {
    graphFail(fmt::format("input `{}`", inName), "its element type is not f32");
    return std::nullopt;
  }
  if (in.size() < 2 || std::any_of(in.begin() + 1, in.end(), [](int64_t d) { return d < 0; })) {
    graphFail(fmt::format("input `{}`", inName), fmt::format("its shape {} is not [batch, fixed sizes…]", dimsText(in)));
    return std::nullopt;
  }
  // The input's name, unless it would collide with the names the statements take.
  const std::string xName = freshName("/" + inName + "/in");
  xName_ = xName;
  Val x;
  x.chain = xName;
  x.named = true;
  x.dshape = Dims(in.begin() + 1, in.end());
  x.oshape = in;
  vals_[inName] = x;
  if (!findAttention()) return std::nullopt;
  for (int i = 0; i < g.node_size(); ++i) {
    if (skip_.count(i) || folded_.count(i)) continue;
    try {
      if (auto a = attn_.find(i); a != attn_.end())
        translateAttention(i, a->second);
      else
        translate(i);
    } catch (const Fail& e) {
      fail(i, e);
      for (const auto& o : g.node(i).output()) failed_.insert(o);
    } catch (const Cascade&) {  // an input of a node already reported: no second diagnostic
      for (const auto& o : g.node(i).output()) failed_.insert(o);
    }
    ++out_.nodes;
  }
  if (bad_) return std::nullopt;
  if (!vals_.count(outName)) {
    graphFail(fmt::format("output `{}`", outName), "it is not computed from the input");
    return std::nullopt;
  }
  Val& result = vals_[outName];
  Dims o = shapes_.count(outName) ? shapes_[outName] : Dims{};
  if (o.size() < 2 || std::any_of(o.begin() + 1, o.end(), [](int64_t d) { return d < 0; })) {
    graphFail(fmt::format("output `{}`", outName), fmt::format("its shape {} is not [batch, fixed sizes…]", dimsText(o)));
    return std::nullopt;
  }
  Dims od(o.begin() + 1, o.end());
  std::string ret = result.named ? result.chain : materialize(outName);
  if (result.dshape != od) ret = fmt::format("{} |> reshape({})", ret, dimsText(od));
  // Kinds: what the output's last op makes of it; a rank-2 linear output is a classifier's logits.
  std::string kind = result.kind;
  if (kind == "logits" && od.size() != 1) kind = "real";
  const int64_t classes = od.back();

  // ---- the spec ----
  std::string stem = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  if (auto dot = stem.rfind('.'); dot != std::string::npos) stem = stem.substr(0, dot);
  std::string net, snake;
  bool up = true;
  for (char c : stem) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      up = true;
      snake += '_';
      continue;
    }
    net += up ? char(std::toupper(static_cast<unsigned char>(c))) : c;
    snake += char(std::tolower(static_cast<unsigned char>(c)));
    up = false;
  }
  if (net.empty() || std::isdigit(static_cast<unsigned char>(net[0]))) net = "Net" + net;
  if (snake.empty() || std::isdigit(static_cast<unsigned char>(snake[0]))) snake = "net_" + snake;
  auto shapeList = [](const Dims& d) {
    std::string s;
    for (int64_t v : d) s += ", " + std::to_string(v);
    return s;
  };
  // The model's batch, or for a symbolic one a placeholder of 32 (more than one sample: batch norm trains).
  const int64_t batch = in[0] > 0 ? in[0] : 32;
  std::string label, loss, outType;
  if ((kind == "logits" || kind == "log_probs") && od.size() == 2) {
    // Per-step class scores [T, C]: one class per step.
    label = fmt::format("label kind: class<{}>[{}]", classes, od[0]);
    loss = fmt::format("{}(model.out, kind)", kind == "logits" ? "cross_entropy" : "nll");
    outType = fmt::format("{}[N{}]", kind, shapeList(od));
  } else if (kind == "logits" || kind == "log_probs") {
    label = fmt::format("label kind: class<{}>", classes);
    loss = fmt::format("{}(model.out, kind)", kind == "logits" ? "cross_entropy" : "nll");
    outType = fmt::format("{}[N{}]", kind, shapeList(od));
  } else if (kind == "sigmoid_probs") {
    label = fmt::format("label target: multilabel<{}>", classes);
    loss = "bce(model.out, target)";
    outType = fmt::format("sigmoid_probs[N{}]", shapeList(od));
  } else {
    label = fmt::format("label target: f32[{}]", shapeList(od).substr(2));
    loss = "mse(model.out, target)";
    outType = fmt::format("real[N{}]", shapeList(od));
  }
  std::string s = "dlspec 1\n\n";
  s += fmt::format("// Imported from {} (ONNX opset {}) by `dlspec import onnx`; each statement's comment lists the\n"
                   "// ONNX ops it translates. The initialisers are the weights the import writes next to the spec.\n\n",
                   path, opset_);
  s += "// A placeholder source: point it at real files before `dlspec check --data` or training.\n";
  s += fmt::format("dataset {}_data {{\n  train = npy(\"data/{}/train_x.npy\", \"data/{}/train_y.npy\")\n", snake, snake, snake);
  s += fmt::format("  sample image: f32[{}]\n  {}\n}}\n\n", shapeList(x.dshape).substr(2), label);
  s += fmt::format("pipeline train_input from {}_data.train {{\n  shuffle(buffer: all)\n  batch({})\n}}\n\n", snake, batch);
  std::vector<uint32_t> offsets(out_.weights.size());
  const std::string blocks = makeBlocks(ret);
  for (auto [off, w] : blockCalls_) offsets[size_t(w)] = uint32_t(s.size() + off);
  s += blocks;
  s += fmt::format("network {}({}: f32[N{}]) -> {} {{\n", net, xName, shapeList(x.dshape), outType);
  for (const Line& l : body_) {
    for (auto [off, w] : l.calls) offsets[size_t(w)] = uint32_t(s.size() + off);
    s += l.text + "\n";
  }
  s += "  return " + ret + "\n}\n\n";
  s += fmt::format("// A placeholder training set-up, so that the spec builds: the model as imported, trained from its weights.\n"
                   "train {} {{\n  model     = {} on cpu\n  data      = train_input\n  loss      = {}\n"
                   "  optimizer = sgd(lr: 0.01, momentum: 0.9)\n  epochs    = 1\n}}\n", snake, net, loss);
  for (size_t i = 0; i < offsets.size(); ++i) out_.weights[i].callOffset = offsets[i];
  out_.spec = std::move(s);
  return std::move(out_);
}

}  // namespace

std::optional<OnnxImport> importOnnx(const std::string& path, SourceManager& sources, DiagnosticEngine& diags) {
  Importer im(sources, diags);
  return im.run(path);
}

}  // namespace dls::import
