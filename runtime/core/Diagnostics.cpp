#include "Diagnostics.h"

#include <string_view>

namespace dls {

static const DiagInfo kTable[] = {
#define DLS_RT_DIAG(code, sev, name, msg) {#code, #sev, #name, msg},
#include "RuntimeDiagnostics.def"
#undef DLS_RT_DIAG
};

const DiagInfo& diag_info(Diag d) { return kTable[static_cast<int>(d)]; }

static std::vector<std::string>* g_capture = nullptr;
void set_diagnostic_capture(std::vector<std::string>* sink) { g_capture = sink; }

static int g_rank = 0, g_ranks = 1;
void set_diagnostic_rank(int rank, int ranks) { g_rank = rank, g_ranks = ranks; }
static thread_local int t_replica = 0;
void set_diagnostic_replica(int replica) { t_replica = replica; }

std::string emit(const Fault& f) {
  const DiagInfo& i = diag_info(f.code);
  const bool error = std::string_view(i.severity) == "error";
  std::string text = fmt::format("{}[{}]: {}\n", i.severity, i.code, f.message);
  if (!f.where.empty()) text += fmt::format("  --> {}\n", f.where);
  for (const auto& n : f.notes) text += fmt::format("  = note: {}\n", n);
  if (g_ranks > 1 && !error && g_rank != 0) return text;  // rank 0 prints it
  if (!error && t_replica != 0) return text;  // replica 0 of a device list prints it
  if (g_ranks > 1 && error) text += fmt::format("  = note: on rank {} of {} (mpirun)\n", g_rank, g_ranks);
  // Every code has an explanation with what to do (docs/diagnostics/RXXXX.md, embedded in dlspec).
  text += fmt::format("  = help: `dlspec explain {}` says what causes this and what to do\n", i.code);
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
  if (g_capture) g_capture->push_back(text);
  return text;
}

}  // namespace dls
