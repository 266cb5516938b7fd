// TestUtil.h: helpers for the runtime tests: temporary directories and small data files.
#ifndef DLSPEC_RUNTIME_TESTS_TESTUTIL_H
#define DLSPEC_RUNTIME_TESTS_TESTUTIL_H
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/Diagnostics.h"

namespace dlt {

inline std::string temp_dir() {
  char tmpl[] = "/tmp/dls_rt_test_XXXXXX";
  char* d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b, bool gz = false) {
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, b.data(), unsigned(b.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  }
}

inline std::vector<uint8_t> idx_bytes(uint8_t type, const std::vector<int64_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = {0, 0, type, uint8_t(dims.size())};
  for (auto d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

inline std::vector<uint8_t> npy_bytes(const std::string& descr, const std::vector<int64_t>& shape, const void* data,
                                      size_t bytes, int version = 1) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  s += ")";
  std::string h = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + s + ", }";
  size_t pre = version == 1 ? 10 : 12;
  while ((pre + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', uint8_t(version), 0};
  b.push_back(uint8_t(h.size()));
  b.push_back(uint8_t(h.size() >> 8));
  if (version != 1) b.push_back(0), b.push_back(0);
  b.insert(b.end(), h.begin(), h.end());
  const uint8_t* p = static_cast<const uint8_t*>(data);
  b.insert(b.end(), p, p + bytes);
  return b;
}

// Runs f, expects a dls::Fault with `code`; returns its rendered text.
template <class F>
std::string fault_of(F&& f, dls::Diag code) {
  try {
    f();
  } catch (const dls::Fault& e) {
    if (e.code != code)
      return std::string("WRONG CODE ") + dls::diag_info(e.code).code + ": " + e.message;
    return std::string(dls::diag_info(e.code).code) + ": " + e.message + " @ " + e.where;
  }
  return "NO FAULT";
}

}  // namespace dlt
#endif
