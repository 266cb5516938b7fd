#include "support/Diagnostic.h"

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

const CodeInfo* findCode(std::string_view id) {
  for (const CodeInfo& info : allCodes()) {
    if (info.id.size() != id.size()) continue;
    bool same = std::equal(id.begin(), id.end(), info.id.begin(), [](char a, char b) {
      return std::toupper(static_cast<unsigned char>(a)) == b;
    });
    if (same) return &info;
  }
  return nullptr;
}

std::string_view severityName(Severity s) {
  switch (s) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "error";
}

}  // namespace dls
