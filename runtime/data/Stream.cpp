// Stream.cpp: the load policy, per-sample reads of streamed splits and the loader's worker pool (Stream.h).
#include "Stream.h"

#include <setjmp.h>
#include <signal.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "../core/Memory.h"
#include "DataFormats.h"  // data/formats: streamBuffers, shared with `dlspec summary --data`
#include "Pipeline.h"

namespace dls {

namespace {
LoadPolicy g_policy;
thread_local int64_t t_record_base = 0;

// The SIGBUS guard of copy_mapped and find_mapped: the jump buffer of the guarded read running on this thread.
thread_local sigjmp_buf* t_bus_jump = nullptr;
struct sigaction g_prev_bus;

void on_sigbus(int sig, siginfo_t* info, void* context) {
  if (sigjmp_buf* j = t_bus_jump) {
    t_bus_jump = nullptr;
    siglongjmp(*j, 1);
  }
  // Not a guarded read: what SIGBUS did before. Returning retries the faulting access, which the restored default
  // action then ends the process with, as it would have without this handler.
  if (g_prev_bus.sa_flags & SA_SIGINFO) {
    if (g_prev_bus.sa_sigaction) return g_prev_bus.sa_sigaction(sig, info, context);
  } else if (g_prev_bus.sa_handler != SIG_DFL && g_prev_bus.sa_handler != SIG_IGN) {
    return g_prev_bus.sa_handler(sig);
  }
  ::signal(SIGBUS, SIG_DFL);
}

}  // namespace

// Runs fn(ctx) with a SIGBUS it raises turned into a false return. fn holds nothing that needs a destructor:
// siglongjmp leaves it without unwinding.
void guard_sigbus() {
  static std::mutex mu;
  std::lock_guard<std::mutex> l(mu);
  struct sigaction cur {};
  if (::sigaction(SIGBUS, nullptr, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigbus) return;
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGBUS, &sa, &g_prev_bus);
}

bool read_mapped(void (*fn)(void*), void* ctx) {
  static std::once_flag once;
  std::call_once(once, guard_sigbus);
  sigjmp_buf env;
  if (sigsetjmp(env, 1) != 0) return false;  // the signal mask (SIGBUS blocked in the handler) is restored
  t_bus_jump = &env;
  fn(ctx);
  t_bus_jump = nullptr;
  return true;
}

bool copy_mapped(void* dst, const void* src, size_t n) {
  struct Copy {
    void* dst;
    const void* src;
    size_t n;
  } c{dst, src, n};
  return read_mapped([](void* p) {
    auto* c = static_cast<Copy*>(p);
    std::memcpy(c->dst, c->src, c->n);
  }, &c);
}

bool find_mapped(const char* p, size_t n, char ch, size_t& at) {
  struct Find {
    const char* p;
    size_t n;
    char ch;
    size_t at;
  } f{p, n, ch, n};
  if (!read_mapped([](void* q) {
        auto* f = static_cast<Find*>(q);
        const void* hit = std::memchr(f->p, f->ch, f->n);
        f->at = hit ? size_t(static_cast<const char*>(hit) - f->p) : f->n;
      }, &f))
    return false;
  at = f.at;
  return true;
}

void set_load_policy(const LoadPolicy& p) { g_policy = p; }
const LoadPolicy& load_policy() { return g_policy; }

uint64_t load_budget(std::string* source) {
  if (g_policy.budget > 0) {
    if (source) *source = "--data-memory";
    return g_policy.budget;
  }
  const std::optional<MemoryLimit> m = host_memory_limit();
  if (!m) {
    if (source) *source = "no memory limit known";
    return UINT64_MAX;
  }
  if (source) *source = "half of " + m->source;
  return m->bytes / 2;
}

bool stream_split(uint64_t decoded, const std::string& split, const std::string& path) {
  (void)split, (void)path;
  switch (g_policy.mode) {
    case LoadMode::Memory: return false;
    case LoadMode::Stream: return true;
    case LoadMode::Auto: break;
  }
  return decoded > load_budget();
}

int64_t stream_record_base() { return t_record_base; }

void read_sample(const Dataset& ds, int64_t i, float* out) {
  if (!ds.stream) {
    std::memcpy(out, ds.x.data() + i * ds.sample_numel, size_t(ds.sample_numel) * 4);
    return;
  }
  const Stream& s = *ds.stream;
  const int64_t record = s.rows.empty() ? i : s.rows[size_t(i)];
  if (s.steps.empty() && s.sample_numel == ds.sample_numel) {
    s.src->read(record, out);
    return;
  }
  // The element-wise steps, replayed on this one sample as apply_pipeline applied them to a held split.
  thread_local Dataset one;
  one.name = ds.name;
  one.label_path = ds.label_path;
  one.n = 1;
  one.rank = s.rank;
  std::copy(s.dims, s.dims + 4, one.dims);
  one.sample_numel = s.sample_numel;
  one.x.resize(size_t(s.sample_numel));
  one.labels.clear(), one.targets.clear();
  one.target_numel = 0, one.label_numel = 1;
  s.src->read(record, one.x.data());
  t_record_base = record;
  try {
    for (const auto& [steps, training] : s.steps) apply_pipeline(one, steps, training);
  } catch (...) {
    t_record_base = 0;
    throw;
  }
  t_record_base = 0;
  std::memcpy(out, one.x.data(), size_t(ds.sample_numel) * 4);
}

uint64_t held_bytes(const Dataset& ds) {
  const uint64_t samples = ds.stream ? ds.stream->src->index_bytes() + ds.stream->rows.size() * 8 : ds.x.size() * 4;
  uint64_t fields = 0;  // the further sample fields: held, or read per batch from the first's file (CSV column groups)
  for (const Dataset& f : ds.fields) fields += f.stream ? f.stream->src->index_bytes() : f.x.size() * 4;
  return samples + fields + uint64_t(ds.labels.size() + ds.targets.size()) * 4;
}

int loader_depth(const Dataset& ds) { return ds.stream ? 3 : 2; }

uint64_t prefetch_bytes(const Dataset& ds, int64_t row_numel, int64_t rows) {
  const int depth = loader_depth(ds);
  int64_t label = std::max<int64_t>(ds.label_numel, std::max<int64_t>(ds.target_numel, 1));
  for (const Dataset& f : ds.fields) label += f.sample_numel;  // each batch buffer holds the further fields' rows too
  if (!ds.stream) return uint64_t(depth) * uint64_t(rows) * uint64_t(row_numel + label) * 4;
  // Each pool thread converts one sample at a time; the batches being prepared touch their samples' pages.
  return data::streamBuffers(depth, rows, row_numel, label, std::max(1, g_policy.threads), ds.stream->sample_numel,
                             ds.sample_numel, 0) +
         ds.stream->src->window_bytes(int64_t(depth) * rows);
}

RowPool::RowPool(int threads) {
  for (int t = 1; t < threads; ++t) helpers_.emplace_back([this] { work(); });
}

RowPool::~RowPool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : helpers_) t.join();
}

