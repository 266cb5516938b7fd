// Npy.cpp: NumPy .npy, format versions 1.0, 2.0 and 3.0, little-endian <f4/<f8/|u1/<i4/<i8 (and the
// byte-order-free spellings), C order. The header is a Python dict literal; every defect of it is reported
// with the byte offset it was found at.
#include <cctype>
#include <cstring>

#include "DataFormats.h"

namespace dls::data {

namespace {

struct Header {
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  size_t dataOffset = 0;
  Elem elem = Elem::U8;
};

bool fault(Error& err, Error::Kind kind, size_t offset, std::string what) {
  err = Error{};
  err.kind = kind;
  err.offset = offset;
  err.what = std::move(what);
  return false;
}

// A NumPy type code such as <f4, |u1, >c16: a byte-order mark, a letter, up to two digits.
bool safeDescr(const std::string& d) {
  size_t i = 0;
  if (i < d.size() && (d[i] == '<' || d[i] == '>' || d[i] == '|' || d[i] == '=')) ++i;
  if (i >= d.size() || !std::isalpha(static_cast<unsigned char>(d[i]))) return false;
  ++i;
  size_t digits = 0;
  while (i < d.size() && std::isdigit(static_cast<unsigned char>(d[i]))) ++i, ++digits;
  return i == d.size() && digits <= 2;
}

// Parses the header of `b`; on a defect fills `err` and returns false.
bool parseHeader(const Bytes& b, Header& h, Error& err) {
  if (b.size() < 6 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) return fault(err, Error::Kind::BadMagic, 0, "not an .npy file (no \\x93NUMPY magic)");
  if (b.size() < 10) return fault(err, Error::Kind::BadHeader, b.size(), "truncated before the header length");
  int major = b[6];
  size_t hlen = 0, hstart = 0;
  if (major == 1) {
    hlen = b[8] | (size_t(b[9]) << 8), hstart = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return fault(err, Error::Kind::BadHeader, b.size(), "truncated before the header length");
    hlen = b[8] | (size_t(b[9]) << 8) | (size_t(b[10]) << 16) | (size_t(b[11]) << 24), hstart = 12;
  } else {
    return fault(err, Error::Kind::BadHeader, 6, "format version " + std::to_string(major) + "." + std::to_string(b[7]) + " is not 1.0 or 2.0");
  }
  if (b.size() - hstart < hlen)
    return fault(err, Error::Kind::BadHeader, hstart, "the header is " + std::to_string(hlen) + " bytes but the file ends at byte " + std::to_string(b.size()));
  // NumPy pads the header with spaces to a multiple of 64 bytes and ends it with a newline: a length off by
  // one, or a header written by something else, shows here.
  if ((hstart + hlen) % 64 != 0)
    return fault(err, Error::Kind::BadHeader, hstart - 2 - (major > 1 ? 2 : 0),
                 "the header length " + std::to_string(hlen) + " does not end the header at a multiple of 64 bytes (it ends at byte " +
                     std::to_string(hstart + hlen) + ")");
  if (hlen == 0 || b[hstart + hlen - 1] != '\n')
    return fault(err, Error::Kind::BadHeader, hstart + hlen - (hlen ? 1 : 0), "the header is not terminated by a newline where its length says it ends");
  std::string s(reinterpret_cast<const char*>(b.data() + hstart), hlen);
  auto fail = [&](size_t i, const std::string& why) { return fault(err, Error::Kind::BadHeader, hstart + i, why); };
  size_t i = 0;
  auto ws = [&] { while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t')) ++i; };
  ws();
  if (i >= s.size() || s[i] != '{') return fail(i, "the header is not a dict (expected `{`)");
  ++i;
  bool haveDescr = false, haveOrder = false, haveShape = false;
  for (;;) {
    ws();
    if (i < s.size() && s[i] == '}') break;
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) return fail(i, "expected a quoted key or `}`");
    char q = s[i];
    size_t e = s.find(q, i + 1);
    if (e == std::string::npos) return fail(i, "unterminated key");
    std::string key = s.substr(i + 1, e - i - 1);
    i = e + 1;
    ws();
    if (i >= s.size() || s[i] != ':') return fail(i, "expected `:` after a key");
    ++i;
    ws();
    size_t valueAt = i;
    if (key == "descr") {
      if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) return fail(i, "'descr' is not a string");
      char q2 = s[i];
      size_t e2 = s.find(q2, i + 1);
      if (e2 == std::string::npos) return fail(i, "unterminated 'descr'");
      h.descr = s.substr(i + 1, e2 - i - 1);
      i = e2 + 1;
      std::string d = h.descr;
      if (d == "<f4" || d == "f4") h.elem = Elem::F32;
      else if (d == "<f8" || d == "f8") h.elem = Elem::F64;
      else if (d == "|u1" || d == "u1" || d == "<u1") h.elem = Elem::U8;
      else if (d == "<i4" || d == "i4") h.elem = Elem::I32;
      else if (d == "<i8" || d == "i8") h.elem = Elem::I64;
      else {
        // The type's spelling is shown only when it looks like one (a NumPy type code), never other text.
        const std::string shown = safeDescr(d) ? d : "(" + std::to_string(d.size()) + " bytes that are not a NumPy type code)";
        fault(err, Error::Kind::BadDtype, hstart + valueAt,
              "element type " + (safeDescr(d) ? "'" + d + "'" : shown) + " is not one of <f4 <f8 |u1 <i4 <i8");
        err.detail = shown;
        return false;
      }
      haveDescr = true;
    } else if (key == "fortran_order") {
      if (s.compare(i, 4, "True") == 0) h.fortran = true, i += 4;
      else if (s.compare(i, 5, "False") == 0) h.fortran = false, i += 5;
      else return fail(i, "'fortran_order' is not True or False");
      if (h.fortran) return fail(valueAt, "Fortran order is not supported (save the array in C order)");
      haveOrder = true;
    } else if (key == "shape") {
      if (i >= s.size() || s[i] != '(') return fail(i, "'shape' is not a tuple");
      ++i;
      for (;;) {
        ws();
        if (i < s.size() && s[i] == ')') { ++i; break; }
        if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return fail(i, "'shape' holds something other than a non-negative integer");
        int64_t d = 0;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
          if (d > (int64_t{1} << 40)) return fail(i, "a dimension of 'shape' is too large");
          d = d * 10 + (s[i++] - '0');
        }
        h.shape.push_back(d);
        ws();
        if (i < s.size() && s[i] == ',') ++i;
        else if (i >= s.size() || s[i] != ')') return fail(i, "expected `,` or `)` in 'shape'");
      }
      haveShape = true;
    } else {
      return fail(i - 1, "a key other than 'descr', 'fortran_order' and 'shape'");
    }
    ws();
    if (i < s.size() && s[i] == ',') { ++i; continue; }
    ws();
    if (i < s.size() && s[i] == '}') break;
    return fail(i, "expected `,` or `}`");
  }
  if (!haveDescr) return fail(0, "the header has no 'descr'");
  if (!haveOrder) return fail(0, "the header has no 'fortran_order'");
  if (!haveShape) return fail(0, "the header has no 'shape'");
  h.dataOffset = hstart + hlen;
  size_t count = 1;
  for (int64_t d : h.shape)
    if (__builtin_mul_overflow(count, static_cast<size_t>(d), &count)) return fail(0, "the shape's element count overflows");
  size_t bytes;
  if (__builtin_mul_overflow(count, elemSize(h.elem), &bytes) || b.size() - h.dataOffset < bytes)
  {
    fault(err, Error::Kind::Truncated, b.size(), "truncated: the header promises " + std::to_string(count) + " elements (" +
                                                     std::to_string(h.dataOffset) + " + " + std::to_string(count * elemSize(h.elem)) + " bytes)");
    err.size = b.size();
    err.expected = h.dataOffset + count * elemSize(h.elem);
    return false;
  }
  if (b.size() - h.dataOffset > bytes) {
    fault(err, Error::Kind::Trailing, h.dataOffset + bytes,
          std::to_string(b.size() - h.dataOffset - bytes) + " bytes after the " + std::to_string(count) + " elements the header's shape describes");
    err.size = b.size();
    err.expected = h.dataOffset + bytes;
    return false;
  }
  return true;
}

}  // namespace

bool parseNpy(const std::vector<uint8_t>& b, Array& out, Error& err) {
  out = Array{};
  Header h;
  if (!parseHeader(Bytes{b.data(), b.size()}, h, err)) return false;
  size_t count = 1;
  for (int64_t d : h.shape) count *= static_cast<size_t>(d);
  out.shape = h.shape;
  out.elem = h.elem;
  out.bytes.assign(b.begin() + static_cast<long>(h.dataOffset), b.begin() + static_cast<long>(h.dataOffset + count * elemSize(h.elem)));
  return true;
}

bool npyLayout(const uint8_t* p, size_t n, ArrayLayout& out, Error& err) {
  out = ArrayLayout{};
  Header h;
  if (!parseHeader(Bytes{p, n}, h, err)) return false;
  out.shape = h.shape;
  out.elem = h.elem;
  out.dataOffset = h.dataOffset;
  return true;
}

}  // namespace dls::data
