// The host memory check (R0505): the CPU backend's allocations are added up before they are made and one
// beyond what the process may use is refused with the sizes, what it was for and the spec's location.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <string>

#include "core/Memory.h"
#include "core/Runtime.h"

using namespace dls;

TEST_CASE("human_bytes", "[memory]") {
  CHECK(human_bytes(12) == "12 bytes");
  CHECK(human_bytes(1536) == "1.5 KiB");
  CHECK(human_bytes(double(uint64_t(3) << 30)) == "3.0 GiB");
  CHECK(human_bytes(double(uint64_t(1) << 50)) == "1024.0 TiB");
}

TEST_CASE("the host budget refuses what no machine has, naming what it was for", "[memory]") {
  auto limit = host_memory_limit();
  REQUIRE(limit);  // /proc/meminfo is always there on Linux
  HostBudget b;
  b.reserve(1 << 20, "a small buffer", "spec.dls");
  CHECK(b.reserved() == (1u << 20));
  try {
    b.reserve(uint64_t(1) << 62, "the step's activations", "spec.dls");
    FAIL("no R0505");
  } catch (const Fault& f) {
    CHECK(f.code == Diag::R0505);
    CHECK(f.where == "spec.dls");
    CHECK_THAT(f.message, Catch::Contains("4194304.0 TiB for the step's activations") &&
                              Catch::Contains(limit->source));
  }
  CHECK(b.reserved() == (1u << 20));  // a refused reservation is not counted
  CHECK_THROWS_AS(b.reserve(~uint64_t(0), "everything", "spec.dls"), Fault);  // no overflow past the limit
}

TEST_CASE("an arena beyond the machine is R0505 at the spec, before anything is allocated", "[memory]") {
  auto rt = make_runtime(1);
  dls_rt_program(rt.get(), "big", "big.dls", 0);
  dls_rt_arena(rt.get(), int64_t(1) << 60);
  REQUIRE(rt->error);
  CHECK(rt->error->code == Diag::R0505);
  CHECK(rt->error->where == "big.dls");
  CHECK_THAT(rt->error->message, Catch::Contains("1048576.0 TiB for the step's activations and gradients"));
  CHECK(rt->arena == nullptr);
}

TEST_CASE("worker threads that would not fit in the address-space limit are R0505", "[memory]") {
  HostBudget b;
  b.reserve_threads(1, "spec.dls");  // this thread alone: nothing to check
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_AS, &saved) == 0);
  if (saved.rlim_cur == RLIM_INFINITY) b.reserve_threads(64, "spec.dls");  // no limit: nothing to check
  // A limit a little above what is mapped now (the soft limit is restored right after): no room for 63
  // threads' stacks and heaps.
  std::string status;
  {
    FILE* f = std::fopen("/proc/self/status", "r");
    REQUIRE(f);
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::string(line).rfind("VmSize:", 0) == 0) status = line + 7;
    std::fclose(f);
  }
  const rlim_t mapped = rlim_t(std::stoull(status)) * 1024;
  rlimit tight = saved;
  tight.rlim_cur = mapped + (rlim_t(64) << 20);
  if (saved.rlim_max != RLIM_INFINITY && tight.rlim_cur > saved.rlim_max) return;  // cannot set it here
  REQUIRE(::setrlimit(RLIMIT_AS, &tight) == 0);
  std::string message, where;
  try {
    b.reserve_threads(64, "spec.dls");
  } catch (const Fault& f) {
    message = f.message, where = f.where;
  }
  ::setrlimit(RLIMIT_AS, &saved);
  CHECK(where == "spec.dls");
  CHECK_THAT(message, Catch::Contains("the stacks and heaps of 63 worker threads") &&
                          Catch::Contains("(the address-space limit (ulimit -v))"));
}

TEST_CASE("the loaded data is host memory on every backend: R0505 off the CPU backend too", "[memory]") {
  auto rt = make_runtime(1);  // no backend chosen: device allocations are not the host's, the loaded data is
  dls_rt_program(rt.get(), "big", "big.dls", 0);
  reserve_host(rt.get(), uint64_t(1) << 62, "a device buffer");
  CHECK(rt->host_budget.reserved() == 0);
  try {
    reserve_host(rt.get(), uint64_t(1) << 62, "the loaded data", true);
    FAIL("no R0505");
  } catch (const Fault& f) {
    CHECK(f.code == Diag::R0505);
    CHECK(f.where == "big.dls");
    CHECK_THAT(f.message, Catch::Contains("for the loaded data"));
  }
}
