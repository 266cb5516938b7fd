// NumPy .npy for `dlspec check --data`: format versions 1.0 and 2.0, little-endian <f4/<f8/|u1/<i4/<i8 (and
// the byte-order-free spellings), C order. The header is a Python dict literal; every defect of it is
// reported with the byte offset it was found at.
#include <cmath>
#include <cstring>

#include "checker/data/DataTable.h"

namespace dls::checker::data {

namespace {

struct Header {
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> shape;
  size_t dataOffset = 0;
  size_t elemSize = 0;
  char kind = 0;  // 'u' u8, 'i' i32, 'l' i64, 'f' f32, 'd' f64
};

std::string at(size_t byte, const std::string& why) { return "byte " + std::to_string(byte) + ": " + why; }

// Parses the header of `b`; on a defect sets `error` ("byte N: why") and returns false.
bool parseHeader(const std::vector<uint8_t>& b, Header& h, std::string& error) {
  if (b.size() < 6 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) return error = at(0, "not an .npy file (no \\x93NUMPY magic)"), false;
  if (b.size() < 10) return error = at(b.size(), "truncated before the header length"), false;
  int major = b[6];
  size_t hlen = 0, hstart = 0;
  if (major == 1) {
    hlen = b[8] | (size_t(b[9]) << 8), hstart = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return error = at(b.size(), "truncated before the header length"), false;
    hlen = b[8] | (size_t(b[9]) << 8) | (size_t(b[10]) << 16) | (size_t(b[11]) << 24), hstart = 12;
  } else {
    return error = at(6, "format version " + std::to_string(major) + "." + std::to_string(b[7]) + " is not 1.0 or 2.0"), false;
  }
  if (b.size() - hstart < hlen)
    return error = at(hstart, "the header is " + std::to_string(hlen) + " bytes but the file ends at byte " + std::to_string(b.size())), false;
  std::string s(reinterpret_cast<const char*>(b.data() + hstart), hlen);
  auto fail = [&](size_t i, const std::string& why) { error = at(hstart + i, why); return false; };
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
    if (i >= s.size() || s[i] != ':') return fail(i, "expected `:` after '" + key + "'");
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
      if (d == "<f4" || d == "f4") h.kind = 'f', h.elemSize = 4;
      else if (d == "<f8" || d == "f8") h.kind = 'd', h.elemSize = 8;
      else if (d == "|u1" || d == "u1" || d == "<u1") h.kind = 'u', h.elemSize = 1;
      else if (d == "<i4" || d == "i4") h.kind = 'i', h.elemSize = 4;
      else if (d == "<i8" || d == "i8") h.kind = 'l', h.elemSize = 8;
      else return fail(valueAt, "element type '" + d + "' is not one of <f4 <f8 |u1 <i4 <i8");
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
      return fail(i - 1, "unknown key '" + key + "'");
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
  if (__builtin_mul_overflow(count, h.elemSize, &bytes) || b.size() - h.dataOffset < bytes)
    return error = at(b.size(), "truncated: the header promises " + std::to_string(count) + " elements (" +
                                    std::to_string(h.dataOffset) + " + " + std::to_string(count * h.elemSize) + " bytes)"),
           false;
  return true;
}

double element(const uint8_t* p, char kind) {
  switch (kind) {
    case 'u': return p[0];
    case 'i': { int32_t v; std::memcpy(&v, p, 4); return v; }
    case 'l': { int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
    case 'f': { float v; std::memcpy(&v, p, 4); return v; }
    default: { double v; std::memcpy(&v, p, 8); return v; }
  }
}

}  // namespace

bool readNpyArray(const std::string& path, NpyArray& out, std::string& error) {
  std::vector<uint8_t> b;
  if (!readMaybeGzip(path, b, error)) return false;
  Header h;
  if (!parseHeader(b, h, error)) return false;
  out.shape = h.shape;
  out.kind = h.kind;
  out.elemSize = h.elemSize;
  size_t count = 1;
  for (int64_t d : h.shape) count *= static_cast<size_t>(d);
  out.bytes.assign(b.begin() + static_cast<long>(h.dataOffset), b.begin() + static_cast<long>(h.dataOffset + count * h.elemSize));
  return true;
}

double NpyArray::at(size_t i) const { return element(&bytes[i * elemSize], kind); }

bool readNpy(const std::string& samples, const std::string& labels, DataTable& out, std::string& error) {
  NpyArray x, y;
  std::string e;
  if (!readNpyArray(samples, x, e)) { error = "`" + samples + "`: " + e; return false; }
  if (!readNpyArray(labels, y, e)) { error = "`" + labels + "`: " + e; return false; }
  if (x.shape.empty()) { error = "`" + samples + "`: a scalar, not an array of samples"; return false; }
  if (y.shape.empty() || y.shape[0] != x.shape[0]) {
    std::string ys = "(";
    for (auto d : y.shape) ys += std::to_string(d) + ",";
    error = "`" + samples + "` has " + std::to_string(x.shape[0]) + " samples but `" + labels + "` has shape " + ys + ")";
    return false;
  }
  out = DataTable{};
  out.file = samples;
  out.labelFile = labels;
  out.rows = x.shape[0];
  out.sampleDims.assign(x.shape.begin() + 1, x.shape.end());
  out.sampleKind = x.kind;
  out.elemSize = x.elemSize;
  out.rowBytes = x.elemSize;
  for (auto d : out.sampleDims) out.rowBytes *= static_cast<size_t>(d);
  out.raw = std::move(x.bytes);
  // Labels after the sample axis: (n,) and (n, 1) hold one per sample, (n, T) one per step.
  out.labelDims.assign(y.shape.begin() + 1, y.shape.end());
  out.labelsPerRow = 1;
  for (auto d : out.labelDims) out.labelsPerRow *= d;
  size_t count = static_cast<size_t>(out.rows) * static_cast<size_t>(out.labelsPerRow);
  out.labels.resize(count);
  bool floatLabels = y.kind == 'f' || y.kind == 'd';
  if (floatLabels) out.rawLabels.resize(count);
  for (size_t i = 0; i < count; ++i) {
    double v = y.at(i);
    if (floatLabels) out.rawLabels[i] = v;
    out.labels[i] = std::isfinite(v) ? static_cast<int64_t>(std::llround(v)) : INT64_MIN;
  }
  return true;
}

}  // namespace dls::checker::data
