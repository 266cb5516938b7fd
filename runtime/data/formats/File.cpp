// File.cpp: whole-file reading, raw or gzip (zlib), and the element types of DataFormats.h.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "DataFormats.h"

namespace dls::data {

// The readers decode little-endian files (NPY) by copying bytes and byte-swap big-endian ones (IDX).
static_assert(std::endian::native == std::endian::little, "the data readers assume a little-endian machine");

const char* elemName(Elem e) {
  switch (e) {
    case Elem::U8: return "u8";
    case Elem::I8: return "i8";
    case Elem::I16: return "i16";
    case Elem::I32: return "i32";
    case Elem::I64: return "i64";
    case Elem::F32: return "f32";
    case Elem::F64: return "f64";
  }
  return "?";
}

size_t elemSize(Elem e) {
  switch (e) {
    case Elem::U8: case Elem::I8: return 1;
    case Elem::I16: return 2;
    case Elem::I32: case Elem::F32: return 4;
    case Elem::I64: case Elem::F64: return 8;
  }
  return 1;
}

double Array::at(size_t i) const {
  const uint8_t* p = &bytes[i * elemSize(elem)];
  switch (elem) {
    case Elem::U8: return p[0];
    case Elem::I8: return static_cast<int8_t>(p[0]);
    case Elem::I16: { int16_t v; std::memcpy(&v, p, 2); return v; }
    case Elem::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    case Elem::I64: { int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
    case Elem::F32: { float v; std::memcpy(&v, p, 4); return v; }
    case Elem::F64: { double v; std::memcpy(&v, p, 8); return v; }
  }
  return 0;
}

namespace {
bool unreadable(Error& err, const std::string& why) {
  err = Error{};
  err.kind = Error::Kind::Unreadable;
  err.what = why;
  return false;
}
}  // namespace

bool readFile(const std::string& path, std::vector<uint8_t>& out, Error& err, size_t cap) {
  if (cap == 0) cap = static_cast<size_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(::sysconf(_SC_PAGE_SIZE)) / 2;
  out.clear();
  // O_NONBLOCK: opening a FIFO does not wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return unreadable(err, std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return unreadable(err, S_ISDIR(st.st_mode) ? "it is a directory" : S_ISFIFO(st.st_mode) ? "it is a FIFO, not a regular file" : "not a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  FILE* f = ::fdopen(fd, "rb");
  if (!f) {
    ::close(fd);
    return unreadable(err, std::strerror(errno));
  }
  unsigned char magic[2] = {0, 0};
  size_t got = std::fread(magic, 1, 2, f);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    // The same open file (not the path again, which may have been replaced meanwhile).
    int gfd = ::dup(::fileno(f));
    if (gfd >= 0) ::lseek(gfd, 0, SEEK_SET);  // the stream read ahead
    std::fclose(f);
    gzFile gz = gfd >= 0 ? gzdopen(gfd, "rb") : nullptr;
    if (!gz) {
      if (gfd >= 0) ::close(gfd);
      return unreadable(err, "cannot open gzip stream");
    }
    gzbuffer(gz, 1 << 17);
    std::vector<uint8_t> buf(1 << 20);
    auto stop = [&](Error::Kind kind, std::string what) {
      err = Error{};
      err.kind = kind;
      err.offset = static_cast<size_t>(gzoffset(gz));
      err.what = std::move(what);
      gzclose(gz);
      out.clear();
      return false;
    };
    for (;;) {
      int n = gzread(gz, buf.data(), static_cast<unsigned>(buf.size()));
      if (n < 0) {
        int code = 0;
        return stop(Error::Kind::Gzip, gzerror(gz, &code));
      }
      if (n == 0) break;
      // A gzip bomb stops here, with an error, instead of exhausting memory.
      if (out.size() + static_cast<size_t>(n) > cap)
        return stop(Error::Kind::TooLarge, "it inflates to more than " + std::to_string(cap) + " bytes, half of this machine's memory");
      out.insert(out.end(), buf.begin(), buf.begin() + n);
    }
    // gzread returns 0 at a truncated stream end too; gzerror then reports Z_BUF_ERROR.
    int code = 0;
    std::string msg = gzerror(gz, &code);
    if (code != Z_OK && code != Z_STREAM_END) return stop(Error::Kind::Gzip, msg.empty() ? "unexpected end of stream" : msg);
    gzclose(gz);
    return true;
  }
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  if (size < 0) {
    std::fclose(f);
    return unreadable(err, "not a regular file");
  }
  out.resize(static_cast<size_t>(size));
  size_t read = size ? std::fread(out.data(), 1, out.size(), f) : 0;
  bool bad = std::ferror(f);
  std::fclose(f);
  if (bad || read != out.size()) {
    out.clear();
    return unreadable(err, "read error");
  }
  return true;
}

bool readIdx(const std::string& path, Array& out, Error& err) {
  std::vector<uint8_t> b;
  return readFile(path, b, err) && parseIdx(b, out, err);
}

bool readNpy(const std::string& path, Array& out, Error& err) {
  std::vector<uint8_t> b;
  return readFile(path, b, err) && parseNpy(b, out, err);
}

}  // namespace dls::data
