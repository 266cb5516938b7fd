// WeightFiles.h: a network's weights as files other tools read, in one place: `dlspec export` (compiler/import)
// and a built program's `export` (runtime/train/Export.cpp) both write them with these functions.
//   safetensors: an 8-byte little-endian header length, a JSON header (each tensor's dtype F32, shape and byte
//                offsets, in the given order), the little-endian f32 data.
//   npz:         a zip archive (stored, no compression, no zip64) of one little-endian f32 `.npy` (format 1.0)
//                per tensor, named `<name>.npy`, as numpy.savez writes it and numpy.load reads it.
// No dependency on the compiler or the rest of the runtime (zlib's CRC-32 only).
#ifndef DLSPEC_DATA_WEIGHT_FILES_H
#define DLSPEC_DATA_WEIGHT_FILES_H
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dls::data {

struct NamedWeights {
  std::string name;             // the parameter's name (`conv2d_1.weight`)
  std::vector<int64_t> shape;   // its declared shape
  const float* values = nullptr;
  size_t count = 0;             // the number of values (the product of `shape`)
};

std::string safetensorsBytes(const std::vector<NamedWeights>& weights);
// nullopt with `why` for an archive past zip's 4 GiB or 65,535 files.
std::optional<std::string> npzBytes(const std::vector<NamedWeights>& weights, std::string& why);

}  // namespace dls::data
#endif
