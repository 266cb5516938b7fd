#include "Compilation.h"

#include "sema/Analyze.h"
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

bool Compilation::parse() { return dls::parse(*this); }
bool Compilation::analyze() { return dls::analyze(*this); }

bool parse(Compilation& c) {
  if (c.file == Span::kNoFile) return false;
  c.spec = parseSpec(c.sources, c.file, c.diags);
  return c.spec != nullptr;
}

bool analyze(Compilation& c) {
  if (!c.spec && !parse(c)) return false;
  size_t before = c.diags.rawErrorCount();
  c.program = sema::analyze(*c.spec, c.sources, c.diags);
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
