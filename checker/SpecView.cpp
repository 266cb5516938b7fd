#include "checker/SpecView.h"

#include <algorithm>
#include <cmath>

namespace dls::checker {

const NetView* SpecView::network(const std::string& n) const {
  for (auto& x : networks)
    if (x.decl->name.name == n) return &x;
  return nullptr;
}
const PipeView* SpecView::pipeline(const std::string& n) const {
  for (auto& x : pipelines)
    if (x.decl->name.name == n) return &x;
  return nullptr;
}
const DataView* SpecView::dataset(const std::string& n) const {
  for (auto& x : datasets)
    if (x.decl->name.name == n) return &x;
  return nullptr;
}

const ast::Expr* stripParens(const ast::Expr* e) {
  while (e && e->kind == ast::ExprKind::Paren && !e->items.empty()) e = e->items[0].get();
  return e;
}

std::optional<double> evalNumber(const ast::Expr* e) {
  e = stripParens(e);
  if (!e) return std::nullopt;
  switch (e->kind) {
    case ast::ExprKind::Number: return e->number;
    case ast::ExprKind::Neg: {
      auto v = e->items.empty() ? std::nullopt : evalNumber(e->items[0].get());
      if (v) return -*v;
      return std::nullopt;
    }
    case ast::ExprKind::Binary: {
      if (e->items.size() != 2) return std::nullopt;
      auto a = evalNumber(e->items[0].get()), b = evalNumber(e->items[1].get());
      if (!a || !b) return std::nullopt;
      double r = 0;
      switch (e->op) {
        case '+': r = *a + *b; break;
        case '-': r = *a - *b; break;
        case '*': r = *a * *b; break;
        case '/':
          if (*b == 0) return std::nullopt;
          r = *a / *b;
          break;
        default: return std::nullopt;
      }
      if (!std::isfinite(r)) return std::nullopt;
      return r;
    }
    default: return std::nullopt;
  }
}

std::optional<int64_t> evalInt(const ast::Expr* e) {
  e = stripParens(e);
  if (!e) return std::nullopt;
  if (e->kind == ast::ExprKind::Number) return e->isInteger ? std::optional<int64_t>(e->integer) : std::nullopt;
  if (e->kind == ast::ExprKind::Neg && !e->items.empty()) {
    auto v = evalInt(e->items[0].get());
    if (v && *v != INT64_MIN) return -*v;
    return std::nullopt;
  }
  if (e->kind == ast::ExprKind::Binary && e->items.size() == 2) {
    auto a = evalInt(e->items[0].get()), b = evalInt(e->items[1].get());
    if (!a || !b) return std::nullopt;
    int64_t r;
    switch (e->op) {
      case '+': if (__builtin_add_overflow(*a, *b, &r)) return std::nullopt; return r;
      case '-': if (__builtin_sub_overflow(*a, *b, &r)) return std::nullopt; return r;
      case '*': if (__builtin_mul_overflow(*a, *b, &r)) return std::nullopt; return r;
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string nameOf(const ast::Expr* e) {
  e = stripParens(e);
  if (!e || (e->kind != ast::ExprKind::Name && e->kind != ast::ExprKind::Call)) return "";
  return e->dotted();
}

void flattenPipe(const ast::Expr* e, std::vector<const ast::Expr*>& out) {
  e = stripParens(e);
  if (!e) return;
  if (e->kind == ast::ExprKind::Pipe && e->items.size() == 2) {
    flattenPipe(e->items[0].get(), out);
    flattenPipe(e->items[1].get(), out);
    return;
  }
  out.push_back(e);
}

std::optional<OpUse> asOp(const ast::Expr* e) {
  e = stripParens(e);
  if (!e || (e->kind != ast::ExprKind::Name && e->kind != ast::ExprKind::Call) || e->path.empty()) return std::nullopt;
  OpUse u;
  u.op = e->path.back().name;
  u.expr = e;
  u.span = e->span;
  u.nameSpan = Span::join(e->path.front().span, e->path.back().span);
  for (const ast::Arg& a : e->args) {
    if (a.name) {
      if (u.args.count(a.name->name)) u.duplicateArgs.push_back(a.name->name);
      u.args[a.name->name] = a.value.get();
      u.argSpans[a.name->name] = a.span;
    } else {
      u.positional.push_back(a.value.get());
    }
  }
  return u;
}

std::vector<std::optional<int64_t>> typeDims(const ast::TypeExpr& t) {
  std::vector<std::optional<int64_t>> d;
  for (auto& e : t.dims) d.push_back(evalInt(e.get()));
  return d;
}

namespace {

using Bindings = std::map<std::string, const ast::Expr*>;

void substitute(OpUse& u, const Bindings& b) {
  if (b.empty()) return;
  auto sub = [&](const ast::Expr* e) {
    const ast::Expr* s = stripParens(e);
    if (s && s->kind == ast::ExprKind::Name && s->path.size() == 1) {
      auto it = b.find(s->path[0].name);
      if (it != b.end() && it->second) return it->second;
    }
    return e;
  };
  for (auto& [k, v] : u.args) v = sub(v);
  for (auto& v : u.positional) v = sub(v);
}

void addLayers(const ast::Spec& spec, const std::vector<ast::Item>& stmts, const Bindings& bind,
               std::vector<std::string>& path, NetView& net, int depth);

// Sema stops at 200,000 block instances (E0115); the view stops at as many layers, so that a fan-out of blocks
// (each using the previous one twice) cannot make the rules walk 2^k layers.
constexpr size_t kMaxViewLayers = 200000;

void addOp(const ast::Spec& spec, const ast::Expr* e, const Bindings& bind, std::vector<std::string>& path,
           NetView& net, int depth) {
  if (net.layers.size() >= kMaxViewLayers) return;
  auto u = asOp(e);
  if (!u) return;
  substitute(*u, bind);
  const ast::Decl* block = u->expr->path.size() == 1 ? spec.find(ast::DeclKind::Block, u->op) : nullptr;
  // A block that contains itself (sema's E0106) adds nothing more: expanding it again would repeat its
  // layers, and every rule would report them once per repetition.
  if (block && std::find(path.begin(), path.end(), u->op) != path.end()) return;
  if (block && depth < 16) {
    Bindings inner;
    size_t pos = 0;
    for (const ast::Param& p : block->params) {
      auto it = u->args.find(p.name.name);
      if (it != u->args.end()) inner[p.name.name] = it->second;
      else if (pos < u->positional.size()) inner[p.name.name] = u->positional[pos++];
      else inner[p.name.name] = p.defaultValue.get();
    }
    path.push_back(u->op);
    addLayers(spec, block->items, inner, path, net, depth + 1);
    path.pop_back();
    return;
  }
  u->blockPath = path;
  net.layers.push_back(std::move(*u));
}

void addLayers(const ast::Spec& spec, const std::vector<ast::Item>& stmts, const Bindings& bind,
               std::vector<std::string>& path, NetView& net, int depth) {
  for (const ast::Item& it : stmts) {
    if (!it.value) continue;
    if (it.kind == ast::ItemKind::Assign && depth == 0) {
      net.locals.push_back(it.key.name);
      net.localSpans.push_back(it.key.span);
    }
    std::vector<const ast::Expr*> chain;
    flattenPipe(it.value.get(), chain);
    for (size_t i = 0; i < chain.size(); ++i) {
      const ast::Expr* e = chain[i];
      // The head of a chain is a value (x, h) unless it is a call (add(h, x)).
      if (i == 0 && e->kind != ast::ExprKind::Call) continue;
      addOp(spec, e, bind, path, net, depth);
    }
  }
}

}  // namespace

SpecView buildView(const ast::Spec& spec) {
  SpecView v;
  for (const ast::Decl& d : spec.decls) {
    switch (d.kind) {
      case ast::DeclKind::Network: {
        NetView n;
        n.decl = &d;
        if (!d.params.empty()) {
          const ast::TypeExpr& t = d.params[0].type;
          n.inputDType = t.base.name;
          auto dims = typeDims(t);
          if (!dims.empty()) n.inputDims.assign(dims.begin() + 1, dims.end());
        }
        if (d.returns) n.outKind = d.returns->base.name;
        std::vector<std::string> path;
        addLayers(spec, d.items, {}, path, n, 0);
        v.networks.push_back(std::move(n));
        break;
      }
      case ast::DeclKind::Pipeline: {
        PipeView p;
        p.decl = &d;
        if (!d.source.empty()) {
          p.dataset = d.source[0].name;
          if (d.source.size() > 1) p.split = d.source[1].name;
          p.sourceSpan = Span::join(d.source.front().span, d.source.back().span);
        }
        for (const ast::Item& it : d.items) {
          if (!it.value) continue;
          if (it.kind == ast::ItemKind::Assign) {
            std::vector<const ast::Expr*> chain;
            flattenPipe(it.value.get(), chain);
            for (size_t i = 1; i < chain.size(); ++i)
              if (auto u = asOp(chain[i])) {
                u->field = it.key.name;
                p.steps.push_back(std::move(*u));
              }
          } else if (auto u = asOp(it.value.get())) {
            u->augment = it.kind == ast::ItemKind::Augment;
            p.steps.push_back(std::move(*u));
          }
        }
        v.pipelines.push_back(std::move(p));
        break;
      }
      case ast::DeclKind::Dataset: {
        DataView ds;
        ds.decl = &d;
        for (const ast::Item& it : d.items) {
          if (it.kind == ast::ItemKind::Field && it.type) {
            if (it.type->base.name == "mask") ds.masks.push_back(&it);
            else if (it.role.name == "sample" && !ds.sample) ds.sample = &it;
            else if (it.role.name == "label" && !ds.label) ds.label = &it;
          } else if (it.kind == ast::ItemKind::Assign) {
            ds.splits[it.key.name] = &it;
          }
        }
        v.datasets.push_back(std::move(ds));
        break;
      }
      case ast::DeclKind::Train: {
        TrainView t;
        t.decl = &d;
        for (const ast::Item& it : d.items)
          if (it.kind == ast::ItemKind::Assign && !t.items.count(it.key.name)) t.items[it.key.name] = &it;
        v.trains.push_back(std::move(t));
        break;
      }
      case ast::DeclKind::Block: break;
    }
  }
  return v;
}

}  // namespace dls::checker
