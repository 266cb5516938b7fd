// MemoryPlan: offsets of the step's buffers in one arena, from their lifetimes (first and last step
// position that touches them). Buffers whose lifetimes do not overlap share memory; the arena's size
// is the plan's peak. Offsets are aligned to 64 bytes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dls::plan {

struct Buffer {
  std::string name;     // for summaries and debugging: "conv2d_1.out", "grad(conv2d_1.out)"
  int64_t bytes = 0;
  int start = 0, end = 0;  // inclusive positions on the step's timeline
  int64_t offset = -1;     // assigned by planMemory
};

struct MemoryPlan {
  std::vector<Buffer> buffers;
  int64_t peak = 0;              // arena bytes
  int64_t withoutReuse = 0;      // sum of all buffers: what a plan without reuse would need
};

// Assigns offsets (greedy by size, first fit among live buffers); fills peak and withoutReuse.
void planMemory(MemoryPlan& plan);

}  // namespace dls::plan
