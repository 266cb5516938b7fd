// libFuzzer target: arbitrary bytes as a spec, through Stage::Check (see FuzzEntry.h).
#include "FuzzEntry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dls::fuzz::runSpec(data, size, dls::fuzz::Stage::Check);
  return 0;
}
