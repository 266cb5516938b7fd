// Checker: runs the taxonomy rules over a typed program and, with --data, over the declared data.
#pragma once
#include "compiler/Compilation.h"

namespace dls {

struct CheckOptions {
  bool data = false;  // read the declared data sets (dlspec check --data)
};

void runChecker(Compilation& c, const CheckOptions& opt);

}  // namespace dls
