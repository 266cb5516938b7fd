// Diagnostics.h: the runtime's diagnostics (declared in RuntimeDiagnostics.def), printed in the compiler's
// format:   error[R0101]: loss became NaN at epoch 3, step 120
//             --> spec.dls:12:5
//             = help: `dlspec explain R0101` says what causes this and what to do
// A user mistake travels as a dls::Fault (caught at the C ABI boundary or in dls_rt_main); warnings are
// printed where they arise with dls::warn().
#ifndef DLSPEC_RUNTIME_CORE_DIAGNOSTICS_H
#define DLSPEC_RUNTIME_CORE_DIAGNOSTICS_H
#include <fmt/format.h>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace dls {

enum class Diag {
#define DLS_RT_DIAG(code, sev, name, msg) code,
#include "RuntimeDiagnostics.def"
#undef DLS_RT_DIAG
};

struct DiagInfo {
  const char* code;
  const char* severity;
  const char* name;
  const char* message;
};
const DiagInfo& diag_info(Diag d);

// A rendered diagnostic: code, message, "where" (e.g. "spec.dls:3:5" or "train.csv:line 7"; may be
// empty) and notes (each a full rendered line without the leading "note: ").
struct Fault : std::exception {
  Diag code{};
  std::string message;
  std::string where;
  std::vector<std::string> notes;
  const char* what() const noexcept override { return message.c_str(); }
};

template <class... A>
Fault make_fault(Diag d, const std::string& where, A&&... args) {
  Fault f;
  f.code = d;
  f.where = where;
  f.message = fmt::format(fmt::runtime(diag_info(d).message), std::forward<A>(args)...);
  return f;
}
template <class... A>
[[noreturn]] void fail(Diag d, const std::string& where, A&&... args) {
  throw make_fault(d, where, std::forward<A>(args)...);
}
[[noreturn]] inline void internal_error(const std::string& what) { fail(Diag::R0001, "", what); }

// Prints a diagnostic to stderr (the format above). Returns the rendered text (for tests).
std::string emit(const Fault& f);
template <class... A>
std::string warn(Diag d, const std::string& where, A&&... args) {
  return emit(make_fault(d, where, std::forward<A>(args)...));
}

// Data parallelism over MPI ranks: rank 0 prints warnings and notes (every rank meets the same ones: they
// run the same program on the same data); errors are printed by the rank that has them, with a note naming
// it. A world of one (the default) prints everything as it is.
void set_diagnostic_rank(int rank, int ranks);
// The calling thread is replica `replica` of a device list (runtime/dist/Replicas.h): only replica 0 prints warnings.
void set_diagnostic_replica(int replica);

// Tests capture what was printed.
void set_diagnostic_capture(std::vector<std::string>* sink);

}  // namespace dls
#endif
