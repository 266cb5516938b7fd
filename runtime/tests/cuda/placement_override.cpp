// placement_override.cpp: linked with -Wl,--wrap=dls_rt_placement into the CUDA test and benchmark
// executables, so the hand-made programs (which declare `on cpu`) run where DLS_PLACEMENT says:
// "cpu" or "cuda:K"; unset means cuda:0; a device list "[cuda:K, cuda:K+1, ...]" (a list of one too) trains one
// replica per device (dls_rt_device_list). A developer aid until the runtime's command line has --device.
#include <dlspec/runtime.h>

#include <cstdlib>
#include <cstring>

extern "C" void __real_dls_rt_placement(dls_rt* rt, int32_t kind, int32_t first, int32_t count);
extern "C" void __wrap_dls_rt_placement(dls_rt* rt, int32_t kind, int32_t first, int32_t count) {
  const char* d = std::getenv("DLS_PLACEMENT");
  if (!d) d = "cuda:0";
  if (d[0] == '[') {
    const char* at = std::strstr(d, "cuda:");
    int32_t n = 0;
    for (const char* q = d; (q = std::strstr(q, "cuda")) != nullptr; q += 4) ++n;
    __real_dls_rt_placement(rt, DLS_DEVICE_CUDA, at ? std::atoi(at + 5) : 0, n);
    dls_rt_device_list(rt, n, 1, 1);
    return;
  }
  if (std::strncmp(d, "cuda", 4) == 0) {
    kind = DLS_DEVICE_CUDA;
    first = d[4] == ':' ? std::atoi(d + 5) : 0;
  } else if (std::strcmp(d, "cpu") == 0) {
    kind = DLS_DEVICE_CPU;
    first = 0;
  }
  __real_dls_rt_placement(rt, kind, first, count);
}
