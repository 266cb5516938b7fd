#include "FuzzEntry.h"

#include <string>

#include "Compilation.h"
#include "support/DiagnosticRenderer.h"

namespace dls::fuzz {

void runSpec(const uint8_t* data, size_t size, Stage stage) {
  Compilation c;
  c.loadText("fuzz.dls", std::string(reinterpret_cast<const char*>(data), size));
  if (c.parse() && stage != Stage::Parse) {
    if (stage == Stage::Check) checkSpec(c, CheckOptions{});  // data = false: the checker must not open any file
    else c.analyze();
  }
  auto diags = c.diags.finish();
  RenderOptions ro;
  (void)render(DiagFormat::Text, c.sources, diags, ro);
  (void)render(DiagFormat::Json, c.sources, diags, ro);
  (void)render(DiagFormat::Sarif, c.sources, diags, ro);
  (void)summaryLine(diags, false);
}

}  // namespace dls::fuzz
