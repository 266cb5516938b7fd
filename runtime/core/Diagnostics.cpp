#include "Diagnostics.h"

namespace dls {

static const DiagInfo kTable[] = {
#define DLS_RT_DIAG(code, sev, name, msg) {#code, #sev, #name, msg},
#include "RuntimeDiagnostics.def"
#undef DLS_RT_DIAG
};

const DiagInfo& diag_info(Diag d) { return kTable[static_cast<int>(d)]; }

static std::vector<std::string>* g_capture = nullptr;
void set_diagnostic_capture(std::vector<std::string>* sink) { g_capture = sink; }

std::string emit(const Fault& f) {
  const DiagInfo& i = diag_info(f.code);
  std::string text = fmt::format("{}[{}]: {}\n", i.severity, i.code, f.message);
  if (!f.where.empty()) text += fmt::format("  --> {}\n", f.where);
  for (const auto& n : f.notes) text += fmt::format("  = note: {}\n", n);
  // Every code has an explanation with what to do (docs/diagnostics/RXXXX.md, embedded in dlspec).
  text += fmt::format("  = help: `dlspec explain {}` says what causes this and what to do\n", i.code);
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
  if (g_capture) g_capture->push_back(text);
  return text;
}

}  // namespace dls
