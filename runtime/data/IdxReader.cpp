// IdxReader.cpp: whole files, IDX and NPY arrays through the data readers shared with `dlspec check --data`
// (data/formats/DataFormats.h), their errors turned into R02xx diagnostics naming the file and the byte.
#include <new>

#include "DataFormats.h"
#include "Dataset.h"

namespace dls {

namespace {

// The reader's error as the runtime's diagnostic (`idx`: the file was read as IDX, else as NPY or text).
[[noreturn]] void fail_data(const std::string& path, const data::Error& e, bool idx) {
  using K = data::Error::Kind;
  switch (e.kind) {
    case K::Gzip:
    case K::TooLarge: fail(Diag::R0202, fmt::format("{}:byte {}", path, e.offset), path, e.offset, e.what);
    case K::Truncated: fail(Diag::R0203, fmt::format("{}:byte {}", path, e.size), path, e.size, e.expected);
    case K::BadMagic:
      if (idx) fail(Diag::R0204, fmt::format("{}:byte 0", path), path, e.magic);
      fail(Diag::R0210, fmt::format("{}:byte {}", path, e.offset), path, e.offset, e.what);
    case K::BadHeader: fail(Diag::R0210, fmt::format("{}:byte {}", path, e.offset), path, e.offset, e.what);
    case K::BadDtype: fail(Diag::R0211, fmt::format("{}:byte {}", path, e.offset), path, e.detail);
    case K::Trailing: fail(Diag::R0219, fmt::format("{}:byte {}", path, e.offset), path, e.offset, e.what, e.size, e.expected);
    case K::Unreadable:
    case K::None: break;
  }
  fail(Diag::R0201, path, path, e.what);
}

// Decoding holds the file's values as doubles: a file that fits in memory whose values do not is R0503
// naming it, not an unlocated allocation failure.
template <class F>
auto located(const std::string& path, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    fail(Diag::R0503, path, "host memory", fmt::format("the values of '{}'", path));
  }
}

Array decoded(const data::Array& a) {
  Array out;
  out.shape = a.shape;
  out.elem = data::elemName(a.elem);
  out.values.resize(a.numel());
  for (size_t i = 0; i < out.values.size(); ++i) out.values[i] = a.at(i);
  return out;
}
}  // namespace

std::vector<uint8_t> read_file(const std::string& path) {
  std::vector<uint8_t> out;
  data::Error e;
  if (!data::readFile(path, out, e)) fail_data(path, e, false);
  return out;
}

Array read_idx(const std::string& path) {
  return located(path, [&] {
    data::Array a;
    data::Error e;
    if (!data::readIdx(path, a, e)) fail_data(path, e, true);
    return decoded(a);
  });
}

Array read_npy(const std::string& path) {
  return located(path, [&] {
    data::Array a;
    data::Error e;
    if (!data::readNpy(path, a, e)) fail_data(path, e, false);
    return decoded(a);
  });
}

}  // namespace dls
