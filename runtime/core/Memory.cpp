#include "Memory.h"

#include <sys/resource.h>

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "Diagnostics.h"

namespace dls {

namespace {
// A "Key:   123 kB" line of a /proc file, in bytes.
std::optional<uint64_t> proc_kb(const char* file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream s(line.substr(key.size() + 1));
      uint64_t kb = 0;
      if (s >> kb) return kb * 1024;
    }
  return std::nullopt;
}

std::optional<uint64_t> read_number(const std::string& path) {
  std::ifstream in(path);
  std::string v;
  if (!(in >> v) || v == "max") return std::nullopt;
  try {
    return std::stoull(v);
  } catch (...) {
    return std::nullopt;
  }
}

// cgroup v2: the limit of this process's group, less its usage.
std::optional<uint64_t> cgroup_free() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) {
      const std::string dir = "/sys/fs/cgroup" + line.substr(3);
      auto max = read_number(dir + "/memory.max");
      auto cur = read_number(dir + "/memory.current");
      if (max && cur) return *max > *cur ? *max - *cur : 0;
    }
  return std::nullopt;
}

void take(std::optional<MemoryLimit>& best, std::optional<uint64_t> bytes, const char* source) {
  if (bytes && (!best || *bytes < best->bytes)) best = MemoryLimit{*bytes, source};
}
}  // namespace

std::optional<MemoryLimit> host_memory_limit() {
  std::optional<MemoryLimit> best;
  take(best, proc_kb("/proc/meminfo", "MemAvailable"), "available RAM");
  take(best, cgroup_free(), "the cgroup's memory.max");
  rlimit r{};
  if (::getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur != RLIM_INFINITY) {
    const uint64_t mapped = proc_kb("/proc/self/status", "VmSize").value_or(0);
    take(best, r.rlim_cur > mapped ? uint64_t(r.rlim_cur - mapped) : 0, "the address-space limit (ulimit -v)");
  }
  return best;
}

std::string human_bytes(double b) {
  const char* unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  return u == 0 ? fmt::format("{:.0f} bytes", b) : fmt::format("{:.1f} {}", b, unit[u]);
}

void HostBudget::reserve(uint64_t bytes, const std::string& what, const std::string& where) {
  if (!read_) limit_ = host_memory_limit(), read_ = true;
  if (limit_ && (bytes > limit_->bytes || reserved_ > limit_->bytes - bytes)) {
    Fault f = make_fault(Diag::R0505, where, human_bytes(double(bytes)), what,
                         human_bytes(double(reserved_) + double(bytes)), human_bytes(double(limit_->bytes)),
                         limit_->source);
    f.notes.push_back("a smaller batch needs less: the step's activations and gradients grow with `batch(…)`");
    f.notes.push_back("`dlspec summary` shows the plan's memory; with `memory =` in the train block set to what "
                      "the training machine has, `dlspec check` refuses a plan that does not fit (E0801)");
    throw f;
  }
  reserved_ += bytes;
}

void HostBudget::reserve_threads(int threads, const std::string& where) {
  rlimit as{}, stack{};
  if (threads <= 1 || ::getrlimit(RLIMIT_AS, &as) != 0 || as.rlim_cur == RLIM_INFINITY) return;
  // A thread's stack is RLIMIT_STACK (8 MiB when unlimited); its malloc arena reserves 64 MiB of address
  // space, twice that while it is aligned.
  uint64_t stack_bytes = uint64_t(8) << 20;
  if (::getrlimit(RLIMIT_STACK, &stack) == 0 && stack.rlim_cur != RLIM_INFINITY) stack_bytes = stack.rlim_cur;
  const uint64_t need = uint64_t(threads - 1) * (stack_bytes + (uint64_t(128) << 20));
  const uint64_t mapped = proc_kb("/proc/self/status", "VmSize").value_or(0);
  const uint64_t room = as.rlim_cur > mapped ? uint64_t(as.rlim_cur - mapped) : 0;
  if (need > room) {
    Fault f = make_fault(Diag::R0505, where, human_bytes(double(need)),
                         fmt::format("the stacks and heaps of {} worker thread{}", threads - 1, threads > 2 ? "s" : ""),
                         human_bytes(double(need)), human_bytes(double(room)), "the address-space limit (ulimit -v)");
    f.notes.push_back("fewer threads need less: `--threads 1` runs on this thread alone");
    throw f;
  }
}

}  // namespace dls
