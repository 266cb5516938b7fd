#include "driver/Rewrite.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <dtl/dtl.hpp>
#include <fcntl.h>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace dls {

static std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string unifiedDiff(const std::string& oldName, const std::string& newName, const std::string& before,
                        const std::string& after) {
  if (before == after) return {};
  std::vector<std::string> a = splitLines(before), b = splitLines(after);
  dtl::Diff<std::string> diff(a, b);
  diff.onHuge();
  diff.compose();
  diff.composeUnifiedHunks();
  std::ostringstream out;
  out << "--- " << oldName << "\n+++ " << newName << "\n";
  diff.printUnifiedFormat(out);
  std::string s = out.str();
  // dtl marks a line without a final newline no differently; say so as diff does when only that differs.
  if (a == b) s += "\\ the files differ only in the newline at the end\n";
  return s;
}

bool writeFileAtomically(const std::string& path, const std::string& text, std::string& error) {
  // The file a link names is the one the user meant; the link stays.
  std::string target = path;
  if (char* real = ::realpath(path.c_str(), nullptr)) {
    target = real;
    std::free(real);
  }
  struct stat st {};
  mode_t mode = 0644;
  if (::stat(target.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      error = path + " is not a regular file";
      return false;
    }
    mode = st.st_mode & 07777;
  }
  std::string tmp = target + ".dlspec-XXXXXX";
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());  // O_CREAT|O_EXCL: never an existing file or link
  if (fd < 0) {
    error = "cannot create a temporary file beside " + path + ": " + std::strerror(errno);
    return false;
  }
  auto fail = [&](const std::string& what) {
    error = what + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(name.data());
    return false;
  };
  if (::fchmod(fd, mode) != 0) return fail("cannot set the permissions of " + std::string(name.data()));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot write " + std::string(name.data()));
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot write " + std::string(name.data()));
  if (::close(fd) != 0) {
    error = "cannot write " + std::string(name.data()) + ": " + std::strerror(errno);
    ::unlink(name.data());
    return false;
  }
  if (::rename(name.data(), target.c_str()) != 0) {
    error = "cannot replace " + path + ": " + std::strerror(errno);
    ::unlink(name.data());
    return false;
  }
  return true;
}

}  // namespace dls
