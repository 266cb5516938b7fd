#include "WeightFiles.h"

#include <zlib.h>

#include <cstring>

namespace dls::data {
namespace {
template <class T>
void putLE(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}
}  // namespace

std::optional<std::string> npzBytes(const std::vector<NamedWeights>& weights, std::string& why) {
  std::string out, central;
  uint16_t count = 0;
  for (const NamedWeights& t : weights) {
    // The .npy (format 1.0): magic, header length, a Python dict literal padded to 64 bytes, the data.
    std::string dims;
    for (size_t k = 0; k < t.shape.size(); ++k) dims += std::to_string(t.shape[k]) + (t.shape.size() == 1 || k + 1 < t.shape.size() ? "," : "");
    std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    while ((10 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string npy("\x93NUMPY\x01\x00", 8);
    putLE<uint16_t>(npy, uint16_t(h.size()));
    npy += h;
    npy.append(reinterpret_cast<const char*>(t.values), t.count * 4);
    const std::string file = t.name + ".npy";
    if (out.size() + npy.size() + 64 + file.size() > 0xFFFFFFFFull || count == 0xFFFF) {
      why = "the weights take more than the 4 GiB (or 65,535 files) of a zip archive without zip64";
      return std::nullopt;
    }
    const uint32_t crc = uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(npy.data()), uInt(npy.size())));
    const uint32_t at = uint32_t(out.size());
    // Local file header: version 2.0, no flags, stored, 1980-01-01 00:00.
    putLE<uint32_t>(out, 0x04034b50), putLE<uint16_t>(out, 20), putLE<uint16_t>(out, 0), putLE<uint16_t>(out, 0);
    putLE<uint16_t>(out, 0), putLE<uint16_t>(out, 0x21), putLE<uint32_t>(out, crc), putLE<uint32_t>(out, uint32_t(npy.size()));
    putLE<uint32_t>(out, uint32_t(npy.size())), putLE<uint16_t>(out, uint16_t(file.size())), putLE<uint16_t>(out, 0);
    out += file;
    out += npy;
    putLE<uint32_t>(central, 0x02014b50), putLE<uint16_t>(central, 20), putLE<uint16_t>(central, 20), putLE<uint16_t>(central, 0);
    putLE<uint16_t>(central, 0), putLE<uint16_t>(central, 0), putLE<uint16_t>(central, 0x21), putLE<uint32_t>(central, crc);
    putLE<uint32_t>(central, uint32_t(npy.size())), putLE<uint32_t>(central, uint32_t(npy.size()));
    putLE<uint16_t>(central, uint16_t(file.size())), putLE<uint16_t>(central, 0), putLE<uint16_t>(central, 0);
    putLE<uint16_t>(central, 0), putLE<uint16_t>(central, 0), putLE<uint32_t>(central, 0), putLE<uint32_t>(central, at);
    central += file;
    ++count;
  }
  if (out.size() + central.size() + 22 > 0xFFFFFFFFull) {
    why = "the weights take more than the 4 GiB of a zip archive without zip64";
    return std::nullopt;
  }
  const uint32_t cdAt = uint32_t(out.size());
  out += central;
  putLE<uint32_t>(out, 0x06054b50), putLE<uint16_t>(out, 0), putLE<uint16_t>(out, 0), putLE<uint16_t>(out, count);
  putLE<uint16_t>(out, count), putLE<uint32_t>(out, uint32_t(central.size())), putLE<uint32_t>(out, cdAt), putLE<uint16_t>(out, 0);
  return out;
}

std::string safetensorsBytes(const std::vector<NamedWeights>& weights) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"dlspec\"}";
  size_t offset = 0;
  for (const NamedWeights& t : weights) {
    std::string dims;
    for (size_t k = 0; k < t.shape.size(); ++k) dims += (k ? "," : "") + std::to_string(t.shape[k]);
    const size_t bytes = t.count * 4;
    header += ",\"" + t.name + "\":{\"dtype\":\"F32\",\"shape\":[" + dims + "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  while (header.size() % 8) header += ' ';
  std::string out(8, '\0');
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  out += header;
  for (const NamedWeights& t : weights) out.append(reinterpret_cast<const char*>(t.values), t.count * 4);
  return out;
}

}  // namespace dls::data
