#include "syntax/Formatter.h"

#include <algorithm>
#include <fmt/format.h>

namespace dls {
namespace {

std::string args(const std::vector<ast::Arg>& as) {
  std::string out;
  for (size_t i = 0; i < as.size(); ++i) {
    if (i) out += ", ";
    if (as[i].name) out += as[i].name->name + ": ";
    out += formatExpr(*as[i].value);
    if (as[i].unit) out += " " + as[i].unit->name;
  }
  return out;
}

int precedence(const ast::Expr& e) {
  switch (e.kind) {
    case ast::ExprKind::Pipe: return 1;
    case ast::ExprKind::Binary: return e.op == '+' || e.op == '-' ? 2 : 3;
    case ast::ExprKind::Neg: return 4;
    default: return 5;
  }
}

void comments(std::string& out, const std::vector<std::string>& cs, const std::string& indent) {
  for (const std::string& c : cs) out += indent + c + "\n";
}

void trailing(std::string& out, const std::string& c) {
  if (!c.empty()) out += "  " + c;
  out += "\n";
}

std::string attrs(const std::vector<ast::Attribute>& as, const std::string& indent) {
  std::string out;
  for (const ast::Attribute& a : as) out += indent + "allow(" + args(a.args) + ")\n";
  return out;
}

std::string clause(const ast::Clause& c) {
  switch (c.kind) {
    case ast::ClauseKind::On: {
      std::string out = " on ";
      if (c.deviceList) out += "[";
      for (size_t i = 0; i < c.devices.size(); ++i) {
        if (i) out += ", ";
        out += c.devices[i].name.name;
        if (c.devices[i].index) out += fmt::format(":{}", *c.devices[i].index);
      }
      if (c.deviceList) out += "]";
      return out;
    }
    case ast::ClauseKind::Every: return " every " + formatExpr(*c.value) + " " + c.unit->name;
    case ast::ClauseKind::Metrics: return " metrics " + formatExpr(*c.value);
    case ast::ClauseKind::Keep: return " keep " + formatExpr(*c.value);
  }
  return {};
}

std::string params(const std::vector<ast::Param>& ps) {
  std::string out;
  for (size_t i = 0; i < ps.size(); ++i) {
    if (i) out += ", ";
    out += ps[i].name.name + ": " + formatType(ps[i].type);
    if (ps[i].defaultValue) out += " = " + formatExpr(*ps[i].defaultValue);
  }
  return out;
}

}  // namespace

std::string formatExpr(const ast::Expr& e) {
  switch (e.kind) {
    case ast::ExprKind::Number: return e.text;
    case ast::ExprKind::String: return e.raw;
    case ast::ExprKind::Name: return e.dotted();
    case ast::ExprKind::Call: return e.dotted() + "(" + args(e.args) + ")";
    case ast::ExprKind::List: {
      std::string out = "[";
      for (size_t i = 0; i < e.items.size(); ++i) out += (i ? ", " : "") + formatExpr(*e.items[i]);
      return out + "]";
    }
    case ast::ExprKind::Neg: {
      std::string inner = formatExpr(*e.items[0]);
      return precedence(*e.items[0]) < 4 ? "-(" + inner + ")" : "-" + inner;
    }
    case ast::ExprKind::Paren: return "(" + formatExpr(*e.items[0]) + ")";
    case ast::ExprKind::Binary:
    case ast::ExprKind::Pipe: {
      int p = precedence(e);
      std::string l = formatExpr(*e.items[0]), r = formatExpr(*e.items[1]);
      // Parse-tree grouping is kept by Paren nodes, so no parentheses are added here except where the
      // tree was built without them (never from parsed text).
      if (precedence(*e.items[0]) < p) l = "(" + l + ")";
      if (precedence(*e.items[1]) <= p) r = "(" + r + ")";
      if (e.kind == ast::ExprKind::Pipe) return l + " |> " + r;
      if (e.op == '/' || e.op == '*') return l + e.op + r;
      return l + " " + e.op + " " + r;
    }
  }
  return {};
}

std::string formatType(const ast::TypeExpr& t) {
  std::string out = t.base.name;
  if (!t.params.empty()) {
    out += "<";
    for (size_t i = 0; i < t.params.size(); ++i) out += (i ? ", " : "") + formatExpr(*t.params[i]);
    out += ">";
  }
  if (t.hasDims) {
    out += "[";
    for (size_t i = 0; i < t.dims.size(); ++i) out += (i ? ", " : "") + formatExpr(*t.dims[i]);
    out += "]";
  }
  return out;
}

std::string formatSpec(const ast::Spec& spec) {
  std::string out;
  comments(out, spec.headerComments.leading, "");
  if (spec.version) {
    out += fmt::format("dlspec {}", *spec.version);
    trailing(out, spec.headerComments.trailing);
  }
  for (const ast::Decl& d : spec.decls) {
    if (!out.empty()) out += "\n";
    comments(out, d.comments.leading, "");
    out += attrs(d.attrs, "");
    out += std::string(ast::declKeyword(d.kind)) + " " + d.name.name;
    switch (d.kind) {
      case ast::DeclKind::Pipeline: {
        std::string src;
        for (size_t i = 0; i < d.source.size(); ++i) src += (i ? "." : "") + d.source[i].name;
        out += " from " + src;
        break;
      }
      case ast::DeclKind::Block: {
        out += "(" + params(d.params) + ") (";
        for (size_t i = 0; i < d.inputs.size(); ++i) out += (i ? ", " : "") + d.inputs[i].name;
        out += ")";
        break;
      }
      case ast::DeclKind::Network: out += "(" + params(d.params) + ") -> " + formatType(*d.returns); break;
      default: break;
    }
    out += " {";
    trailing(out, d.comments.trailing);
    // In dataset and train blocks the `=` of the settings line up, as a table of settings.
    size_t keyWidth = 0;
    if (d.kind == ast::DeclKind::Train || d.kind == ast::DeclKind::Dataset)
      for (const ast::Item& it : d.items)
        if (it.kind == ast::ItemKind::Assign) keyWidth = std::max(keyWidth, it.key.name.size());
    for (const ast::Item& it : d.items) {
      comments(out, it.comments.leading, "  ");
      out += attrs(it.attrs, "  ");
      out += "  ";
      switch (it.kind) {
        case ast::ItemKind::Assign: {
          out += it.key.name + std::string(keyWidth > it.key.name.size() ? keyWidth - it.key.name.size() : 0, ' ') +
                 " = " + formatExpr(*it.value);
          for (const ast::Clause& c : it.clauses) out += clause(c);
          break;
        }
        case ast::ItemKind::Field: out += it.role.name + " " + it.key.name + ": " + formatType(*it.type); break;
        case ast::ItemKind::Return: out += "return " + formatExpr(*it.value); break;
        case ast::ItemKind::Call: out += formatExpr(*it.value); break;
        case ast::ItemKind::Augment: out += "augment " + formatExpr(*it.value); break;
      }
      trailing(out, it.comments.trailing);
    }
    comments(out, d.footer, "  ");
    out += "}\n";
  }
  if (!spec.trailingComments.empty()) {
    out += "\n";
    comments(out, spec.trailingComments, "");
  }
  return out;
}

}  // namespace dls
