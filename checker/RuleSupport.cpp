#include "checker/RuleSupport.h"

#include <cmath>
#include <filesystem>
#include <fmt/format.h>

namespace dls::checker {

const NetView* modelOf(const RuleContext& c, const TrainView& t) {
  const ast::Item* m = t.item("model");
  return m ? c.view.network(nameOf(m->value.get())) : nullptr;
}

const PipeView* pipelineOf(const RuleContext& c, const TrainView& t, const std::string& key) {
  const ast::Item* m = t.item(key);
  if (!m || !m->value) return nullptr;
  std::vector<const ast::Expr*> chain;
  flattenPipe(m->value.get(), chain);
  return chain.empty() ? nullptr : c.view.pipeline(nameOf(chain[0]));
}

const DataView* datasetOf(const RuleContext& c, const PipeView& p) { return c.view.dataset(p.dataset); }

const ast::Clause* onClause(const ast::Item* it) {
  if (!it) return nullptr;
  for (const ast::Clause& cl : it->clauses)
    if (cl.kind == ast::ClauseKind::On) return &cl;
  return nullptr;
}

std::optional<int64_t> batchOf(const PipeView& p, Span* where) {
  for (const OpUse& s : p.steps)
    if (s.op == "batch" && !s.positional.empty()) {
      if (where) *where = s.span;
      return evalInt(s.positional[0]);
    } else if (s.op == "batch" && s.arg("size")) {
      if (where) *where = s.span;
      return evalInt(s.arg("size"));
    }
  return std::nullopt;
}

std::optional<int64_t> bytesOf(const ast::Expr* e) {
  e = stripParens(e);
  if (!e) return std::nullopt;
  auto unit = [](const std::string& n) -> int64_t {
    if (n == "KiB") return int64_t{1} << 10;
    if (n == "MiB") return int64_t{1} << 20;
    if (n == "GiB") return int64_t{1} << 30;
    if (n == "TiB") return int64_t{1} << 40;
    if (n == "KB") return 1000;
    if (n == "MB") return 1000000;
    if (n == "GB") return 1000000000;
    return 0;
  };
  if (e->kind == ast::ExprKind::Binary && e->op == '*' && e->items.size() == 2) {
    const ast::Expr* u = stripParens(e->items[1].get());
    auto n = evalNumber(e->items[0].get());
    if (u && u->kind == ast::ExprKind::Name && n && *n >= 0) {
      int64_t k = unit(u->dotted());
      double v = *n * static_cast<double>(k);
      if (k && v < 9.0e18) return static_cast<int64_t>(v);
    }
    return std::nullopt;
  }
  if (e->kind == ast::ExprKind::Call && e->args.size() == 1) {
    int64_t k = unit(e->dotted());
    auto n = evalNumber(e->args[0].value.get());
    if (k && n && *n >= 0 && *n * static_cast<double>(k) < 9.0e18) return static_cast<int64_t>(*n * static_cast<double>(k));
    return std::nullopt;
  }
  auto n = evalInt(e);
  if (n && *n > 0) return n;
  return std::nullopt;
}

std::string humanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int i = 0;
  while (b >= 1024 && i < 6) {
    b /= 1024;
    ++i;
  }
  return fmt::format("{:.1f} {}", b, units[i]);
}

std::optional<double> numArg(const OpUse& u, const std::string& name) { return evalNumber(u.arg(name)); }

std::string nameArg(const OpUse& u, const std::string& name) {
  const ast::Expr* e = stripParens(u.arg(name));
  return e ? nameOf(e) : "";
}

std::string resolvePath(const RuleContext& c, const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_relative() && !c.specDir.empty()) path = std::filesystem::path(c.specDir) / path;
  return path.string();
}

bool pathExists(const RuleContext& c, const std::string& p) {
  std::error_code ec;
  return std::filesystem::exists(resolvePath(c, p), ec);
}

}  // namespace dls::checker
