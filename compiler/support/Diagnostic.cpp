#include "support/Diagnostic.h"
#include "support/RuntimeCodes.h"

#include <algorithm>
#include <cctype>

namespace dls {

const std::vector<CodeInfo>& allCodes() {
  static const std::vector<CodeInfo> table = {
#define DIAG(code, sev, name, msg, tax) {Code::code, #code, Severity::sev, #name, msg, tax},
#include "support/Diagnostics.def"
#undef DIAG
  };
  return table;
}

const CodeInfo& codeInfo(Code c) { return allCodes()[static_cast<size_t>(c)]; }

const std::vector<CodeInfo>& runtimeCodes() {
  static const std::vector<CodeInfo> table = {
#define DLS_RT_SEVERITY_error Severity::Error
#define DLS_RT_SEVERITY_warning Severity::Warning
#define DLS_RT_SEVERITY_note Severity::Note
#define DLS_RT_DIAG(code, sev, name, msg) {Code::Count_, #code, DLS_RT_SEVERITY_##sev, #name, msg, ""},
#include "runtime/core/RuntimeDiagnostics.def"
#undef DLS_RT_DIAG
#undef DLS_RT_SEVERITY_error
#undef DLS_RT_SEVERITY_warning
#undef DLS_RT_SEVERITY_note
  };
  return table;
}

static const CodeInfo* findIn(const std::vector<CodeInfo>& table, std::string_view id) {
  for (const CodeInfo& info : table) {
    if (info.id.size() != id.size()) continue;
    bool same = std::equal(id.begin(), id.end(), info.id.begin(), [](char a, char b) {
      return std::toupper(static_cast<unsigned char>(a)) == b;
    });
    if (same) return &info;
  }
  return nullptr;
}

const CodeInfo* findCode(std::string_view id) { return findIn(allCodes(), id); }
const CodeInfo* findRuntimeCode(std::string_view id) { return findIn(runtimeCodes(), id); }
const CodeInfo* findAnyCode(std::string_view id) {
  const CodeInfo* info = findCode(id);
  return info ? info : findRuntimeCode(id);
}

std::string_view severityName(Severity s) {
  switch (s) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "error";
}

std::string_view applicabilityName(Applicability a) {
  return a == Applicability::MachineApplicable ? "machine-applicable" : "maybe-incorrect";
}

}  // namespace dls
