// E0803: `resume = "path"` naming a checkpoint that does not exist (relative to the spec).
#include <filesystem>

#include "checker/Flow.h"

namespace dls::checker {

void checkResumeMissing(const RuleContext& c) {
  for (const auto& t : c.program.trains) {
    if (!t->resume) continue;
    std::error_code ec;
    const std::string path = resolvePath(c, *t->resume);
    if (std::filesystem::exists(path, ec)) continue;
    c.diags.report(Code::E0803, t->resumeSetting.valueSpan, *t->resume)
        .primary("no such file or directory")
        .note("looked for `" + path + "`")
        .help("point it at an existing checkpoint (paths are relative to the spec), or remove it to train from scratch");
  }
}

}  // namespace dls::checker
