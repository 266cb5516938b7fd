// NpyReader.cpp: NumPy .npy files, format versions 1.0 and 2.0, little-endian f4/f8/u1/i4/i8, C order.
#include <cstring>

#include "Dataset.h"

namespace dls {

Array read_npy(const std::string& path) {
  std::vector<uint8_t> b = read_file(path);
  auto bad = [&](size_t at, const std::string& why) { fail(Diag::R0210, fmt::format("{}:byte {}", path, at), path, at, why); };
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) bad(0, "missing \\x93NUMPY magic");
  int major = b[6];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = b[8] | (size_t(b[9]) << 8), hstart = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) bad(8, "truncated header length");
    hlen = b[8] | (size_t(b[9]) << 8) | (size_t(b[10]) << 16) | (size_t(b[11]) << 24), hstart = 12;
  } else {
    bad(6, fmt::format("unsupported format version {}", major));
  }
  if (b.size() < hstart + hlen) bad(hstart, "header runs past the end of the file");
  std::string h(reinterpret_cast<const char*>(b.data() + hstart), hlen);
  auto value_of = [&](const std::string& key) -> std::string {
    size_t k = h.find("'" + key + "'");
    if (k == std::string::npos) bad(hstart, "no '" + key + "' in the header");
    size_t colon = h.find(':', k);
    size_t s = h.find_first_not_of(' ', colon + 1);
    return h.substr(s);
  };
  std::string descr = value_of("descr");
  if (descr.size() < 2 || descr[0] != '\'') bad(hstart, "bad descr");
  descr = descr.substr(1, descr.find('\'', 1) - 1);
  std::string fo = value_of("fortran_order");
  if (fo.rfind("True", 0) == 0) bad(hstart, "Fortran order is not supported (save with C order)");
  std::string shp = value_of("shape");
  if (shp.empty() || shp[0] != '(') bad(hstart, "bad shape");
  Array a;
  size_t count = 1;
  {
    size_t i = 1;
    while (i < shp.size() && shp[i] != ')') {
      if (std::isdigit((unsigned char)shp[i])) {
        int64_t d = 0;
        while (i < shp.size() && std::isdigit((unsigned char)shp[i])) d = d * 10 + (shp[i++] - '0');
        a.shape.push_back(d);
        count *= size_t(d);
      } else {
        ++i;
      }
    }
  }
  size_t es;
  char kind;
  if (descr == "<f4" || descr == "f4") es = 4, kind = 'f';
  else if (descr == "<f8" || descr == "f8") es = 8, kind = 'd';
  else if (descr == "|u1" || descr == "u1") es = 1, kind = 'u';
  else if (descr == "<i4" || descr == "i4") es = 4, kind = 'i';
  else if (descr == "<i8" || descr == "i8") es = 8, kind = 'l';
  else fail(Diag::R0211, path, path, descr);
  a.elem = kind == 'f' ? "f32" : kind == 'd' ? "f64" : kind == 'u' ? "u8" : kind == 'i' ? "i32" : "i64";
  size_t data = hstart + hlen, need = data + count * es;
  if (b.size() < need) fail(Diag::R0203, fmt::format("{}:byte {}", path, b.size()), path, b.size(), need);
  a.values.resize(count);
  const uint8_t* p = b.data() + data;
  for (size_t i = 0; i < count; ++i, p += es) {
    switch (kind) {
      case 'f': { float v; std::memcpy(&v, p, 4); a.values[i] = v; break; }
      case 'd': { double v; std::memcpy(&v, p, 8); a.values[i] = v; break; }
      case 'u': a.values[i] = p[0]; break;
      case 'i': { int32_t v; std::memcpy(&v, p, 4); a.values[i] = v; break; }
      default: { int64_t v; std::memcpy(&v, p, 8); a.values[i] = double(v); break; }
    }
  }
  return a;
}

}  // namespace dls
