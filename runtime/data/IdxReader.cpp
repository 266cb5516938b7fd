// IdxReader.cpp: whole-file reading (raw or gzip through zlib) and the IDX format (big-endian header:
// 0x00 0x00 type ndims, then ndims u32 sizes, then the data).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "Dataset.h"

namespace dls {

std::vector<uint8_t> read_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO does not wait for a writer; only regular files are read (a FIFO, a device
  // or a directory is refused before a byte is read).
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail(Diag::R0201, path, path, std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(Diag::R0201, path, path, S_ISDIR(st.st_mode) ? "it is a directory" : S_ISFIFO(st.st_mode) ? "it is a FIFO, not a regular file" : "not a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  FILE* f = ::fdopen(fd, "rb");
  if (!f) {
    ::close(fd);
    fail(Diag::R0201, path, path, std::strerror(errno));
  }
  unsigned char magic[2] = {0, 0};
  size_t got = std::fread(magic, 1, 2, f);
  std::vector<uint8_t> out;
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    // The same open file (not the path again, which may have been replaced meanwhile).
    int gfd = ::dup(::fileno(f));
    if (gfd >= 0) ::lseek(gfd, 0, SEEK_SET);  // the stream read ahead
    std::fclose(f);
    gzFile gz = gfd >= 0 ? gzdopen(gfd, "rb") : nullptr;
    if (!gz) {
      if (gfd >= 0) ::close(gfd);
      fail(Diag::R0201, path, path, "cannot open gzip stream");
    }
    gzbuffer(gz, 1 << 17);
    std::vector<uint8_t> buf(1 << 20);
    for (;;) {
      int n = gzread(gz, buf.data(), (unsigned)buf.size());
      if (n < 0) {
        int code = 0;
        std::string msg = gzerror(gz, &code);
        long off = gzoffset(gz);
        gzclose(gz);
        fail(Diag::R0202, fmt::format("{}:byte {}", path, off), path, off, msg);
      }
      if (n == 0) break;
      // A gzip bomb stops here, with a diagnostic, instead of exhausting memory.
      static const size_t cap = size_t(::sysconf(_SC_PHYS_PAGES)) * size_t(::sysconf(_SC_PAGE_SIZE)) / 2;
      if (out.size() + size_t(n) > cap) {
        long off = gzoffset(gz);
        gzclose(gz);
        fail(Diag::R0202, fmt::format("{}:byte {}", path, off), path, off,
             fmt::format("it inflates to more than {} bytes, half of this machine's memory", cap));
      }
      out.insert(out.end(), buf.begin(), buf.begin() + n);
    }
    // gzread returns 0 at a truncated stream end too; gzerror then reports Z_BUF_ERROR.
    int code = 0;
    std::string msg = gzerror(gz, &code);
    long off = gzoffset(gz);
    gzclose(gz);
    if (code != Z_OK && code != Z_STREAM_END)
      fail(Diag::R0202, fmt::format("{}:byte {}", path, off), path, off, msg.empty() ? "unexpected end of stream" : msg);
    return out;
  }
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  if (size < 0) {
    std::fclose(f);
    fail(Diag::R0201, path, path, "not a regular file");
  }
  out.resize((size_t)size);
  size_t read = size ? std::fread(out.data(), 1, out.size(), f) : 0;
  bool err = std::ferror(f);
  std::fclose(f);
  if (err || read != out.size()) fail(Diag::R0201, path, path, "read error");
  return out;
}

Array read_idx(const std::string& path) {
  std::vector<uint8_t> b = read_file(path);
  if (b.size() < 4) fail(Diag::R0203, fmt::format("{}:byte {}", path, b.size()), path, b.size(), 4);
  uint32_t magic = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
  int type = b[2], nd = b[3];
  size_t esize = type == 0x08 || type == 0x09 ? 1 : type == 0x0B ? 2 : type == 0x0C || type == 0x0D ? 4 : type == 0x0E ? 8 : 0;
  if (b[0] != 0 || b[1] != 0 || esize == 0 || nd < 1 || nd > 4)
    fail(Diag::R0204, fmt::format("{}:byte 0", path), path, magic);
  size_t header = 4 + 4 * size_t(nd);
  if (b.size() < header) fail(Diag::R0203, fmt::format("{}:byte {}", path, b.size()), path, b.size(), header);
  Array a;
  a.elem = type == 0x08 ? "u8" : type == 0x09 ? "i8" : type == 0x0B ? "i16" : type == 0x0C ? "i32" : type == 0x0D ? "f32" : "f64";
  size_t count = 1;
  for (int i = 0; i < nd; ++i) {
    const uint8_t* p = &b[4 + 4 * i];
    int64_t d = (int64_t(p[0]) << 24) | (int64_t(p[1]) << 16) | (int64_t(p[2]) << 8) | p[3];
    a.shape.push_back(d);
    count *= size_t(d);
  }
  size_t need = header + count * esize;
  if (b.size() < need) fail(Diag::R0203, fmt::format("{}:byte {}", path, b.size()), path, b.size(), need);
  a.values.resize(count);
  const uint8_t* p = b.data() + header;
  for (size_t i = 0; i < count; ++i, p += esize) {
    switch (type) {
      case 0x08: a.values[i] = p[0]; break;
      case 0x09: a.values[i] = int8_t(p[0]); break;
      case 0x0B: a.values[i] = int16_t((p[0] << 8) | p[1]); break;
      case 0x0C: a.values[i] = int32_t((uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]); break;
      case 0x0D: {
        uint32_t u = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
        float f;
        std::memcpy(&f, &u, 4);
        a.values[i] = f;
        break;
      }
      default: {
        uint64_t u = 0;
        for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];
        double d;
        std::memcpy(&d, &u, 8);
        a.values[i] = d;
      }
    }
  }
  return a;
}

}  // namespace dls
