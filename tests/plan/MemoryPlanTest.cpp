#include <catch2/catch.hpp>
#include <random>

#include "plan/MemoryPlan.h"

using dls::plan::Buffer;
using dls::plan::MemoryPlan;

// Two buffers alive at the same time must not share bytes.
static void requireValid(const MemoryPlan& p) {
  for (size_t i = 0; i < p.buffers.size(); ++i)
    for (size_t j = i + 1; j < p.buffers.size(); ++j) {
      const Buffer& a = p.buffers[i];
      const Buffer& b = p.buffers[j];
      bool liveTogether = a.start <= b.end && b.start <= a.end;
      bool sameBytes = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
      INFO(a.name << " [" << a.start << "," << a.end << "]@" << a.offset << " vs " << b.name << " [" << b.start << ","
                  << b.end << "]@" << b.offset);
      REQUIRE_FALSE((liveTogether && sameBytes));
    }
  for (const Buffer& b : p.buffers) {
    REQUIRE(b.offset % 64 == 0);
    REQUIRE(b.offset + b.bytes <= p.peak);
  }
}

TEST_CASE("buffers with disjoint lifetimes share memory", "[memory]") {
  MemoryPlan p;
  p.buffers = {{"a", 1000, 0, 1, -1}, {"b", 1000, 2, 3, -1}, {"c", 1000, 4, 5, -1}};
  dls::plan::planMemory(p);
  requireValid(p);
  REQUIRE(p.peak == 1024);
  REQUIRE(p.withoutReuse == 3 * 1024);
}

TEST_CASE("buffers alive together get disjoint ranges", "[memory]") {
  MemoryPlan p;
  p.buffers = {{"a", 100, 0, 10, -1}, {"b", 200, 5, 6, -1}, {"c", 300, 6, 12, -1}};
  dls::plan::planMemory(p);
  requireValid(p);
  REQUIRE(p.peak >= 128 + 256 + 320);
}

TEST_CASE("random lifetimes always give a valid plan no larger than no reuse", "[memory]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    MemoryPlan p;
    int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      int s = static_cast<int>(rng() % 50);
      int e = s + static_cast<int>(rng() % 20);
      p.buffers.push_back({"t" + std::to_string(i), 1 + static_cast<int64_t>(rng() % 100000), s, e, -1});
    }
    dls::plan::planMemory(p);
    requireValid(p);
    REQUIRE(p.peak <= p.withoutReuse);
  }
}
