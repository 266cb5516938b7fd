// File.cpp: whole-file reading, raw or gzip (zlib), and the element types of DataFormats.h.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

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

double elemValue(Elem e, const uint8_t* p) {
  switch (e) {
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

double Array::at(size_t i) const { return elemValue(elem, &bytes[i * elemSize(elem)]); }

namespace {
bool unreadable(Error& err, const std::string& why) {
  err = Error{};
  err.kind = Error::Kind::Unreadable;
  err.what = why;
  return false;
}
}  // namespace

// Inflates the gzip members of `in` into `out`. zlib's gzread would skip what follows the last member;
// here anything after it that is not another gzip member is an error.
bool gunzip(const std::vector<uint8_t>& in, std::vector<uint8_t>& out, Error& err, size_t cap) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return unreadable(err, "cannot start zlib");
  auto stop = [&](Error::Kind kind, size_t offset, std::string what) {
    err = Error{};
    err.kind = kind;
    err.offset = offset;
    err.what = std::move(what);
    if (kind == Error::Kind::Trailing) err.size = in.size(), err.expected = offset;
    inflateEnd(&z);
    out.clear();
    return false;
  };
  std::vector<uint8_t> buf(1 << 20);
  size_t pos = 0;
  for (;;) {
    const size_t chunk = std::min<size_t>(in.size() - pos, 1u << 30);
    z.next_in = const_cast<Bytef*>(in.data() + pos);
    z.avail_in = static_cast<uInt>(chunk);
    int rc = Z_OK;
    do {
      z.next_out = buf.data();
      z.avail_out = static_cast<uInt>(buf.size());
      rc = inflate(&z, Z_NO_FLUSH);
      const size_t at = pos + (chunk - z.avail_in);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        return stop(Error::Kind::Gzip, at, z.msg ? z.msg : "damaged gzip stream");
      const size_t n = buf.size() - z.avail_out;
      // A gzip bomb stops here, with an error, instead of exhausting memory.
      if (out.size() + n > cap)
        return stop(Error::Kind::TooLarge, at, "it inflates to more than " + std::to_string(cap) + " bytes, the most a data file may hold here");
      try {
        out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(n));
      } catch (const std::bad_alloc&) {
        return stop(Error::Kind::TooLarge, at, "it inflates to more than this process can hold (" + std::to_string(out.size()) + " bytes so far)");
      }
      if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
    } while (rc != Z_STREAM_END && (z.avail_in > 0 || z.avail_out == 0));
    pos += chunk - z.avail_in;
    if (rc == Z_STREAM_END) {
      if (pos == in.size()) break;
      if (in.size() - pos >= 2 && in[pos] == 0x1f && in[pos + 1] == 0x8b) {  // another member
        inflateReset(&z);
        continue;
      }
      return stop(Error::Kind::Trailing, pos, std::to_string(in.size() - pos) + " bytes after the end of the gzip stream");
    }
    if (pos == in.size()) return stop(Error::Kind::Gzip, pos, "unexpected end of stream");
  }
  inflateEnd(&z);
  return true;
}

bool readFile(const std::string& path, std::vector<uint8_t>& out, Error& err, size_t cap) {
  // By default half of this machine's memory, and a quarter of an address-space limit (ulimit -v): the
  // inflated bytes, their copy as a growing vector and the decoded values must fit beside each other.
  if (cap == 0) {
    cap = static_cast<size_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(::sysconf(_SC_PAGE_SIZE)) / 2;
    rlimit as{};
    if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) cap = std::min<size_t>(cap, as.rlim_cur / 4);
  }
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
  std::fseek(f, 0, SEEK_END);
  long size = std::ftell(f);
  std::fseek(f, 0, SEEK_SET);
  if (size < 0) {
    std::fclose(f);
    return unreadable(err, "not a regular file");
  }
  try {
    out.resize(static_cast<size_t>(size));
  } catch (const std::bad_alloc&) {
    std::fclose(f);
    return unreadable(err, std::to_string(size) + " bytes, more than this process can hold");
  }
  size_t read = size ? std::fread(out.data(), 1, out.size(), f) : 0;
  bool bad = std::ferror(f);
  std::fclose(f);
  if (bad || read != out.size()) {
    out.clear();
    return unreadable(err, "read error");
  }
  if (out.size() >= 2 && out[0] == 0x1f && out[1] == 0x8b) {
    std::vector<uint8_t> packed = std::move(out);
    out.clear();
    return gunzip(packed, out, err, cap);
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
