// Subprocess: fork/exec with a pipe for the child's output (see Subprocess.h).
#include "codegen/Subprocess.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace dls::codegen {

SubprocessResult runSubprocess(const std::vector<std::string>& argv, const std::string& cwd) {
  SubprocessResult result;
  if (argv.empty()) {
    result.output = "no program to run";
    return result;
  }
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result.output = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  pid_t pid = fork();
  if (pid < 0) {
    result.output = std::string("fork: ") + std::strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return result;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) {
      const char cdFailed[] = "exec failed: cannot enter the working directory\n";
      ssize_t ignored = write(STDERR_FILENO, cdFailed, sizeof cdFailed - 1);
      (void)ignored;
      _exit(127);
    }
    execvp(cargv[0], cargv.data());
    // strerror is not async-signal-safe: report the errno number.
    char msg[64] = "exec failed: errno ";
    size_t len = std::strlen(msg);
    int code = errno;
    char digits[16];
    int n = 0;
    do digits[n++] = static_cast<char>('0' + code % 10); while ((code /= 10) > 0 && n < 15);
    while (n > 0) msg[len++] = digits[--n];
    msg[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, msg, len);
    (void)ignored;
    _exit(127);
  }
  close(fds[1]);
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n > 0) result.output.append(buffer, static_cast<size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      result.output += std::string("waitpid: ") + std::strerror(errno);
      return result;
    }
  }
  result.started = true;
  if (WIFEXITED(status)) result.exitCode = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) result.exitCode = 128 + WTERMSIG(status);
  if (result.exitCode == 127 && result.output.rfind("exec failed: ", 0) == 0) result.started = false;
  return result;
}

std::string commandLine(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& a : argv) {
    if (!line.empty()) line += ' ';
    if (!a.empty() && a.find_first_of(" \t\n'\"\\$`") == std::string::npos) {
      line += a;
      continue;
    }
    line += '\'';
    for (char c : a) line += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += '\'';
  }
  return line;
}

}  // namespace dls::codegen
