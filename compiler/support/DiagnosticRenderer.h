// DiagnosticRenderer: prints diagnostics as text (like rustc/clang), JSON lines or SARIF 2.1.0.
#pragma once
#include <string>
#include <vector>

#include "support/Diagnostic.h"

namespace dls {

enum class DiagFormat { Text, Json, Sarif };

struct RenderOptions {
  bool color = false;
  std::string toolVersion = "0.1.0";
};

std::string renderText(const SourceManager& sm, const std::vector<Diagnostic>& diags, const RenderOptions& opt);
std::string renderJson(const SourceManager& sm, const std::vector<Diagnostic>& diags);
std::string renderSarif(const SourceManager& sm, const std::vector<Diagnostic>& diags, const RenderOptions& opt);
std::string render(DiagFormat f, const SourceManager& sm, const std::vector<Diagnostic>& diags, const RenderOptions& opt);
// "2 errors, 1 warning emitted" style summary line, or empty when there is nothing.
std::string summaryLine(const std::vector<Diagnostic>& diags, bool color);

}  // namespace dls
