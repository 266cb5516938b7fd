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
    case ast::ClauseKind::Keep:
      return " keep " + formatExpr(*c.value) +
             (c.bestMetric ? " " + c.bestWord->name + " " + c.byWord->name + " " + c.bestMetric->name : std::string());
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

namespace {

// The width of text on a terminal: UTF-8 code points (continuation bytes do not count).
size_t columns(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The width of the last line of a laid-out text.
size_t lastLine(std::string_view s) {
  size_t nl = s.rfind('\n');
  return columns(nl == std::string_view::npos ? s : s.substr(nl + 1));
}

std::string spaces(size_t n) { return std::string(n, ' '); }

// Lays an expression out from column `col` (where its first character goes) so that its lines stay within
// `width` where they can: a pipe chain breaks before `|>` (the continuation's `|>` under the first one), the
// arguments of a call that does not fit fill lines aligned after its `(` (or indented from `indent` when that
// column is too far right), a list fills its lines, a sum breaks before its `+`/`-`. A part that cannot be
// broken (a long string) overflows. The layout depends on the tree and the width only, so formatting the
// output again changes nothing.
std::string layout(const ast::Expr& e, size_t col, size_t indent, size_t width) {
  std::string flat = formatExpr(e);
  if (col + columns(flat) <= width) return flat;
  switch (e.kind) {
    case ast::ExprKind::Pipe: {
      std::vector<const ast::Expr*> stages;
      const ast::Expr* cur = &e;
      while (cur->kind == ast::ExprKind::Pipe) {
        stages.push_back(cur->items[1].get());
        cur = cur->items[0].get();
      }
      stages.push_back(cur);
      std::reverse(stages.begin(), stages.end());
      std::string out = layout(*stages[0], col, indent, width);
      size_t pipeCol = out.find('\n') == std::string::npos ? col + columns(out) + 1 : col + 2;
      if (pipeCol > width / 2) pipeCol = indent + 4;
      size_t line = out.find('\n') == std::string::npos ? col + columns(out) : lastLine(out);
      for (size_t i = 1; i < stages.size(); ++i) {
        std::string s = formatExpr(*stages[i]);
        if (precedence(*stages[i]) <= 1) s = "(" + s + ")";
        if (line + 4 + columns(s) <= width) {
          out += " |> " + s;
          line += 4 + columns(s);
          continue;
        }
        if (precedence(*stages[i]) > 1) s = layout(*stages[i], pipeCol + 3, indent, width);
        out += "\n" + spaces(pipeCol) + "|> " + s;
        line = s.find('\n') == std::string::npos ? pipeCol + 3 + columns(s) : lastLine(s);
      }
      return out;
    }
    case ast::ExprKind::Call: {
      if (e.args.empty()) return flat;
      std::string head = e.dotted() + "(";
      size_t argCol = col + columns(head);
      // Too far right for its arguments to fit beside it: a hanging indent from the item's.
      bool hanging = argCol > width * 3 / 5;
      if (hanging) argCol = indent + 4;
      std::string out = head + (hanging ? "\n" + spaces(argCol) : "");
      // The arguments fill their lines (as a list's items do); one that is itself broken ends its line.
      size_t line = argCol;
      bool broken = false;
      for (size_t i = 0; i < e.args.size(); ++i) {
        const ast::Arg& a = e.args[i];
        std::string name = a.name ? a.name->name + ": " : "";
        std::string unit = a.unit ? " " + a.unit->name : "";
        std::string tail = i + 1 < e.args.size() ? "," : ")";
        std::string text = name + formatExpr(*a.value) + unit;
        bool fits = line + (i ? 1 : 0) + columns(text) + columns(tail) <= width;
        if (i && (!fits || broken)) {
          out += "\n" + spaces(argCol);
          line = argCol;
        } else if (i) {
          out += " ";
          ++line;
        }
        if (line + columns(text) + columns(tail) > width) text = name + layout(*a.value, line + columns(name), indent, width) + unit;
        broken = text.find('\n') != std::string::npos;
        out += text + tail;
        line = broken ? lastLine(text) : line + columns(text) + columns(tail);
      }
      return out;
    }
    case ast::ExprKind::List: {
      if (e.items.empty()) return flat;
      std::string out = "[";
      size_t line = col + 1;
      for (size_t i = 0; i < e.items.size(); ++i) {
        std::string s = formatExpr(*e.items[i]) + (i + 1 < e.items.size() ? "," : "]");
        if (i && line + 1 + columns(s) > width) {
          out += "\n" + spaces(col + 1);
          line = col + 1;
        } else if (i) {
          out += " ";
          ++line;
        }
        out += s;
        line += columns(s);
      }
      return out;
    }
    case ast::ExprKind::Binary: {
      // `w*call(…)` (a weighted loss term): the call's arguments break as a call's do.
      if ((e.op == '*' || e.op == '/') && precedence(*e.items[0]) > 3 && precedence(*e.items[1]) > 3) {
        const std::string l = formatExpr(*e.items[0]) + std::string(1, e.op);
        return l + layout(*e.items[1], col + columns(l), indent, width);
      }
      if (e.op != '+' && e.op != '-') return flat;
      std::string l = layout(*e.items[0], col, indent, width), r = formatExpr(*e.items[1]);
      if (precedence(*e.items[0]) < 2) l = "(" + l + ")";
      bool paren = precedence(*e.items[1]) <= 2;
      if (!paren) r = layout(*e.items[1], col + 2, indent, width);
      else r = "(" + r + ")";
      return l + "\n" + spaces(col) + e.op + " " + r;
    }
    default: return flat;
  }
}

// `name: type = default`, one per line aligned after the `(` when they do not fit on the header's line.
// `tail`: the columns that follow the `)` on the same line (a network's `-> TYPE {`).
std::string layoutParams(const std::vector<ast::Param>& ps, size_t col, size_t width, size_t tail = 0) {
  std::string flat = params(ps);
  if (ps.size() < 2 || col + columns(flat) + tail <= width) return flat;
  std::string out;
  for (size_t i = 0; i < ps.size(); ++i) {
    if (i) out += ",\n" + spaces(col);
    std::string head = ps[i].name.name + ": " + formatType(ps[i].type);
    out += head;
    if (ps[i].defaultValue)
      out += " = " + layout(*ps[i].defaultValue, col + columns(head) + 3, col, width);
  }
  return out;
}

}  // namespace

std::string formatSpec(const ast::Spec& spec) { return formatSpec(spec, FormatOptions{}); }

std::string formatSpec(const ast::Spec& spec, const FormatOptions& options) {
  const size_t width = options.width;
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
    std::string header = std::string(ast::declKeyword(d.kind)) + " " + d.name.name;
    switch (d.kind) {
      case ast::DeclKind::Pipeline: {
        std::string src;
        for (size_t i = 0; i < d.source.size(); ++i) src += (i ? "." : "") + d.source[i].name;
        header += " from " + src;
        break;
      }
      case ast::DeclKind::Block: {
        header += "(";
        header += layoutParams(d.params, columns(header), width) + ") (";
        for (size_t i = 0; i < d.inputs.size(); ++i) header += (i ? ", " : "") + d.inputs[i].name;
        header += ")";
        break;
      }
      case ast::DeclKind::Network:
        header += "(";
        // With one output type, the `) -> TYPE {` after the parameters stays on their last line.
        header += layoutParams(d.params, columns(header), width, d.returns ? columns(") -> " + formatType(*d.returns) + " {") : 0) + ") -> ";
        if (d.returns) {
          header += formatType(*d.returns);
        } else {
          // Several outputs: on the header's line, or one per line aligned after the `(` when that is too wide.
          header += "(";
          const size_t col = columns(header);
          std::string flat;
          for (size_t i = 0; i < d.outputs.size(); ++i)
            flat += (i ? ", " : "") + d.outputs[i].name.name + ": " + formatType(d.outputs[i].type);
          if (col + columns(flat) + 3 <= width || d.outputs.size() < 2) {
            header += flat;
          } else {
            // Aligned after the `(`, or, when an output would still pass the width there, each on its own line
            // indented by four.
            size_t widest = 0;
            for (const auto& o : d.outputs) widest = std::max(widest, columns(o.name.name + ": " + formatType(o.type)));
            const std::string at = col + widest + 3 <= width ? spaces(col) : spaces(4);
            if (col + widest + 3 > width) header += "\n" + at;
            for (size_t i = 0; i < d.outputs.size(); ++i)
              header += (i ? ",\n" + at : std::string()) + d.outputs[i].name.name + ": " + formatType(d.outputs[i].type);
          }
          header += ")";
        }
        break;
      default: break;
    }
    out += header + " {";
    trailing(out, d.comments.trailing);
    // In dataset and train blocks the `=` of the settings line up, as a table of settings; so do the roles
    // and names of a dataset's fields.
    size_t keyWidth = 0, roleWidth = 0, nameWidth = 0;
    for (const ast::Item& it : d.items) {
      if (it.kind == ast::ItemKind::Assign && (d.kind == ast::DeclKind::Train || d.kind == ast::DeclKind::Dataset))
        keyWidth = std::max(keyWidth, columns(it.key.name));
      if (it.kind == ast::ItemKind::Field) {
        roleWidth = std::max(roleWidth, columns(it.role.name));
        nameWidth = std::max(nameWidth, columns(it.key.name) + 1);
      }
    }
    // Each item's text, then its trailing comment: the comments of consecutive one-line items start in one
    // column (as gofmt lines them up) when that column is within the width.
    std::vector<std::string> lines;
    for (const ast::Item& it : d.items) {
      std::string line = "  ";
      const size_t indent = 2;
      switch (it.kind) {
        case ast::ItemKind::Assign: {
          line += it.key.name + spaces(keyWidth > columns(it.key.name) ? keyWidth - columns(it.key.name) : 0) + " = ";
          const size_t valueCol = lastLine(line);
          line += layout(*it.value, valueCol, indent, width);
          if (it.unit) line += " " + it.unit->name;  // accumulate = 4 steps
          // Clauses (`on …`, `every …`, `metrics […]`, `keep …`) that do not fit go on the next lines, under the value.
          for (const ast::Clause& c : it.clauses) {
            std::string text = clause(c);
            if (lastLine(line) + columns(text) > width && lastLine(line) > valueCol)
              line += "\n" + spaces(valueCol) + text.substr(1);
            else
              line += text;
          }
          break;
        }
        case ast::ItemKind::Field: {
          std::string name = it.key.name + ":";
          line += it.role.name + spaces(roleWidth - columns(it.role.name)) + " " + name +
                  spaces(nameWidth - columns(name)) + " " + formatType(*it.type);
          break;
        }
        case ast::ItemKind::Return:
          if (!it.outputNames.empty() && it.value->items.size() == it.outputNames.size()) {
            // return (NAME: VALUE, …): on one line, or one named value per line aligned after the `(`.
            line += "return (";
            const size_t col = columns(line);
            std::string flat;
            for (size_t i = 0; i < it.outputNames.size(); ++i) {
              const std::string head = (i ? ", " : "") + it.outputNames[i].name + ": ";
              flat += head + layout(*it.value->items[i], col + columns(flat) + columns(head), indent, width);
            }
            if (flat.find('\n') == std::string::npos && col + columns(flat) + 1 <= width) {
              line += flat;
            } else {
              for (size_t i = 0; i < it.outputNames.size(); ++i) {
                const std::string head = it.outputNames[i].name + ": ";
                if (i) line += ",\n" + spaces(col);
                line += head + layout(*it.value->items[i], col + columns(head), col, width);
              }
            }
            line += ")";
          } else {
            line += "return " + layout(*it.value, indent + 7, indent, width);
          }
          break;
        case ast::ItemKind::Call: line += layout(*it.value, indent, indent, width); break;
        case ast::ItemKind::Augment:
          line += "augment " + layout(*it.value, indent + 8, indent, width);
          if (it.on) line += " on " + it.on->name;
          break;
      }
      lines.push_back(std::move(line));
    }
    std::vector<size_t> commentCol(d.items.size(), 0);
    for (size_t i = 0; i < d.items.size();) {
      auto aligned = [&](size_t k) {
        return !d.items[k].comments.trailing.empty() && lines[k].find('\n') == std::string::npos;
      };
      if (!aligned(i)) {
        ++i;
        continue;
      }
      size_t j = i, col = 0;
      do {
        col = std::max(col, columns(lines[j]));
        ++j;
      } while (j < d.items.size() && aligned(j) && d.items[j].comments.leading.empty() && d.items[j].attrs.empty());
      col += 2;
      for (size_t k = i; k < j; ++k)
        commentCol[k] = col + columns(d.items[k].comments.trailing) <= width ? col : columns(lines[k]) + 2;
      i = j;
    }
    for (size_t k = 0; k < d.items.size(); ++k) {
      const ast::Item& it = d.items[k];
      comments(out, it.comments.leading, "  ");
      out += attrs(it.attrs, "  ");
      out += lines[k];
      if (!it.comments.trailing.empty()) {
        size_t at = commentCol[k] ? commentCol[k] : lastLine(lines[k]) + 2;
        out += spaces(at - lastLine(lines[k])) + it.comments.trailing;
      }
      out += "\n";
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
