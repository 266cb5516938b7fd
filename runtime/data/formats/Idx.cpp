// Idx.cpp: the IDX format (big-endian header: 0x00 0x00 type ndims, then ndims u32 sizes, then the data).
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "DataFormats.h"

namespace dls::data {

namespace {
uint32_t be32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }

bool truncated(Error& err, size_t size, size_t expected) {
  err = Error{};
  err.kind = Error::Kind::Truncated;
  err.offset = size;
  err.size = size;
  err.expected = expected;
  err.what = expected == SIZE_MAX ? std::string("truncated: the header's dimensions promise more bytes than a file can hold")
                                  : "truncated: the header promises " + std::to_string(expected) + " bytes";
  return false;
}
}  // namespace

bool parseIdx(const std::vector<uint8_t>& file, Array& out, Error& err) {
  out = Array{};
  ArrayLayout l;
  if (!idxLayout(file.data(), file.size(), l, err)) return false;
  out.shape = l.shape;
  out.elem = l.elem;
  size_t count = 1;
  for (int64_t d : l.shape) count *= static_cast<size_t>(d);
  const size_t es = elemSize(l.elem);
  out.bytes.resize(count * es);
  const uint8_t* p = file.data() + l.dataOffset;
  uint8_t* q = out.bytes.data();
  // Big-endian in the file, this machine's order in `bytes`.
  if (es == 1) {
    if (count) std::memcpy(q, p, count);  // an empty array has no buffer to copy into
  } else {
    for (size_t i = 0; i < count; ++i, p += es, q += es)
      for (size_t k = 0; k < es; ++k) q[k] = p[es - 1 - k];
  }
  return true;
}

bool idxLayout(const uint8_t* data, size_t size, ArrayLayout& out, Error& err) {
  out = ArrayLayout{};
  out.bigEndian = true;
  const Bytes b{data, size};
  if (b.size() < 4) return truncated(err, b.size(), 4);
  const int type = b[2], nd = b[3];
  Elem elem = Elem::U8;
  bool known = true;
  switch (type) {
    case 0x08: elem = Elem::U8; break;
    case 0x09: elem = Elem::I8; break;
    case 0x0B: elem = Elem::I16; break;
    case 0x0C: elem = Elem::I32; break;
    case 0x0D: elem = Elem::F32; break;
    case 0x0E: elem = Elem::F64; break;
    default: known = false;
  }
  if (b[0] != 0 || b[1] != 0 || !known || nd < 1 || nd > 4) {
    err = Error{};
    err.kind = Error::Kind::BadMagic;
    err.magic = b.size() >= 4 ? be32(b.data()) : 0;
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", err.magic);
    err.what = std::string("not an IDX file (magic ") + hex + " at byte 0)";
    return false;
  }
  const size_t header = 4 + 4 * static_cast<size_t>(nd);
  if (b.size() < header) return truncated(err, b.size(), header);
  size_t count = 1;
  for (int i = 0; i < nd; ++i) {
    out.shape.push_back(be32(b.data() + 4 + 4 * static_cast<size_t>(i)));
    // A product past any size: a file cannot hold it.
    if (__builtin_mul_overflow(count, static_cast<size_t>(out.shape.back()), &count)) return truncated(err, b.size(), SIZE_MAX);
  }
  const size_t es = elemSize(elem);
  size_t need = 0;
  if (__builtin_mul_overflow(count, es, &need) || __builtin_add_overflow(need, header, &need)) need = SIZE_MAX;
  if (b.size() < need) return truncated(err, b.size(), need);
  if (b.size() > need) {
    err = Error{};
    err.kind = Error::Kind::Trailing;
    err.offset = need;
    err.size = b.size();
    err.expected = need;
    err.what = std::to_string(b.size() - need) + " bytes after the data the header's dimensions describe";
    return false;
  }
  out.elem = elem;
  out.dataOffset = header;
  return true;
}

}  // namespace dls::data
