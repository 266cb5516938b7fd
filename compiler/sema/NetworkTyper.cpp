// Networks: inputs, statements (named values, reassignment, the pipe form, `a + b`), every call typed
// against the op table, parameters created, the returned type checked against the declared one.
// After an error the value is poisoned: nothing downstream reports the same root cause again.
//
// Error recovery, so that one network reports every independent fault rather than only its first:
//  - poisoned: the failing op has no meaningful result (unknown rank, dtype and kind). Every op with a
//    poisoned input yields a poisoned value without a check, so nothing computed from it is ever reported
//    (no cascades). The node itself is kept, with the attributes that resolved and no parameters, so that
//    the checker's rules still see the network's structure and arguments after a type error (rustc's lints
//    run on the parts of a crate that type-checked); a program with errors is never lowered.
//  - recovered: the failing op has a defined fallback result (ShapeCtx::recover; today only `add`, which
//    continues with its left operand's shape: Darknet's [shortcut] output is the shape of the layer it
//    is in, i.e. its first input). The error is reported, the node is built with the fallback type and
//    the recovered mark (NetCtx::recovered) propagates to everything computed from it. Such values are
//    well-typed: a later fault is reported when none of the op's inputs is poisoned (recovered ones
//    count as well-typed), with a note that an operand's shape assumes the earlier error keeps the left
//    operand's shape. A later mismatch with a poisoned operand is never reported. This is what
//    lets all 30 silently mismatched shortcuts of Darknet's ResNet/ResNeXt cfgs be reported, each at
//    its own line, while the shapes of the layers in between stay those Darknet computes.
#include <fmt/format.h>

#include "sema/Analyzer.h"
#include "support/Suggest.h"

