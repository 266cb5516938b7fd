// analyze(): AST → Program. The passes run in declaration-kind order, so that a pipeline sees its data
// set, a train its network and pipelines, whatever order the spec declares them in.
#include "sema/Analyze.h"

#include <filesystem>

#include "sema/Analyzer.h"

namespace dls::sema {

void Analyzer::run() {
  prog.spec = &spec;
  if (spec.file != Span::kNoFile) {
    prog.specPath = sm.path(spec.file);
    prog.specDir = std::filesystem::path(prog.specPath).parent_path().string();
  }
  collectDecls();
  for (ast::DeclKind k : {ast::DeclKind::Dataset, ast::DeclKind::Pipeline, ast::DeclKind::Network, ast::DeclKind::Train})
    for (const ast::Decl& d : spec.decls) {
      if (d.kind != k || decls[d.name.name] != &d) continue;  // duplicates were reported
      switch (k) {
        case ast::DeclKind::Dataset: typeDataset(d); break;
        case ast::DeclKind::Pipeline: typePipeline(d); break;
        case ast::DeclKind::Network: typeNetwork(d); break;
        case ast::DeclKind::Train: typeTrain(d); break;
        case ast::DeclKind::Block: break;  // inlined where used
      }
    }
}

std::unique_ptr<Program> analyze(const ast::Spec& spec, const SourceManager& sm, DiagnosticEngine& diags) {
  auto prog = std::make_unique<Program>();
  Analyzer(spec, sm, diags, *prog).run();
  return prog;
}

}  // namespace dls::sema