void RowPool::drain() {
  for (int64_t i; (i = next_.fetch_add(1)) < count_;) {
    try {
      (*fn_)(i);
    } catch (...) {
      std::lock_guard<std::mutex> l(mu_);
      if (err_at_ < 0 || i < err_at_) err_at_ = i, err_ = std::current_exception();
    }
  }
}

void RowPool::work() {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || gen_ != seen; });
    if (stop_) return;
    seen = gen_;
    ++active_;
    l.unlock();
    drain();
    l.lock();
    if (--active_ == 0) done_cv_.notify_all();
  }
}

void RowPool::run(int64_t count, const std::function<void(int64_t)>& fn) {
  if (helpers_.empty()) {
    for (int64_t i = 0; i < count; ++i) fn(i);
    return;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    fn_ = &fn, count_ = count, err_at_ = -1, err_ = nullptr;
    next_.store(0);
    ++gen_;
  }
  cv_.notify_all();
  drain();
  std::unique_lock<std::mutex> l(mu_);
  // Every index is taken once next_ passes count_; wait for the helpers still working on theirs.
  done_cv_.wait(l, [&] { return active_ == 0; });
  fn_ = nullptr;
  if (err_) {
    std::exception_ptr e = err_;
    err_ = nullptr;
    std::rethrow_exception(e);
  }
}

}  // namespace dls
