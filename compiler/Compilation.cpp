#include "Compilation.h"

#include "plan/Lower.h"
#include "sema/Analyze.h"
#include "sema/Program.h"
#include "syntax/Parser.h"

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

bool Compilation::parse() {
  if (file == Span::kNoFile) return false;
  spec = parseSpec(sources, file, diags);
  return spec != nullptr;
}

bool Compilation::analyze() {
  if (!spec && !parse()) return false;
  size_t before = diags.rawErrorCount();
  program = sema::analyze(*spec, sources, diags);
  return program && diags.rawErrorCount() == before;
}

}  // namespace dls

namespace dls {

void Compilation::validateLowering() {
  if (!program || diags.rawErrorCount() > 0) return;
  for (const auto& t : program->trains)
    if (t->network && t->optimizer) plan::lowerProgram(*program, t->name, sources, diags, std::nullopt, /*planOffsets=*/false);
}

}  // namespace dls
