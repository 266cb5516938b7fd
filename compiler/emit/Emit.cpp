#include "emit/Emit.h"

#include <filesystem>
#include <fmt/format.h>
#include <vector>

namespace dls {

bool emit(Compilation& c, const plan::LowerResult& lowered, EmitKind kind, const std::string& output,
          std::string* irText) {
  if (output != "-") {
    // The inputs: the spec and every file its data sets read.
    std::vector<std::string> inputs;
    if (c.file != Span::kNoFile) inputs.push_back(c.sources.path(c.file));
    if (c.program)
      for (const auto& ds : c.program->datasets)
        for (const auto& src : ds->splits) inputs.insert(inputs.end(), src.resolved.begin(), src.resolved.end());
    std::error_code ec;
    for (const std::string& in : inputs)
      if (std::filesystem::equivalent(output, in, ec) && !ec) {
        c.diags.report(Code::E0903, Span{},
                       fmt::format("-o `{}` is an input of this build (`{}`); writing it would replace it", output, in));
        return false;
      }
  }
  std::string error;
  if (codegen::buildProgram(lowered.plan, kind, output, error, irText)) return true;
  static constexpr std::string_view kInternal = "internal error: ";
  if (error.starts_with(kInternal)) c.diags.report(Code::I0001, Span{}, error.substr(kInternal.size()));
  else c.diags.report(Code::E1005, Span{}, error);
  return false;
}

}  // namespace dls
