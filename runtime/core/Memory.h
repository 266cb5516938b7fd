// Memory.h: how much host memory this process may use, and the budget that the runtime's allocations are
// checked against before they are made (R0505), so that a program too big for the machine is refused with a
// message instead of dying in the kernel's OOM killer or an allocator's std::bad_alloc.
#ifndef DLSPEC_RUNTIME_CORE_MEMORY_H
#define DLSPEC_RUNTIME_CORE_MEMORY_H
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace dls {

struct MemoryLimit {
  uint64_t bytes = 0;
  std::string source;  // what sets it: "available RAM", "the cgroup's memory.max", "ulimit -v"
};

// The least of: MemAvailable (/proc/meminfo), the cgroup v2 limit less its current usage, and the
// address-space limit (RLIMIT_AS) less what this process has mapped. nullopt when none is known.
std::optional<MemoryLimit> host_memory_limit();

// "1.5 GiB", "512 KiB", "12 bytes".
std::string human_bytes(double bytes);

// The host memory a runtime has planned: each allocation is added before it is made, and one that would
// exceed the limit (read once, at the first) fails with R0505 naming what it was for, located at `where`
// (the spec). Nothing is given back: the runtime frees its buffers only when it is destroyed, budget and all.
class HostBudget {
 public:
  void reserve(uint64_t bytes, const std::string& what, const std::string& where);
  uint64_t reserved() const { return reserved_; }
  // Before `threads` worker threads are started: each maps a stack and a heap of its own, which count
  // against the address-space limit (ulimit -v) and, when they do not fit there, would end the process in
  // the threading runtime without a word. R0505 instead.
  void reserve_threads(int threads, const std::string& where);

 private:
  bool read_ = false;
  std::optional<MemoryLimit> limit_;
  uint64_t reserved_ = 0;
};

}  // namespace dls
#endif
