#include "lsp/Document.h"

#include <algorithm>
#include <functional>
#include <unordered_map>

namespace dls::lsp {
namespace {

// Bytes of the UTF-8 sequence that starts with `c` (1 for a stray continuation byte).
size_t utf8Length(unsigned char c) {
  if (c >= 0xF0) return 4;
  if (c >= 0xE0) return 3;
  if (c >= 0xC0) return 2;
  return 1;
}

}  // namespace

void Document::setText(std::string t) {
  text = std::move(t);
  lineStarts_.assign(1, 0);
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') lineStarts_.push_back(static_cast<uint32_t>(i + 1));
  dirty = true;
}

uint32_t Document::offsetOf(Position p) const {
  if (p.line >= lineStarts_.size()) return static_cast<uint32_t>(text.size());
  size_t i = lineStarts_[p.line];
  uint32_t units = 0;
  while (i < text.size() && text[i] != '\n' && units < p.character) {
    size_t n = utf8Length(static_cast<unsigned char>(text[i]));
    units += n == 4 ? 2 : 1;
    i = std::min(text.size(), i + n);
  }
  return static_cast<uint32_t>(i);
}

Position Document::positionOf(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text.size()));
  auto it = std::upper_bound(lineStarts_.begin(), lineStarts_.end(), offset);
  uint32_t line = static_cast<uint32_t>(it - lineStarts_.begin()) - 1;
  uint32_t units = 0;
  for (size_t i = lineStarts_[line]; i < offset;) {
    size_t n = utf8Length(static_cast<unsigned char>(text[i]));
    units += n == 4 ? 2 : 1;
    i += n;
  }
  return {line, units};
}

void Document::check() {
  comp = std::make_unique<Compilation>();
  comp->loadText(path, text);
  if (comp->parse()) checkSpec(*comp, CheckOptions{});
  diags = comp->diags.finish();
  dirty = false;
  index();
}

const Occurrence* Document::occurrenceAt(uint32_t offset) const {
  for (const Occurrence& o : occurrences)
    if (o.span.begin <= offset && offset <= o.span.end) return &o;
  return nullptr;
}

const ast::Decl* Document::declAt(uint32_t offset) const {
  if (!comp || !comp->spec) return nullptr;
  for (const ast::Decl& d : comp->spec->decls)
    if (d.span.begin <= offset && offset <= d.span.end) return &d;
  return nullptr;
}

// Every name of the spec bound to its symbol: declarations by name; in networks and blocks, inputs,
// parameters and `name = …` values, each use bound to the latest definition before it; in pipelines and
// train blocks, the fields of the data set they read.
void Document::index() {
  symbols.clear();
  occurrences.clear();
  if (!comp || !comp->spec) return;
  const ast::Spec& spec = *comp->spec;
  std::unordered_map<std::string, int> decls;
  auto add = [&](Symbol s) {
    symbols.push_back(std::move(s));
    int id = static_cast<int>(symbols.size()) - 1;
    occurrences.push_back({symbols.back().def, id});
    return id;
  };
  for (const ast::Decl& d : spec.decls)
    if (!d.name.name.empty() && !decls.count(d.name.name))
      decls[d.name.name] = add({SymbolKind::Decl, d.name.name, d.name.span, &d, nullptr, nullptr});
  // Data set fields, per data set.
  std::unordered_map<std::string, std::unordered_map<std::string, int>> fields;
  for (const ast::Decl& d : spec.decls) {
    if (d.kind != ast::DeclKind::Dataset) continue;
    for (const ast::Item& it : d.items)
      if (it.kind == ast::ItemKind::Field)
        fields[d.name.name][it.key.name] = add({SymbolKind::Field, it.key.name, it.key.span, &d, &it, nullptr});
  }
  auto datasetOfPipeline = [&](const std::string& pipeline) -> std::string {
    const ast::Decl* p = spec.find(ast::DeclKind::Pipeline, pipeline);
    return p && !p->source.empty() ? p->source[0].name : std::string();
  };

  using Resolve = std::function<int(const std::string&)>;
  std::function<void(const ast::Expr&, const Resolve&)> walk = [&](const ast::Expr& e, const Resolve& resolve) {
    if ((e.kind == ast::ExprKind::Name || e.kind == ast::ExprKind::Call) && !e.path.empty()) {
      int s = resolve(e.path[0].name);
      if (s >= 0) occurrences.push_back({e.path[0].span, s});
    }
    for (const ast::Arg& a : e.args)
      if (a.value) walk(*a.value, resolve);
    for (const ast::ExprPtr& x : e.items)
      if (x) walk(*x, resolve);
  };

  for (const ast::Decl& d : spec.decls) {
    auto global = [&](const std::string& n) {
      auto it = decls.find(n);
      return it == decls.end() ? -1 : it->second;
    };
    switch (d.kind) {
      case ast::DeclKind::Dataset:
        for (const ast::Item& it : d.items)
          if (it.value) walk(*it.value, global);
        break;
      case ast::DeclKind::Pipeline: {
        if (!d.source.empty())
          if (int s = global(d.source[0].name); s >= 0) occurrences.push_back({d.source[0].span, s});
        std::string ds = d.source.empty() ? std::string() : d.source[0].name;
        auto resolve = [&](const std::string& n) {
          auto f = fields.find(ds);
          if (f != fields.end())
            if (auto it = f->second.find(n); it != f->second.end()) return it->second;
          return global(n);
        };
        for (const ast::Item& it : d.items) {
          if (it.kind == ast::ItemKind::Assign)
            if (int s = resolve(it.key.name); s >= 0) occurrences.push_back({it.key.span, s});
          if (it.value) walk(*it.value, resolve);
        }
        break;
      }
      case ast::DeclKind::Train: {
        std::string ds;
        for (const ast::Item& it : d.items)
          if (it.key.name == "data" && it.value && it.value->kind == ast::ExprKind::Name && !it.value->path.empty())
            ds = datasetOfPipeline(it.value->path[0].name);
        auto resolve = [&](const std::string& n) {
          int s = global(n);
          if (s >= 0) return s;
          auto f = fields.find(ds);
          if (f != fields.end())
            if (auto it = f->second.find(n); it != f->second.end()) return it->second;
          return -1;
        };
        for (const ast::Item& it : d.items) {
          if (it.value) walk(*it.value, resolve);
          for (const ast::Clause& c : it.clauses)
            if (c.value) walk(*c.value, resolve);
        }
        break;
      }
      case ast::DeclKind::Network:
      case ast::DeclKind::Block: {
        std::unordered_map<std::string, int> scope;
        for (const ast::Param& p : d.params)
          scope[p.name.name] = add({SymbolKind::Local, p.name.name, p.name.span, &d, nullptr, &p});
        for (const ast::Ident& in : d.inputs)
          scope[in.name] = add({SymbolKind::Local, in.name, in.span, &d, nullptr, nullptr});
        auto resolve = [&](const std::string& n) {
          auto it = scope.find(n);
          return it != scope.end() ? it->second : global(n);
        };
        for (const ast::Item& it : d.items) {
          if (it.value) walk(*it.value, resolve);
          if (it.kind == ast::ItemKind::Assign && !it.key.name.empty())
            scope[it.key.name] = add({SymbolKind::Local, it.key.name, it.key.span, &d, &it, nullptr});
        }
        break;
      }
    }
  }
  std::sort(occurrences.begin(), occurrences.end(),
            [](const Occurrence& a, const Occurrence& b) { return a.span.begin < b.span.begin; });
}

}  // namespace dls::lsp
