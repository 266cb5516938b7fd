// RunDir.h: a run directory (checkpoints, metrics.csv/.jsonl, curves.svg) belongs to one run at a time.
//   - RunLock holds an advisory lock (flock) on DIR/.lock, which records "pid host", for the whole run; a
//     second run in the same directory is refused with R0309 naming the holder.
//   - Files are written without following links: temporaries are created O_EXCL|O_NOFOLLOW and renamed
//     over their target; files that are read must be regular files (a FIFO or device is refused, not read).
//   - Signals: SIGINT, SIGTERM and SIGHUP only set a flag that training reads at each step boundary (a second
//     one kills the process as usual); SIGPIPE is ignored, so a closed stdout does not end training.
#ifndef DLSPEC_RUNTIME_TRAIN_RUNDIR_H
#define DLSPEC_RUNTIME_TRAIN_RUNDIR_H
#include <string>
#include <vector>

namespace dls {

class RunLock {
 public:
  // Creates `dir` if needed and locks it; throws R0309 when another live process holds it.
  explicit RunLock(const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// Temporaries of earlier runs (".tmp-*" left by a process killed mid-write); call with the lock held.
void remove_temporaries(const std::string& dir);

// Writes `data` to `path` through a fresh temporary in the same directory (O_EXCL|O_NOFOLLOW, fsync'd when
// `durable`) renamed over it. Returns "" or the reason it failed (the old file is then untouched).
std::string write_replace(const std::string& path, const std::string& data, bool durable);

// Opens `path` for reading without blocking on a FIFO and without following a final symlink when
// `nofollow`: returns an fd of a regular file, or -1 with `why` set ("not a regular file", strerror).
int open_regular(const std::string& path, std::string& why, bool nofollow = false);
// Reads a whole regular file (open_regular) of at most `limit` bytes. Returns false with `why` set.
bool read_regular(const std::string& path, std::string& out, std::string& why, size_t limit, bool nofollow = false);

// Signals that stop training at the next step boundary (a repeat within a second is the same interruption;
// a later one ends the process at once).
void install_stop_signals();
// Puts back the default actions and forgets a received signal (after training).
void restore_stop_signals();
// The signal received since install_stop_signals (0: none).
int stop_signal();
const char* signal_name(int sig);

}  // namespace dls
#endif
