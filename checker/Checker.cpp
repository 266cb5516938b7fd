#include "checker/Checker.h"

namespace dls {

void runChecker(Compilation& c, const CheckOptions& opt) {
  (void)c;
  (void)opt;
}

}  // namespace dls
