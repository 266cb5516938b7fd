#include "sema/Program.h"

#include <cstdio>

#include "sema/LayoutHash.h"

namespace dls::sema {

std::string_view initName(InitKind k) {
  switch (k) {
    case InitKind::Zeros: return "zeros";
    case InitKind::Ones: return "ones";
    case InitKind::Constant: return "constant";
    case InitKind::Normal: return "normal";
    case InitKind::Uniform: return "uniform";
    case InitKind::He: return "he";
    case InitKind::Glorot: return "glorot";
    case InitKind::TorchDefault: return "torch_default";
  }
  return "?";
}

std::optional<InitSpec> parseInit(std::string_view canonical) {
  static const std::map<std::string, InitKind, std::less<>> kinds = {
      {"zeros", InitKind::Zeros}, {"ones", InitKind::Ones},     {"constant", InitKind::Constant}, {"normal", InitKind::Normal},
      {"uniform", InitKind::Uniform}, {"he", InitKind::He}, {"glorot", InitKind::Glorot}};
  const size_t paren = canonical.find('(');
  auto k = kinds.find(canonical.substr(0, paren));
  if (k == kinds.end()) return std::nullopt;
  InitSpec s;
  s.kind = k->second;
  if (paren != std::string_view::npos) {
    const std::string args(canonical.substr(paren + 1));
    std::sscanf(args.c_str(), "%lf, %lf", &s.a, &s.b);
  }
  return s;
}

int64_t Node::intAttr(const std::string& n, int64_t dflt) const {
  const AttrValue* v = attr(n);
  if (!v) return dflt;
  if (auto* i = std::get_if<int64_t>(v)) return *i;
  if (auto* b = std::get_if<bool>(v)) return *b;
  return dflt;
}
double Node::floatAttr(const std::string& n, double dflt) const {
  const AttrValue* v = attr(n);
  if (!v) return dflt;
  if (auto* d = std::get_if<double>(v)) return *d;
  if (auto* i = std::get_if<int64_t>(v)) return static_cast<double>(*i);
  return dflt;
}
bool Node::boolAttr(const std::string& n, bool dflt) const {
  const AttrValue* v = attr(n);
  if (!v) return dflt;
  if (auto* b = std::get_if<bool>(v)) return *b;
  return dflt;
}
std::string Node::strAttr(const std::string& n, const std::string& dflt) const {
  const AttrValue* v = attr(n);
  if (!v) return dflt;
  if (auto* s = std::get_if<std::string>(v)) return *s;
  return dflt;
}
std::vector<int64_t> Node::intsAttr(const std::string& n) const {
  const AttrValue* v = attr(n);
  if (!v) return {};
  if (auto* l = std::get_if<std::vector<int64_t>>(v)) return *l;
  if (auto* i = std::get_if<int64_t>(v)) return {*i};
  return {};
}

uint64_t layoutHash(const Network& net) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  for (const Param& p : net.params) mix(p.name + p.shape.str());
  return h;
}

}  // namespace dls::sema
