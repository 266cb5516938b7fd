// Replicas.cpp: the replicas of a device list in one process, one thread each (Replicas.h).
#include "Replicas.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

namespace dls::dist {

Replicas::Replicas(int count, std::vector<std::string> names) : count_(count), names_(std::move(names)) {
  Comm& p = Comm::process();
  for (int d = 0; d < count_; ++d) {
    views_.push_back(std::make_unique<Comm>(this, d, p.rank() * count_ + d, p.size() * count_, p.timeout()));
    if (size_t(d) >= names_.size()) names_.push_back(fmt::format("replica {}", d));
  }
  arrived_.assign(size_t(count_), 0);
  reqs_.assign(size_t(count_), nullptr);
  bufs_.assign(size_t(count_), nullptr);
}

void Replicas::fail(int replica, const Fault& f) {
  std::lock_guard<std::mutex> lk(m_);
  if (!fault_) {
    fault_ = f;
    fault_replica_ = replica;
  }
  aborted_ = true;
  cv_.notify_all();
}

// A replica that finds the group stopped by another one's fault unwinds; that fault is the run's.
void Replicas::cancelled(int replica, const std::string& what) {
  Fault f = make_fault(Diag::R0512, "", names_[size_t(replica)], what, Comm::process().timeout());
  f.notes.push_back("another replica stopped first");
  throw f;
}

int Replicas::run(const std::function<int(int)>& body) {
  auto guarded = [&](int d) -> int {
    try {
      return body(d);
    } catch (const Fault& f) {
      fail(d, f);
    } catch (const std::bad_alloc&) {
      fail(d, make_fault(Diag::R0503, "", "host memory", "the program (an allocation of unknown size failed)"));
    } catch (const std::exception& e) {
      fail(d, make_fault(Diag::R0001, "", e.what()));
    }
    return 1;
  };
  std::vector<std::thread> threads;
  for (int d = 1; d < count_; ++d)
    threads.emplace_back([this, d, &guarded] {
      Comm::set_thread_view(views_[size_t(d)].get());
      set_diagnostic_replica(d);
      guarded(d);
      Comm::set_thread_view(nullptr);
    });
  Comm::set_thread_view(views_[0].get());
  const int rc = guarded(0);
  Comm::set_thread_view(nullptr);
  for (std::thread& t : threads) t.join();
  if (fault_) {
    Fault f = *fault_;
    if (count_ > 1) f.notes.push_back(fmt::format("on {} ({} of the {} replicas of this process)", names_[size_t(fault_replica_)],
                                                  fault_replica_, count_));
    throw f;
  }
  return rc;
}

void Replicas::meet(int replica, const std::string& what, const std::function<void()>& lead) {
  using Clock = std::chrono::steady_clock;
  const double timeout = Comm::process().timeout();
  std::unique_lock<std::mutex> lk(m_);
  if (aborted_) cancelled(replica, what);
  const uint64_t gen = generation_;
  arrived_[size_t(replica)] = 1;
  ++narrived_;
  if (replica != 0) {
    cv_.notify_all();
    // Replica 0 may wait up to the timeout for the other processes (MPI) before it gives up itself.
    const auto until = Clock::now() + std::chrono::duration<double>(2 * timeout + 10);
    while (generation_ == gen && !aborted_)
      if (cv_.wait_until(lk, until) == std::cv_status::timeout && generation_ == gen && !aborted_)
        throw make_fault(Diag::R0512, "", names_[0], what, 2 * timeout + 10);
    if (generation_ == gen) cancelled(replica, what);
    return;
  }
  const auto until = Clock::now() + std::chrono::duration<double>(timeout);
  while (narrived_ < count_ && !aborted_)
    if (cv_.wait_until(lk, until) == std::cv_status::timeout && narrived_ < count_ && !aborted_) {
      std::string missing;
      for (int d = 0; d < count_; ++d)
        if (!arrived_[size_t(d)]) missing += (missing.empty() ? "" : ", ") + names_[size_t(d)];
      Fault f = make_fault(Diag::R0512, "", missing, what, timeout);
      f.notes.push_back("a replica that faults or hangs stops every other one; checkpoints are written by replica 0 "
                        "only, atomically, so the newest one is intact");
      throw f;
    }
  if (aborted_) cancelled(replica, what);
  lk.unlock();
  lead();  // the others wait: their buffers are this collective's
  lk.lock();
  std::fill(arrived_.begin(), arrived_.end(), 0);
  narrived_ = 0;
  ++generation_;
  cv_.notify_all();
}

void Replicas::combine(int replica, std::vector<Comm::Request>& reqs, const std::string& what) {
  {
    std::lock_guard<std::mutex> lk(m_);
    reqs_[size_t(replica)] = &reqs;
  }
  meet(replica, what, [&] {
    std::vector<Comm::Request>& mine = *reqs_[0];
    for (int d = 1; d < count_; ++d) {
      const std::vector<Comm::Request>& theirs = *reqs_[size_t(d)];
      bool same = theirs.size() == mine.size();
      for (size_t i = 0; same && i < mine.size(); ++i) same = mine[i].n == theirs[i].n && mine[i].type == theirs[i].type;
      if (!same)
        throw make_fault(Diag::R0504, "", fmt::format("replica {} took part in {} with other buffers than replica 0", d, what));
      for (size_t i = 0; i < mine.size(); ++i) {
        const Comm::Request& a = mine[i];
        const Comm::Request& b = theirs[i];
        if (a.type == 0)
          for (int64_t k = 0; k < a.n; ++k) static_cast<float*>(a.buf)[k] += static_cast<const float*>(b.buf)[k];
        else if (a.type == 1)
          for (int64_t k = 0; k < a.n; ++k) static_cast<double*>(a.buf)[k] += static_cast<const double*>(b.buf)[k];
        else
          for (int64_t k = 0; k < a.n; ++k)
            static_cast<int32_t*>(a.buf)[k] = std::max(static_cast<int32_t*>(a.buf)[k], static_cast<const int32_t*>(b.buf)[k]);
      }
    }
    Comm& p = Comm::process();
    if (p.active()) {  // the processes' sums (replica 0 is the main thread: MPI's)
      for (const Comm::Request& a : mine) {
        if (a.type == 0) p.start_sum(static_cast<float*>(a.buf), a.n);
        else if (a.type == 1) p.start_sum(static_cast<double*>(a.buf), a.n);
        else p.start_max(static_cast<int32_t*>(a.buf), a.n);
      }
      p.wait_all(what);
    }
    static constexpr size_t kSize[3] = {4, 8, 4};
    for (int d = 1; d < count_; ++d)
      for (size_t i = 0; i < mine.size(); ++i)
        std::memcpy((*reqs_[size_t(d)])[i].buf, mine[i].buf, size_t(mine[i].n) * kSize[mine[i].type]);
  });
}

void Replicas::bcast(int replica, void* buf, size_t bytes, const std::string& what) {
  {
    std::lock_guard<std::mutex> lk(m_);
    bufs_[size_t(replica)] = buf;
  }
  meet(replica, what, [&] {
    Comm::process().bcast(bufs_[0], bytes, what);  // rank 0's replica 0 to every process's
    for (int d = 1; d < count_; ++d) std::memcpy(bufs_[size_t(d)], bufs_[0], bytes);
  });
}

}  // namespace dls::dist
