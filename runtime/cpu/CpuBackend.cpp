// CpuBackend.cpp: the CPU backend table (oneDNN with its OpenMP runtime, plus hand-written loops).
#include <omp.h>
#include <sys/mman.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <unordered_map>

#include "CpuOp.h"

namespace dls::cpu {

Buf::Buf(size_t count) : n(count) {
  size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
  p = static_cast<float*>(std::aligned_alloc(64, bytes ? bytes : 64));
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
}
Buf::~Buf() { std::free(p); }

void run_steps(Ctx& c, std::vector<Step>& steps, const dls_step_ctx& s) {
  for (auto& st : steps) {
    if (st.prim) {
      st.prim->execute(c.strm, st.args);
    } else {
      st.fn(s);
    }
  }
  // Primitives on the CPU engine run synchronously in the OpenMP runtime; wait() is cheap.
  c.strm.wait();
}

namespace {

template <class F>
int catching(char* err, size_t len, F&& f) {
  try {
    f();
    return 0;
  } catch (const dnnl::error& e) {
    dls_put_error(err, len, (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::bad_alloc&) {
    dls_put_error(err, len, "out of host memory");
  } catch (const std::exception& e) {
    dls_put_error(err, len, e.what());
  }
  return 1;
}

void* be_init(int32_t device, int32_t threads, char* err, size_t len) {
  Ctx* c = nullptr;
  int rc = catching(err, len, [&] {
    if (device != 0) throw std::runtime_error("the CPU backend has only device 0");
    if (threads < 1) threads = 1;
    omp_set_num_threads(threads);
    // Start the worker threads now, each with its heap, so that they exist before the runtime reads how much
    // memory is left for its buffers (Memory.h); the threads are kept for the run's parallel regions.
#pragma omp parallel num_threads(threads)
    {
      void* volatile heap = std::malloc(64);  // volatile: the compiler may not drop the pair
      std::free(heap);
    }
    c = new Ctx();
    c->threads = threads;
  });
  return rc ? nullptr : c;
}
void be_shutdown(void* ctx) { delete static_cast<Ctx*>(ctx); }

// Allocations from kLazyBytes up are anonymous mappings: zero pages that the kernel provides when first
// touched, so memory planned but never used (a run refused before its first step) costs nothing; smaller
// ones come from the heap, zeroed. be_free tells them apart by the registry of mappings.
const size_t kLazyBytes = size_t(1) << 20;
std::mutex g_mapped_mutex;
std::unordered_map<void*, size_t> g_mapped;

void* be_alloc(void*, size_t bytes) {
  size_t rounded = ((bytes + 63) / 64) * 64;
  if (rounded >= kLazyBytes) {
    void* p = ::mmap(nullptr, rounded, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    std::lock_guard<std::mutex> lock(g_mapped_mutex);
    g_mapped.emplace(p, rounded);
    return p;
  }
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  if (p) std::memset(p, 0, rounded);
  return p;
}
void be_free(void*, void* p) {
  if (!p) return;
  {
    std::lock_guard<std::mutex> lock(g_mapped_mutex);
    if (auto it = g_mapped.find(p); it != g_mapped.end()) {
      ::munmap(p, it->second);
      g_mapped.erase(it);
      return;
    }
  }
  std::free(p);
}
// Host copies of channels-last activations are transposed so the host always sees NCHW (CpuOp.h, Nhwc).
int be_copy_to_device(void* ctx, void* dst, const void* src, size_t bytes, char* err, size_t len) {
  return catching(err, len, [&] {
    if (!copy_with_layout(*static_cast<Ctx*>(ctx), dst, src, bytes, false)) std::memcpy(dst, src, bytes);
  });
}
int be_copy_to_host(void* ctx, void* dst, const void* src, size_t bytes, char* err, size_t len) {
  return catching(err, len, [&] {
    if (!copy_with_layout(*static_cast<Ctx*>(ctx), dst, src, bytes, true)) std::memcpy(dst, src, bytes);
  });
}
int be_zero(void*, void* p, size_t bytes, char*, size_t) {
  std::memset(p, 0, bytes);
  return 0;
}

int be_create_op(void* ctx, const dls_op_desc* op, void** state, char* err, size_t len) {
  auto st = std::make_unique<OpState>();
  int rc = catching(err, len, [&] { build_forward(*static_cast<Ctx*>(ctx), *op, *st); });
  if (rc == 0) *state = st.release();
  return rc;
}
int be_create_grad_op(void* ctx, const dls_grad_op_desc* g, void** state, char* err, size_t len) {
  auto st = std::make_unique<OpState>();
  int rc = catching(err, len, [&] {
    build_backward(*static_cast<Ctx*>(ctx), *g, *static_cast<OpState*>(g->fwd_state), *st);
  });
  if (rc == 0) *state = st.release();
  return rc;
}
void be_destroy_op(void*, void* state) { delete static_cast<OpState*>(state); }

int be_fwd(void* ctx, const dls_op_desc*, void* state, const dls_step_ctx* s, char* err, size_t len) {
  return catching(err, len, [&] {
    auto* st = static_cast<OpState*>(state);
    run_steps(*static_cast<Ctx*>(ctx), (!s->training && !st->eval.empty()) ? st->eval : st->train, *s);
  });
}
int be_bwd(void* ctx, const dls_grad_op_desc*, void* state, const dls_step_ctx* s, char* err, size_t len) {
  return catching(err, len, [&] { run_steps(*static_cast<Ctx*>(ctx), static_cast<OpState*>(state)->train, *s); });
}
int be_update(void*, const dls_update_desc* u, char* err, size_t len) {
  return catching(err, len, [&] { update(*u); });
}
int be_sync(void* ctx, char* err, size_t len) {
  return catching(err, len, [&] { static_cast<Ctx*>(ctx)->strm.wait(); });
}
// The loss is host memory here: a step whose loss is not finite changes no parameter.
int be_update_all(void* ctx, const dls_update_desc* us, int32_t n, const float* loss, char* err, size_t len) {
  return catching(err, len, [&] {
    static_cast<Ctx*>(ctx)->strm.wait();
    if (loss && !std::isfinite(*loss)) return;
    for (int32_t i = 0; i < n; ++i) {
      dls_update_desc u = us[i];
      u.lr = us[0].lr, u.t = us[0].t;
      update(u);
    }
  });
}

const dls_backend kCpu = {
    DLS_BACKEND_VERSION, "cpu", be_init, be_shutdown, be_alloc, be_free, be_copy_to_device, be_copy_to_host, be_zero,
    be_create_op, be_create_grad_op, be_destroy_op, be_fwd, be_bwd, be_update, be_sync,
    be_update_all, nullptr, nullptr, nullptr,  // no step graphs: the CPU runs each step as issued
};

}  // namespace
}  // namespace dls::cpu

extern "C" const dls_backend* dls_cpu_backend(void) { return &dls::cpu::kCpu; }
