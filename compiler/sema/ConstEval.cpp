// Constant expressions in arguments and types: numbers, strings, words, lists, `1/255`, `28 * 28`,
// block parameters. Integer arithmetic is exact and overflow-checked.
#include <cmath>
#include <fmt/format.h>

#include "sema/Analyzer.h"

namespace dls::sema {

std::string Const::describe() const {
  switch (kind) {
    case Kind::Int: return fmt::format("the integer {}", i);
    case Kind::Float: return fmt::format("the number {}", d);
    case Kind::Bool: return b ? "`true`" : "`false`";
    case Kind::String: return fmt::format("the string \"{}\"", s);
    case Kind::Word: return fmt::format("`{}`", s);
    case Kind::List: return fmt::format("a list of {}", items.size());
    case Kind::Call: return fmt::format("the call `{}(…)`", s);
  }
  return "a value";
}

std::optional<Const> Analyzer::evalConst(const ast::Expr& e, const ConstEnv* env, bool report) {
  Const c;
  c.span = e.span;
  switch (e.kind) {
    case ast::ExprKind::Number:
      if (e.isInteger) c.kind = Const::Kind::Int, c.i = e.integer, c.d = static_cast<double>(e.integer);
      else c.kind = Const::Kind::Float, c.d = e.number;
      return c;
    case ast::ExprKind::String:
      c.kind = Const::Kind::String, c.s = e.text;
      return c;
    case ast::ExprKind::Name: {
      std::string n = e.dotted();
      if (env && e.path.size() == 1)
        if (auto it = env->find(n); it != env->end()) {
          Const r = it->second;
          r.span = e.span;
          return r;
        }
      if (n == "true" || n == "false") {
        c.kind = Const::Kind::Bool, c.b = n == "true";
        return c;
      }
      c.kind = Const::Kind::Word, c.s = n;
      return c;
    }
    case ast::ExprKind::Paren:
      return e.items.empty() ? std::nullopt : evalConst(*e.items[0], env, report);
    case ast::ExprKind::List:
      c.kind = Const::Kind::List;
      for (auto& it : e.items) {
        auto v = evalConst(*it, env, report);
        if (!v) return std::nullopt;
        c.items.push_back(*v);
      }
      return c;
    case ast::ExprKind::Call:
      c.kind = Const::Kind::Call, c.s = e.dotted();
      for (auto& a : e.args) {
        auto v = evalConst(*a.value, env, report);
        if (!v) return std::nullopt;
        c.items.push_back(*v);
        c.names.push_back(a.name ? a.name->name : std::string());
      }
      return c;
    case ast::ExprKind::Neg: {
      auto v = evalConst(*e.items[0], env, report);
      if (!v) return std::nullopt;
      if (v->kind == Const::Kind::Int) {
        if (v->i == std::numeric_limits<int64_t>::min()) break;
        v->i = -v->i, v->d = -v->d;
      } else if (v->kind == Const::Kind::Float) {
        v->d = -v->d;
      } else {
        if (report) diags.report(Code::E0215, e.span, fmt::format("cannot negate {}", v->describe()));
        return std::nullopt;
      }
      v->span = e.span;
      return v;
    }
    case ast::ExprKind::Binary: {
      auto a = evalConst(*e.items[0], env, report), b = evalConst(*e.items[1], env, report);
      if (!a || !b) return std::nullopt;
      bool num = (a->kind == Const::Kind::Int || a->kind == Const::Kind::Float) &&
                 (b->kind == Const::Kind::Int || b->kind == Const::Kind::Float);
      if (!num) {
        if (report)
          diags.report(Code::E0215, e.span, fmt::format("`{}` needs two numbers, found {} and {}", e.op, a->describe(),
                                                        b->describe()));
        return std::nullopt;
      }
      if (a->kind == Const::Kind::Int && b->kind == Const::Kind::Int && e.op != '/') {
        int64_t r;
        bool ok = e.op == '+' ? addChecked(a->i, b->i, r) : e.op == '-' ? subChecked(a->i, b->i, r) : mulChecked(a->i, b->i, r);
        if (!ok) {
          if (report) diags.report(Code::E0210, e.span, fmt::format("`{} {} {}`", a->i, e.op, b->i)).primary("this overflows");
          return std::nullopt;
        }
        c.kind = Const::Kind::Int, c.i = r, c.d = static_cast<double>(r);
        return c;
      }
      if (e.op == '/' && b->d == 0) {
        if (report) diags.report(Code::E0215, e.span, "division by zero");
        return std::nullopt;
      }
      if (e.op == '/' && a->kind == Const::Kind::Int && b->kind == Const::Kind::Int && a->i % b->i == 0) {
        c.kind = Const::Kind::Int, c.i = a->i / b->i, c.d = static_cast<double>(c.i);
        return c;
      }
      double r = e.op == '+' ? a->d + b->d : e.op == '-' ? a->d - b->d : e.op == '*' ? a->d * b->d : a->d / b->d;
      c.kind = Const::Kind::Float, c.d = r;
      return c;
    }
    case ast::ExprKind::Pipe:
      break;
  }
  if (report) diags.report(Code::E0215, e.span, "expected a constant here");
  return std::nullopt;
}

}  // namespace dls::sema
