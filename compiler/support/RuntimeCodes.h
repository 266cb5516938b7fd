// RuntimeCodes: the runtime's diagnostic codes (R....), from runtime/core/RuntimeDiagnostics.def, as a
// second table beside the compiler's (Diagnostic.h). The training executable prints them, never the
// compiler, so they are not `Code`s (their `code` is Code::Count_) and --deny/--warn/--allow and allow(...)
// do not take them; `dlspec explain` covers them.
#pragma once
#include <string_view>
#include <vector>

#include "support/Diagnostic.h"

namespace dls {

const std::vector<CodeInfo>& runtimeCodes();
const CodeInfo* findRuntimeCode(std::string_view id);
// A compiler or a runtime code.
const CodeInfo* findAnyCode(std::string_view id);

}  // namespace dls
