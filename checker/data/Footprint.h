// Footprint: the data a training loads, as its executable holds it in memory (runtime/data/Dataset.h: every
// sample element as an f32, every class label as an i32, other labels as f32s), per split: samples ×
// per-sample bytes. The samples are counted by reading the files with the executable's readers, so only
// where reading the data is asked for (`dlspec check --data`, `dlspec summary --data`).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sema/Program.h"

namespace dls::checker::data {

struct SplitFootprint {
  std::string split;           // train, valid, test
  std::string file;            // the samples' file, as written in the spec
  int64_t samples = -1;        // -1: not counted (`error` says why)
  int64_t bytesPerSample = 0;  // as loaded: 4 × (sample elements + label elements)
  std::string error;
  int64_t bytes() const { return samples > 0 ? samples * bytesPerSample : 0; }
  // Read per batch instead (the executable's --load stream, or above --data-memory; runtime/data/Stream.h): what
  // it holds then, its labels, index and batches prepared ahead for batches of `rows` rows (0: it is not streamed:
  // a gzip file, a CSV with a label file).
  int64_t streamedBytes(int64_t rows) const;
  // The split's decoded samples (samples × sample elements × 4 bytes): what the executable compares with its
  // --data-memory budget to decide whether to read the split per batch.
  int64_t decodedBytes() const { return samples > 0 ? samples * sampleElems * 4 : 0; }
  // Whether the executable, left to its defaults (--load auto, --data-memory half of the memory it may use), reads
  // the split per batch on a machine with `memory` bytes: it can be streamed and its decoded samples exceed half.
  bool streamedBy(double memory) const { return streamable && samples > 0 && double(decodedBytes()) > memory / 2; }
  // What it then holds in memory: streamedBytes(rows) when it is read per batch, else bytes().
  int64_t heldBytes(double memory, int64_t rows) const { return streamedBy(memory) ? streamedBytes(rows) : bytes(); }
  int64_t sampleElems = 0, labelElems = 0;  // per sample, as loaded (4 bytes each)
  int64_t fileBytesPerSample = 0;           // a mapped IDX/.npy sample's bytes in the file (0: none mapped)
  int64_t indexBytesPerSample = 0;          // a CSV record's place in the index
  bool streamable = false;
};

// The splits `train` loads: its training split (the held-out share of `split(valid: f)` stays in it) and
// the split it validates on, if another. Reads each split's files (resolved against the spec's directory).
std::vector<SplitFootprint> loadedData(const sema::TrainConfig& train);
// Bytes per sample as the executable holds them.
int64_t loadedBytesPerSample(const sema::Dataset& d);
// "train 60,000 × 3.1 KiB, test 10,000 × 3.1 KiB"; with `memory` (> 0) and `rows`, a split the executable reads per
// batch on a machine with that memory (SplitFootprint::streamedBy) says so: "train 6,000,000 × 3.1 KiB read per
// batch (12.0 MiB held)".
std::string describe(const std::vector<SplitFootprint>& splits, double memory = 0, int64_t rows = 0);

}  // namespace dls::checker::data
