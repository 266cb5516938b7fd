// Type expressions: f32[N, 1, 28, 28], u8[28, 28], class<10>, onehot<10>, multilabel<5>, logits[N, 10].
#include <fmt/format.h>

#include "sema/Analyzer.h"
#include "support/Suggest.h"

namespace dls::sema {

std::optional<Type> Analyzer::resolveType(const ast::TypeExpr& te, const ConstEnv* env, bool allowSymbols) {
  Type t;
  const std::string& base = te.base.name;
  if (auto d = parseDType(base)) {
    t.dtype = *d;
    t.kind = SemKind::Real;
  } else if (auto k = parseSemKind(base)) {
    t.kind = *k;
    t.dtype = *k == SemKind::Class ? DType::I64 : DType::F32;
  } else {
    std::vector<std::string> cands = {"f32", "f16", "bf16", "i64", "i32", "u8", "bool", "real", "logits", "probs",
                                      "log_probs", "sigmoid_probs", "class", "onehot", "multilabel", "mask"};
    auto& d = diags.report(Code::E0101, te.base.span, "type", base);
    if (auto near = closest(base, cands)) d.help(fmt::format("did you mean `{}`?", *near)).fixit(te.base.span, *near);
    return std::nullopt;
  }
  bool counted = t.kind == SemKind::Class || t.kind == SemKind::OneHot || t.kind == SemKind::MultiLabel;
  if (counted) {
    if (te.params.size() != 1) {
      diags.report(Code::E0215, te.span, fmt::format("`{}` needs its number of classes: `{}<10>`", base, base));
      return std::nullopt;
    }
    auto c = evalConst(*te.params[0], env);
    if (!c) return std::nullopt;
    if (c->kind != Const::Kind::Int || c->i < 1) {
      diags.report(Code::E0215, te.params[0]->span, fmt::format("the class count must be a positive integer, found {}",
                                                                c->describe()));
      return std::nullopt;
    }
    t.classes = c->i;
    if (!te.hasDims && t.kind != SemKind::Class) t.shape.dims.push_back(Dim::constant(t.classes));
  } else if (!te.params.empty()) {
    diags.report(Code::E0215, te.span, fmt::format("`{}` takes no `<…>` parameters", base));
    return std::nullopt;
  }
  for (const auto& de : te.dims) {
    if (de->kind == ast::ExprKind::Name && de->path.size() == 1 && !(env && env->count(de->dotted()))) {
      if (!allowSymbols) {
        diags.report(Code::E0215, de->span,
                     fmt::format("a data set's sample type has no batch dimension; `{}` must be a number", de->dotted()));
        return std::nullopt;
      }
      t.shape.dims.push_back(Dim::symbol(de->dotted()));
      continue;
    }
    auto c = evalConst(*de, env);
    if (!c) return std::nullopt;
    if (c->kind != Const::Kind::Int || c->i < 1) {
      diags.report(Code::E0215, de->span, fmt::format("a dimension must be a positive integer or a symbol, found {}",
                                                      c->describe()));
      return std::nullopt;
    }
    t.shape.dims.push_back(Dim::constant(c->i));
  }
  if (counted && (t.kind == SemKind::Logits || t.kind == SemKind::Probs)) t.classes = 0;
  if ((t.kind == SemKind::Logits || t.kind == SemKind::Probs || t.kind == SemKind::LogProbs ||
       t.kind == SemKind::SigmoidProbs) && !t.shape.dims.empty() && t.shape.dims.back().isConst())
    t.classes = t.shape.dims.back().value;
  return t;
}

}  // namespace dls::sema
