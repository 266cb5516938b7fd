// Replicas.h: data parallelism over the devices of a device list in one process (`on [cuda:0, cuda:1, ...]`,
// dls_rt_device_list). Each device is a replica: a thread with its own runtime (its own backend context, CUDA
// stream and, with NCCL, communicator), set up from the same program, training on its share of the global
// batch exactly as a rank of mpirun does. Every collective of the training loop (Comm: the gradient buckets,
// the loss and stop signals, the checkpoint to resume from, rank 0's state, the validation sums) goes through
// the replica's view of the group: the process's replicas meet (a bounded wait), replica 0 (the main thread,
// the one that calls MPI) combines their buffers in replica order, takes the result over MPI to the other
// processes' replica 0 when there are ranks, and hands it back. With NCCL the gradients do not come here: each
// replica's thread joins one communicator of every replica of every process (GradReducer) and sums on its own
// stream. A replica that faults stops the others at their next collective; the first fault is the run's.
#ifndef DLSPEC_RUNTIME_DIST_REPLICAS_H
#define DLSPEC_RUNTIME_DIST_REPLICAS_H
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "../core/Diagnostics.h"
#include "Comm.h"

namespace dls::dist {

class Replicas {
 public:
  // `count` replicas in this process; `names` says which device each drives (R0512 names it).
  Replicas(int count, std::vector<std::string> names);
  int count() const { return count_; }
  Comm& view(int replica) { return *views_[size_t(replica)]; }
  // Runs body(replica) for every replica, replica 0 on the calling thread, the others on threads of their own
  // (each with its view as its world), and waits for all. Returns replica 0's result; throws the first fault.
  int run(const std::function<int(int)>& body);
  // The collectives of the views (Comm): every replica calls them in the same order with the same sizes.
  void combine(int replica, std::vector<Comm::Request>& reqs, const std::string& what);
  void bcast(int replica, void* buf, size_t bytes, const std::string& what);

 private:
  // Waits until every replica arrived; replica 0 then runs `lead` and releases the others.
  void meet(int replica, const std::string& what, const std::function<void()>& lead);
  void fail(int replica, const Fault& f);
  [[noreturn]] void cancelled(int replica, const std::string& what);
  int count_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<Comm>> views_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<char> arrived_;
  int narrived_ = 0;
  uint64_t generation_ = 0;
  bool aborted_ = false;
  std::optional<Fault> fault_;
  int fault_replica_ = -1;
  // The current collective's buffers, per replica.
  std::vector<std::vector<Comm::Request>*> reqs_;
  std::vector<void*> bufs_;
};

}  // namespace dls::dist
#endif
