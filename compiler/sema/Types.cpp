#include "sema/Types.h"

#include <fmt/format.h>

namespace dls::sema {

std::string_view dtypeName(DType d) {
  switch (d) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    case DType::I64: return "i64";
    case DType::I32: return "i32";
    case DType::U8: return "u8";
    case DType::Bool: return "bool";
    case DType::Unknown: return "?";
  }
  return "?";
}

std::optional<DType> parseDType(std::string_view s) {
  for (DType d : {DType::F32, DType::F16, DType::BF16, DType::I64, DType::I32, DType::U8, DType::Bool})
    if (dtypeName(d) == s) return d;
  return std::nullopt;
}

size_t dtypeBytes(DType d) {
  switch (d) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: return 2;
    case DType::I64: return 8;
    case DType::U8: case DType::Bool: return 1;
    case DType::Unknown: return 4;
  }
  return 4;
}

bool Dim::operator==(const Dim& o) const {
  if (kind != o.kind) return false;
  if (kind == Kind::Const) return value == o.value;
  if (kind == Kind::Sym) return sym == o.sym;
  return true;
}

std::string Dim::str() const {
  switch (kind) {
    case Kind::Const: return std::to_string(value);
    case Kind::Sym: return sym;
    case Kind::Unknown: return "?";
  }
  return "?";
}

bool Dim::compatible(const Dim& a, const Dim& b) {
  if (a.kind == Kind::Unknown || b.kind == Kind::Unknown) return true;
  return a == b;
}

std::optional<int64_t> Shape::elements(size_t from) const {
  int64_t n = 1;
  for (size_t i = from; i < dims.size(); ++i) {
    if (!dims[i].isConst()) return std::nullopt;
    if (!mulChecked(n, dims[i].value, n)) return std::nullopt;
  }
  return n;
}

std::string Shape::str() const {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + dims[i].str();
  return s + "]";
}

bool Shape::compatible(const Shape& a, const Shape& b) {
  if (a.unknownRank || b.unknownRank) return true;
  if (a.dims.size() != b.dims.size()) return false;
  for (size_t i = 0; i < a.dims.size(); ++i)
    if (!Dim::compatible(a.dims[i], b.dims[i])) return false;
  return true;
}

Shape Shape::bind(const std::map<std::string, int64_t>& symbols) const {
  Shape s = *this;
  for (Dim& d : s.dims)
    if (d.kind == Dim::Kind::Sym)
      if (auto it = symbols.find(d.sym); it != symbols.end()) d = Dim::constant(it->second);
  return s;
}

std::string Device::str() const { return kind == Kind::Cpu ? "cpu" : fmt::format("cuda:{}", index); }

std::string_view semKindName(SemKind k) {
  switch (k) {
    case SemKind::Real: return "real";
    case SemKind::Logits: return "logits";
    case SemKind::Probs: return "probs";
    case SemKind::LogProbs: return "log_probs";
    case SemKind::SigmoidProbs: return "sigmoid_probs";
    case SemKind::Class: return "class";
    case SemKind::OneHot: return "onehot";
    case SemKind::MultiLabel: return "multilabel";
    case SemKind::Mask: return "mask";
    case SemKind::Unknown: return "?";
  }
  return "?";
}

std::optional<SemKind> parseSemKind(std::string_view s) {
  for (SemKind k : {SemKind::Real, SemKind::Logits, SemKind::Probs, SemKind::LogProbs, SemKind::SigmoidProbs,
                    SemKind::Class, SemKind::OneHot, SemKind::MultiLabel, SemKind::Mask})
    if (semKindName(k) == s) return k;
  return std::nullopt;
}

std::string Type::kindStr() const {
  std::string k(semKindName(kind));
  if (kind == SemKind::Class || kind == SemKind::OneHot || kind == SemKind::MultiLabel)
    k += fmt::format("<{}>", classes);
  return k;
}

std::string Type::str() const {
  if (poisoned) return "<error>";
  std::string s = kindStr() + " " + std::string(dtypeName(dtype)) + (shape.unknownRank ? "[..]" : shape.str());
  return s;
}

std::string Type::brief() const {
  if (poisoned) return "<error>";
  return (kind == SemKind::Real ? std::string(dtypeName(dtype)) : kindStr()) + (shape.unknownRank ? "[..]" : shape.str());
}

bool mulChecked(int64_t a, int64_t b, int64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
bool addChecked(int64_t a, int64_t b, int64_t& out) { return !__builtin_add_overflow(a, b, &out); }
bool subChecked(int64_t a, int64_t b, int64_t& out) { return !__builtin_sub_overflow(a, b, &out); }

}  // namespace dls::sema
