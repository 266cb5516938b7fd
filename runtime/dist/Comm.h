// Comm.h: the MPI world a built executable runs in (Open MPI, `mpirun -np K ./PROGRAM train`). A process
// started without mpirun (no OMPI_COMM_WORLD_SIZE in its environment) never initialises MPI: it is rank 0 of
// a world of one and every collective below is a no-op. Every wait is bounded: a rank that does not reach
// a collective within the timeout is named (R0512) after the live ranks have told each other where they are.
// Only this file's implementation includes mpi.h; without Open MPI at build time (DLSPEC_HAVE_MPI unset) a
// world of more than one process is refused (R0511).
#ifndef DLSPEC_RUNTIME_DIST_COMM_H
#define DLSPEC_RUNTIME_DIST_COMM_H
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dls::dist {

class Replicas;

// While a collective waits, `probe` says whether a stop signal arrived (train: stop_signal): the other ranks
// then get a few seconds instead of the whole timeout (mpirun signals every rank when one of them died).
void set_interrupt_probe(int (*probe)());

class Comm {
 public:
  // The world the calling thread trains in: the view of its replica when it drives one device of a device list
  // (Replicas.h: every replica of every process is a rank of it), else the process's.
  static Comm& world();
  // The process's world (one per process: MPI is initialised once).
  static Comm& process();
  // Makes `view` the calling thread's world (nullptr: the process's again).
  static void set_thread_view(Comm* view);
  // Initialises MPI when mpirun started this process; otherwise leaves a world of one. Idempotent.
  void init_from_environment();
  int rank() const { return rank_; }
  int size() const { return size_; }
  // This rank's index among the ranks on its machine (OMPI_COMM_WORLD_LOCAL_RANK): a rank on a GPU backend
  // drives the device its placement names plus this index, so that K ranks on one machine use K devices.
  int local_rank() const { return local_rank_; }
  bool active() const { return size_ > 1; }
  // Seconds a collective may wait for the other ranks (train --rank-timeout; default 300).
  void set_timeout(double seconds) { timeout_ = seconds; }
  double timeout() const { return timeout_; }

  // Non-blocking sum all-reduce of `n` floats in place; completes at wait_all(). Returns nothing: requests
  // are kept in issue order, and every rank must issue the same ones in the same order.
  void start_sum(float* buf, int64_t n);
  void start_sum(double* buf, int64_t n);
  void start_max(int32_t* buf, int64_t n);
  // Drives the outstanding requests without blocking (MPI progresses them only inside its calls).
  void progress();
  // Waits for every outstanding request; `what` names the collective in R0512 ("the gradients of step 12").
  void wait_all(const std::string& what);
  // Blocking (bounded) collectives.
  void sum(double* v, int64_t n, const std::string& what);
  void bcast(void* buf, size_t bytes, const std::string& what);
  void bcast(std::string& s, const std::string& what);
  // Ends every rank (MPI_Abort) after this one reported why; a world of one just exits.
  [[noreturn]] void abort(int code);
  // A replica's view of a device list's group (Replicas.h): rank process.rank() * count + replica of
  // process.size() * count. Its collectives meet the process's other replicas first (threads), then go over
  // MPI once per process.
  Comm(Replicas* group, int replica, int rank, int size, double timeout);
  struct Request {
    void* buf;
    int64_t n;
    int type;  // 0: float sum, 1: double sum, 2: int32 max
  };
  // MPI_Finalize after a run that ended the same way on every rank.
  void finalize();

 private:
  Comm() = default;
  Replicas* group_ = nullptr;
  int replica_ = 0;
  std::vector<Request> pending_;  // a view's requests, combined at wait_all
  void check(int rc, const char* call);
  [[noreturn]] void lost(const std::string& what);
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  bool initialised_ = false;
  double timeout_ = 300;
};

}  // namespace dls::dist
#endif
