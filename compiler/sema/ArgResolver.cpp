// Call arguments against the op table: names (did-you-mean), positions, duplicates, types, ranges,
// units and defaults. Every mistake is reported on the argument's span.
#include <cmath>
#include <fmt/format.h>

#include "sema/Analyzer.h"
#include "support/Suggest.h"

namespace dls::sema {
namespace {

bool hasWord(std::string_view words, std::string_view w) {
  size_t p = 0;
  while (p <= words.size()) {
    size_t q = words.find('|', p);
    if (q == std::string_view::npos) q = words.size();
    if (words.substr(p, q - p) == w) return true;
    p = q + 1;
  }
  return false;
}
std::string wordList(std::string_view words) {
  std::string s;
  size_t p = 0;
  while (p <= words.size()) {
    size_t q = words.find('|', p);
    if (q == std::string_view::npos) q = words.size();
    s += (s.empty() ? "`" : ", `") + std::string(words.substr(p, q - p)) + "`";
    p = q + 1;
  }
  return s;
}
std::string fmtNum(double v) { return std::isinf(v) ? (v > 0 ? "inf" : "-inf") : fmt::format("{}", v); }

}  // namespace

const OpInfo* Analyzer::lookupOp(const ast::Ident& name, std::initializer_list<OpCategory> cats, std::string_view what) {
  const OpInfo* op = findOp(name.name, cats);
  if (!op) {
    auto& d = diags.report(Code::E0102, name.span, what, name.name);
    if (auto near = closest(name.name, opNames(cats))) {
      d.help(fmt::format("did you mean `{}`?", *near));
      d.fixit(name.span, *near);
    } else if (std::string list = suggestionText(name.name, opNames(cats)); !list.empty()) {
      d.help(list + "; `dlspec ops` lists every op with its arguments");
    }
    return nullptr;
  }
  if (!op->replacedBy.empty()) {
    diags.report(Code::W0102, name.span, op->name, op->deprecatedSince, op->replacedBy)
        .fixit(name.span, std::string(op->replacedBy), Applicability::MachineApplicable);
    if (const OpInfo* r = findOp(op->replacedBy, cats)) return r;
  }
  return op;
}

bool Analyzer::convertArg(const OpInfo& op, const AttrSpec& sp, const Const& c, AttrValue& out) {
  auto typeErr = [&] {
    std::string want(attrTypeName(sp.type));
    if (sp.type == AttrType::Enum || sp.type == AttrType::IntOrWord) want += " (" + wordList(sp.words) + ")";
    diags.report(Code::E0211, c.span, sp.name, op.name, want, c.describe()).primary(fmt::format("expected {}", want));
    return false;
  };
  auto rangeErr = [&](double v) {
    std::string range = sp.max == kNoMax ? fmt::format("{} {}", sp.minExclusive ? "greater than" : "at least", fmtNum(sp.min))
                        : sp.min == kNoMin ? fmt::format("{} {}", sp.maxExclusive ? "less than" : "at most", fmtNum(sp.max))
                                           : fmt::format("in {}{}, {}{}", sp.minExclusive ? "(" : "[", fmtNum(sp.min), fmtNum(sp.max),
                                                         sp.maxExclusive ? ")" : "]");
    diags.report(Code::E0212, c.span, sp.name, op.name, range, fmtNum(v)).primary("out of range");
    return false;
  };
  auto checkRange = [&](double v) {
    if (v < sp.min || v > sp.max || (sp.minExclusive && v == sp.min) || (sp.maxExclusive && v == sp.max)) return rangeErr(v);
    return true;
  };
  auto checkInt = [&](const Const& x, int64_t& v) {
    if (x.kind != Const::Kind::Int) return false;
    v = x.i;
    return true;
  };
  switch (sp.type) {
    case AttrType::Int: {
      int64_t v;
      if (!checkInt(c, v)) return typeErr();
      if (!checkRange(static_cast<double>(v))) return false;
      out = v;
      return true;
    }
    case AttrType::Float:
      if (c.kind != Const::Kind::Int && c.kind != Const::Kind::Float) return typeErr();
      if (!checkRange(c.d)) return false;
      out = c.d;
      return true;
    case AttrType::Bool:
      if (c.kind != Const::Kind::Bool) return typeErr();
      out = c.b;
      return true;
    case AttrType::String:
      if (c.kind != Const::Kind::String) return typeErr();
      out = c.s;
      return true;
    case AttrType::Enum:
      if (c.kind != Const::Kind::Word || !hasWord(sp.words, c.s)) return typeErr();
      out = c.s;
      return true;
    case AttrType::IntOrWord:
      if (c.kind == Const::Kind::Word && hasWord(sp.words, c.s)) {
        out = c.s;
        return true;
      }
      if (c.kind != Const::Kind::Int) return typeErr();
      if (!checkRange(static_cast<double>(c.i))) return false;
      out = c.i;
      return true;
    case AttrType::IntOrString:
      if (c.kind == Const::Kind::String) {
        out = c.s;
        return true;
      }
      if (c.kind == Const::Kind::List) {  // several: names and indices ("#K")
        std::vector<std::string> v;
        for (const Const& x : c.items) {
          if (x.kind == Const::Kind::String) v.push_back(x.s);
          else if (x.kind == Const::Kind::Int && checkRange(static_cast<double>(x.i))) v.push_back("#" + std::to_string(x.i));
          else return x.kind == Const::Kind::Int ? false : typeErr();
        }
        if (v.empty()) return typeErr();
        out = v;
        return true;
      }
      if (c.kind != Const::Kind::Int) return typeErr();
      if (!checkRange(static_cast<double>(c.i))) return false;
      out = c.i;
      return true;
    case AttrType::IntOrPair:
    case AttrType::Padding:
    case AttrType::IntList: {
      if (sp.type == AttrType::Padding && c.kind == Const::Kind::Word) {
        if (!hasWord(sp.words, c.s)) return typeErr();
        if (c.s == "valid") out = int64_t{0};
        else out = c.s;
        return true;
      }
      std::vector<int64_t> v;
      if (c.kind == Const::Kind::Int && sp.type != AttrType::IntList) {
        v = {c.i, c.i};
        if (sp.type == AttrType::Padding) {
          if (!checkRange(static_cast<double>(c.i))) return false;
          out = c.i;
          return true;
        }
      } else if (c.kind == Const::Kind::List) {
        for (const Const& x : c.items) {
          if (x.kind != Const::Kind::Int) return typeErr();
          v.push_back(x.i);
        }
        size_t n = v.size();
        if ((sp.type == AttrType::IntOrPair && n != 2) || (sp.type == AttrType::Padding && n != 2 && n != 4))
          return typeErr();
      } else {
        return typeErr();
      }
      if (sp.type != AttrType::IntList)
        for (int64_t x : v)
          if (!checkRange(static_cast<double>(x))) return false;
      out = v;
      return true;
    }
    case AttrType::FloatList: {
      if (c.kind != Const::Kind::List) return typeErr();
      std::vector<double> v;
      for (const Const& x : c.items) {
        if (x.kind != Const::Kind::Int && x.kind != Const::Kind::Float) return typeErr();
        const double d = x.kind == Const::Kind::Int ? static_cast<double>(x.i) : x.d;
        if (!checkRange(d)) return false;
        v.push_back(d);
      }
      out = v;
      return true;
    }
    case AttrType::Init: {
      std::string name = c.s;
      if (c.kind != Const::Kind::Word && c.kind != Const::Kind::Call) return typeErr();
      const OpInfo* ini = findOp(name, {OpCategory::Initializer});
      if (!ini) {
        auto& d = diags.report(Code::E0102, c.span, "initialiser", name);
        if (auto near = closest(name, opNames({OpCategory::Initializer}))) d.help(fmt::format("did you mean `{}`?", *near));
        return false;
      }
      // The initialiser's own arguments, by position or by name: normal(0, 0.01), normal(std: 0.01).
      std::vector<std::optional<double>> given(ini->attrs.size());
      size_t pos = 0;
      for (size_t j = 0; j < c.items.size(); ++j) {
        const std::string& nm = j < c.names.size() ? c.names[j] : std::string();
        size_t k = nm.empty() ? pos++ : ini->attrs.size();
        for (size_t q = 0; !nm.empty() && q < ini->attrs.size(); ++q)
          if (ini->attrs[q].name == nm) k = q;
        if (!nm.empty() && k == ini->attrs.size()) {
          diags.report(Code::E0103, c.items[j].span, ini->name, nm);
          return false;
        }
        if (k >= ini->attrs.size()) {
          diags.report(Code::E0110, c.items[j].span, ini->name, ini->attrs.size(), pos);
          return false;
        }
        if (given[k]) {
          diags.report(Code::E0105, c.items[j].span, ini->attrs[k].name);
          return false;
        }
        given[k] = c.items[j].d;
      }
      std::string canon(ini->name);
      if (!ini->attrs.empty()) {
        canon += "(";
        for (size_t k = 0; k < ini->attrs.size(); ++k) {
          if (!given[k] && !ini->attrs[k].dflt) {
            diags.report(Code::E0109, c.span, ini->name, ini->attrs[k].name);
            return false;
          }
          double v = given[k] ? *given[k] : std::get<double>(*ini->attrs[k].dflt);
          canon += fmt::format("{}{}", k ? ", " : "", v);
        }
        canon += ")";
      }
      out = canon;
      return true;
    }
  }
  return typeErr();
}

bool Analyzer::resolveArgs(const OpInfo& op, const std::vector<const ast::Arg*>& args, const ConstEnv* env,
                           Span callSpan, std::map<std::string, Attr>& out) {
  bool ok = true;
  int positional = 0;
  int maxPos = 0;
  for (const AttrSpec& a : op.attrs)
    if (a.positional >= 0) ++maxPos;
  std::vector<std::string> names;
  for (const AttrSpec& a : op.attrs) names.emplace_back(a.name);
  for (const ast::Arg* arg : args) {
    const AttrSpec* sp = nullptr;
    if (arg->name) {
      sp = op.attr(arg->name->name);
      if (!sp) {
        auto& d = diags.report(Code::E0103, arg->name->span, op.name, arg->name->name);
        if (auto near = closest(arg->name->name, names)) {
          d.help(fmt::format("did you mean `{}`?", *near));
          d.fixit(arg->name->span, *near);
        } else if (!names.empty()) {
          std::string all;
          for (auto& n : names) all += (all.empty() ? "`" : ", `") + n + "`";
          d.note(fmt::format("`{}` takes {}", op.name, all));
        } else {
          d.note(fmt::format("`{}` takes no arguments", op.name));
        }
        ok = false;
        continue;
      }
    } else {
      for (const AttrSpec& a : op.attrs)
        if (a.positional == positional) sp = &a;
      ++positional;
      if (!sp) {
        diags.report(Code::E0110, arg->span, op.name, maxPos, positional).primary("unexpected argument");
        ok = false;
        continue;
      }
    }
    std::string key(sp->name);
    if (out.count(key)) {
      diags.report(Code::E0105, arg->span, key).label(out[key].span, "first given here");
      ok = false;
      continue;
    }
    if (arg->unit) {
      if (sp->units.empty()) {
        diags.report(Code::E0211, arg->unit->span, sp->name, op.name, std::string(attrTypeName(sp->type)) + " without a unit",
                     fmt::format("the unit `{}`", arg->unit->name));
        ok = false;
        continue;
      }
      if (!hasWord(sp->units, arg->unit->name)) {
        diags.report(Code::E0211, arg->unit->span, sp->name, op.name, "counted in " + wordList(sp->units),
                     fmt::format("the unit `{}`", arg->unit->name));
        ok = false;
        continue;
      }
    }
    auto c = evalConst(*arg->value, env);
    if (!c) {
      ok = false;
      continue;
    }
    AttrValue v;
    if (!convertArg(op, *sp, *c, v)) {
      ok = false;
      continue;
    }
    out[key] = Attr{std::move(v), arg->span, false};
  }
  for (const AttrSpec& a : op.attrs) {
    std::string key(a.name);
    if (out.count(key)) continue;
    if (a.dflt) out[key] = Attr{*a.dflt, callSpan, true};
    else if (!a.optional && ok) {
      diags.report(Code::E0109, callSpan, op.name, a.name)
          .help(fmt::format("add `{}: …`{}", a.name, a.positional >= 0 ? " (or give it by position)" : ""));
      ok = false;
    }
  }
  return ok;
}

}  // namespace dls::sema
