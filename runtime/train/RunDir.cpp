#include "RunDir.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "../core/Runtime.h"

namespace dls {

RunLock::RunLock(const std::string& dir) {
  if (!make_dirs(dir)) fail(Diag::R0309, dir, dir, fmt::format("cannot create it: {}", std::strerror(errno)));
  const std::string path = dir + "/.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd_ < 0) fail(Diag::R0309, path, dir, fmt::format("cannot open its lock file: {}", std::strerror(errno)));
  struct stat st;
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fail(Diag::R0309, path, dir, "its lock file is not a regular file");
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char holder[256] = {0};
    ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
    std::string who = n > 0 ? std::string(holder, size_t(n)) : std::string();
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    ::close(fd_);
    fd_ = -1;
    Fault f = make_fault(Diag::R0309, path, dir, who.empty() ? std::string("its lock is held") : "pid " + who);
    f.notes.push_back("wait for that run to finish, or train into another checkpoint directory");
    throw f;
  }
  char host[256] = "unknown";
  ::gethostname(host, sizeof host - 1);
  std::string me = fmt::format("{} on {}\n", ::getpid(), host);
  if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, me.data(), me.size(), 0) < 0) {
    // The lock is what matters; the holder's name is only for the message of a refused second run.
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

void remove_temporaries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind(".tmp-", 0) == 0) stale.push_back(dir + "/" + n);
  }
  ::closedir(d);
  for (const auto& p : stale) ::unlink(p.c_str());
}

std::string write_replace(const std::string& path, const std::string& data, bool durable) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string tmp = fmt::format("{}/.tmp-{}-{}", dir, base, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {  // left by a process with our pid that died; never written through
    ::unlink(tmp.c_str());
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  }
  if (fd < 0) return std::strerror(errno);
  std::string why;
  const char* p = data.data();
  size_t n = data.size();
  while (n > 0 && why.empty()) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      why = std::strerror(errno);
      if (errno == ENOSPC) why += " (disk full)";
      if (errno == EFBIG) why += " (file size limit reached)";
      break;
    }
    p += w, n -= size_t(w);
  }
  if (why.empty() && durable && ::fsync(fd) != 0) why = std::strerror(errno);
  if (::close(fd) != 0 && why.empty()) why = std::strerror(errno);
  if (why.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) why = std::strerror(errno);
  if (!why.empty()) {
    ::unlink(tmp.c_str());
    return why;
  }
  if (durable) {
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  return "";
}

int open_regular(const std::string& path, std::string& why, bool nofollow) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
  if (fd < 0) {
    why = errno == ELOOP && nofollow ? "it is a symbolic link" : std::strerror(errno);
    return -1;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = S_ISDIR(st.st_mode) ? "it is a directory" : S_ISFIFO(st.st_mode) ? "it is a FIFO, not a regular file"
                                                                            : "not a regular file";
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

bool read_regular(const std::string& path, std::string& out, std::string& why, size_t limit, bool nofollow) {
  int fd = open_regular(path, why, nofollow);
  if (fd < 0) return false;
  struct stat st;
  if (::fstat(fd, &st) == 0 && size_t(st.st_size) > limit) {
    ::close(fd);
    why = fmt::format("{} bytes, more than the {} expected", st.st_size, limit);
    return false;
  }
  out.clear();
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      why = std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    if (out.size() + size_t(n) > limit) {  // grew while we read it
      why = fmt::format("more than the {} bytes expected", limit);
      ::close(fd);
      return false;
    }
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return true;
}

namespace {
std::atomic<int> g_stop{0};
std::atomic<int64_t> g_stop_ns{0};
int64_t now_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);  // async-signal-safe
  return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}
extern "C" void on_stop_signal(int sig) {
  if (g_stop.load() != 0) {
    // A copy of the same interruption (a signal sent to the process and to its group, as timeout(1)
    // and a terminal do) is ignored; a second one a second later means the user insists: default action.
    if (now_ns() - g_stop_ns.load() < 1000000000) return;
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  g_stop_ns.store(now_ns());
  g_stop.store(sig);
}
}  // namespace

void install_stop_signals() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

void restore_stop_signals() {
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::signal(s, SIG_DFL);
  g_stop.store(0);
}

int stop_signal() { return g_stop.load(); }

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
  }
}

}  // namespace dls
