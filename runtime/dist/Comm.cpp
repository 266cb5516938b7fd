// Comm.cpp: the MPI world (Comm.h) over Open MPI's C API, with bounded waits.
#include "Comm.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include "../core/Diagnostics.h"
#include "Replicas.h"

#ifdef DLSPEC_HAVE_MPI
#include <mpi.h>
#endif

namespace dls::dist {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int (*g_interrupted)() = nullptr;

#ifdef DLSPEC_HAVE_MPI
MPI_Comm g_comm = MPI_COMM_NULL;  // the run's collectives
MPI_Comm g_live = MPI_COMM_NULL;  // where ranks tell each other how far they got, after a timeout
std::vector<MPI_Request> g_pending;
constexpr int kLiveTag = 7;
constexpr int64_t kSpins = 2000;  // about a millisecond of MPI_Testall before sleeping between polls

std::string mpi_error(int rc) {
  char text[MPI_MAX_ERROR_STRING] = "";
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return std::string(text, size_t(std::max(0, len)));
}
#endif
}  // namespace

void set_interrupt_probe(int (*probe)()) { g_interrupted = probe; }

namespace {
thread_local Comm* t_view = nullptr;
}

Comm& Comm::process() {
  static Comm c;
  return c;
}

Comm& Comm::world() { return t_view ? *t_view : process(); }

void Comm::set_thread_view(Comm* view) { t_view = view; }

Comm::Comm(Replicas* group, int replica, int rank, int size, double timeout)
    : group_(group), replica_(replica), rank_(rank), size_(size), timeout_(timeout) {}

