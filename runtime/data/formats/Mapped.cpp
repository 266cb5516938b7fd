// Mapped.cpp: an uncompressed IDX or .npy file mapped read-only, its elements read in place (DataFormats.h).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "DataFormats.h"

namespace dls::data {

MappedArray::~MappedArray() {
  if (base_ && size_) ::munmap(const_cast<uint8_t*>(base_), size_);
  if (fd_ >= 0) ::close(fd_);
}

size_t MappedArray::numel() const {
  size_t n = 1;
  for (int64_t d : layout_.shape) n *= static_cast<size_t>(d);
  return n;
}

double MappedArray::at(size_t i) const {
  const size_t es = elemSize(layout_.elem);
  const uint8_t* src = base_ + layout_.dataOffset + i * es;
  uint8_t p[8];
  if (layout_.bigEndian)
    for (size_t k = 0; k < es; ++k) p[k] = src[es - 1 - k];
  else
    std::memcpy(p, src, es);
  return elemValue(layout_.elem, p);
}

size_t MappedArray::currentBytes() const {
  struct stat st;
  return fd_ >= 0 && ::fstat(fd_, &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

void MappedArray::release() const {
  if (base_ && size_) ::madvise(const_cast<uint8_t*>(base_), size_, MADV_DONTNEED);
}

uint64_t streamBuffers(int depth, int64_t rows, int64_t rowElems, int64_t labelElems, int threads, int64_t readElems,
                       int64_t sampleElems, uint64_t fileBytesPerSample) {
  const uint64_t queued = uint64_t(depth) * uint64_t(rows);
  return queued * uint64_t(rowElems + labelElems) * 4 + uint64_t(threads) * uint64_t(readElems + sampleElems) * 4 +
         (fileBytesPerSample ? queued * (fileBytesPerSample + 2 * 4096) : 0);
}

bool mapArray(const std::string& path, bool idx, MappedArray& out, Error& err, bool& gzip) {
  gzip = false;
  err = Error{};
  auto unreadable = [&](const std::string& why) {
    err.kind = Error::Kind::Unreadable;
    err.what = why;
    return false;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return unreadable(std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return unreadable(S_ISDIR(st.st_mode) ? "it is a directory" : S_ISFIFO(st.st_mode) ? "it is a FIFO, not a regular file" : "not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  uint8_t magic[2] = {0, 0};
  if (size >= 2 && ::pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    ::close(fd);
    gzip = true;
    return false;
  }
  void* base = size ? ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0) : nullptr;
  if (base == MAP_FAILED) {
    const int e = errno;
    ::close(fd);
    return unreadable(std::string("cannot map it: ") + std::strerror(e));
  }
  static const uint8_t none = 0;
  const uint8_t* p = base ? static_cast<const uint8_t*>(base) : &none;
  ArrayLayout l;
  if (!(idx ? idxLayout(p, size, l, err) : npyLayout(p, size, l, err))) {
    if (base) ::munmap(base, size);
    ::close(fd);
    return false;
  }
  // Read in sample order, mostly forward: the kernel reads ahead.
  if (base) ::madvise(base, size, MADV_NORMAL);
  out.~MappedArray();
  new (&out) MappedArray();
  out.layout_ = std::move(l);
  out.base_ = p;
  out.size_ = base ? size : 0;
  out.fd_ = fd;
  return true;
}

}  // namespace dls::data
