#include "plan/MemoryPlan.h"

#include <algorithm>
#include <numeric>

namespace dls::plan {

static int64_t align64(int64_t n) { return (n + 63) / 64 * 64; }

void planMemory(MemoryPlan& plan) {
  std::vector<size_t> order(plan.buffers.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first: big buffers get low offsets, small ones fill the gaps.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return plan.buffers[a].bytes > plan.buffers[b].bytes; });
  std::vector<size_t> placed;
  plan.peak = 0;
  plan.withoutReuse = 0;
  for (size_t i : order) {
    Buffer& b = plan.buffers[i];
    int64_t size = align64(std::max<int64_t>(b.bytes, 1));
    plan.withoutReuse += size;
    // Live intervals of already-placed buffers that overlap in time, sorted by offset.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t j : placed) {
      const Buffer& o = plan.buffers[j];
      if (o.start <= b.end && b.start <= o.end) busy.push_back({o.offset, o.offset + align64(std::max<int64_t>(o.bytes, 1))});
    }
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (auto& [lo, hi] : busy) {
      if (offset + size <= lo) break;
      offset = std::max(offset, hi);
    }
    b.offset = offset;
    plan.peak = std::max(plan.peak, offset + size);
    placed.push_back(i);
  }
}

}  // namespace dls::plan