void Comm::init_from_environment() {
  if (initialised_) return;
  const char* env = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!env) return;  // not started by mpirun: a world of one, MPI untouched
  if (const char* l = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK")) local_rank_ = std::max(0, std::atoi(l));
  if (const char* t = std::getenv("DLS_RANK_TIMEOUT")) {
    const double s = std::atof(t);
    if (s > 0) timeout_ = s;
  }
#ifdef DLSPEC_HAVE_MPI
  int provided = 0;
  // FUNNELED: only the main thread calls MPI (the batch loader's thread never does).
  int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS) fail(Diag::R0513, "", "MPI_Init_thread", "it failed (is this process started by mpirun?)");
  initialised_ = true;
  check(MPI_Comm_dup(MPI_COMM_WORLD, &g_comm), "MPI_Comm_dup");
  check(MPI_Comm_dup(MPI_COMM_WORLD, &g_live), "MPI_Comm_dup");
  // Errors come back as return codes (R0513) instead of ending the job from inside MPI.
  MPI_Comm_set_errhandler(g_comm, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(g_live, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(g_comm, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(g_comm, &size_), "MPI_Comm_size");
#else
  if (std::atoi(env) > 1)
    fail(Diag::R0511, "", std::atoi(env), "this runtime was built without Open MPI (libopenmpi-dev was not found)");
#endif
}

void Comm::check(int rc, const char* call) {
#ifdef DLSPEC_HAVE_MPI
  if (rc != MPI_SUCCESS) fail(Diag::R0513, "", call, mpi_error(rc));
#else
  (void)rc, (void)call;
#endif
}

void Comm::start_sum(float* buf, int64_t n) {
  if (group_) {
    if (n > 0) pending_.push_back({buf, n, 0});
    return;
  }
#ifdef DLSPEC_HAVE_MPI
  if (!active() || n <= 0) return;
  MPI_Request r;
  check(MPI_Iallreduce(MPI_IN_PLACE, buf, int(n), MPI_FLOAT, MPI_SUM, g_comm, &r), "MPI_Iallreduce");
  g_pending.push_back(r);
#else
  (void)buf, (void)n;
#endif
}

void Comm::start_sum(double* buf, int64_t n) {
  if (group_) {
    if (n > 0) pending_.push_back({buf, n, 1});
    return;
  }
#ifdef DLSPEC_HAVE_MPI
  if (!active() || n <= 0) return;
  MPI_Request r;
  check(MPI_Iallreduce(MPI_IN_PLACE, buf, int(n), MPI_DOUBLE, MPI_SUM, g_comm, &r), "MPI_Iallreduce");
  g_pending.push_back(r);
#else
  (void)buf, (void)n;
#endif
}

void Comm::start_max(int32_t* buf, int64_t n) {
  if (group_) {
    if (n > 0) pending_.push_back({buf, n, 2});
    return;
  }
#ifdef DLSPEC_HAVE_MPI
  if (!active() || n <= 0) return;
  MPI_Request r;
  check(MPI_Iallreduce(MPI_IN_PLACE, buf, int(n), MPI_INT32_T, MPI_MAX, g_comm, &r), "MPI_Iallreduce");
  g_pending.push_back(r);
#else
  (void)buf, (void)n;
#endif
}

void Comm::progress() {
  if (group_) return;  // a view's requests are combined at wait_all
#ifdef DLSPEC_HAVE_MPI
  if (g_pending.empty()) return;
  int done = 0;
  check(MPI_Testall(int(g_pending.size()), g_pending.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
  if (done) g_pending.clear();
#endif
}

void Comm::wait_all(const std::string& what) {
  if (group_) {
    std::vector<Request> reqs;
    reqs.swap(pending_);
    group_->combine(replica_, reqs, what);
    return;
  }
#ifdef DLSPEC_HAVE_MPI
  if (g_pending.empty()) return;
  const auto t0 = Clock::now();
  Clock::time_point signalled{};
  for (int64_t spin = 0;; ++spin) {
    int done = 0;
    check(MPI_Testall(int(g_pending.size()), g_pending.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
    if (done) {
      g_pending.clear();
      return;
    }
    // Every rank that is alive comes here for the same collective: the missing ones are dead or hang.
    if (since(t0) > timeout_) lost(what);
    // A stop signal while waiting (mpirun signals every rank when one of them died): the others get a few
    // seconds to arrive, as they do when the whole job was interrupted.
    if (g_interrupted && g_interrupted()) {
      if (signalled == Clock::time_point{}) signalled = Clock::now();
      else if (since(signalled) > std::min(5.0, timeout_)) lost(what);
    }
    if (spin > kSpins) {  // after spinning a while, poll every 50 us
      timespec ts{0, 50000};
      nanosleep(&ts, nullptr);
    }
  }
#else
  (void)what;
#endif
}

void Comm::lost(const std::string& what) {
  std::string missing, waiting;
  int nmissing = 0;
#ifdef DLSPEC_HAVE_MPI
  // Each live rank tells every other one where it is, and listens for a while: who does not answer is named.
  std::vector<int64_t> theirs(size_t(size_), -1);
  int64_t mine = rank_;
  std::vector<MPI_Request> recv(size_t(size_), MPI_REQUEST_NULL), send(size_t(size_), MPI_REQUEST_NULL);
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    MPI_Irecv(&theirs[size_t(r)], 1, MPI_INT64_T, r, kLiveTag, g_live, &recv[size_t(r)]);
    MPI_Isend(&mine, 1, MPI_INT64_T, r, kLiveTag, g_live, &send[size_t(r)]);
  }
  std::vector<int> answered(size_t(size_), 0);
  answered[size_t(rank_)] = 1;
  const double grace = std::min(10.0, std::max(2.0, timeout_ / 2));
  const auto t0 = Clock::now();
  for (;;) {
    bool all = true;
    for (int r = 0; r < size_; ++r) {
      if (answered[size_t(r)]) continue;
      int flag = 0;
      MPI_Test(&recv[size_t(r)], &flag, MPI_STATUS_IGNORE);
      if (flag) answered[size_t(r)] = 1;
      else all = false;
    }
    if (all || since(t0) > grace) break;
    timespec ts{0, 1000000};
    nanosleep(&ts, nullptr);
  }
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    std::string& list = answered[size_t(r)] ? waiting : missing;
    list += (list.empty() ? "" : ", ") + std::to_string(r);
    nmissing += answered[size_t(r)] ? 0 : 1;
  }
#endif
  const std::string who = nmissing > 0 ? fmt::format("{} {}", nmissing == 1 ? "rank" : "ranks", missing)
                                       : std::string("some rank (every rank answered, yet the collective did not complete)");
  Fault f = make_fault(Diag::R0512, "", who, what, timeout_);
  if (!waiting.empty()) f.notes.push_back(fmt::format("rank(s) {} answered: they are waiting there too", waiting));
  f.notes.push_back("a rank that died or hangs stops every other one; checkpoints are written by rank 0 only, "
                    "atomically, so the newest one is intact");
  throw f;
}

void Comm::sum(double* v, int64_t n, const std::string& what) {
  if (!active()) return;
  start_sum(v, n);
  wait_all(what);
}

void Comm::bcast(void* buf, size_t bytes, const std::string& what) {
  if (group_) {
    if (size_ > 1) group_->bcast(replica_, buf, bytes, what);
    return;
  }
#ifdef DLSPEC_HAVE_MPI
  if (!active()) return;
  char* p = static_cast<char*>(buf);
  constexpr size_t kChunk = size_t(1) << 30;
  for (size_t at = 0; at < bytes; at += kChunk) {
    MPI_Request r;
    check(MPI_Ibcast(p + at, int(std::min(kChunk, bytes - at)), MPI_BYTE, 0, g_comm, &r), "MPI_Ibcast");
    g_pending.push_back(r);
    wait_all(what);
  }
#else
  (void)buf, (void)bytes, (void)what;
#endif
}

void Comm::bcast(std::string& s, const std::string& what) {
  if (!active()) return;
  uint64_t n = s.size();
  bcast(&n, sizeof n, what);
  s.resize(size_t(n));
  if (n) bcast(s.data(), size_t(n), what);
}

void Comm::abort(int code) {
#ifdef DLSPEC_HAVE_MPI
  if (initialised_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

void Comm::finalize() {
#ifdef DLSPEC_HAVE_MPI
  if (initialised_) {
    initialised_ = false;
    MPI_Finalize();
  }
#endif
}

}  // namespace dls::dist
