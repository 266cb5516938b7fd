// Json: quoting a string for the JSON that summaries and graphs write by hand (through nlohmann::json). The
// diagnostics' JSON and SARIF documents are built with nlohmann::json (support/DiagnosticRenderer.cpp).
#pragma once
#include <string>
#include <string_view>

namespace dls {

// Appends `s` to `out` as a quoted JSON string.
void jsonString(std::string& out, std::string_view s);
inline std::string jsonQuote(std::string_view s) {
  std::string out;
  jsonString(out, s);
  return out;
}

}  // namespace dls
