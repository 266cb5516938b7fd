// DarknetImport: translates a Darknet network file (.cfg) into a dlspec spec, and walks its shapes by
// Darknet's own rules so that both can be compared with what `darknet` prints when it loads the file.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "support/DiagnosticEngine.h"

namespace dls::import {

// One Darknet layer (a section after [net]), numbered as Darknet numbers it.
struct DarknetLayer {
  int index = 0;
  std::string section;       // convolutional, maxpool, route, …
  uint32_t cfgLine = 0;      // line of `[section]` in the cfg
  int w = 0, h = 0, c = 0;   // output, by Darknet's rules
  double bflops = 0;         // Darknet's BFLOPs (conv only, as Darknet prints them)
  bool flat = false;         // the dlspec value is [N, w*h*c] rather than [N, c, h, w]
  int steps = 0;             // a recurrent network's time steps: the value is [N, steps, c]; 0 otherwise
  std::string fault;         // what Darknet accepts silently and dlspec reports (shape mismatch), or empty
  uint32_t dlsLine = 0;      // line of the layer's statement in the generated spec; 0 when none
  std::string dlsName;       // the value it defines (l12), or empty
};

struct DarknetImport {
  std::string spec;                   // the generated .dls text
  std::vector<DarknetLayer> layers;
  std::string layersJson() const;     // the shape walk, for bench/darknet/validate.sh
};

// Reads and translates `path`; every problem is a diagnostic with the cfg's file:line. Returns nullopt
// when errors were reported (the spec would not be faithful).
std::optional<DarknetImport> importDarknet(const std::string& path, SourceManager& sources, DiagnosticEngine& diags);

}  // namespace dls::import
