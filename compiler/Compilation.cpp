#include "Compilation.h"

#include "sema/Analyze.h"
#include "syntax/Parser.h"

#include <map>

namespace dls {

Compilation::Compilation() = default;
Compilation::~Compilation() = default;

bool Compilation::load(const std::string& path) {
  std::string error;
  auto f = sources.load(path, error);
  if (!f) {
    diags.report(Code::E0901, Span{}, path, error);
    return false;
  }
  file = *f;
  return true;
}

void Compilation::loadText(const std::string& path, std::string text) { file = sources.add(path, std::move(text)); }

bool Compilation::parse() { return dls::parse(*this); }
bool Compilation::analyze() { return dls::analyze(*this); }

bool parse(Compilation& c) {
  if (c.file == Span::kNoFile) return false;
  c.spec = parseSpec(c.sources, c.file, c.diags);
  return c.spec != nullptr;
}

// The data flow of the spec, for ranking its diagnostics (DiagnosticEngine::setFlow): each declaration at its
// position along the flow (data sets, then pipelines, then blocks and networks, then train blocks), fed by
// the declarations the typed program links it to; a train block's items each their own scope, fed by the
// network and pipelines when they read the model's output or the data (loss, metrics, model, data, validate),
// by nothing when they are settings (optimizer, epochs, seed …).
static std::vector<DiagnosticEngine::FlowScope> flowScopes(const ast::Spec& spec, const sema::Program* program) {
  std::vector<DiagnosticEngine::FlowScope> out;
  auto position = [](ast::DeclKind k) -> uint32_t {
    switch (k) {
      case ast::DeclKind::Dataset: return 0;
      case ast::DeclKind::Pipeline: return 1;
      case ast::DeclKind::Block: return 2;
      case ast::DeclKind::Network: return 3;
      case ast::DeclKind::Train: return 4;
    }
    return 4;
  };
  // No scope is `ordered`: after a type error sema poisons the values downstream of it in the same network or
  // pipeline, and the rules skip poisoned values, so a later finding in the same declaration is not its
  // consequence. What crosses declarations is: a data set's type reaches its pipelines, a network's output and
  // a pipeline's samples reach the train block items that read them.
  std::map<const ast::Decl*, uint32_t> index;
  for (const ast::Decl& d : spec.decls) {
    index[&d] = static_cast<uint32_t>(out.size());
    out.push_back({d.span, position(d.kind), {}, false});
  }
  // Blocks flow into the networks that instantiate them: every block feeds every network (a block's error
  // shows where it is used).
  for (const ast::Decl& n : spec.decls)
    if (n.kind == ast::DeclKind::Network)
      for (const ast::Decl& b : spec.decls)
        if (b.kind == ast::DeclKind::Block) out[index[&n]].upstream.push_back(index[&b]);
  if (!program) return out;
  auto at = [&](const ast::Decl* d) -> std::optional<uint32_t> {
    auto it = index.find(d);
    return it == index.end() ? std::nullopt : std::optional<uint32_t>(it->second);
  };
  for (const auto& p : program->pipelines)
    if (auto i = at(p->decl); i && p->dataset)
      if (auto j = at(p->dataset->decl)) out[*i].upstream.push_back(*j);
  for (const auto& t : program->trains) {
    auto i = at(t->decl);
    if (!i) continue;
    std::vector<uint32_t> feeds;
    for (const ast::Decl* d : {t->network ? t->network->decl : nullptr, t->data ? t->data->decl : nullptr,
                               t->validate ? t->validate->decl : nullptr})
      if (auto j = d ? at(d) : std::nullopt) feeds.push_back(*j);
    out[*i].upstream = feeds;
    for (const ast::Item& item : t->decl->items) {
      const std::string& key = item.key.name;
      const bool reads = key == "loss" || key == "metrics" || key == "model" || key == "data" || key == "validate";
      out.push_back({item.span, 4, reads ? feeds : std::vector<uint32_t>{}, false});
    }
  }
  return out;
}

bool analyze(Compilation& c) {
  if (!c.spec && !parse(c)) return false;
  size_t before = c.diags.rawErrorCount();
  c.program = sema::analyze(*c.spec, c.sources, c.diags);
  c.diags.setFlow(flowScopes(*c.spec, c.program.get()));
  return c.program && c.diags.rawErrorCount() == before;
}

bool check(Compilation& c, const CheckOptions& opt) {
  if (!c.spec) return false;
  bool syntaxOk = !c.diags.hasErrors();
  bool typed = analyze(c);
  if (syntaxOk && c.program) runChecker(*c.spec, *c.program, c.sources, c.diags, opt);
  return typed;
}

void validateLowering(Compilation& c) {
  if (!c.program || c.diags.rawErrorCount() > 0) return;
  for (const auto& t : c.program->trains)
    if (t->network && t->optimizer) plan::lowerProgram(*c.program, t->name, c.sources, c.diags, std::nullopt, /*planOffsets=*/false);
}

bool checkSpec(Compilation& c, const CheckOptions& opt) {
  bool typed = check(c, opt);
  if (typed) validateLowering(c);  // what the backends cannot run (E10xx) is part of checking
  return typed;
}

std::optional<plan::LowerResult> lower(Compilation& c, const std::string& train, std::optional<sema::Device> device,
                                       DiagnosticEngine* diags) {
  if (!c.program) return std::nullopt;
  return plan::lowerProgram(*c.program, train, c.sources, diags ? *diags : c.diags, device);
}

}  // namespace dls
