// FuzzEntry: the entry points the fuzz targets and the regression driver share. One spec text in,
// nothing out; every stage a user reaches through `dlspec check` (without --data), in order.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dls::fuzz {

enum class Stage {
  Parse,    // Compilation::parse
  Analyze,  // + Compilation::analyze (names, types, shapes)
  Check     // + runChecker (no data) + validateLowering: the whole `dlspec check`
};

// Runs `text` through the stages up to `stage` and renders the diagnostics (text, JSON and SARIF),
// as the driver would. Must never crash, hang or leak, whatever the bytes.
void runSpec(const uint8_t* data, size_t size, Stage stage);

}  // namespace dls::fuzz