namespace dls::sema {
namespace {
std::unordered_set<uint64_t>& reportedUnused() {
  static thread_local std::unordered_set<uint64_t> s;
  return s;
}
int newValue(Analyzer::NetCtx& n, Type t, Span span, int producer) {
  Value v;
  v.id = static_cast<int>(n.net->values.size());
  v.type = std::move(t);
  v.span = span;
  v.producer = producer;
  n.net->values.push_back(std::move(v));
  n.used.push_back(false);
  n.recovered.push_back(false);
  return n.net->values.back().id;
}
}  // namespace

int Analyzer::poison(NetCtx& n, Span span) {
  Type t;
  t.poisoned = true;
  t.shape.unknownRank = true;
  t.kind = SemKind::Unknown;
  t.dtype = DType::Unknown;
  return newValue(n, t, span, -1);
}

std::string Analyzer::producerName(const NetCtx& n, int id) const {
  const Value& v = n.net->values[id];
  if (v.producer >= 0) return n.net->nodes[v.producer].layer;
  return v.name.empty() ? "the input" : v.name;
}

void Analyzer::labelOperand(Diagnostic& d, const NetCtx& n, int id, std::string_view role) {
  const Value& v = n.net->values[id];
  if (v.producer >= 0) {
    const Node& p = n.net->nodes[v.producer];
    d.label(p.span, fmt::format("{}{} comes from `{}`{}", role, v.type.brief(), p.layer,
                                v.name.empty() ? "" : fmt::format(" (`{}`)", v.name)));
  } else {
    d.label(v.span, fmt::format("{}`{}` is {} (a network input)", role, v.name, v.type.brief()));
  }
}

int Analyzer::applyOp(NetCtx& n, const OpInfo& op, const ast::Expr& call, std::vector<int> inputs,
                      std::vector<const ast::Arg*> attrArgs, const ConstEnv* env, Span span, Span nameSpan) {
  std::map<std::string, Attr> attrs;
  bool ok = resolveArgs(op, attrArgs, env, span, attrs);
  for (int i : inputs)
    if (n.net->values[i].type.poisoned) ok = false;
  // A node whose output is poisoned: its inputs and resolved attributes, no parameters, no check.
  auto poisonedNode = [&](std::map<std::string, Attr>& a) {
    int out = poison(n, span);
    Node node;
    node.id = static_cast<int>(n.net->nodes.size());
    node.op = &op;
    node.layer = fmt::format("{}_{}", op.name, ++n.opCounters[std::string(op.name)]);
    node.inputs = inputs;
    node.output = out;
    node.attrs = std::move(a);
    node.span = span;
    node.nameSpan = nameSpan;
    node.blockPath = n.blockPath;
    n.net->values[out].producer = node.id;
    n.net->nodes.push_back(std::move(node));
    return out;
  };
  if (!ok) return poisonedNode(attrs);
  std::vector<const Type*> in;
  for (int i : inputs) in.push_back(&n.net->values[i].type);
  ShapeCtx c{op, in, attrs, span, {}, {}};
  op.shape(c);
  bool recoveredInput = false;
  for (int i : inputs) recoveredInput = recoveredInput || n.recovered[i];
  if (c.error) {
    auto& d = diags.add(c.error->code, span, c.error->message);
    if (!c.error->primary.empty()) d.primary(c.error->primary);
    const char* roles[] = {"the left operand ", "the right operand "};
    const char* attentionRoles[] = {"the queries ", "the memory "};  // cross_attention(x, memory)
    for (int k : c.error->inputs)
      if (k < static_cast<int>(inputs.size()))
        labelOperand(d, n, inputs[k], inputs.size() == 2 && op.inputsFromArgs ? (op.attention ? attentionRoles[k] : roles[k])
                                                                              : "its input ");
    if (!c.error->help.empty()) d.help(c.error->help);
    if (recoveredInput)
      d.note("an operand's shape follows an earlier `+` error in this network, which continues with its left "
             "operand's shape (as if the right side were projected to it)");
    if (!c.recover) return poisonedNode(attrs);
    recoveredInput = true;
  }
  // Padding masks: an op with a `mask_token` (embedding) starts one from its input's tokens; ops that act on each
  // step on their own carry it (op table: perStep); a recurrent layer reads it (its tokens become the node's
  // second input) and skips the padded steps; any other op would treat padding as data: E0216.
  int maskTokens = -1;
  int64_t maskToken = 0;
  c.out.maskValue = -1;
  for (int i : inputs)
    if (const Type& t = n.net->values[i].type; t.maskValue >= 0 && maskTokens < 0) maskTokens = t.maskValue, maskToken = t.maskToken;
  auto intAttr = [&](const char* name) -> std::optional<int64_t> {
    auto it = attrs.find(name);
    if (it == attrs.end()) return std::nullopt;
    const int64_t* v = std::get_if<int64_t>(&it->second.value);
    return v ? std::optional<int64_t>(*v) : std::nullopt;
  };
  bool maskedRecurrent = false;
  if (auto k = intAttr("mask_token"); k && !op.recurrent && !inputs.empty()) {
    const Type& tok = n.net->values[inputs[0]].type;
    if (!tok.shape.unknownRank && tok.shape.rank() != 2)
      diags.report(Code::E0212, attrs.at("mask_token").span, "mask_token", op.name,
                   "given for a sequence of tokens [N, T]", fmt::format("tokens {}", tok.brief()));
    else
      c.out.maskValue = inputs[0], c.out.maskToken = *k;
  } else if (maskTokens >= 0 && op.recurrent) {
    maskedRecurrent = true;
    if (c.out.shape.unknownRank || c.out.shape.rank() == 3) c.out.maskValue = maskTokens, c.out.maskToken = maskToken;
  } else if (maskTokens >= 0) {
    const int64_t rank = c.out.shape.unknownRank ? -1 : int64_t(c.out.shape.rank());
    auto axis = intAttr("axis"), axes = intAttr("axes");
    const bool perStep = op.perStep && rank >= 3 && (!axis || *axis == -1 || *axis == rank - 1) && (!axes || *axes == 1);
    if (perStep) {
      c.out.maskValue = maskTokens, c.out.maskToken = maskToken;
    } else {
      const Value& src = n.net->values[maskTokens];
      auto& d = diags.report(Code::E0216, span, op.name, fmt::format("mask_token: {}", maskToken));
      d.primary("would treat the padded steps as data");
      for (const Node& p : n.net->nodes)
        if (p.inputs.size() == 1 && p.inputs[0] == maskTokens && p.attrs.count("mask_token")) {
          d.label(p.span, "the padding mask starts here");
          break;
        }
      d.help(fmt::format("only recurrent layers and ops that act on each step on their own (dense, activations, "
                         "dropout, layer_norm, +) take a padded sequence; reduce it with `{}(…, output: last)`, or "
                         "drop `mask_token` from the embedding{}",
                         "lstm", src.name.empty() ? "" : fmt::format(" of `{}`", src.name)));
    }
  }
  Node node;
  node.id = static_cast<int>(n.net->nodes.size());
  node.op = &op;
  node.layer = fmt::format("{}_{}", op.name, ++n.opCounters[std::string(op.name)]);
  node.inputs = inputs;
  node.attrs = std::move(attrs);
  if (maskedRecurrent) {  // the runtime op's optional second input (dlspec/ops.def `o`) and its mask_token
    node.inputs.push_back(maskTokens);
    node.attrs["mask_token"] = Attr{AttrValue{maskToken}, span, true};
  }
  node.span = span;
  node.nameSpan = nameSpan;
  node.blockPath = n.blockPath;
  for (int i : inputs) n.used[i] = true;
  if (op.params) {
    // The rule reads the first input's type; cross_attention's (an attention of two inputs) the memory's, whose width
    // sets its projections (torch's kdim = vdim).
    std::vector<ParamDesc> descs = op.params(*in[op.attention && in.size() > 1 ? 1 : 0], node);
    std::string init = node.strAttr("init");
    for (ParamDesc& pd : descs) {
      Param p;
      p.id = static_cast<int>(n.net->params.size());
      p.name = node.layer + "." + std::string(pd.suffix);
      p.shape = pd.shape;
      p.role = pd.role;
      p.trainable = pd.trainable;
      p.init = pd.init, p.initA = pd.a, p.initB = pd.b;
      p.fanIn = pd.fanIn, p.fanOut = pd.fanOut;
      p.node = node.id;
      if (!p.shape.elements()) {
        bool allConst = true;
        for (auto& dd : p.shape.dims) allConst &= dd.isConst();
        if (allConst) {
          diags.report(Code::E0210, span, fmt::format("the size of `{}` ({})", p.name, p.shape.str()))
              .primary("this layer's parameter count")
              .help("use fewer units or filters");
          n.net->params.resize(node.params.empty() ? n.net->params.size() : static_cast<size_t>(node.params.front()));
          return poison(n, span);
        }
      }
      if (!init.empty() && pd.role == ParamRole::Weight) {
        auto a = node.attrs.find("init");
        p.initSpan = a->second.span;
        if (auto k = parseInit(init)) p.init = k->kind, p.initA = k->a, p.initB = k->b;
      }
      node.params.push_back(p.id);
      n.net->params.push_back(std::move(p));
    }
  }
  int out = newValue(n, c.out, span, node.id);
  n.recovered[out] = recoveredInput;
  node.output = out;
  n.net->nodes.push_back(std::move(node));
  return out;
}

int Analyzer::typeCall(NetCtx& n, Scope& s, const ast::Expr& call, int piped) {
  const ast::Ident& name = call.path.back();
  if (call.path.size() == 1) {
    auto b = decls.find(name.name);
    if (b != decls.end() && b->second->kind == ast::DeclKind::Block) return inlineBlock(n, s, *b->second, call, piped);
  }
  std::initializer_list<OpCategory> cats = {OpCategory::Layer, OpCategory::Activation, OpCategory::Structural};
  const OpInfo* op = findOp(name.name, cats);
  if (!op || call.path.size() != 1) {
    if (call.path.size() > 1) {
      // A qualified callee is never a layer: most likely a value of another network (Net.h).
      auto it = decls.find(call.path[0].name);
      if (it != decls.end() && it->second->kind == ast::DeclKind::Network) {
        diags.report(Code::E0107, call.span, call.dotted(), call.path[0].name, n.net->name)
            .help("a network can only use its own values; share layers through a `block`");
        return poison(n, call.span);
      }
    }
    if (n.unknownCallees.insert(name.span.begin).second) {
      auto& d = diags.report(Code::E0102, name.span, "layer", call.dotted());
      std::vector<std::string> cands = opNames(cats);
      for (auto& bn : declNames(ast::DeclKind::Block)) cands.push_back(bn);
      if (auto near = closest(name.name, cands)) d.help(fmt::format("did you mean `{}`?", *near)).fixit(name.span, *near);
      else if (std::string list = suggestionText(name.name, cands); !list.empty())
        d.help(list + "; `dlspec ops` lists every op with its arguments");
    }
    // Its positional arguments may be inputs (their names count as used, a fault inside them is reported);
    // literals are taken to be attributes: nothing is known to check them against.
    for (auto& a : call.args) {
      if (a.name) continue;
      ast::ExprKind k = a.value->kind;
      if (k == ast::ExprKind::Number || k == ast::ExprKind::String || k == ast::ExprKind::List || k == ast::ExprKind::Neg)
        continue;
      typeExpr(n, s, *a.value);
    }
    return poison(n, call.span);
  }
  if (!op->replacedBy.empty()) op = lookupOp(name, cats, "layer");
  std::vector<int> inputs;
  if (piped >= 0) inputs.push_back(piped);
  std::vector<const ast::Arg*> attrArgs;
  for (size_t i = 0; i < call.args.size(); ++i) {
    const ast::Arg& a = call.args[i];
    bool isInput = false;
    if (!a.name) {
      if (op->inputsFromArgs) isInput = true;
      else if (piped < 0 && inputs.empty() && i == 0 && a.value->kind == ast::ExprKind::Name &&
               a.value->path.size() == 1 && s.values.count(a.value->dotted()))
        isInput = true;  // relu(h)
    }
    if (isInput) inputs.push_back(typeExpr(n, s, *a.value));
    else attrArgs.push_back(&a);
  }
  int count = static_cast<int>(inputs.size());
  if (count < op->minInputs || (op->maxInputs >= 0 && count > op->maxInputs)) {
    std::string want = op->maxInputs < 0 ? fmt::format("at least {}", op->minInputs)
                       : op->minInputs == op->maxInputs ? fmt::format("{}", op->minInputs)
                                                        : fmt::format("{} to {}", op->minInputs, op->maxInputs);
    auto& d = diags.report(Code::E0108, call.span, op->name, want, fmt::format("{} {}", count, count == 1 ? "was" : "were"));
    if (count == 0 && !op->inputsFromArgs) d.help(fmt::format("feed it a value: `x |> {}`", op->name));
    return poison(n, call.span);
  }
  return applyOp(n, *op, call, inputs, attrArgs, s.consts, call.span, name.span);
}

int Analyzer::typeExpr(NetCtx& n, Scope& s, const ast::Expr& e) {
  switch (e.kind) {
    case ast::ExprKind::Name: {
      std::string nm = e.dotted();
      if (e.path.size() == 1) {
        if (auto it = s.values.find(nm); it != s.values.end()) {
          n.used[it->second] = true;
          return it->second;
        }
        if (auto ow = valueOwner.find(nm); ow != valueOwner.end() && ow->second != n.net->name) {
          diags.report(Code::E0107, e.span, nm, ow->second, n.net->name)
              .help("a network can only use its own values and inputs; share layers through a `block`");
          return poison(n, e.span);
        }
      } else if (auto it = decls.find(e.path[0].name); it != decls.end() && it->second->kind == ast::DeclKind::Network) {
        diags.report(Code::E0107, e.span, nm, e.path[0].name, n.net->name)
            .help("a network can only use its own values and inputs; share layers through a `block`");
        return poison(n, e.span);
      }
      auto& d = diags.report(Code::E0101, e.span, "value", nm);
      std::vector<std::string> names;
      for (auto& [k, _] : s.values) names.push_back(k);
      if (auto near = closest(nm, names)) d.help(fmt::format("did you mean `{}`?", *near)).fixit(e.span, *near);
      else if (findOp(nm, {OpCategory::Layer, OpCategory::Activation, OpCategory::Structural}))
        d.help(fmt::format("`{}` is a layer: apply it with `x |> {}`", nm, nm));
      return poison(n, e.span);
    }
    case ast::ExprKind::Paren:
      return typeExpr(n, s, *e.items[0]);
    case ast::ExprKind::Call:
      return typeCall(n, s, e, -1);
    case ast::ExprKind::Pipe: {
      int lhs = typeExpr(n, s, *e.items[0]);
      const ast::Expr& rhs = *e.items[1];
      if (rhs.kind == ast::ExprKind::Call) return typeCall(n, s, rhs, lhs);
      if (rhs.kind == ast::ExprKind::Name) {
        ast::Expr call;
        call.kind = ast::ExprKind::Call;
        call.span = rhs.span;
        call.path = rhs.path;
        call.argsSpan = rhs.span;
        return typeCall(n, s, call, lhs);
      }
      diags.report(Code::E0215, rhs.span, "the right side of `|>` must be a layer or block, such as `relu` or `dense(10)`");
      return poison(n, rhs.span);
    }
    case ast::ExprKind::Binary: {
      int a = typeExpr(n, s, *e.items[0]);
      int b = typeExpr(n, s, *e.items[1]);
      // a + b, a * b, a - b, a / b: the structural ops add, mul, sub, div.
      const char* name = e.op == '+' ? "add" : e.op == '*' ? "mul" : e.op == '-' ? "sub" : e.op == '/' ? "div" : nullptr;
      const OpInfo* op = name ? findOp(name, {OpCategory::Structural}) : nullptr;
      if (!op) {
        diags.report(Code::E0215, e.span, fmt::format("`{}` is not defined on values; `+`, `-`, `*` and `/` are", e.op));
        return poison(n, e.span);
      }
      Span opSpan{e.span.file, e.items[0]->span.end, e.items[1]->span.begin};
      return applyOp(n, *op, e, {a, b}, {}, s.consts, e.span, opSpan);
    }
    default:
      diags.report(Code::E0215, e.span, "expected a value: a name, a layer call or `x |> layer`");
      return poison(n, e.span);
  }
}

int Analyzer::typeBody(NetCtx& n, Scope& s, const std::vector<ast::Item>& items, std::string_view what, Span declSpan) {
  int result = -1;
  size_t errorsBefore = diags.rawErrorCount();
  struct Binding { std::string name; int id; Span span; };
  std::vector<Binding> bindings;
  for (const ast::Item& it : items) {
    if (!it.value) continue;
    if (it.kind == ast::ItemKind::Return) {
      if (result >= 0) {
        diags.report(Code::E0104, it.span, "return").primary("a second `return`");
        continue;
      }
      if (!it.outputNames.empty()) {
        // return (cls: a, box: b): only the body of a network declared with several outputs.
        if (!n.blockStack.empty() || what.rfind("network", 0) != 0) {
          diags.report(Code::E0138, it.value->span, what)
              .primary("a block returns one value")
              .help("return one value from the block, and name the outputs in the network's `return (…)`");
        }
        for (size_t i = 0; i < it.outputNames.size() && i < it.value->items.size(); ++i) {
          int id = typeExpr(n, s, *it.value->items[i]);
          if (i == 0) result = id;
          if (n.blockStack.empty()) n.namedReturns.push_back({it.outputNames[i], id});
        }
        continue;
      }
      result = typeExpr(n, s, *it.value);
      continue;
    }
    if (it.kind != ast::ItemKind::Assign) {
      diags.report(Code::E0215, it.span, "expected `name = …` or `return …`");
      continue;
    }
    int id = typeExpr(n, s, *it.value);
    Value& v = n.net->values[id];
    if (v.name.empty()) v.name = it.key.name;
    s.values[it.key.name] = id;
    if (n.blockStack.empty()) valueOwner.emplace(it.key.name, n.net->name);
    bindings.push_back({it.key.name, id, it.key.span});
  }
  if (result < 0) {
    diags.report(Code::E0111, declSpan, what).help("end the body with `return …`");
    return poison(n, declSpan);
  }
  n.used[result] = true;
  for (auto& [name, id] : n.namedReturns)
    if (id >= 0 && size_t(id) < n.used.size()) n.used[id] = true;
  // After an error in this body the unused value is most likely the one a broken reference meant.
  if (diags.rawErrorCount() != errorsBefore) return result;
  for (const Binding& b : bindings) {
    if (n.used[b.id] || b.name.rfind('_', 0) == 0 || n.net->values[b.id].type.poisoned) continue;
    uint64_t key = (uint64_t(b.span.file) << 32) | b.span.begin;
    if (!reportedUnused().insert(key).second) continue;
    diags.report(Code::W0101, b.span, b.name).primary("assigned here, never read")
        .help(fmt::format("remove it, or name it `_{}` to keep it", b.name));
  }
  return result;
}

namespace {
// Whether a network that returns `actual` values keeps its declared `declared` kind. Plain real values
// (f32[…]) promise nothing more; a linear output is logits; probabilities of any kind come only from the
// activation that makes them (sigmoid, softmax, log_softmax).
bool kindFits(SemKind declared, SemKind actual) {
  if (declared == actual || declared == SemKind::Real || declared == SemKind::Unknown || actual == SemKind::Unknown)
    return true;
  return declared == SemKind::Logits && actual == SemKind::Real;
}

std::string outputKindHelp(SemKind declared, SemKind actual) {
  auto last = [](SemKind k) -> std::string_view {
    switch (k) {
      case SemKind::Probs: return "softmax";
      case SemKind::LogProbs: return "log_softmax";
      case SemKind::SigmoidProbs: return "sigmoid";
      default: return {};
    }
  };
  if (!last(declared).empty())
    return fmt::format("end the network with `|> {}`, or declare the output `{}[…]`", last(declared),
                       actual == SemKind::Real ? "logits" : semKindName(actual));
  if (declared == SemKind::Logits && !last(actual).empty())
    return fmt::format("remove the final `|> {}` (the loss takes the logits), or declare the output `{}[…]`",
                       last(actual), semKindName(actual));
  return "a network returns values (f32, logits or probabilities), not labels: declare what the last layer produces";
}
}  // namespace

void Analyzer::typeNetwork(const ast::Decl& d) {
  auto net = std::make_unique<Network>();
  net->name = d.name.name;
  net->span = d.span;
  net->nameSpan = d.name.span;
  net->decl = &d;
  NetCtx n;
  n.net = net.get();
  Scope s;
  reportedUnused().clear();
  std::unordered_set<std::string> syms;
  for (const ast::Param& p : d.params) {
    auto t = resolveType(p.type, nullptr, true);
    Type ty = t ? *t : Type{};
    if (!t) ty.poisoned = true, ty.shape.unknownRank = true;
    int id = newValue(n, ty, p.span, -1);
    net->values[id].name = p.name.name;
    if (s.values.count(p.name.name)) diags.report(Code::E0104, p.name.span, p.name.name);
    s.values[p.name.name] = id;
    net->inputs.push_back(id);
    net->declaredInputs.push_back(ty);
    net->declaredInputSpans.push_back(p.type.span);
    for (auto& dd : ty.shape.dims)
      if (dd.kind == Dim::Kind::Sym && syms.insert(dd.sym).second) net->symbols.push_back(dd.sym);
  }
  std::optional<Type> declared = d.returns ? resolveType(*d.returns, nullptr, true) : std::nullopt;
  if (declared) net->declaredOutput = *declared, net->declaredOutputSpan = d.returns->span;
  else net->declaredOutput.poisoned = true;
  std::vector<std::optional<Type>> declaredOuts;  // several outputs: each one's declared type
  for (const ast::Param& o : d.outputs) {
    declaredOuts.push_back(resolveType(o.type, nullptr, true));
    for (size_t j = 0; j + 1 < declaredOuts.size(); ++j)
      if (d.outputs[j].name.name == o.name.name) diags.report(Code::E0104, o.name.span, o.name.name);
  }
  int out = typeBody(n, s, d.items, fmt::format("network `{}`", d.name.name), d.name.span);
  net->output = out;
  const ast::Item* retItem = nullptr;
  for (auto& it : d.items)
    if (it.kind == ast::ItemKind::Return) retItem = &it;
  // The declared outputs against the returned ones: the same names in the same order.
  std::vector<int> outIds;  // per declared output: the value returned under its name (-1: none)
  if (!d.outputs.empty() && !net->values[out].type.poisoned) {
    bool same = n.namedReturns.size() == d.outputs.size();
    for (size_t i = 0; same && i < d.outputs.size(); ++i) same = n.namedReturns[i].first.name == d.outputs[i].name.name;
    if (!same) {
      auto& dg = diags.report(Code::E0138, retItem ? retItem->value->span : d.name.span, fmt::format("network `{}`", d.name.name));
      std::string want;
      for (size_t i = 0; i < d.outputs.size(); ++i) want += (i ? ", " : "") + d.outputs[i].name.name + ": …";
      if (n.namedReturns.empty()) {
        dg.primary("returns one value");
      } else {
        std::string got;
        for (size_t i = 0; i < n.namedReturns.size(); ++i) got += (i ? ", " : "") + n.namedReturns[i].first.name;
        dg.primary(fmt::format("returns {}", got));
      }
      dg.label(d.outputsSpan, "declared here");
      dg.help(fmt::format("return every declared output by name, in the declared order: `return ({})`", want));
    }
    for (size_t i = 0; i < d.outputs.size(); ++i) {
      int id = -1;
      for (auto& [nm, v] : n.namedReturns)
        if (nm.name == d.outputs[i].name.name) id = v;
      if (id < 0) id = poison(n, d.outputs[i].span);
      outIds.push_back(id);
    }
  } else if (d.outputs.empty() && !n.namedReturns.empty() && !net->values[out].type.poisoned) {
    diags.report(Code::E0138, retItem ? retItem->value->span : d.name.span, fmt::format("network `{}`", d.name.name))
        .primary("returns named outputs")
        .label(d.returns ? d.returns->span : d.name.span, "declares one output")
        .help("declare the outputs by name: `-> (NAME: TYPE, …)`, or return one value");
  }
  auto checkOutput = [&](int out, const std::optional<Type>& declared, Span declSpan, Span retSpan) {
  Value& ov = net->values[out];
  if (declared && !ov.type.poisoned) {
    if (!Shape::compatible(ov.type.shape, declared->shape)) {
      const bool ret = retItem != nullptr;
      // An output with more axes than declared ([N, T, C] for [N, C]) whose extra axis is carried through the
      // chain that ends the network: either a recurrent layer returns every step (the fix is `output: last`), or
      // a `dense` acts on every position of an unflattened input (the fix is `flatten` before it). The fault is
      // that layer, so the primary span is there.
      const Node* rec = nullptr;
      const Node* firstDense = nullptr;
      if (!ov.type.shape.unknownRank && !declared->shape.unknownRank &&
          ov.type.shape.rank() > declared->shape.rank() && !ov.type.shape.dims.empty() &&
          !declared->shape.dims.empty() && Dim::compatible(ov.type.shape.dims.back(), declared->shape.dims.back())) {
        const size_t rank = ov.type.shape.rank();
        for (int cur = ov.producer; cur >= 0 && !rec;) {
          const Node& nd = net->nodes[cur];
          if (!nd.op || nd.inputs.empty()) break;
          if (nd.op->recurrent && nd.strAttr("output", "sequence") != "last") rec = &nd;
          // Only through ops that act on each step on their own: a transpose or a pooling reorders the axes.
          if (!rec && !nd.op->perStep) break;
          const Type& in = net->values[nd.inputs[0]].type;
          if (in.shape.unknownRank || in.shape.rank() != rank) break;
          if (nd.op->name == "dense") firstDense = &nd;
          cur = net->values[nd.inputs[0]].producer;
        }
      }
      Span at = retSpan;
      const bool atDense = !rec && firstDense && declared->shape.rank() == 2;
      if (rec) at = rec->span;
      else if (atDense) at = firstDense->span;
      auto& dg = diags.report(Code::E0202, at, net->name, ov.type.brief(), declared->brief());
      if (rec) {
        dg.primary("returns every time step");
        if (ret) dg.label(retSpan, fmt::format("returns {}", ov.type.brief()));
      } else if (atDense) {
        dg.primary(fmt::format("acts on every position of {}", net->values[firstDense->inputs[0]].type.brief()));
        if (ret) dg.label(retSpan, fmt::format("returns {}", ov.type.brief()));
      } else {
        dg.primary(fmt::format("returns {}", ov.type.brief()));
      }
      dg.label(declSpan, fmt::format("declared {}", declared->brief()));
      if (ov.producer >= 0 && !rec && !atDense) labelOperand(dg, n, out, "the result ");
      bool lastDiffers = !ov.type.shape.unknownRank && ov.type.shape.rank() == declared->shape.rank() &&
                         !Dim::compatible(ov.type.shape.dims.back(), declared->shape.dims.back());
      if (rec)
        dg.help(fmt::format("for one output per sequence, take the last step: `{}(…, output: last)`", rec->op->name));
      else if (atDense)
        dg.help(fmt::format("flatten the input of this `dense` first: `|> flatten |> dense({})`",
                            firstDense->intAttr("units", declared->shape.dims.back().isConst() ? declared->shape.dims.back().value : 0)));
      else
        dg.help(lastDiffers ? fmt::format("make the last layer produce {} units, or change the declared output",
                                          declared->shape.dims.back().str())
                            : "change the layers or the declared output so that they agree");
      // Later checks (the loss) see the declared type: the mismatch is reported once, here.
      Type t = *declared;
      t.device = ov.type.device;
      ov.type = t;
    }
    if (!kindFits(declared->kind, ov.type.kind) || (ov.type.dtype != declared->dtype && ov.type.dtype != DType::Unknown &&
                                                     declared->dtype != DType::Unknown)) {
      // The declared type is a contract: what the network returns must be that kind of value.
      auto& dg = diags.report(Code::E0413, retSpan, net->name, ov.type.brief(),
                              declared->brief());
      dg.primary(fmt::format("returns {}", ov.type.brief()));
      dg.label(declSpan, fmt::format("declared {}", declared->brief()));
      if (ov.producer >= 0) labelOperand(dg, n, out, "the result ");
      dg.help(outputKindHelp(declared->kind, ov.type.kind));
      // Later checks (the loss) see the declared type: the mismatch is reported once, here.
      ov.type.kind = declared->kind;
      ov.type.dtype = declared->dtype;
      ov.type.classes = declared->classes;
    } else if (ov.type.kind == SemKind::Real && declared->kind != SemKind::Real) {
      ov.type.kind = declared->kind;
      ov.type.classes = declared->classes;
    }
  }
  };
  while (outIds.size() < d.outputs.size()) outIds.push_back(poison(n, d.outputs[outIds.size()].span));
  if (d.outputs.empty()) {
    checkOutput(out, declared, d.returns ? d.returns->span : d.name.span, retItem ? retItem->value->span : d.name.span);
  } else {
    for (size_t i = 0; i < d.outputs.size(); ++i) {
      Span retSpan = d.name.span;
      for (size_t j = 0; retItem && j < retItem->outputNames.size() && j < retItem->value->items.size(); ++j)
        if (retItem->outputNames[j].name == d.outputs[i].name.name) retSpan = retItem->value->items[j]->span;
      if (!net->values[outIds[i]].type.poisoned) checkOutput(outIds[i], declaredOuts[i], d.outputs[i].type.span, retSpan);
      Network::Output o;
      o.name = d.outputs[i].name.name;
      o.value = outIds[i];
      o.declared = declaredOuts[i] ? *declaredOuts[i] : Type{};
      if (!declaredOuts[i]) o.declared.poisoned = true;
      o.nameSpan = d.outputs[i].name.span;
      o.declaredSpan = d.outputs[i].type.span;
      net->outputs.push_back(std::move(o));
    }
    if (!outIds.empty()) {
      net->output = outIds[0];
      net->declaredOutput = net->outputs[0].declared;
      net->declaredOutputSpan = net->outputs[0].declaredSpan;
    }
  }
  for (int id : net->inputs)
    if (!n.used[id] && !net->values[id].name.empty() && net->values[id].name[0] != '_')
      diags.report(Code::W0101, net->values[id].span, net->values[id].name).primary("this input is never read");
  networks[net->name] = net.get();
  prog.networks.push_back(std::move(net));
}

}  // namespace dls::sema
